"""CardiacHeader: typed fields, explicit unknowns, catalog records, prompts via the text package."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cardiomm.database.header import HEADER_FIELDS, UNKNOWN, CardiacHeader, Disease, Lifespan, nominal_field_t
from cardiomm.errors import DataValueError, UnknownChoiceError


def _header(**kw: object) -> CardiacHeader:
    base = dict(
        center="Center001", vendor="Siemens", field_t=3.0, scanner="Vida", modality="Cine", subtype="sax",
        view="short-axis", lifespan="Adult", nt=12, nz=10, nc=10, ny=204, nx=448, ti_s=(0.1, 0.9),
    )  # fmt: skip
    base.update(kw)
    return CardiacHeader(**base)  # type: ignore[arg-type]


def test_header_defaults_are_explicitly_unknown() -> None:
    h = CardiacHeader()
    assert (h.center, h.vendor, h.modality, h.disease, h.lifespan) == (UNKNOWN,) * 5
    assert h.field_t is None and h.n_frames is None and h.ti_s == () and h.field_str == UNKNOWN
    assert len(Disease) == 19 and {d.value for d in Disease} >= {"CAD", "CAM", "NC", "unknown"}
    assert Disease.HCM.description == "hypertrophic cardiomyopathy" and Lifespan.FETAL.value == "Fetal"


def test_header_record_roundtrip_through_pandas() -> None:
    h = _header(acceleration=None, fov_x_mm=320.0)
    rec = h.to_record()
    assert tuple(rec) == HEADER_FIELDS and rec["ti_s"] == [0.1, 0.9]
    other = _header(acceleration=4).to_record()
    row = pd.DataFrame([rec, other]).iloc[0].to_dict()  # NaN / numpy scalars as in a catalog row
    assert isinstance(row["acceleration"], float) and math.isnan(row["acceleration"])
    assert CardiacHeader.from_record(row) == h
    assert h.n_frames == 120 and h.modality_enum is not None


@pytest.mark.parametrize(
    ("value", "nominal"),
    [(2.89362, 3.0), (1.494, 1.5), (0.55, 0.55), (2894.0, 3.0), (None, None), (2.2, 2.2)],
)
def test_nominal_field_t(value: float | None, nominal: float | None) -> None:
    assert nominal_field_t(value) == nominal


def test_metadata_prompt_matches_published_template() -> None:
    expected = "Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis."
    assert _header().metadata_prompt() == expected
    aorta = _header(modality="Aorta", view="sagittal aorta", field_t=0.55, scanner="Freemax")
    expected = (
        "Adult cardiac MRI reconstruction.Vendor: 0.55T, Siemens, Freemax. Modality: cine, sagittal aorta."
    )
    assert aorta.metadata_prompt() == expected


def test_undersampling_prompt_delegates() -> None:
    prompt = _header(sampling_pattern="ktGaussian", acceleration=16).undersampling_prompt()
    assert prompt == "Undersampling: 16x random."
    with pytest.raises(DataValueError):
        _header(sampling_pattern="full", acceleration=1).undersampling_prompt()
    with pytest.raises(UnknownChoiceError):
        _header(sampling_pattern="parallel", acceleration=2).undersampling_prompt()


def test_database_package_is_light_and_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, cardiomm.database as db; "
        "heavy = [m for m in ('torch', 'pandas', 'pyarrow', 'duckdb', 'h5py') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "assert all(callable(getattr(db, n)) for n in db.__all__ if n != 'UNKNOWN'); "
        "import cardiomm.text"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
