"""Prompt strings, byte for byte against cardiomm_reference.md sections 4.1, 4.2 and 5."""

from __future__ import annotations

import pytest

from cardiomm.errors import UnknownChoiceError
from cardiomm.text import (
    format_field,
    lifespan_from_name,
    metadata_prompt,
    modality_view_from_name,
    normalise_prompt,
    scanner_from_dirname,
    undersampling_prompt,
)
from cardiomm.types import MaskPattern, Modality, TrainMaskType

#: The reference's example strings (section 5), exact.
REFERENCE_METADATA = (
    "Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis."
)
REFERENCE_UNDERSAMPLING = "Undersampling: 16x random."


def test_metadata_prompt_matches_reference_byte_for_byte() -> None:
    prompt = metadata_prompt("Adult", "3.0T", "Siemens", "Vida", "cine", "short-axis")
    assert prompt.encode("utf-8") == REFERENCE_METADATA.encode("utf-8")
    assert metadata_prompt("Adult", 3.0, "Siemens", "Vida", Modality.CINE, "short-axis") == REFERENCE_METADATA
    assert metadata_prompt("Adult", "30T", "Siemens", "Vida", "cine", "short-axis") == REFERENCE_METADATA
    assert "reconstruction.Vendor" in prompt  # no space after "reconstruction."
    assert not prompt.endswith(" ")


def test_metadata_prompt_other_fields() -> None:
    assert metadata_prompt("Pediatric", 1.5, "Philips", "Ingenia", Modality.T1MAP, "long-axis") == (
        "Pediatric cardiac MRI reconstruction.Vendor: 1.5T, Philips, Ingenia. "
        "Modality: T1 mapping, long-axis."
    )
    assert metadata_prompt() == (
        "Adult cardiac MRI reconstruction.Vendor: unknown, unknown, unknown. Modality: unknown, unknown."
    )
    aorta = metadata_prompt(modality=Modality.AORTA, view="sagittal aorta")
    assert aorta.endswith("Modality: cine, sagittal aorta.")
    assert metadata_prompt(modality=Modality.LGE).endswith("Modality: late Gadolinium enhancement, unknown.")


def test_undersampling_prompt_matches_reference() -> None:
    assert undersampling_prompt(16, "random").encode() == REFERENCE_UNDERSAMPLING.encode()
    assert undersampling_prompt(16.0, TrainMaskType.RANDOM) == REFERENCE_UNDERSAMPLING
    assert undersampling_prompt("16", MaskPattern.KT_GAUSSIAN) == REFERENCE_UNDERSAMPLING
    assert undersampling_prompt(8, MaskPattern.KT_UNIFORM) == "Undersampling: 8x uniform."
    assert undersampling_prompt(24, "ktRadial") == "Undersampling: 24x radial."
    with pytest.raises(UnknownChoiceError):
        undersampling_prompt(8, "spiral")
    with pytest.raises(UnknownChoiceError):
        undersampling_prompt(0, "random")


def test_normalise_prompt_collapses_whitespace() -> None:
    assert normalise_prompt("  a \n\t b  c.\n") == "a b c."
    assert normalise_prompt("x\ny") == "x y"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.0, "3.0T"),
        (3, "3.0T"),
        (1.5, "1.5T"),
        (0.55, "0.55T"),
        (5.0, "5.0T"),
        ("30T", "3.0T"),
        ("15T", "1.5T"),
        ("055T", "0.55T"),
        ("50T", "5.0T"),
        ("3.0T", "3.0T"),
        ("unknown", "unknown"),
        ("70T", "70T"),
    ],
)
def test_format_field(value: float | str, expected: str) -> None:
    assert format_field(value) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "../Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/cine_sax.mat",
            ("cine", "short-axis"),
        ),
        ("cine_lax.mat", ("cine", "long-axis")),
        ("cine_lvot.mat", ("cine", "outflow tract")),
        ("cine_4ch.mat", ("cine", "unknown")),
        ("../Aorta/TestSet/Center005/UIH_30T_umr880/P003/aorta_sag.mat", ("cine", "sagittal aorta")),
        ("aorta_tra.mat", ("cine", "transversal aorta")),
        ("../Mapping/TrainingSet/Center001/Siemens_15T_Avanto/P002/T1map.mat", ("T1 mapping", "short-axis")),
        ("T1mappost_lax.mat", ("T1 mapping", "long-axis")),  # T1mappost is unreachable behind T1map
        ("T2map.mat", ("T2 mapping", "short-axis")),
        ("T2smap.mat", ("T2 star mapping", "short-axis")),
        ("T1rho.mat", ("T1 rho mapping", "short-axis")),
        ("tagging_sax.mat", ("tagging", "short-axis")),
        ("flow2d.mat", ("phase contrast", "through-plane")),
        ("flow2d_inplane.mat", ("phase contrast", "in-plane")),
        ("perfusion.mat", ("perfusion", "short-axis")),
        ("lge_lax.mat", ("late Gadolinium enhancement", "long-axis")),
        ("blackblood.mat", ("blackblood", "short-axis")),
        ("T1w.mat", ("T1 weighted", "short-axis")),
        ("T2w_lax.mat", ("T2 weighted", "long-axis")),
    ],
)
def test_modality_view_from_name(path: str, expected: tuple[str, str]) -> None:
    assert modality_view_from_name(path) == expected


def test_modality_view_is_case_sensitive_and_errors() -> None:
    with pytest.raises(UnknownChoiceError):
        modality_view_from_name("CINE_SAX.mat")
    with pytest.raises(UnknownChoiceError):
        modality_view_from_name("/data/Center001/P001/scan.mat")


def test_path_helpers() -> None:
    assert scanner_from_dirname("Siemens_30T_Vida") == ("Siemens", "3.0T", "Vida")
    assert scanner_from_dirname("Siemens_055T_Freemax/") == ("Siemens", "0.55T", "Freemax")
    with pytest.raises(UnknownChoiceError):
        scanner_from_dirname("Siemens-Vida")
    assert lifespan_from_name("/x/Pediatric/cine_sax.mat") == "Pediatric"
    assert lifespan_from_name("/x/cine_sax.mat") == "Adult"
    assert undersampling_prompt(16, "ktGaussian") == "Undersampling: 16x random."
    assert undersampling_prompt(8, "Random") == "Undersampling: 8x random."
    with pytest.raises(UnknownChoiceError):
        undersampling_prompt(4, "Spiral")
