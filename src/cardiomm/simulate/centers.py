"""Simulated acquisition centers mirroring the structure of MMCMR-427K (reference sections 2.3-2.4, 4.1).

The defaults give 6 internal and 3 external (zero-shot) centers over four vendors (Siemens, GE,
Philips, UIH) and 0.55 / 1.5 / 3.0 / 5.0 T. Codes follow the facts known from the published code:
Center007 is a Siemens 0.55 T Free.Max site, Center010 and Center012 are pediatric, Center015 is a
``Siemens_30T_Vida`` normal-control site (CMRxRecon2024-like). Human labels are descriptive only: the
mapping of codes to the real named centers is not published.

Header quirks (``Center.quirks``) emulate two documented vendor issues of the real database so that
the reference phenotype pipeline's fixes (reference section 13/16) give correct numbers:

- ``"tr_div10"`` (UIH): the ``TR`` in ``_info.csv`` is 10x too small (the pipeline multiplies by 10);
- ``"fov_over_n"`` (UIH, Center007): the k-space has no readout oversampling and ``ReconMatrix_X/Y`` are
  the 2x-interpolated recon matrix, so the voxel size must be taken as ``FOV / n`` (image size).

The ground-truth sidecar always stores the true spacing and frame time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cardiomm.simulate.anatomy import Disease, Population

__all__ = ["Center", "DEFAULT_CENTERS", "get_center", "field_token"]

_FIELD_TOKENS = {0.55: "055T", 1.5: "15T", 3.0: "30T", 5.0: "50T"}


def field_token(field_t: float) -> str:
    """Folder token of a field strength: 0.55 -> ``055T``, 1.5 -> ``15T``, 3.0 -> ``30T``, 5.0 -> ``50T``."""
    for value, token in _FIELD_TOKENS.items():
        if abs(field_t - value) < 1e-6:
            return token
    return f"{field_t:g}".replace(".", "") + "T"


@dataclass(frozen=True)
class Center:
    """One simulated acquisition center.

    Attributes
    ----------
    code
        ``CenterXXX`` folder name.
    label
        Human-readable description.
    vendor, model
        Scanner vendor and model tokens (folder ``<Vendor>_<Field>_<Model>``).
    field_t
        Main field strength [T].
    n_coils
        Receive coils (4-32); the generator may cap it per size preset.
    matrix
        Reconstruction matrix ``(nx, ny)`` = (readout, phase encode) at the ``small`` preset.
    fov
        Field of view ``(x, y)`` [mm].
    readout_oversampling
        1 or 2 (CMRxRecon stores 2x oversampled readouts).
    snr
        Noise level: mean body signal over the per-coil noise standard deviation.
    population
        Adult or pediatric.
    disease_mix
        Disease -> relative frequency.
    internal
        Internal centers appear in TrainingSet and TestSet, external ones in TestSet only.
    quirks
        Emulated header quirks (see module docs).
    """

    code: str
    label: str
    vendor: str
    model: str
    field_t: float
    n_coils: int
    matrix: tuple[int, int]
    fov: tuple[float, float]
    readout_oversampling: int = 2
    snr: float = 25.0
    population: Population = Population.ADULT
    disease_mix: dict[Disease, float] = field(default_factory=lambda: {Disease.NC: 1.0})
    internal: bool = True
    quirks: tuple[str, ...] = ()

    @property
    def scanner_folder(self) -> str:
        """``<Vendor>_<Field>_<Model>``, e.g. ``Siemens_30T_Vida``."""
        return f"{self.vendor}_{field_token(self.field_t)}_{self.model}"

    @property
    def split(self) -> str:
        """``internal`` or ``external``."""
        return "internal" if self.internal else "external"


_MIX_CLINICAL = {Disease.NC: 0.3, Disease.MI: 0.25, Disease.DCM: 0.2, Disease.HCM: 0.15, Disease.HHD: 0.1}
_MIX_PEDIATRIC = {Disease.NC: 0.6, Disease.PAH: 0.2, Disease.DCM: 0.2}

DEFAULT_CENTERS: tuple[Center, ...] = (
    Center(
        "Center001",
        "internal Siemens 1.5T clinical",
        "Siemens",
        "Aera",
        1.5,
        16,
        (160, 128),
        (360.0, 288.0),
        snr=22.0,
        disease_mix=_MIX_CLINICAL,
    ),
    Center(
        "Center002",
        "internal UIH 3.0T clinical",
        "UIH",
        "umr790",
        3.0,
        12,
        (160, 128),
        (340.0, 272.0),
        readout_oversampling=1,
        snr=28.0,
        disease_mix=_MIX_CLINICAL,
        quirks=("tr_div10", "fov_over_n"),
    ),
    Center(
        "Center003",
        "internal GE 1.5T clinical",
        "GE",
        "Artist",
        1.5,
        8,
        (160, 128),
        (360.0, 288.0),
        snr=20.0,
        disease_mix={Disease.NC: 0.4, Disease.MI: 0.3, Disease.DCM: 0.3},
    ),
    Center(
        "Center004",
        "internal Philips 3.0T clinical",
        "Philips",
        "Ingenia",
        3.0,
        16,
        (160, 128),
        (350.0, 280.0),
        snr=26.0,
        disease_mix={Disease.NC: 0.4, Disease.HCM: 0.3, Disease.HHD: 0.3},
    ),
    Center(
        "Center005",
        "internal UIH 1.5T clinical",
        "UIH",
        "umr680",
        1.5,
        12,
        (160, 128),
        (360.0, 288.0),
        readout_oversampling=1,
        snr=20.0,
        disease_mix=_MIX_CLINICAL,
        quirks=("tr_div10", "fov_over_n"),
    ),
    Center(
        "Center015",
        "internal Siemens 3.0T volunteers (CMRxRecon2024-like)",
        "Siemens",
        "Vida",
        3.0,
        10,
        (160, 128),
        (340.0, 272.0),
        snr=30.0,
        disease_mix={Disease.NC: 1.0},
    ),
    Center(
        "Center007",
        "external Siemens 0.55T low field",
        "Siemens",
        "Freemax",
        0.55,
        6,
        (128, 104),
        (360.0, 292.0),
        readout_oversampling=1,
        snr=12.0,
        disease_mix=_MIX_CLINICAL,
        internal=False,
        quirks=("fov_over_n",),
    ),
    Center(
        "Center010",
        "external Philips 1.5T pediatric",
        "Philips",
        "Ingenia",
        1.5,
        8,
        (144, 120),
        (260.0, 216.0),
        snr=18.0,
        population=Population.PEDIATRIC,
        disease_mix=_MIX_PEDIATRIC,
        internal=False,
    ),
    Center(
        "Center012",
        "external UIH 5.0T ultra-high field, pediatric",
        "UIH",
        "Jupiter",
        5.0,
        32,
        (176, 144),
        (300.0, 246.0),
        readout_oversampling=1,
        snr=34.0,
        population=Population.PEDIATRIC,
        disease_mix=_MIX_PEDIATRIC,
        internal=False,
        quirks=("tr_div10", "fov_over_n"),
    ),
)


def get_center(code: str, centers: tuple[Center, ...] = DEFAULT_CENTERS) -> Center:
    """Return the center with folder code ``code`` (raises ``KeyError`` if absent)."""
    for center in centers:
        if center.code == code:
            return center
    raise KeyError(code)
