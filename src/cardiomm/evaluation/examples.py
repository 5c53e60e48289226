"""Pick example frames for report image grids: one file per sampling pattern at the highest acceleration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cardiomm.evaluation.tree import _ref_rel, reference_volume

__all__ = ["collect_examples"]


def collect_examples(
    df: Any, pred_root: Path, ref_root: Path, max_examples: int = 3
) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
    """``(caption, reference (y, x), {method: recon (y, x)})`` for the middle frame of one file per pattern.

    Cine files of external centers are preferred; methods whose prediction of that file is missing are
    skipped.
    """
    from cardiomm.io import read_image_mat  # noqa: PLC0415 - lazy: importing this module loads no h5py

    out: list[tuple[str, np.ndarray, dict[str, np.ndarray]]] = []
    if df.empty:
        return out
    top_af = df["AF"].max()
    for pattern in sorted(df["Mask"].dropna().unique())[:max_examples]:
        sub = df[(df["Mask"] == pattern) & (df["AF"] == top_af)]
        # prefer cine of an external (zero-shot) center: the most familiar image for readers
        rank = (sub["Modality"] != "Cine").astype(int) * 2 + (sub["Role"] != "external").astype(int)
        sub = sub.assign(_rank=rank).sort_values(["_rank", "File"])
        if sub.empty:
            continue
        rel = Path(sub.iloc[0]["File"])
        ref = reference_volume(Path(ref_root), _ref_rel(rel))
        t, z = ref.shape[0] // 2, ref.shape[1] // 2
        recons = {}
        for method in sub["Method"].unique():
            path = Path(pred_root) / method / rel
            if path.exists():
                recons[method] = read_image_mat(path, "reconimage").numpy()[t, z]
        role = sub.iloc[0]["Role"]
        out.append((f"{pattern} {int(top_af)}x, {rel.name} ({role} center)", ref[t, z], recons))
    return out
