"""The clinical step of ``cardiomm demo``: do cardiac phenotypes survive 8x / 16x / 24x?

One internal-center subject's short-axis cine stack (``small`` preset: 10 frames x 5 slices covering the
LV) is simulated with ground truth, reconstructed from its ktGaussian 8x / 16x / 24x masks, segmented
with ``simunet`` (fully sampled and every reconstruction alike) and the phenotypes compared with the
fully sampled images and with the simulator's truth. The full multi-case analysis is
``scripts/agreement_report.py`` (``docs/analysis.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cardiomm.analysis.cine_tree import cine_phenotype_tables
from cardiomm.analysis.phenotypes import PHENOTYPE_UNITS
from cardiomm.analysis.segmentation import get_segmenter
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "PhenotypeDemo",
    "prepare_phenotype_demo",
    "phenotype_table",
    "DEMO_PHENOTYPES",
    "DEMO_SUBJECT_CENTER",
    "PHENOTYPE_MASKS",
]

#: Phenotypes shown in the demo table.
DEMO_PHENOTYPES: tuple[str, ...] = ("LVEDV", "LVESV", "LVEF", "LVM", "RVEDV", "RVEF", "WT_Global")
#: Center of the demo subject (internal, Siemens 1.5 T).
DEMO_SUBJECT_CENTER = "Center001"
#: Mask files of the subject that are reconstructed (ktGaussian 8x / 16x / 24x).
PHENOTYPE_MASKS: tuple[str, ...] = ("*_mask_ktGaussian*",)


@dataclass
class PhenotypeDemo:
    """Outputs of :func:`phenotype_table`."""

    csv: Path
    table_markdown: str


def prepare_phenotype_demo(out: Path, *, seed: int) -> Path:
    """Simulate the subject's cine stack with ground truth into ``out/data`` (kept if it is already
    there); returns that TestSet tree (reconstruct its :data:`PHENOTYPE_MASKS` into ``out/recon``)."""
    from cardiomm.simulate import generate_mini  # noqa: PLC0415 - lazy: importing this module loads no h5py
    from cardiomm.simulate.centers import get_center  # noqa: PLC0415 - lazy: importing this module loads no h5py

    data = Path(out) / "data"
    if not (data / "manifest.json").is_file():
        generate_mini(
            data,
            size="small",
            seed=seed,
            centers=(get_center(DEMO_SUBJECT_CENTER),),
            modalities=["Cine"],
            select=lambda job: job.split == "TestSet" and job.spec.stem == "cine_sax",
        )
    return data


def phenotype_table(out: Path, *, log: Callable[[str], None] = print) -> PhenotypeDemo:
    """Segment the fully sampled and reconstructed stacks of ``out`` (``data/``, ``recon/<method>/``) with
    ``simunet`` and write the phenotype table ``out/phenotypes.csv``."""
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    out = Path(out)
    data, recon_root = out / "data", out / "recon"
    log("      segmenting fully sampled and reconstructed stacks (simunet)")
    pairs, truth = cine_phenotype_tables(recon_root, data, get_segmenter("simunet"), exclusions=())
    pairs = pairs[pairs["phenotype"].isin(DEMO_PHENOTYPES)]
    table = pd.DataFrame(index=list(DEMO_PHENOTYPES))
    table.index.name = "phenotype"
    table["unit"] = [PHENOTYPE_UNITS[p] for p in DEMO_PHENOTYPES]
    table["truth"] = truth.set_index("phenotype")["value_truth"]
    table["fully sampled"] = pairs.groupby("phenotype")["value_ref"].first()
    for (method, accel), grp in pairs.groupby(["method", "accel"], sort=True):
        table[f"{method} {accel}x"] = grp.set_index("phenotype")["value_recon"]
    with atomic_path(out / "phenotypes.csv") as tmp:
        table.to_csv(tmp)
    cols = list(table.columns)
    lines = ["| phenotype | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, row in table.iterrows():
        cells = [str(row["unit"])] + [f"{v:.1f}" for v in row.iloc[1:]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return PhenotypeDemo(out / "phenotypes.csv", "\n".join(lines))
