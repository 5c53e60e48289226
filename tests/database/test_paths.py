"""Path rules of MMCMR-427K (reference section 4.1, 4.2)."""

from __future__ import annotations

import pytest

from cardiomm.database.paths import (
    field_token_to_tesla,
    is_mask_path,
    is_sidecar_path,
    modality_from_name,
    parse_path,
    parse_sampling_name,
    parse_vendor_folder,
)
from cardiomm.database.sources import mask_link_key

BASE = "MMCMR_427K/AllData/MultiCoil"


@pytest.mark.parametrize(
    ("token", "tesla"), [("15T", 1.5), ("30T", 3.0), ("50T", 5.0), ("055T", 0.55), ("7T", 7.0)]
)
def test_field_token_to_tesla_published_tokens(token: str, tesla: float) -> None:
    assert field_token_to_tesla(token) == pytest.approx(tesla)


def test_parse_vendor_folder_model_with_underscore() -> None:
    assert parse_vendor_folder("Siemens_055T_Freemax") == ("Siemens", 0.55, "Freemax")
    assert parse_vendor_folder("UIH_30T_umr_780") == ("UIH", 3.0, "umr_780")
    assert parse_vendor_folder("P001") is None


def test_parse_path_published_components() -> None:
    info = parse_path(f"{BASE}/Cine/TrainingSet/FullSample/Center015/Siemens_30T_Vida/P301/cine_sax.mat")
    assert (info.center, info.vendor, info.field_t, info.scanner) == ("Center015", "Siemens", 3.0, "Vida")
    assert (info.patient, info.modality, info.subtype) == ("P301", "Cine", "sax")
    assert info.data_set == "TrainingSet" and info.mmcmr_layout
    assert info.disease == "NC"  # normal-control center
    assert info.lifespan == "Adult"


def test_parse_path_mask_gives_pattern_and_acceleration() -> None:
    rel = f"{BASE}/Cine/TestSet/Mask_TaskAll/Center015/Siemens_30T_Vida/P301/cine_sax_mask_ktGaussian16.mat"
    info = parse_path(rel)
    assert (info.sampling_pattern, info.acceleration, info.stem) == ("ktGaussian", 16, "cine_sax")
    assert is_mask_path(rel)
    assert parse_sampling_name("cine_lax_kus_ktRadial24") == ("cine_lax", "ktRadial", 24)


@pytest.mark.parametrize(
    ("rel", "modality", "subtype"),
    [
        ("Mapping/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/T2map.mat", "T2map", "unknown"),
        ("Mapping/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/T1mappost.mat", "T1map", "unknown"),
        ("Aorta/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/aorta_tra.mat", "Aorta", "tra"),
        ("Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/cine_lvot.mat", "Cine", "lvot"),
        ("Flow2d/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/flow2d.mat", "Flow2d", "unknown"),
        ("LGE/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/lge_lax_4ch.mat", "LGE", "4ch"),
        ("other/cine_sax.mat", "Cine", "sax"),
    ],
)
def test_parse_path_modality_and_subtype(rel: str, modality: str, subtype: str) -> None:
    info = parse_path(rel)
    assert (info.modality, info.subtype) == (modality, subtype)


def test_modality_keywords_are_case_sensitive() -> None:
    assert modality_from_name("CINE_SAX")[0] == "unknown"
    assert modality_from_name("cine_sax") == ("Cine", "sax")


def test_parse_path_center_fallbacks_disease_lifespan() -> None:
    assert parse_path("x/y/z.h5").center == "unknown"
    assert parse_path("raw/Center007/scan/fs_0001.h5").center == "Center007"
    # published rule: the path decides; Center010/012 (described as pediatric) get "Adult" without a token
    center010 = "Cine/TrainingSet/FullSample/Center010/GE_15T_Signa/P001/cine_sax.mat"
    assert parse_path(center010).lifespan == "Adult"
    assert parse_path("Pediatric/" + center010).lifespan == "Pediatric"
    assert parse_path("Fetal/Center003/GE_15T_Signa/P001/cine_sax.mat").lifespan == "Fetal"
    assert parse_path("HCM/Center003/Philips_30T_Ingenia/P002/cine_sax.mat").disease == "HCM"
    assert parse_path("Center003/Philips_30T_Ingenia/P002/cine_sax.mat").disease == "unknown"


def test_sidecars_and_mask_link_key() -> None:
    assert is_sidecar_path("a/b/cine_sax_gt.h5") and is_sidecar_path("a/GTSOS/x.mat")
    assert not is_sidecar_path("a/b/cine_sax.mat")
    scan = "Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/cine_sax.mat"
    mask = "Cine/TrainingSet/Mask_TaskAll/Center001/Siemens_30T_Vida/P001/cine_sax_mask_Uniform8.mat"
    other = "Cine/TrainingSet/Mask_TaskAll/Center001/Siemens_30T_Vida/P002/cine_sax_mask_Uniform8.mat"
    assert mask_link_key(scan) == mask_link_key(mask) != mask_link_key(other)
