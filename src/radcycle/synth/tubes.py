"""Tubular structures as sampled centrelines, and their splatting into a label grid.

A :class:`TubeSet` is a cloud of centreline samples, each with a radius and a
label code (:data:`radcycle.synth.anatomy.LABELS`). A tube is drawn as the union
of balls centred on its samples ("sphere sweep"), sampled densely enough that
the balls overlap. Everything is built once per patient in body coordinates and
splatted into each scan's voxel grid after that scan's rigid transform.

The pulmonary vessel trees branch asymmetrically (radius ratios about 0.85 and
0.7, roughly Murray's law), taper from about 6 mm to 0.6 mm, and stop where they
would leave the lung; bronchi run beside the larger arteries as in the
bronchovascular bundle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radcycle.synth.anatomy import LABELS, Anatomy, Region

__all__ = ["TubeSet", "build_tubes", "emphysema_holes", "splat"]

FloatArray = npt.NDArray[np.float64]

_MIN_RADIUS = 0.6
_MAX_GENERATIONS = 30


@dataclass(frozen=True, eq=False)
class TubeSet:
    """Centreline samples: ``points`` (N, 3) body mm, ``radius`` (N,) mm, ``label`` (N,)."""

    points: FloatArray
    radius: FloatArray
    label: npt.NDArray[np.uint8]

    @staticmethod
    def concat(parts: list[TubeSet]) -> TubeSet:
        return TubeSet(
            np.concatenate([p.points for p in parts]),
            np.concatenate([p.radius for p in parts]),
            np.concatenate([p.label for p in parts]),
        )


def _sample_segments(p: FloatArray, q: FloatArray, r0: FloatArray, r1: FloatArray) -> TubeSet:
    """Samples along segments ``p -> q`` every ~0.4 radius, radius tapering r0 -> r1."""
    length = np.linalg.norm(q - p, axis=1)
    step = np.maximum(0.4 * np.minimum(r0, r1), 0.5)
    counts = np.maximum(np.ceil(length / step).astype(np.int64), 1) + 1
    seg = np.repeat(np.arange(len(p)), counts)
    starts = np.cumsum(counts) - counts
    t = (np.arange(counts.sum()) - starts[seg]) / (counts[seg] - 1)
    points = p[seg] + t[:, None] * (q - p)[seg]
    radius = r0[seg] + t * (r1 - r0)[seg]
    return TubeSet(points, radius, np.zeros(len(points), dtype=np.uint8))


def _perpendicular(d: FloatArray, rng: np.random.Generator) -> FloatArray:
    """A random unit vector perpendicular to each row of ``d``."""
    e = np.cross(d, rng.normal(size=d.shape))
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    result: FloatArray = e / np.maximum(norm, 1e-9)
    return result


def _candidates(
    d: FloatArray, p: FloatArray, lung_centre: FloatArray, rng: np.random.Generator
) -> list[tuple[FloatArray, float]]:
    """Directions (and length fractions) a tip tries in turn: straight on, then bent
    away from the pleura towards the lung's axis at the tip's height."""
    inward = np.zeros_like(p)
    inward[:, :2] = lung_centre - p[:, :2]
    inward /= np.maximum(np.linalg.norm(inward, axis=1, keepdims=True), 1e-9)
    options: list[tuple[FloatArray, float]] = [(d, 1.0), (d, 0.5)]
    for pull in (0.6, 1.5):
        bent = d + pull * inward + 0.3 * _perpendicular(d, rng)
        options.append((bent / np.linalg.norm(bent, axis=1, keepdims=True), 0.7))
    return options


def _grow_tree(
    anat: Anatomy,
    rng: np.random.Generator,
    start: FloatArray,
    directions: FloatArray,
    radius: float,
    side: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Grow a branching tree, generation by generation, kept inside one lung.

    Returns:
        Segment starts, ends, start radii and end radii (body mm).
    """
    p = np.repeat(start[None, :], len(directions), axis=0)
    d = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    r = np.full(len(d), radius)
    sign = 1.0 if side == Region.LEFT_LUNG else -1.0
    lung_centre = np.array([sign * anat.lung_x * anat.scale_lr, anat.lung_y])
    out: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
    for gen in range(_MAX_GENERATIONS):
        if len(p) == 0:
            break
        length = np.clip(r * 5.0 + 2.0, 2.5, 22.0) * rng.uniform(0.75, 1.25, len(r))
        allowed = (side, Region.MEDIASTINUM) if gen < 2 else (side,)
        q = np.full_like(p, np.nan)
        for direction, frac in _candidates(d, p, lung_centre, rng):
            todo = np.isnan(q[:, 0])
            cand = p + frac * length[:, None] * direction
            ok = todo & np.isin(anat.region_at(cand), allowed)
            q[ok] = cand[ok]
            d = np.where(ok[:, None], direction, d)
        keep = ~np.isnan(q[:, 0])
        p, q, d, r = p[keep], q[keep], d[keep], r[keep]
        out.append((p, q, r, 0.95 * r))
        e = _perpendicular(d, rng)
        angle_major = rng.uniform(0.2, 0.45, len(d))[:, None]
        angle_minor = rng.uniform(0.6, 1.0, len(d))[:, None]
        p = np.concatenate([q, q])
        d = np.concatenate(
            [
                np.cos(angle_major) * d + np.sin(angle_major) * e,
                np.cos(angle_minor) * d - np.sin(angle_minor) * e,
            ]
        )
        r = np.concatenate([0.95 * r * 0.9, 0.95 * r * 0.74])
        alive = r >= _MIN_RADIUS
        p, d, r = p[alive], d[alive], r[alive]
    if not out:
        empty = np.zeros((0, 3))
        return empty, empty, np.zeros(0), np.zeros(0)
    return (
        np.concatenate([o[0] for o in out]),
        np.concatenate([o[1] for o in out]),
        np.concatenate([o[2] for o in out]),
        np.concatenate([o[3] for o in out]),
    )


def _lung_trees(anat: Anatomy, rng: np.random.Generator) -> TubeSet:
    """Arteries (with bronchi alongside) and veins of both lungs."""
    parts: list[TubeSet] = []
    for side_name, side, sign in (
        ("right", Region.RIGHT_LUNG, -1.0),
        ("left", Region.LEFT_LUNG, 1.0),
    ):
        hilum = anat.hila[side_name]
        trunks = np.array(
            [
                [sign * 0.5, 0.1, 1.0],
                [sign * 1.0, 0.3, 0.1],
                [sign * 0.6, 0.2, -1.0],
                [sign * 0.8, -0.6, -0.3],
                [sign * 0.7, 0.8, -0.6],
            ]
        )
        p, q, r0, r1 = _grow_tree(anat, rng, hilum, trunks, 5.5, side)
        arteries = _sample_segments(p, q, r0, r1)
        parts.append(TubeSet(arteries.points, arteries.radius, _labels(arteries, "vessel")))
        parts.extend(_bronchi_beside(p, q, r0, r1, rng))
        vein_start = hilum + np.array([sign * 4.0, 8.0, -22.0])
        p, q, r0, r1 = _grow_tree(anat, rng, vein_start, trunks[[1, 2, 3, 4]], 5.0, side)
        veins = _sample_segments(p, q, r0, r1)
        parts.append(TubeSet(veins.points, veins.radius, _labels(veins, "vessel")))
    return TubeSet.concat(parts)


def _labels(t: TubeSet, name: str) -> npt.NDArray[np.uint8]:
    return np.full(len(t.radius), LABELS[name], dtype=np.uint8)


def _bronchi_beside(
    p: FloatArray, q: FloatArray, r0: FloatArray, r1: FloatArray, rng: np.random.Generator
) -> list[TubeSet]:
    """Bronchi of about the artery's calibre, running alongside arteries >= 1.4 mm."""
    big = r1 >= 1.4
    p, q, r0, r1 = p[big], q[big], r0[big], r1[big]
    d = (q - p) / np.maximum(np.linalg.norm(q - p, axis=1, keepdims=True), 1e-9)
    up = np.where(np.abs(d[:, 2:3]) > 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 1.0]]))
    n = np.cross(d, up)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    offset = (2.0 * r0 + 1.0)[:, None] * n
    lumen = _sample_segments(p + offset, q + offset, 0.8 * r0, 0.8 * r1)
    wall = TubeSet(lumen.points, lumen.radius * 1.25 + 0.4, _labels(lumen, "airway_wall"))
    return [wall, TubeSet(lumen.points, lumen.radius, _labels(lumen, "airway_lumen"))]


def _central_airways(anat: Anatomy) -> list[TubeSet]:
    """Main bronchi from the carina to each hilum (lumen and wall)."""
    carina = anat.carina
    ends = np.stack([anat.hila["right"], anat.hila["left"]])
    starts = np.stack([carina, carina])
    lumen = _sample_segments(starts, ends, np.array([7.0, 6.5]), np.array([5.5, 5.0]))
    wall = TubeSet(lumen.points, lumen.radius + 1.8, _labels(lumen, "airway_wall"))
    return [wall, TubeSet(lumen.points, lumen.radius, _labels(lumen, "airway_lumen"))]


def _great_vessels(anat: Anatomy) -> TubeSet:
    """Aortic arch and pulmonary arteries (the vertical vessels are analytic)."""
    asc, desc = anat.aorta_asc, anat.aorta_desc
    t = np.linspace(0.0, np.pi, 80)
    a = np.array([asc.x * anat.scale_lr, asc.y, asc.z_high])
    b = np.array([desc.x * anat.scale_lr, desc.y, desc.z_high])
    mid = 0.5 * (a + b)
    half = 0.5 * (b - a)
    arch = mid[None, :] - np.cos(t)[:, None] * half[None, :]
    arch[:, 2] += 24.0 * np.sin(t)
    arch_set = TubeSet(arch, np.full(len(t), 13.5), np.zeros(len(t), dtype=np.uint8))
    trunk = np.array([14.0 * anat.scale_lr, -32.0, -75.0])
    bifurcation = np.array([10.0 * anat.scale_lr, -4.0, -30.0])
    starts = np.stack([trunk, bifurcation, bifurcation])
    ends = np.stack([bifurcation, anat.hila["right"] + [0, -8, 4], anat.hila["left"] + [0, -8, 8]])
    pa = _sample_segments(starts, ends, np.array([13.0, 10.0, 10.0]), np.array([12.0, 7.0, 7.0]))
    both = TubeSet.concat([arch_set, pa])
    return TubeSet(both.points, both.radius, _labels(both, "great_vessel"))


def _ribs(anat: Anatomy) -> list[TubeSet]:
    """Twelve pairs of ribs curving from the spine around the chest wall, dropping forwards."""
    centres: list[FloatArray] = []
    for n in range(12):
        z0 = 100.0 - 23.0 * n
        phi_end = 2.55 if n < 7 else 2.55 - 0.3 * (n - 6)
        phi = np.linspace(0.32, phi_end, 220)
        z = z0 - 48.0 * ((phi - phi[0]) / (2.55 - phi[0])) ** 1.4
        a, b = anat.body_axes(z)
        inset = anat.fat_mm + anat.wall_mm - 6.0
        for sign in (-1.0, 1.0):
            x = sign * (a - inset) * np.sin(phi) ** 0.8
            y = anat.centre_y + (b - inset) * np.cos(phi)
            centres.append(np.stack([x, y, z], axis=1))
    pts = np.concatenate(centres)
    cortex = TubeSet(pts, np.full(len(pts), 4.2), np.full(len(pts), LABELS["rib_cortex"], np.uint8))
    marrow = TubeSet(pts, np.full(len(pts), 2.8), np.full(len(pts), LABELS["rib_marrow"], np.uint8))
    return [cortex, marrow]


def build_tubes(anat: Anatomy, rng: np.random.Generator) -> TubeSet:
    """All splatted structures of a patient, in painting order (later wins)."""
    parts = [_lung_trees(anat, rng), *_central_airways(anat), _great_vessels(anat), *_ribs(anat)]
    tubes = TubeSet.concat(parts)
    order = np.argsort(tubes.label, kind="stable")
    return TubeSet(tubes.points[order], tubes.radius[order], tubes.label[order])


def emphysema_holes(anat: Anatomy, rng: np.random.Generator) -> TubeSet:
    """Centrilobular emphysema: small holes (3-12 mm, about -965 HU) in the upper
    two thirds of the lungs, densest at the apices; empty without emphysema."""
    if not anat.emphysema:
        return TubeSet(np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=np.uint8))
    low, high = anat.lung_z_range()
    n = 20000
    z = high - (high - low) * (2.0 / 3.0) * rng.uniform(0.0, 1.0, n) ** 1.5
    points = np.stack(
        [rng.uniform(-150.0, 150.0, n) * anat.scale_lr, rng.uniform(-90.0, 110.0, n), z], axis=1
    )
    region = anat.region_at(points)
    points = points[(region == Region.RIGHT_LUNG) | (region == Region.LEFT_LUNG)][:1500]
    radius = np.exp(rng.uniform(np.log(1.5), np.log(6.0), len(points)))
    return TubeSet(points, radius, np.full(len(points), LABELS["emphysema"], dtype=np.uint8))


def _ball_offsets(radius: float, spacing: FloatArray) -> npt.NDArray[np.int64]:
    """Integer (dk, dj, di) offsets of voxels whose centres lie within ``radius`` mm."""
    n = np.ceil(radius / spacing).astype(int)
    di, dj, dk = np.meshgrid(
        np.arange(-n[0], n[0] + 1),
        np.arange(-n[1], n[1] + 1),
        np.arange(-n[2], n[2] + 1),
        indexing="ij",
    )
    d2 = (di * spacing[0]) ** 2 + (dj * spacing[1]) ** 2 + (dk * spacing[2]) ** 2
    inside = d2 <= radius**2
    inside |= (di == 0) & (dj == 0) & (dk == 0)
    return np.stack([dk[inside], dj[inside], di[inside]], axis=1)


def _unique_rows(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Distinct rows of a small-integer (N, 3) array (many samples share a voxel)."""
    if len(rows) == 0:
        return rows
    low = rows.min(axis=0)
    span = rows.max(axis=0) - low + 1
    keys = ((rows[:, 0] - low[0]) * span[1] + rows[:, 1] - low[1]) * span[2] + rows[:, 2] - low[2]
    _, first = np.unique(keys, return_index=True)
    result: npt.NDArray[np.int64] = rows[np.sort(first)]
    return result


def splat(
    labels: npt.NDArray[np.uint8],
    ijk: FloatArray,
    radius: FloatArray,
    codes: npt.NDArray[np.uint8],
    spacing: FloatArray,
) -> None:
    """Paint balls into ``labels[k, j, i]`` in the order given (later samples win).

    Args:
        labels: the label grid, modified in place.
        ijk: (N, 3) continuous voxel indices of the ball centres.
        radius: (N,) radii in mm.
        codes: (N,) label codes; runs of equal codes are painted in order.
        spacing: (di, dj, dk) voxel spacing in mm.
    """
    shape = np.asarray(labels.shape)
    centre = np.rint(ijk[:, ::-1]).astype(np.int64)  # (k, j, i)
    bins = np.round(radius / 0.25).astype(np.int64)
    strides = np.array([shape[1] * shape[2], shape[2], 1])
    flat = labels.reshape(-1)
    for code in np.unique(codes):
        sel_code = codes == code
        for b in np.unique(bins[sel_code]):
            offsets = _ball_offsets(max(b * 0.25, 0.1), spacing)
            reach = np.abs(offsets).max(axis=0)
            cen = centre[sel_code & (bins == b)]
            cen = _unique_rows(cen[np.all((cen + reach >= 0) & (cen - reach < shape), axis=1)])
            interior = np.all((cen - reach >= 0) & (cen + reach < shape), axis=1)
            chunk = max(1, 2_000_000 // len(offsets))
            # Balls wholly inside the grid: flat indices need no bounds check.
            inner, steps = cen[interior] @ strides, offsets @ strides
            for s in range(0, len(inner), chunk):
                flat[(inner[s : s + chunk, None] + steps[None, :]).ravel()] = code
            edge = cen[~interior]
            for s in range(0, len(edge), chunk):
                vox = (edge[s : s + chunk, None, :] + offsets[None, :, :]).reshape(-1, 3)
                vox = vox[np.all((vox >= 0) & (vox < shape), axis=1)]
                flat[vox @ strides] = code
