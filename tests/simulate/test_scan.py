"""One simulated scan: k-space layout, noise, and recovery of the ground-truth parameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_erosion
from scipy.optimize import curve_fit

from cardiomm.physics.fft import ifft2c_np
from cardiomm.simulate.anatomy import HeartParams, Infarct
from cardiomm.simulate.centers import get_center
from cardiomm.simulate.protocols import SCAN_SPECS, get_spec
from cardiomm.simulate.scan import simulate_scan
from cardiomm.simulate.tissues import Tissue

CENTER = get_center("Center015")  # Siemens 3 T, 2x readout oversampling


def _rss(kspace: np.ndarray) -> np.ndarray:
    return np.sqrt((np.abs(ifft2c_np(kspace)) ** 2).sum(axis=2))


def _interior(mask: np.ndarray) -> np.ndarray:
    return binary_erosion(mask, np.ones((3, 3), bool))


@pytest.mark.parametrize("spec", SCAN_SPECS, ids=lambda s: s.stem)
def test_simulate_scan_every_spec_shapes_and_truth(spec) -> None:
    scan = simulate_scan(spec, CENTER, HeartParams(), size="tiny", seed=1)
    t, z, c, ky, kx = scan.kspace.shape
    assert scan.kspace.dtype == np.complex64 and np.isfinite(scan.kspace).all()
    assert (t, z) == (scan.protocol.n_frames, scan.protocol.n_slices) and c == 4
    assert kx == 2 * 64  # readout oversampled
    assert scan.labels.shape == scan.tissue.shape == (t, z, ky, kx)
    for arr in scan.maps.values():
        assert arr.shape == (t, z, ky, kx) and arr.dtype == np.float32
    assert scan.noise_std > 0 and scan.labels.max() > 0
    assert (scan.labels[..., : kx // 4] == 0).all()  # oversampled margin is empty


def test_simulate_scan_noise_free_rss_equals_object() -> None:
    scan = simulate_scan(get_spec("cine_sax"), CENTER, HeartParams(), size="tiny", seed=2, noise=False)
    np.testing.assert_allclose(_rss(scan.kspace), np.abs(scan.image), atol=1e-5)
    noisy = simulate_scan(get_spec("cine_sax"), CENTER, HeartParams(), size="tiny", seed=2)
    diff = noisy.kspace - scan.kspace
    assert np.std(diff) == pytest.approx(noisy.noise_std, rel=0.05)


def test_simulate_scan_seed_determinism() -> None:
    a = simulate_scan(get_spec("T2map"), CENTER, HeartParams(), size="tiny", seed=5)
    b = simulate_scan(get_spec("T2map"), CENTER, HeartParams(), size="tiny", seed=5)
    c = simulate_scan(get_spec("T2map"), CENTER, HeartParams(), size="tiny", seed=6)
    assert a.kspace.tobytes() == b.kspace.tobytes()
    assert a.kspace.tobytes() != c.kspace.tobytes()


def _fit_molli(ti: np.ndarray, mag: np.ndarray) -> float:
    """3-parameter fit of |A - B exp(-TI/T1*)| with polarity restoration; returns T1 = T1*(B/A - 1)."""
    order = np.argsort(ti)
    ti, mag = ti[order], mag[order]
    best = (np.inf, np.nan)

    def model(t: np.ndarray, a: float, b: float, t1s: float) -> np.ndarray:
        return a - b * np.exp(-t / t1s)

    for n_neg in range(len(ti) + 1):
        sig = mag * np.where(np.arange(len(ti)) < n_neg, -1.0, 1.0)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                p, _ = curve_fit(model, ti, sig, p0=(sig[-1], 2 * abs(sig[-1]) + 1e-6, 1.0), maxfev=5000)
        except RuntimeError:
            continue
        res = float(np.sum((model(ti, *p) - sig) ** 2))
        if res < best[0] and p[0] > 0 and p[2] > 0:
            best = (res, p[2] * (p[1] / p[0] - 1.0))
    return best[1]


@pytest.mark.parametrize("field", [1.5, 3.0])
def test_molli_fit_recovers_t1_map(field: float) -> None:
    center = get_center("Center001") if field == 1.5 else CENTER
    heart = HeartParams(infarct=Infarct(extent_deg=120.0, transmurality=1.0, z_from=0.1, z_to=0.9))
    spec = get_spec("T1map")
    scan = simulate_scan(spec, center, heart, size="tiny", seed=3, noise=False, matrix=(128, 104))
    mag = _rss(scan.kspace)[:, 0]  # (TI, y, x)
    ti = np.asarray(scan.protocol.ti)
    tissue = scan.tissue[0, 0]
    t1_true = scan.maps["t1"][0, 0]
    rng = np.random.default_rng(0)
    for kind in (Tissue.MYOCARDIUM, Tissue.BLOOD, Tissue.INFARCT):
        ys, xs = np.nonzero(_interior(tissue == kind))
        assert ys.size > 0, kind
        for i in rng.choice(ys.size, size=min(4, ys.size), replace=False):
            t1 = _fit_molli(ti, mag[:, ys[i], xs[i]])
            assert t1 == pytest.approx(float(t1_true[ys[i], xs[i]]), rel=0.01), kind


def test_t2map_log_linear_fit_recovers_t2() -> None:
    spec = get_spec("T2map")
    scan = simulate_scan(spec, CENTER, HeartParams(), size="tiny", seed=3, noise=False, matrix=(96, 80))
    mag = _rss(scan.kspace)[:, 0]
    prep = np.asarray(scan.protocol.prep)
    inner = _interior(scan.tissue[0, 0] == Tissue.MYOCARDIUM) | _interior(scan.tissue[0, 0] == Tissue.BLOOD)
    slope = np.polyfit(prep, np.log(mag[:, inner]), 1)[0]
    np.testing.assert_allclose(-1.0 / slope, scan.maps["t2"][0, 0][inner], rtol=1e-3)


def test_flow_phase_encodes_velocity() -> None:
    # ss=1: no supersampling, so each pixel's phase is that of the velocity at its centre
    scan = simulate_scan(
        get_spec("flow2d"), CENTER, HeartParams(), size="tiny", seed=3, noise=False, matrix=(128, 104), ss=1
    )
    n_ph = scan.protocol.n_frames // 2
    img = ifft2c_np(scan.kspace)
    measured, truth = [], []
    for ph in range(n_ph):
        diff = np.angle((img[n_ph + ph, 0] * np.conj(img[ph, 0])).sum(0))
        vel = scan.maps["velocity"][ph, 0]
        inner = _interior(scan.tissue[ph, 0] == Tissue.BLOOD) & (np.abs(vel) > 0)
        measured.append(diff[inner] * scan.protocol.venc / np.pi)
        truth.append(vel[inner])
    assert sum(len(m) for m in measured) > 20 and np.abs(np.concatenate(truth)).max() > 40
    np.testing.assert_allclose(np.concatenate(measured), np.concatenate(truth), atol=0.05)


def test_perfusion_bolus_rv_before_lv() -> None:
    scan = simulate_scan(
        get_spec("perfusion"),
        CENTER,
        HeartParams(),
        size="small",
        seed=3,
        noise=False,
        matrix=(64, 48),
        n_coils=2,
    )
    mag = _rss(scan.kspace)[:, 0]
    lab = scan.labels[:, 0]
    lv = [mag[t][lab[t] == 1].mean() for t in range(mag.shape[0])]
    rv = [mag[t][lab[t] == 3].mean() for t in range(mag.shape[0])]
    assert int(np.argmax(rv)) < int(np.argmax(lv))
    curves = scan.extras["perfusion_curves_mM"]
    assert max(curves["myo"][0]) > 0.1 and max(curves["infarct"][0]) < max(curves["myo"][0])


def test_lge_nulls_myocardium_enhances_infarct() -> None:
    heart = HeartParams(infarct=Infarct(transmurality=1.0, z_from=0.0, z_to=1.0))
    scan = simulate_scan(get_spec("lge"), CENTER, heart, size="small", seed=3, noise=False, matrix=(96, 80))
    z = scan.protocol.n_slices // 2
    mag = _rss(scan.kspace)[0, z]
    tis = scan.tissue[0, z]
    myo = mag[_interior(tis == Tissue.MYOCARDIUM)].mean()
    blood = mag[_interior(tis == Tissue.BLOOD)].mean()
    infarct = mag[tis == Tissue.INFARCT].mean()
    assert myo < 0.05 * infarct and blood > 5 * myo
    assert scan.protocol.ti[0] > 0.2
