"""What an adaptation releases: early stopping, the release test of the gain, the protocol test, and
the stratified validation frames (:mod:`cardiomm.training.adapt_release`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.training.adapt import AdaptOptions, EarlyStopping, adapt_model
from cardiomm.training.adapt_data import AdaptScan
from cardiomm.training.ssdu import SplitSpec

pytestmark = pytest.mark.usefixtures("torch_single_thread")


class _Toy(torch.nn.Module):
    """Predicts the constant ``w`` off the mask; the data are 2: training pulls ``w`` from 0 to 2."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward_kspace(self, k: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return torch.where(m, k, self.w.to(torch.complex64).expand_as(k))


def _toy_scan(n_frames: int = 3, ny: int = 16, nx: int = 4) -> AdaptScan:
    masks = torch.zeros(n_frames, ny, nx, dtype=torch.bool)
    masks[:, 6:10] = True  # ACS of 4 lines
    masks[:, ::3] = True
    vals = [torch.full((1, int(m.sum())), 2.0, dtype=torch.complex64) for m in masks]
    return AdaptScan(
        label="toy", kspace_sha256="0", mask_sha256=None, shape=(n_frames, 1, 1, ny, nx), mask_type="uniform",
        acceleration=3, n_acs=4, metadata_prompt="", undersampling_prompt="", masks=masks,
        val_masks=torch.zeros_like(masks), values=vals, train_frames=list(range(n_frames)),
    )  # fmt: skip


def test_early_stopping_releases_the_step_of_lowest_validation_loss() -> None:
    """Held-out loss (w - 1)^2 while training drives w to 2: a U-shaped curve with a known minimum."""
    model = _Toy()
    seen: dict[int, float] = {}
    calls = iter(range(0, 1000, 2))

    def evaluate(m: torch.nn.Module) -> float:
        w = float(m.w.detach())  # type: ignore[operator]
        seen[next(calls)] = w
        return (w - 1.0) ** 2

    def predict(m: torch.nn.Module, scan: AdaptScan, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return m.forward_kspace(k, mask)  # type: ignore[operator, no-any-return]

    opts = AdaptOptions(steps=200, lr=0.05, val_every=2, patience=3, seed=0)
    res = adapt_model(model, [_toy_scan()], predict, opts, evaluate=evaluate)
    vals = [p.val_loss for p in res.curve]
    best = int(np.argmin(vals))
    assert 0 < best < len(vals) - 1 and vals[0] > vals[best] < vals[-1]  # it did overfit
    assert res.best_step == res.curve[best].step and res.stop_reason == "early stopping"
    assert len(vals) - 1 - best == 3 and res.steps_run == res.curve[-1].step < 200  # patience 3
    w = float(model.w.detach())
    assert w == pytest.approx(seen[res.best_step], abs=1e-7)  # released = best weights
    assert abs(w - 1.0) < 0.1


def test_early_stopping_keeps_the_start_when_nothing_improves() -> None:
    stop = EarlyStopping(patience=2)
    model = torch.nn.Linear(1, 1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert not stop.update(0, 1.0, model)
    with torch.no_grad():
        model.weight += 1
    assert not stop.update(10, 1.5, model) and stop.update(20, 1.2, model)
    assert stop.best_step == 0 and torch.equal(stop.best_state["weight"], start["weight"])  # type: ignore[index]


def test_significant_gain_matches_the_paired_t_statistic() -> None:
    """The release test is a one-sided paired t statistic (scipy's ttest_rel as the reference)."""
    from scipy.stats import ttest_rel

    from cardiomm.training.adapt import significant_gain

    rng = np.random.default_rng(0)
    first = rng.uniform(0.9, 1.1, 16)
    for shift, spread in ((-0.02, 0.01), (-0.005, 0.03), (0.01, 0.01), (-0.01, 0.02)):
        best = first + shift + spread * rng.standard_normal(16)
        t = float(ttest_rel(best, first).statistic)
        for z in (1.0, 2.0, 3.0):
            assert significant_gain(first, best, z) is (t < -z)
    assert significant_gain(first, first - 1.0, 2.0) is True  # every frame lower by the same amount
    assert significant_gain(first[:2], first[:2] - 1, 2.0) is None  # fewer than 3 frames: no test
    assert significant_gain(first, first - 1, 0.0) is None  # switched off
    assert significant_gain(first, (first - 1)[:8], 2.0) is None  # different frames
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match="significance"):
            AdaptOptions(significance=bad)


@pytest.mark.parametrize(
    ("later", "z", "released"),
    [
        ((0.0, -0.02, 0.02, -0.01), 2.0, 0),  # mean -0.0025 with a spread of 0.02: noise, keep the input
        ((0.0, -0.02, 0.02, -0.01), 0.0, 2),  # the test switched off: the lowest mean is released
        ((-0.05, -0.04, -0.06, -0.05), 2.0, 2),  # every frame lower: released
    ],
)
def test_adapt_model_releases_a_changed_model_only_for_a_gain_beyond_the_noise(
    later: tuple[float, ...], z: float, released: int
) -> None:
    model = _Toy()
    base = np.array([1.0, 1.2, 0.8, 1.1])
    curve = iter([base, base + np.array(later), base + 1.0])  # steps 0, 2, 4

    def evaluate(m: torch.nn.Module) -> np.ndarray:
        return next(curve)

    def predict(m: torch.nn.Module, scan: AdaptScan, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return m.forward_kspace(k, mask)  # type: ignore[operator, no-any-return]

    opts = AdaptOptions(steps=4, lr=0.05, val_every=2, patience=0, significance=z, seed=0)
    res = adapt_model(model, [_toy_scan()], predict, opts, evaluate=evaluate)
    assert [p.step for p in res.curve] == [0, 2, 4]
    assert res.best_step == released
    assert res.best_val_loss == pytest.approx(float(np.mean(base + (np.array(later) if released else 0))))
    assert (float(model.w.detach()) == 0.0) is (released == 0)  # the input weights, or trained ones
    assert ("within 2 standard errors" in res.stop_reason) is (released == 0)


def test_adapt_model_with_the_k_weighted_loss_pulls_towards_the_data() -> None:
    model = _Toy()
    opts = AdaptOptions(steps=20, lr=0.1, seed=0, split=SplitSpec(val_fraction=0.0, weighting="k"))
    adapt_model(model, [_toy_scan()], lambda m, s, k, mask: m.forward_kspace(k, mask), opts)
    assert 1.0 < float(model.w.detach()) <= 2.1  # from 0 towards the data (2)


@pytest.mark.parametrize(("noisy", "released"), [(True, 0), (False, 2)])
def test_one_validation_frame_is_tested_line_by_line(
    monkeypatch: pytest.MonkeyPatch, noisy: bool, released: int
) -> None:
    """With one validation frame there is no per-frame test: the held-out lines are its units. A lower
    frame loss whose lines move both ways keeps the input weights; lines all lower release."""
    import cardiomm.training.adapt as adapt_mod

    base = np.linspace(1.0, 2.0, 12)
    change = np.where(np.arange(12) % 2, 0.3, -0.32) if noisy else np.full(12, -0.01)
    evaluations = iter([(np.array([1.0]), base), (np.array([0.9]), base + change), (np.array([1.1]), base)])
    monkeypatch.setattr(adapt_mod, "validation_errors", lambda *args: next(evaluations))
    scan = _toy_scan(1)
    scan.val_masks[0, 1] = True  # one frame with a validation set

    def predict(m: torch.nn.Module, scan: AdaptScan, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return m.forward_kspace(k, mask)  # type: ignore[operator, no-any-return]

    opts = AdaptOptions(steps=4, lr=0.05, val_every=2, patience=0, significance=2.0, seed=0)
    res = adapt_model(_Toy(), [scan], predict, opts)
    assert res.best_step == released
    assert ("within 2 standard errors" in res.stop_reason) is (released == 0)


# ----------------------------------------------------------------------------------------------- protocols
def test_worse_protocols_matches_the_paired_t_statistic_per_protocol() -> None:
    """A protocol is worse when its paired t statistic (scipy's ttest_rel) exceeds z; protocols with
    fewer than 3 frames, a single protocol, or z = 0 are not tested."""
    from scipy.stats import ttest_rel

    from cardiomm.training.adapt_release import worse_protocols

    rng = np.random.default_rng(1)
    names = ["A"] * 6 + ["B"] * 5 + ["C"] * 2
    first = rng.uniform(0.9, 1.1, len(names))
    for trial in range(20):
        later = first + rng.normal(0.0, 0.02, len(names)) + rng.uniform(-0.02, 0.02)
        for z in (1.0, 2.0):
            expect = [
                n for n in ("A", "B")
                if ttest_rel(later[np.array(names) == n], first[np.array(names) == n]).statistic > z
            ]  # fmt: skip
            assert worse_protocols(first, later, names, z) == expect, trial
    up = first + np.where(np.array(names) == "C", 1.0, 0.0)
    assert worse_protocols(first, up, names, 2.0) == []  # C has 2 frames: not tested on its own
    assert worse_protocols(first, first + 1.0, ["A"] * len(names), 2.0) == []  # one protocol
    assert worse_protocols(first, first + 1.0, names, 0.0) == []  # switched off
    assert worse_protocols(first, first + np.linspace(0.5, 1.0, len(names)), names, 2.0) == ["A", "B"]


def test_early_stopping_does_not_keep_a_step_worse_on_one_protocol() -> None:
    stop = EarlyStopping(patience=0)
    model = torch.nn.Linear(1, 1)
    assert not stop.update(0, 1.0, model, np.ones(3))
    stop.update(10, 0.9, model, np.ones(3), worse=["radial R8"])  # lower, but worse on one protocol
    stop.update(20, 0.95, model, np.ones(3))
    assert stop.best_step == 20 and stop.best == 0.95
    assert stop.refused == [(10, ["radial R8"])]


@pytest.mark.parametrize(("z", "released"), [(2.0, 2), (0.0, 4)])
def test_adapt_model_skips_a_step_that_gains_overall_but_loses_one_protocol(z: float, released: int) -> None:
    """Step 4 has the lowest mean loss because protocol A gains much, but every frame of B is worse:
    with the test on, step 2 (a smaller gain, no protocol worse) is released."""
    model = _Toy()
    names = ["A"] * 4 + ["B"] * 4
    base = np.array([1.0, 1.1, 0.9, 1.0, 1.2, 1.0, 1.1, 0.9])
    step2 = base - np.array([0.05, 0.06, 0.04, 0.05, 0.01, 0.02, 0.01, 0.02])
    step4 = base + np.array([-0.3, -0.32, -0.29, -0.31, 0.05, 0.06, 0.04, 0.05])
    curve = iter([base, step2, step4])

    def predict(m: torch.nn.Module, scan: AdaptScan, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return m.forward_kspace(k, mask)  # type: ignore[operator, no-any-return]

    opts = AdaptOptions(steps=4, lr=0.05, val_every=2, patience=0, significance=z, seed=0)
    res = adapt_model(model, [_toy_scan()], predict, opts, evaluate=lambda m: next(curve), protocols=names)
    assert res.best_step == released
    assert res.curve[2].worse == (("B",) if z else ())
    for point, losses in zip(res.curve, (base, step2, step4), strict=True):  # each protocol's mean
        assert point.by_protocol == (
            ("A", pytest.approx(losses[:4].mean(), abs=1e-6)),
            ("B", pytest.approx(losses[4:].mean(), abs=1e-6)),
        )
    assert ("step 4 not released: worse than step 0 on B" in res.stop_reason) is bool(z)


def _scan_of(mask_type: str, accel: int, n_frames: int) -> AdaptScan:
    scan = _toy_scan(n_frames)
    scan.val_masks[:, 0] = True  # every frame has a validation set
    return AdaptScan(**{**scan.__dict__, "mask_type": mask_type, "acceleration": accel})


def test_validation_frames_cover_every_protocol() -> None:
    from cardiomm.training.adapt import _val_frames

    one = [_scan_of("uniform", 8, 10), _scan_of("uniform", 8, 10)]
    picks = _val_frames(one, 4)  # one protocol: evenly spread over the 20 frames, as before
    assert picks == {0: [0, 6], 1: [3, 9]}
    mixed = [_scan_of("uniform", 8, 10), _scan_of("radial", 8, 2), _scan_of("uniform", 16, 10)]
    picks = _val_frames(mixed, 4)  # three protocols: at least 3 frames each where they exist
    assert {s: len(f) for s, f in picks.items()} == {0: 3, 1: 2, 2: 3}
    assert picks[0] == [0, 4, 9] and picks[1] == [0, 1]
    assert sum(map(len, _val_frames(mixed, 30).values())) == 22  # 10 per protocol, capped by the frames
