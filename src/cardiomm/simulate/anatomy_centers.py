"""Synthetic acquisition centers of the real-anatomy corpus (:mod:`cardiomm.simulate.real_anatomy`).

Each center fixes vendor, field, scanner model (the metadata prompt), receive array, stored coils,
readout matrix, bSSFP TR and SNR; ``docs/real_anatomy.md`` gives the physical reason of each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from cardiomm.simulate.centers import field_token
from cardiomm.simulate.coil_arrays import CoilArray

__all__ = ["AnatomyCenter", "ANATOMY_CENTERS"]


@dataclass(frozen=True)
class AnatomyCenter:
    """A synthetic acquisition center for real-anatomy k-space.

    Attributes
    ----------
    code, label, vendor, model, field_t
        Folder code, description, scanner tokens (``<Vendor>_<Field>_<Model>``) and field [T].
    array
        Receive array.
    virtual_coils
        Coils stored after SVD compression (``None``: every element).
    matrix_x
        Readout samples of the reconstruction matrix (before 2x oversampling).
    tr_ms
        bSSFP repetition time [ms] (sets the off-resonance phase wrap).
    snr_15t
        Object-mean SNR at 1.5 T (scaled by ``(B0 / 1.5)^0.65``; 27 gives the SNR 42 measured at 3 T on
        the real CMRxRecon cine slice).
    internal
        Internal centers take training, validation and test subjects; external ones test subjects only.
    """

    code: str
    label: str
    vendor: str
    model: str
    field_t: float
    array: CoilArray
    virtual_coils: int | None
    matrix_x: int
    tr_ms: float
    snr_15t: float = 27.0
    internal: bool = True

    @property
    def snr(self) -> float:
        """Object-mean SNR at this field."""
        return float(self.snr_15t * (self.field_t / 1.5) ** 0.65)

    @property
    def n_coils(self) -> int:
        """Coils stored in the k-space file."""
        return self.virtual_coils or self.array.n_elements

    @property
    def scanner_folder(self) -> str:
        """``<Vendor>_<Field>_<Model>``."""
        return f"{self.vendor}_{field_token(self.field_t)}_{self.model}"


#: Default centers: five internal (four vendors, 1.5 T and 3 T, 8-30 elements, AP panels and a ring) and
#: one external with a vendor and an array layout seen nowhere in training.
ANATOMY_CENTERS: tuple[AnatomyCenter, ...] = (
    AnatomyCenter(
        "Center101",
        "Siemens 1.5T, 18-ch body + spine (2 x 3 x 3) -> 10 virtual",
        "Siemens",
        "Avanto",
        1.5,
        CoilArray("18-ch body/spine", "anterior_posterior", 3, 3, 0.2),
        10,
        160,
        3.0,
    ),
    AnatomyCenter(
        "Center102",
        "Siemens 3.0T, 30-ch body + spine (2 x 3 x 5) -> 10 virtual",
        "Siemens",
        "Skyra",
        3.0,
        CoilArray("30-ch body/spine", "anterior_posterior", 3, 5, 0.25),
        10,
        176,
        3.2,
    ),
    AnatomyCenter(
        "Center103",
        "GE 1.5T, 8-ch cardiac (2 x 2 x 2)",
        "GE",
        "Artist",
        1.5,
        CoilArray("8-ch cardiac", "anterior_posterior", 2, 2, 0.15),
        None,
        160,
        3.4,
    ),
    AnatomyCenter(
        "Center104",
        "Philips 3.0T, 16-ch torso (2 x 2 x 4) -> 12 virtual",
        "Philips",
        "Ingenia",
        3.0,
        CoilArray("16-ch torso", "anterior_posterior", 2, 4, 0.2),
        12,
        176,
        3.0,
    ),
    AnatomyCenter(
        "Center105",
        "UIH 3.0T, 12-ch ring",
        "UIH",
        "umr790",
        3.0,
        CoilArray("12-ch ring", "ring", 12, 1, 0.3),
        None,
        144,
        3.5,
    ),
    AnatomyCenter(
        "Center106",
        "external Canon 1.5T, 16-ch two-ring array",
        "Canon",
        "Orian",
        1.5,
        CoilArray("16-ch two-ring", "ring", 8, 2, 0.1),
        None,
        160,
        3.2,
        internal=False,
    ),
)
