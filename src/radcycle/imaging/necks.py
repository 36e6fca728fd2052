"""Cutting a lung lesion off what it touches, at the necks of its depth map.

The thresholded region around a click holds the lesion and whatever dense
tissue touches it: vessels, the chest wall, the mediastinum. A watershed of
the region's distance map (its depth) splits it into lobes, one per deep
point; the lesion is the lobe grown from a ball at the click, with the lobes
joined to it across passes wider than a neck (a large or lobulated tumour has
several bumps of its own). :mod:`radcycle.imaging.outlines` uses this for the
``lung-nodule`` outline; docs/lesions.md gives the figures.
"""

from __future__ import annotations

import heapq

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage import segmentation as skseg

from radcycle.imaging.masks import BoolArray, distance_mm

__all__ = ["split_necks"]

FloatArray = npt.NDArray[np.float64]

# The lung-nodule watershed is sized from the deepest point within this
# distance (mm) of the click, not from the click itself.
_CLIMB_MM = 3.0
# Two watershed lobes whose pass is at least this share of the shallower one's
# depth are one lesion (a neck between a lesion and a vessel or the chest wall
# is narrower); chosen on clicks off the centres of the lung lesions.
_PASS_SHARE = 0.5
# A lobe joined holds at most this many balls of its depth, and both lobes are
# at least this deep (mm): vessels in the lung are thinner, and a click in a
# vessel must not climb its tree.
_LOBE_BALLS = 4.0
_JOIN_MIN_DEPTH_MM = 3.0
# ... and at least this share of the depth of the deepest lobe joined so far:
# the bumps of a large tumour are of its scale, while a vessel that runs into
# it is far thinner.
_JOIN_DEPTH_SHARE = 0.3
# A deep point is a lobe's top where nothing within the seed's depth, but at
# most this far (mm), is deeper: within a large mass's depth, the vessels that
# run into it would have no top of their own and be flooded into it.
_PEAK_REACH_MM = 8.0
# Only a lesion at least this share of the region's in-plane half-size deep can
# run on beyond the region (a larger region is tried); a smaller one joined to a
# lobe at the region's edge abuts the chest wall or the mediastinum.
_RUNS_ON_DEPTH_SHARE = 0.3


def split_necks(
    region: BoolArray, seed: tuple[int, int, int], spacing: tuple[float, float, float]
) -> tuple[BoolArray, bool]:
    """Keep the lobe of ``region`` that holds the seed, cut off at narrow necks.

    A watershed of the distance map splits the region into lobes, one per deep
    point; the lobe grown from a ball at the seed, with the lobes joined to it
    by wide passes (:func:`_join_lobes`), is the lesion, so vessels and the
    chest wall are cut off at their necks. Also returns whether a lobe that
    would be joined runs on beyond the region of interest.
    """
    dist = distance_mm(region, spacing)
    click = seed
    seed = _deepest_near(dist, seed, spacing)
    seed_depth = float(dist[seed])
    reach = min(max(seed_depth, 2.0), _PEAK_REACH_MM)
    size = [max(3, 2 * round(reach / sp) + 1) for sp in spacing]
    # a top is at least half the seed's depth deep, but a vessel as deep as a
    # lobe may be joined (_JOIN_MIN_DEPTH_MM) keeps a top of its own
    low = max(1.5, min(0.5 * seed_depth, _JOIN_MIN_DEPTH_MM))
    peaks = (ndi.maximum_filter(dist, size=size) == dist) & (dist >= low)
    markers, _ = ndi.label(peaks)
    centre = np.zeros(region.shape, dtype=bool)
    centre[seed] = True
    near = distance_mm(~centre, spacing) <= max(seed_depth, 1.5)
    # a plateau of the depth map that reaches the seed's ball is the seed's own
    # top (a nodule two thick slices deep is one flat plateau): not another lobe
    own = np.unique(markers[near & region])
    seed_label = markers.max() + 1
    markers[np.isin(markers, own[own > 0])] = seed_label
    markers[near & region] = seed_label
    labels = skseg.watershed(-dist, markers, mask=region)
    voxel = float(np.prod(spacing))
    lobe, runs_on = _join_lobes(labels, dist, int(labels[seed]), voxel)
    # the climb never takes the outline off the click
    if not lobe[click]:
        lobe, runs_on = _join_lobes(labels, dist, int(labels[click]), voxel)
    # a lesion small beside the region runs on into the wall, not beyond the region
    half = 0.5 * min(n * sp for n, sp in zip(region.shape[1:], spacing[1:], strict=True))
    deep = float(dist[lobe].max()) >= _RUNS_ON_DEPTH_SHARE * half
    return lobe, runs_on and deep


def _saddles(labels: npt.NDArray[np.int32], dist: FloatArray) -> dict[tuple[int, int], float]:
    """The pass between each two touching lobes: the deepest point of their border.

    Keys are ``(a, b)`` label pairs with ``a < b``; a border point's depth is the
    lesser depth of the two voxels facing each other across it.
    """
    n = int(labels.max()) + 1
    keys, depths = [], []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        a, b = labels[tuple(lo)], labels[tuple(hi)]
        facing = (a != b) & (a > 0) & (b > 0)
        x, y = a[facing].astype(np.int64), b[facing].astype(np.int64)
        keys.append(np.minimum(x, y) * n + np.maximum(x, y))
        depths.append(np.minimum(dist[tuple(lo)][facing], dist[tuple(hi)][facing]))
    key, depth = np.concatenate(keys), np.concatenate(depths)
    if key.size == 0:
        return {}
    order = np.lexsort((depth, key))  # by pair, deepest last
    last = np.append(np.flatnonzero(np.diff(key[order])), key.size - 1)
    pairs, deepest = key[order][last], depth[order][last]
    return {(int(k // n), int(k % n)): float(d) for k, d in zip(pairs, deepest, strict=True)}


def _join_lobes(
    labels: npt.NDArray[np.int32], dist: FloatArray, start: int, voxel_mm3: float
) -> tuple[BoolArray, bool]:
    """The lobe ``start`` with the lobes joined to it by a wide pass, not a neck.

    The watershed gives a large lesion clicked off its centre several lobes of
    its own, one per bump of its depth map. Two lobes are one where the pass
    between them is at least :data:`_PASS_SHARE` of the shallower lobe's depth
    (a neck is narrower than the lobes it joins) and the lobe joined is a bump,
    not a piece of a tube: its volume is at most :data:`_LOBE_BALLS` times that
    of the ball of its depth (a vessel's pieces are long and thin, and joining
    them would climb the vessel tree), both are at least
    :data:`_JOIN_MIN_DEPTH_MM` deep, and the lobe joined is at least
    :data:`_JOIN_DEPTH_SHARE` of the deepest lobe joined so far (the deepest
    are joined first). A lobe that reaches the edge of the region
    of interest is never joined: it runs on beyond it (the chest
    wall, the mediastinum, or a lesion wider than the region); the second value
    says whether one would have been, so the caller can try a larger region.
    """
    edge = np.zeros(labels.shape, dtype=bool)
    edge[[0, -1]] = edge[:, [0, -1]] = edge[:, :, [0, -1]] = True
    open_ended = set(np.unique(labels[edge]).tolist())
    index = np.arange(int(labels.max()) + 1)
    peaks = np.zeros(len(index))
    np.maximum.at(peaks, labels.ravel(), dist.ravel())  # each lobe's depth
    sizes = np.bincount(labels.ravel(), minlength=len(index)) * voxel_mm3
    bump = sizes <= _LOBE_BALLS * 4.0 / 3.0 * np.pi * np.maximum(peaks, 1e-6) ** 3
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for (a, b), depth in _saddles(labels, dist).items():
        neighbours.setdefault(a, []).append((b, depth))
        neighbours.setdefault(b, []).append((a, depth))
    # the deepest lobes are joined first, so that the depth a lobe is held to
    # is the tumour's, not that of the bump the click fell on
    group, todo, runs_on = {start}, [(-float(peaks[start]), start)], False
    deepest = float(peaks[start])
    while todo:
        _, here = heapq.heappop(todo)
        for other, depth in neighbours.get(here, []):
            if other in group or not bump[other]:
                continue
            if min(peaks[here], peaks[other]) < _JOIN_MIN_DEPTH_MM:
                continue
            if peaks[other] < _JOIN_DEPTH_SHARE * deepest:
                continue
            if depth < _PASS_SHARE * min(peaks[here], peaks[other]):
                continue
            if other in open_ended:
                runs_on = True
                continue
            group.add(other)
            deepest = max(deepest, float(peaks[other]))
            heapq.heappush(todo, (-float(peaks[other]), other))
    return np.asarray(np.isin(labels, list(group)), dtype=bool), runs_on


def _deepest_near(
    dist: FloatArray, seed: tuple[int, int, int], spacing_kji: tuple[float, float, float]
) -> tuple[int, int, int]:
    """The top of the depth map uphill from the click, if within :data:`_CLIMB_MM`.

    A click off a nodule's centre (or a detector's candidate point) sits where
    the region is shallow; sizing the watershed from there splits a small oval
    nodule in two across thick slices. The click moves uphill on the depth map,
    one neighbour at a time; where the map still rises at :data:`_CLIMB_MM` (the
    click is on the flank of something larger, e.g. the chest wall beside a
    nodule), the click stays where it was.
    """
    start = np.asarray(seed, dtype=float)
    spacing = np.asarray(spacing_kji)
    offsets = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]
    here = seed
    while True:
        best, best_depth, capped = here, float(dist[here]), False
        for a, b, c in offsets:
            step = (here[0] + a, here[1] + b, here[2] + c)
            if not all(0 <= x < n for x, n in zip(step, dist.shape, strict=True)):
                continue
            if float(dist[step]) <= best_depth:
                continue
            if np.linalg.norm((np.asarray(step) - start) * spacing) > _CLIMB_MM:
                capped = True
                continue
            best, best_depth = step, float(dist[step])
        if best == here:
            return seed if capped else here
        here = best
