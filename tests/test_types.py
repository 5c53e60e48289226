"""The shared enumerations: the label table and the views derived from it keep their published values."""

from __future__ import annotations

import pytest

from cardiomm.analysis.labels import ACDC_TO_CARDIOMM, BACKGROUND, LABEL_NAMES, LV, MYO, RV
from cardiomm.simulate.phantom import LABELS
from cardiomm.types import CardiacLabel, MapKind


def test_cardiac_label_table_and_its_views() -> None:
    assert [(lab.short_name, int(lab)) for lab in CardiacLabel] == [
        ("background", 0),
        ("LV", 1),
        ("MYO", 2),
        ("RV", 3),
        ("LA", 4),
        ("RA", 5),
        ("AORTA", 6),
    ]
    assert LABELS == {"background": 0, "LV": 1, "MYO": 2, "RV": 3, "LA": 4, "RA": 5, "AORTA": 6}
    assert (BACKGROUND, LV, MYO, RV) == (0, 1, 2, 3) and type(MYO) is int
    assert LABEL_NAMES == {0: "background", 1: "LV", 2: "MYO", 3: "RV"}
    assert ACDC_TO_CARDIOMM == {0: 0, 1: 3, 2: 2, 3: 1}  # ACDC: RV 1, MYO 2, LV 3


def test_map_kind_values() -> None:
    assert [k.value for k in MapKind] == ["t1", "t2", "t2-offset", "t1rho", "t2star"]


def test_parse_choice_returns_the_member_or_a_typed_error() -> None:
    from cardiomm.errors import ConfigError, UnknownChoiceError
    from cardiomm.types import DataConsistency, MaskPattern, parse_choice

    assert parse_choice(DataConsistency, "sense", "data consistency") is DataConsistency.SENSE
    assert parse_choice(MaskPattern, MaskPattern.KT_RADIAL, "pattern") is MaskPattern.KT_RADIAL
    with pytest.raises(ConfigError, match=r"unknown data consistency 'firm'; choose from soft, hard, sense"):
        parse_choice(DataConsistency, "firm", "data consistency")
    with pytest.raises(UnknownChoiceError, match="unknown pattern 'uniform'; choose from Uniform, "):
        parse_choice(MaskPattern, "uniform", "pattern", UnknownChoiceError)
