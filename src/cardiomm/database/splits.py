"""Deterministic patient-level splits, stratified by modality, with optional held-out centers.

- **Patient** = center + pseudonymous patient ID; all scans of a patient share one split, so no
  patient appears in two splits.
- **Center held out** (zero-shot external test): centers named explicitly, or a fraction of the
  centers chosen by ``sha256(seed, center)`` order; all their patients go to ``external``.
- **Stratified**: internal patients are grouped by their dominant modality (most scans; ties by
  name). Within a group they are ranked by ``sha256(seed, patient)``; the patient of rank ``r`` out
  of ``n`` has quantile ``q = (r + 0.5) / n`` and goes to ``test`` if ``q < test``, to ``val`` if
  ``q < test + val``, else to ``train``. No RNG state is involved: the same catalog, seed and
  parameters always give the same file.
- Saved as JSON: ``format``, ``version``, ``seed``, ``parameters``, ``counts`` and the assignments
  of every patient and every scan (keys sorted).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardiomm.database.catalog import read_catalog
from cardiomm.errors import ConfigError, DataValueError, FileFormatError, UnknownChoiceError
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "SPLITS_FORMAT",
    "SPLITS_VERSION",
    "SPLIT_NAMES",
    "SplitAssignment",
    "make_splits",
    "save_splits",
    "load_splits",
    "check_no_leakage",
    "choose_external_centers",
    "patient_key",
]

SPLITS_FORMAT = "cardiomm-splits"
SPLITS_VERSION = 1
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test", "external")


def patient_key(center: str, patient_id: str) -> str:
    """The unit of splitting: ``<center>/<pseudonymous patient id>``."""
    return f"{center}/{patient_id}"


def _unit(seed: int, kind: str, value: str) -> str:
    return hashlib.sha256(f"{seed}\0{kind}\0{value}".encode()).hexdigest()


@dataclass(frozen=True)
class SplitAssignment:
    """A split of a catalog.

    Attributes
    ----------
    seed
        Seed the hashes were salted with.
    parameters
        ``val``, ``test``, ``external_centers``, ``external_fraction``, ``stratify``.
    patients
        Patient key (:func:`patient_key`) -> split name.
    scans
        Scan ID -> split name.
    counts
        Split name -> ``{"patients", "scans", "frames"}``.
    version
        File-format version.
    """

    seed: int
    parameters: dict[str, Any]
    patients: dict[str, str]
    scans: dict[str, str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    version: int = SPLITS_VERSION

    def scan_ids(self, split: str) -> list[str]:
        """Sorted scan IDs of one split."""
        return sorted(s for s, v in self.scans.items() if v == split)

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, stable across runs)."""
        doc = {
            "format": SPLITS_FORMAT, "version": self.version, "seed": self.seed,
            "parameters": self.parameters, "counts": self.counts, "patients": self.patients,
            "scans": self.scans,
        }  # fmt: skip
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def choose_external_centers(
    centers: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> list[str]:
    """Centers held out for external (zero-shot) testing, by name or by fraction.

    With ``fraction``, ``round(fraction * n)`` centers (at least 1, at most ``n - 1``) are taken in
    ``sha256(seed, center)`` order.

    Raises
    ------
    UnknownChoiceError
        A named center is not in the catalog.
    ConfigError
        Both or an out-of-range fraction given.
    """
    pool = sorted(set(centers))
    if names and fraction is not None:
        raise ConfigError("give --external or --external-fraction, not both")
    if names:
        unknown = sorted(set(names) - set(pool))
        if unknown:
            raise UnknownChoiceError(f"unknown center(s) {', '.join(unknown)}; catalog has {', '.join(pool)}")
        return sorted(set(names))
    if fraction is None or fraction == 0:
        return []
    if not 0 < fraction < 1:
        raise ConfigError(f"--external-fraction must be in (0, 1), got {fraction}")
    k = min(max(1, int(fraction * len(pool) + 0.5)), len(pool) - 1)
    return sorted(sorted(pool, key=lambda c: _unit(seed, "center", c))[:k])


def make_splits(
    catalog: str | os.PathLike[str] | Any,
    *,
    seed: int = 0,
    val: float = 0.1,
    test: float = 0.1,
    external: Sequence[str] | None = None,
    external_fraction: float | None = None,
    stratify: str | None = "modality",
) -> SplitAssignment:
    """Patient-level train/val/test (+ external) split of a catalog (path or ``DataFrame``).

    Parameters
    ----------
    catalog
        Catalog path or its ``DataFrame`` (columns ``scan_id``, ``center``, ``patient_id``,
        ``n_frames`` and the ``stratify`` column).
    seed
        Salt of the ranking hashes.
    val, test
        Fractions of internal patients (per stratum).
    external, external_fraction
        Held-out centers by name, or the fraction of centers to hold out.
    stratify
        Catalog column to stratify by (``None``: one stratum).

    Raises
    ------
    ConfigError
        Fractions outside [0, 1) or summing to 1 or more.
    """
    if isinstance(catalog, str | os.PathLike):
        frame = read_catalog(catalog)
    else:
        frame = catalog
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ConfigError(f"--val {val} and --test {test} must be in [0, 1) and sum to less than 1")
    centers = frame["center"].astype(str).tolist()
    held = choose_external_centers(centers, names=external, fraction=external_fraction, seed=seed)
    keys = [patient_key(str(c), str(p)) for c, p in zip(frame["center"], frame["patient_id"], strict=True)]
    strata_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, value in zip(keys, frame[stratify] if stratify else [""] * len(keys), strict=True):
        strata_votes[key][str(value)] += 1
    patients: dict[str, str] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    for key, votes in strata_votes.items():
        if key.split("/", 1)[0] in held:
            patients[key] = "external"
        else:
            groups[min(votes, key=lambda m: (-votes[m], m))].append(key)
    for members in groups.values():
        ranked = sorted(members, key=lambda k: _unit(seed, "patient", k))
        n = len(ranked)
        for r, key in enumerate(ranked):
            q = (r + 0.5) / n
            patients[key] = "test" if q < test else "val" if q < test + val else "train"
    scans = {str(s): patients[k] for s, k in zip(frame["scan_id"], keys, strict=True)}
    frames = frame["n_frames"].fillna(0).astype("int64").tolist() if "n_frames" in frame else [0] * len(keys)
    counts = {name: {"patients": 0, "scans": 0, "frames": 0} for name in SPLIT_NAMES}
    for split in patients.values():
        counts[split]["patients"] += 1
    for key, nf in zip(keys, frames, strict=True):
        counts[patients[key]]["scans"] += 1
        counts[patients[key]]["frames"] += int(nf)
    params = {"val": val, "test": test, "external_centers": held, "external_fraction": external_fraction,
              "stratify": stratify}  # fmt: skip
    return SplitAssignment(seed=seed, parameters=params, patients=dict(sorted(patients.items())),
                           scans=dict(sorted(scans.items())), counts=counts)  # fmt: skip


def check_no_leakage(assignment: SplitAssignment, catalog: Any | None = None) -> None:
    """Raise :class:`DataValueError` if a patient's scans fall in more than one split.

    With ``catalog`` (a ``DataFrame``), scan assignments are checked against the catalog's patients.
    """
    if catalog is not None:
        seen: dict[str, set[str]] = defaultdict(set)
        for s, c, p in zip(catalog["scan_id"], catalog["center"], catalog["patient_id"], strict=True):
            if str(s) in assignment.scans:
                seen[patient_key(str(c), str(p))].add(assignment.scans[str(s)])
        leaks = sorted(k for k, v in seen.items() if len(v) > 1)
        if leaks:
            raise DataValueError(f"{len(leaks)} patient(s) in several splits, e.g. {leaks[0]}")
    bad = sorted(set(assignment.patients.values()) - set(SPLIT_NAMES))
    if bad:
        raise DataValueError(f"unknown split name(s) {bad}")


def save_splits(assignment: SplitAssignment, path: str | os.PathLike[str]) -> Path:
    """Write the split JSON atomically."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_text(assignment.to_json())
    return p


def load_splits(path: str | os.PathLike[str]) -> SplitAssignment:
    """Read a split file written by :func:`save_splits`.

    Raises
    ------
    FileFormatError
        Not a cardiomm split file, or of an unsupported version.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise FileFormatError(f"cannot read split file ({type(err).__name__})", path=p) from None
    if not isinstance(doc, dict) or doc.get("format") != SPLITS_FORMAT:
        raise FileFormatError("not a cardiomm split file", path=p)
    if doc.get("version") != SPLITS_VERSION:
        raise FileFormatError(f"split file version {doc.get('version')}, expected {SPLITS_VERSION}", path=p)
    return SplitAssignment(
        seed=int(doc["seed"]), parameters=doc["parameters"], patients=doc["patients"], scans=doc["scans"],
        counts=doc.get("counts", {}), version=int(doc["version"]),
    )  # fmt: skip
