"""Acquisition protocols of the 12 modalities: file stems, views, frame/slice counts and timings.

One :class:`ScanSpec` is one MMCMR-style file (``<stem>.mat``). Its :class:`Protocol` fixes the frame
axis meaning (reference section 3.1: ``t`` = time or contrast):

==============  ==========================================================================
stem            frames ``t``
==============  ==========================================================================
cine_*          cardiac phases over one RR (``frame_dt = RR / nt``)
aorta_sag/tra   cardiac phases (aortic cine)
tagging         cardiac phases after the SPAMM preparation at the R wave
flow2d          ``2 x n_phases``: encoding-major, ``t = enc * n_phases + phase``; enc 0 = reference
                (flow compensated), enc 1 = through-plane velocity encoded (phase ``pi v / VENC``)
T1map           MOLLI 5(3)3 images in acquisition order (TI list stored, not sorted)
T2map           T2-prepared images (prep durations stored)
T1rho           spin-lock prepared images (spin-lock durations stored)
perfusion       dynamics, one per heartbeat (``frame_dt = RR``); slices at staggered trigger delays
lge, T1w, T2w,  a single frame (4-D file ``[nx, ny, nc, nz]``)
blackblood
==============  ==========================================================================

Times are in seconds, lengths in millimetres, flip angles in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypedDict

import numpy as np

from cardiomm.errors import UnknownChoiceError
from cardiomm.simulate.anatomy import HeartParams
from cardiomm.simulate.contrast import molli_inversion_times
from cardiomm.simulate.phantom import View
from cardiomm.types import Modality

__all__ = ["SizePreset", "ScanSpec", "SCAN_SPECS", "Protocol", "make_protocol", "get_spec"]


class SizePreset(StrEnum):
    """Size presets of the generator."""

    TINY = "tiny"
    SMALL = "small"
    DEMO = "demo"


@dataclass(frozen=True)
class ScanSpec:
    """One kind of file: modality, file stem (reference 3.3) and view."""

    modality: Modality
    stem: str
    view: View


SCAN_SPECS: tuple[ScanSpec, ...] = (
    ScanSpec(Modality.CINE, "cine_sax", View.SAX),
    ScanSpec(Modality.CINE, "cine_lax_2ch", View.LAX_2CH),
    ScanSpec(Modality.CINE, "cine_lax_3ch", View.LAX_3CH),
    ScanSpec(Modality.CINE, "cine_lax_4ch", View.LAX_4CH),
    ScanSpec(Modality.T1MAP, "T1map", View.SAX),
    ScanSpec(Modality.T2MAP, "T2map", View.SAX),
    ScanSpec(Modality.T1RHO, "T1rho", View.SAX),
    ScanSpec(Modality.LGE, "lge", View.SAX),
    ScanSpec(Modality.PERFUSION, "perfusion", View.SAX),
    ScanSpec(Modality.T1W, "T1w", View.SAX),
    ScanSpec(Modality.T2W, "T2w", View.SAX),
    ScanSpec(Modality.BLACKBLOOD, "blackblood", View.SAX),
    ScanSpec(Modality.FLOW2D, "flow2d", View.AORTA_TRA),
    ScanSpec(Modality.AORTA, "aorta_sag", View.AORTA_SAG),
    ScanSpec(Modality.AORTA, "aorta_tra", View.AORTA_TRA),
    ScanSpec(Modality.TAGGING, "tagging", View.SAX),
)


def get_spec(stem: str) -> ScanSpec:
    """Return the :class:`ScanSpec` of a file stem.

    Raises
    ------
    UnknownChoiceError
        Unknown stem (the message lists the known ones).
    """
    for spec in SCAN_SPECS:
        if spec.stem == stem:
            return spec
    raise UnknownChoiceError(f"unknown scan {stem!r}; choose from {', '.join(s.stem for s in SCAN_SPECS)}")


@dataclass(frozen=True)
class Protocol:
    """Timing and sequence parameters of one scan.

    Attributes
    ----------
    spec
        The file kind.
    sequence
        Sequence family (``bSSFP``, ``MOLLI``, ``T2prep-bSSFP``, ``SL-bSSFP``, ``IR-GRE``, ``SR-GRE``,
        ``DIR-TSE``, ``STIR-TSE``, ``PC-GRE``, ``SPAMM-GRE``).
    n_frames, n_slices
        Sizes of the ``t`` and ``z`` axes.
    slice_thickness
        [mm]; SAX stacks are contiguous (spacing = thickness) and cover the LV from base to apex.
    slice_depths
        Depth of each slice below the LV base [mm] (SAX geometry).
    tr, te
        Sequence repetition and echo time [s].
    flip
        Flip angle [deg].
    frame_dt
        Time between consecutive frames [s] (the ``TR`` of ``_info.csv`` for time-resolved scans).
    phases
        ``(n_slices, n_frames)`` cardiac phase of every image (fraction of RR).
    times
        ``(n_slices, n_frames)`` acquisition time [s] (drives respiration and the contrast bolus).
    ti
        Inversion times [s] (MOLLI per frame; LGE / STIR single value).
    prep
        T2-prep or spin-lock durations [s], one per frame.
    venc
        Velocity encoding [cm/s] (flow2d).
    tag_spacing
        SPAMM tag spacing [mm] (tagging).
    resp_amplitude
        Respiratory displacement [mm] (free-breathing scans), 0 = breath-hold.
    """

    spec: ScanSpec
    sequence: str
    n_frames: int
    n_slices: int
    slice_thickness: float
    slice_depths: tuple[float, ...]
    tr: float
    te: float
    flip: float
    frame_dt: float
    phases: np.ndarray = field(repr=False, compare=False)
    times: np.ndarray = field(repr=False, compare=False)
    ti: tuple[float, ...] = ()
    prep: tuple[float, ...] = ()
    venc: float | None = None
    tag_spacing: float | None = None
    resp_amplitude: float = 0.0

    @property
    def time_resolved(self) -> bool:
        """True if ``t`` samples the cardiac cycle or a dynamic series (TR in the CSV = frame_dt)."""
        return self.spec.modality in (
            Modality.CINE,
            Modality.AORTA,
            Modality.TAGGING,
            Modality.FLOW2D,
            Modality.PERFUSION,
        )


# preset -> (cine phases, SAX cine slices, mapping slices, static-stack slices, perfusion dynamics)
_SIZES: dict[SizePreset, tuple[int, int, int, int, int]] = {
    SizePreset.TINY: (6, 3, 1, 1, 6),
    SizePreset.SMALL: (10, 5, 1, 3, 12),
    SizePreset.DEMO: (4, 1, 1, 1, 4),
}


class _ProtocolExtras(TypedDict, total=False):
    """Optional :class:`Protocol` fields set by :func:`make_protocol` for some modalities."""

    ti: tuple[float, ...]
    prep: tuple[float, ...]
    venc: float
    tag_spacing: float
    resp_amplitude: float


def _sax_stack(heart: HeartParams, n: int, *, cover: bool) -> tuple[float, tuple[float, ...]]:
    """Slice thickness and depths: contiguous slices over the whole LV (cover) or around mid-ventricle."""
    length = heart.epi_length_ed
    if cover:
        thick = round(length / n, 1)
        return thick, tuple((k + 0.5) * thick for k in range(n))
    thick = 8.0
    if n == 1:
        return thick, (0.45 * heart.lv_length_ed,)
    lo, hi = 0.2 * heart.lv_length_ed, 0.75 * heart.lv_length_ed
    return thick, tuple(float(v) for v in np.linspace(lo, hi, n))


def make_protocol(spec: ScanSpec, heart: HeartParams, field_t: float, size: SizePreset | str) -> Protocol:
    """Build the protocol of one scan for a subject, field strength and size preset.

    Parameters
    ----------
    spec
        The file kind.
    heart
        Subject (heart rate, LV length for the slice stack).
    field_t
        Main field [T] (flip angles are reduced at 3 T and above for SAR, raised at 0.55 T).
    size
        ``tiny`` or ``small``.
    """
    size = SizePreset(size)
    n_ph, n_sax, n_map, n_stack, n_dyn = _SIZES[size]
    rr = heart.rr
    mod = spec.modality
    ssfp_flip = 70.0 if field_t < 1.0 else 55.0 if field_t < 2.0 else 40.0 if field_t < 4.0 else 30.0
    single_slice = spec.view is not View.SAX
    kw: _ProtocolExtras = {}
    if mod in (Modality.CINE, Modality.AORTA, Modality.TAGGING, Modality.FLOW2D):
        n_sl = 1 if single_slice else (n_sax if mod is Modality.CINE else n_map)
        thick, depths = _sax_stack(heart, n_sl, cover=mod is Modality.CINE and not single_slice)
        if single_slice:
            thick, depths = 8.0, (0.0,)
        n_t = 2 * n_ph if mod is Modality.FLOW2D else n_ph
        ph = np.tile(np.arange(n_ph) / n_ph, 2 if mod is Modality.FLOW2D else 1)
        seq = {Modality.TAGGING: "SPAMM-GRE", Modality.FLOW2D: "PC-GRE"}.get(mod, "bSSFP")
        tr, te, flip = (0.0030, 0.0015, ssfp_flip) if seq == "bSSFP" else (0.0050, 0.0025, 12.0)
        frame_dt = rr / n_ph
        if mod is Modality.FLOW2D:
            kw["venc"] = 150.0
        if mod is Modality.TAGGING:
            kw["tag_spacing"] = 8.0
    elif mod in (Modality.T1MAP, Modality.T2MAP, Modality.T1RHO):
        thick, depths = _sax_stack(heart, n_map, cover=False)
        n_sl = len(depths)
        if mod is Modality.T1MAP:
            seq, tr, te, flip = "MOLLI", 0.0028, 0.0011, 35.0
            kw["ti"] = tuple(float(v) for v in molli_inversion_times(rr))
        elif mod is Modality.T2MAP:
            seq, tr, te, flip = "T2prep-bSSFP", 0.0028, 0.0011, ssfp_flip
            kw["prep"] = (0.0, 0.035, 0.055)
        else:
            seq, tr, te, flip = "SL-bSSFP", 0.0028, 0.0011, ssfp_flip
            kw["prep"] = (0.0, 0.015, 0.030, 0.045)
        n_t = len(kw.get("ti", kw.get("prep", ())))
        ph = np.full(n_t, 0.75)
        frame_dt = rr
    elif mod is Modality.PERFUSION:
        n_perf = max(1, n_stack - (1 if size is SizePreset.SMALL else 0))
        thick, depths = _sax_stack(heart, n_perf, cover=False)
        n_sl, n_t = len(depths), n_dyn
        seq, tr, te, flip, frame_dt = "SR-GRE", 0.0025, 0.0012, 12.0, rr
        ph = np.full(n_t, 0.3)
        kw["ti"] = (0.10,)
        kw["resp_amplitude"] = 6.0
    else:  # single-frame stacks: LGE, T1w, T2w, blackblood
        thick, depths = _sax_stack(heart, n_stack if mod is not Modality.LGE else n_stack + 1, cover=False)
        n_sl, n_t = len(depths), 1
        ph = np.full(1, 0.75)
        frame_dt = rr
        if mod is Modality.LGE:
            seq, tr, te, flip = "IR-GRE", 0.0045, 0.0020, 25.0
        elif mod is Modality.T2W:
            seq, tr, te, flip = "STIR-TSE", 2 * rr, 0.070, 90.0
        elif mod is Modality.T1W:
            seq, tr, te, flip = "DIR-TSE", rr, 0.010, 90.0
        else:
            seq, tr, te, flip = "DIR-TSE", 2 * rr, 0.030, 90.0
    phases = np.empty((n_sl, n_t))
    times = np.empty((n_sl, n_t))
    for z in range(n_sl):
        if mod is Modality.PERFUSION:  # slices at staggered trigger delays, one dynamic per beat
            phases[z] = np.mod(ph + 0.2 * z, 1.0)
            times[z] = (np.arange(n_t) + phases[z]) * rr
        elif mod in (Modality.CINE, Modality.AORTA, Modality.TAGGING, Modality.FLOW2D):
            phases[z] = ph
            times[z] = ph * rr
        else:
            phases[z] = ph
            times[z] = np.arange(n_t) * frame_dt
    return Protocol(
        spec=spec,
        sequence=seq,
        n_frames=n_t,
        n_slices=n_sl,
        slice_thickness=float(thick),
        slice_depths=tuple(float(d) for d in depths),
        tr=float(tr),
        te=float(te),
        flip=float(flip),
        frame_dt=float(frame_dt),
        phases=phases,
        times=times,
        **kw,
    )
