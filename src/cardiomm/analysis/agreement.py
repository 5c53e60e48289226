"""Agreement between phenotypes / biomarkers from reconstructions and from fully sampled references.

Per group (method x pattern x acceleration x phenotype): Pearson r, Bland-Altman bias and 95 % limits
of agreement (``bias +- 1.96 SD`` of ``recon - ref``), intraclass correlation and mean absolute error.

ICC: default **ICC(2,1)**, two-way random effects, absolute agreement, single measurement
(Shrout & Fleiss 1979, case 2; McGraw & Wong 1996 ICC(A,1)) -- a systematic offset of the
reconstruction lowers it, which is what "preserves the phenotype" should penalise. ICC(3,1)
(two-way mixed, consistency) and ICC(1,1) are available via ``icc_kind``.

Input table (long format): one row per case, method, pattern, acceleration and phenotype with
columns ``case, method, pattern, accel, phenotype, value_recon, value_ref`` (names configurable).
Plots live in :mod:`cardiomm.analysis.agreement_plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.errors import DataValueError, InputFileError, MissingKeyError, ShapeError, UnknownChoiceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "IccKind",
    "AgreementStats",
    "icc",
    "agreement_stats",
    "agreement_table",
    "DEFAULT_GROUP_BY",
    "REQUIRED_COLUMNS",
    "read_agreement_csv",
]

IccKind = Literal["1,1", "2,1", "3,1"]
DEFAULT_GROUP_BY: tuple[str, ...] = ("method", "pattern", "accel", "phenotype")
REQUIRED_COLUMNS: tuple[str, ...] = ("case", *DEFAULT_GROUP_BY, "value_recon", "value_ref")


@dataclass(frozen=True)
class AgreementStats:
    """Agreement of paired values (``recon`` vs ``ref``); differences are ``recon - ref``.

    Attributes
    ----------
    n
        Number of complete pairs.
    pearson_r
        Pearson correlation coefficient.
    bias, sd_diff
        Mean and sample SD (ddof = 1) of the differences (Bland-Altman).
    loa_low, loa_high
        95 % limits of agreement ``bias -+ 1.96 sd_diff``.
    icc
        Intraclass correlation of kind :attr:`icc_kind`.
    icc_kind
        ``"2,1"`` (absolute agreement, default), ``"3,1"`` (consistency) or ``"1,1"``.
    mae
        Mean absolute difference.
    mean_ref, mean_recon
        Means of the two series.
    """

    n: int
    pearson_r: float
    bias: float
    sd_diff: float
    loa_low: float
    loa_high: float
    icc: float
    icc_kind: str
    mae: float
    mean_ref: float
    mean_recon: float


def icc(ratings: ArrayLike, kind: IccKind = "2,1") -> float:
    """Single-measure intraclass correlation of an ``(n_targets, k_raters)`` table (Shrout & Fleiss 1979).

    ``"1,1"``: one-way random; ``"2,1"``: two-way random, absolute agreement; ``"3,1"``: two-way mixed,
    consistency. Rows with NaN are dropped; NaN when fewer than 2 targets remain or the denominator is 0.
    """
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ShapeError(f"ratings must be (n_targets, k >= 2 raters), got shape {x.shape}")
    if kind not in ("1,1", "2,1", "3,1"):
        raise UnknownChoiceError(f"unknown ICC kind {kind!r}; choose '1,1', '2,1' or '3,1'")
    x = x[np.isfinite(x).all(axis=1)]
    n, k = x.shape
    if n < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_err) / (n * (k - 1))
    if kind == "1,1":
        num, den = msr - msw, msr + (k - 1) * msw
    elif kind == "2,1":
        num, den = msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n
    else:
        num, den = msr - mse, msr + (k - 1) * mse
    return float(num / den) if den != 0 else float("nan")


def _pairs(recon: ArrayLike, ref: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = np.asarray(recon, dtype=np.float64).reshape(-1)
    b = np.asarray(ref, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ShapeError(f"recon and ref have different lengths ({a.size} vs {b.size})")
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def agreement_stats(recon: ArrayLike, ref: ArrayLike, *, icc_kind: IccKind = "2,1") -> AgreementStats:
    """Pearson r, Bland-Altman bias / LoA, ICC and MAE of paired values (NaN pairs dropped)."""
    a, b = _pairs(recon, ref)
    n = int(a.size)
    nan = float("nan")
    if n == 0:
        return AgreementStats(0, nan, nan, nan, nan, nan, nan, icc_kind, nan, nan, nan)
    d = a - b
    bias = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else nan
    r = nan
    if n > 1 and a.std() > 0 and b.std() > 0:
        r = float(np.corrcoef(a, b)[0, 1])
    return AgreementStats(
        n=n,
        pearson_r=r,
        bias=bias,
        sd_diff=sd,
        loa_low=bias - 1.96 * sd,
        loa_high=bias + 1.96 * sd,
        icc=icc(np.stack([b, a], axis=1), icc_kind) if n > 1 else nan,
        icc_kind=icc_kind,
        mae=float(np.abs(d).mean()),
        mean_ref=float(b.mean()),
        mean_recon=float(a.mean()),
    )


def agreement_table(
    table: pd.DataFrame,
    *,
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    recon_col: str = "value_recon",
    ref_col: str = "value_ref",
    icc_kind: IccKind = "2,1",
) -> pd.DataFrame:
    """Agreement statistics per group of a long-format table.

    Parameters
    ----------
    table
        One row per paired value; must hold ``group_by`` columns, ``recon_col`` and ``ref_col``.
    group_by
        Grouping columns (default method, pattern, accel, phenotype); columns absent from the table are
        an error.

    Returns
    -------
    pandas.DataFrame
        One row per group: the group columns plus the :class:`AgreementStats` fields.
    """
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    needed = [*group_by, recon_col, ref_col]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise MissingKeyError(f"agreement table lacks column(s) {missing}; found {list(table.columns)}")
    for col in (recon_col, ref_col):
        if not pd.api.types.is_numeric_dtype(table[col]):
            raise DataValueError(f"column {col!r} must be numeric")
    rows = []
    keys = list(group_by)
    for key, grp in table.groupby(keys, sort=True, dropna=False) if keys else [((), table)]:
        key_t = key if isinstance(key, tuple) else (key,)
        stats = agreement_stats(grp[recon_col].to_numpy(), grp[ref_col].to_numpy(), icc_kind=icc_kind)
        rows.append({**dict(zip(keys, key_t, strict=True)), **asdict(stats)})
    return pd.DataFrame(rows)


def read_agreement_csv(path: Path) -> pd.DataFrame:
    """Read a long-format agreement CSV and check that it has the :data:`REQUIRED_COLUMNS`.

    Raises :class:`~cardiomm.errors.InputFileError` (no file), :class:`~cardiomm.errors.DataValueError`
    (not a readable CSV) or :class:`~cardiomm.errors.MissingKeyError` (a required column is missing).
    """
    import pandas as pd  # noqa: PLC0415 - kept off module level like the rest of this module (import cost)

    if not path.is_file():
        raise InputFileError("file not found", path=path)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataValueError(f"cannot read CSV ({err})", path=path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns))
        raise MissingKeyError(f"missing column(s) {', '.join(missing)}; found {found}", path=path)
    return df
