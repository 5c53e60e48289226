"""Acceptance: phenotypes of fully sampled simulated cine, segmented by ``simunet``, vs the ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cardiomm.analysis.phenotypes import compute_phenotypes
from cardiomm.analysis.segmentation import get_segmenter
from cardiomm.io.h5 import rss_from_kspace
from cardiomm.simulate.anatomy import sample_heart
from cardiomm.simulate.centers import get_center
from cardiomm.simulate.protocols import get_spec
from cardiomm.simulate.scan import simulate_scan
from cardiomm.simulate.truth import phenotypes_from_labels

# subjects never seen in training (simunet trains on freshly rendered phantoms from its own seeds)
SUBJECTS = [
    ("NC", "Center001", 101),
    ("DCM", "Center003", 102),
    ("MI", "Center004", 103),
    ("HCM", "Center015", 104),
]


def test_fully_sampled_phenotypes_within_5pct_of_truth() -> None:
    torch.manual_seed(0)
    seg = get_segmenter("simunet")
    rows = []
    for disease, code, seed in SUBJECTS:
        heart = sample_heart(disease, "Adult", np.random.default_rng(seed))
        scan = simulate_scan(get_spec("cine_sax"), get_center(code), heart, size="small", seed=seed)
        t, z, c, ky, kx = scan.kspace.shape
        image = (
            rss_from_kspace(torch.from_numpy(scan.kspace).reshape(t * z, c, ky, kx))
            .reshape(t, z, ky, kx)
            .numpy()
        )
        labels = seg.segment(image, scan.spacing)
        ours = compute_phenotypes(labels, scan.spacing, scan.protocol.frame_dt).values()
        truth = phenotypes_from_labels(scan.labels, scan.spacing, scan.protocol.frame_dt)
        for name, value in ours.items():
            key = next(k for k in truth if k.split(" (")[0] == name)
            rows.append(
                {
                    "case": f"{disease}/{code}",
                    "phenotype": name,
                    "error_pct": 100.0 * (value - truth[key]) / truth[key],
                }
            )
    df = pd.DataFrame(rows)
    table = df.pivot(index="case", columns="phenotype", values="error_pct")
    print("\nsimunet on fully sampled simulated cine, error vs ground truth [%]:")
    print(table.round(1).to_string())
    mean_abs = df.assign(a=df["error_pct"].abs()).groupby("phenotype")["a"].mean()
    print("mean |error| [%]:", mean_abs.round(2).to_dict())
    # Measured (see docs/analysis.md): the ventricular volumes and the functional phenotypes are within
    # 5 % on average (EDVs within 5 % in every case); the myocardium is segmented slightly too thick
    # (LVM +0.2 to +9 %, wall thickness -1 to +6 % here), so LVM and WT get a 10 % bound.
    volumes = [p for p in mean_abs.index if p not in ("LVM", "WT_Global")]
    assert (mean_abs[volumes] < 5.0).all(), mean_abs
    assert (mean_abs[["LVM", "WT_Global"]] < 10.0).all(), mean_abs
    ed = df[df["phenotype"].isin(["LVEDV", "RVEDV"])]
    assert (ed["error_pct"].abs() < 5.0).all(), ed
