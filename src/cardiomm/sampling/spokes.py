"""The spokes of a Cartesian radial mask, found from the mask alone.

A radial mask on the Cartesian grid (``ktRadial``, the training ``radial`` family) is a union of
rasterised lines through the k-space centre plus a central calibration square. The mask files do not
record the angles, so :func:`spoke_labels` recovers them: every acquired location far from the centre
(radius >= a quarter of the smaller matrix side) lies within a pixel of its spoke, so the angles of those
locations about the centre (taken modulo 180 degrees) form one tight cluster per spoke, separated by the
angle step (180 / spokes: 4.9 degrees at R = 8, 15 degrees at R = 24). Clusters are split where the gap
between sorted angles exceeds twice the largest spread a rasterised spoke can have there; each location
is then given to the spoke line nearest to it.

Used by self-supervised adaptation (:mod:`cardiomm.training.ssdu`) to move whole spokes between the
data-consistency and loss sets, so that the network input stays a radial mask of fewer spokes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_OFF_SPOKE_PX", "spoke_labels"]

#: A location counts as on a spoke when it is within this many pixels of the spoke's line.
MAX_OFF_SPOKE_PX = 1.0
#: Fraction of the selectable locations that may lie off every spoke in a radial mask.
_MAX_OFF_FRACTION = 0.02


def _cluster_angles(phi: np.ndarray, gap: float) -> np.ndarray:
    """Mean angles (mod pi) of the clusters of the angles ``phi`` (in ``[0, pi)``, on a circle of
    period pi) that are separated by gaps wider than ``gap``; a cluster needs two locations (a spoke
    has one on each side of the centre); empty when there is no such gap."""
    order = np.sort(phi)
    gaps = np.append(np.diff(order), order[0] + np.pi - order[-1])
    cuts = np.flatnonzero(gaps > gap)
    if cuts.size == 0:
        return np.empty(0)
    start = (cuts[0] + 1) % order.size  # begin the sequence just after a gap
    rolled = np.concatenate([order[start:], order[:start] + np.pi])
    groups = np.split(rolled, np.flatnonzero(np.diff(rolled) > gap) + 1)
    return np.array([g.mean() % np.pi for g in groups if g.size >= 2])  # a spoke crosses the centre


def spoke_labels(
    mask: np.ndarray, selectable: np.ndarray | None = None, *, min_spokes: int = 3
) -> np.ndarray | None:
    """Spoke index of every selectable acquired location of a Cartesian radial mask.

    Parameters
    ----------
    mask
        ``(ky, kx)`` bool acquired locations of one frame (the whole mask: it fixes the centre).
    selectable
        ``(ky, kx)`` bool locations to label (default ``mask``), e.g. the acquired ones outside the ACS.
    min_spokes
        Fewest spokes for the mask to count as radial.

    Returns
    -------
    numpy.ndarray or None
        ``(ky, kx)`` int64: a spoke index ``0..n-1`` on the selectable locations, ``-1`` elsewhere; or
        ``None`` when the mask is not radial: fewer than ``min_spokes`` spokes, or more than 2 % of the
        selectable locations farther than :data:`MAX_OFF_SPOKE_PX` from every spoke (a 1-D line mask
        or a random 2-D pattern).
    """
    mask = np.asarray(mask, dtype=bool)
    sel = mask if selectable is None else (np.asarray(selectable, dtype=bool) & mask)
    if not sel.any():
        return None
    ys, xs = np.nonzero(mask)
    sy, sx = np.nonzero(sel)
    r0 = max(8.0, min(mask.shape) / 4)
    # a rasterised spoke's locations lie within sqrt(2)/2 px of its line: angles within asin(0.71 / r)
    gap = 2 * float(np.arcsin(min(1.0, np.sqrt(0.5) / r0)))
    best: tuple[float, np.ndarray] | None = None
    # the rotation centre sits on the grid or half-way between samples, depending on the crop
    for cy in mask.shape[0] // 2 + np.arange(-1.0, 1.0, 0.5):
        for cx in mask.shape[1] // 2 + np.arange(-1.0, 1.0, 0.5):
            dy, dx = ys - cy, xs - cx
            far = np.hypot(dy, dx) >= r0
            if far.sum() < 2 * min_spokes:
                continue
            angles = _cluster_angles(np.arctan2(dy[far], dx[far]) % np.pi, gap)
            if angles.size < min_spokes:
                continue
            # perpendicular distance of each selectable location to each spoke line through the centre
            dist = np.abs(
                (sx - cx)[:, None] * np.sin(angles)[None, :] - (sy - cy)[:, None] * np.cos(angles)[None, :]
            )
            nearest = dist.argmin(axis=1)
            off = float((dist[np.arange(nearest.size), nearest] > MAX_OFF_SPOKE_PX).mean())
            if best is None or off < best[0]:
                best = (off, nearest)
    if best is None or best[0] > _MAX_OFF_FRACTION:
        return None
    labels = np.full(mask.shape, -1, dtype=np.int64)
    labels[sy, sx] = best[1]
    return labels
