"""Render one scan of a synthetic patient: anatomy, tubes, lesions, noise, in HU.

The scan's voxel grid is axis-aligned in the scan's patient coordinates; the
patient lies in it after a rigid transform ``body_to_scan`` (a rotation about z
and a translation, as a patient repositioned on the table). Each voxel centre is
mapped back to body coordinates, where the anatomy is defined.

Noise is CT-like: white Gaussian noise and the noiseless image go through the
same small in-plane Gaussian blur (the scanner's point spread), so the noise is
spatially correlated and edges are slightly soft; its amplitude is scaled so the
standard deviation after blurring is the requested ``noise_hu``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from radcycle.errors import GeometryError
from radcycle.synth.anatomy import LABELS, Anatomy
from radcycle.synth.lesions import KINDS, LesionSpec, inside_fraction, render_lesion
from radcycle.synth.tubes import TubeSet, splat

__all__ = ["ScanGrid", "render_scan"]

FloatArray = npt.NDArray[np.float64]

_BLUR_SIGMA_PX = 0.6
_HU_MIN, _HU_MAX = -1024, 3071


@dataclass(frozen=True)
class ScanGrid:
    """An axis-aligned voxel grid: ``matrix`` x ``matrix`` x ``slices``.

    Example:
        >>> grid = ScanGrid((0.0, 0.0, -10.0), pixel_mm=0.5, slice_mm=2.0, matrix=4, slices=3)
        >>> grid.to_index(np.array([[1.0, 1.5, -6.0]])).tolist()
        [[2.0, 3.0, 2.0]]
    """

    origin: tuple[float, float, float]
    pixel_mm: float
    slice_mm: float
    matrix: int
    slices: int

    @property
    def spacing(self) -> FloatArray:
        return np.array([self.pixel_mm, self.pixel_mm, self.slice_mm])

    @property
    def affine(self) -> FloatArray:
        out = np.diag([self.pixel_mm, self.pixel_mm, self.slice_mm, 1.0])
        out[:3, 3] = self.origin
        return out

    def to_index(self, points: FloatArray) -> FloatArray:
        result: FloatArray = (points - np.asarray(self.origin)) / self.spacing
        return result


def _apply(matrix: FloatArray, points: FloatArray) -> FloatArray:
    result: FloatArray = points @ matrix[:3, :3].T + matrix[:3, 3]
    return result


def _noise_gain(sigma_px: float) -> float:
    """Factor so white noise blurred by ``sigma_px`` (in 2D) has unit standard deviation.

    The 2D kernel is separable, so its sum of squares is the square of the 1D one's.
    """
    impulse = np.zeros(33)
    impulse[16] = 1.0
    k = ndimage.gaussian_filter1d(impulse, sigma_px)
    return float(1.0 / np.sum(k * k))


def _chunks(n: int, parts: int) -> list[range]:
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [range(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i + 1] > bounds[i]]


def _parallel(n: int, work: Callable[[range], None]) -> None:
    workers = max(1, min(4, os.cpu_count() or 1))
    parts = _chunks(n, workers * 4)
    if workers == 1:
        for part in parts:
            work(part)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, parts))


def _clear_around_lesions(
    labels: npt.NDArray[np.uint8],
    grid: ScanGrid,
    lesions: Sequence[tuple[FloatArray, float, FloatArray]],
) -> None:
    """Vessels and small airways give way to a lesion (within 3 mm of its surface)."""
    spacing = grid.spacing
    for centre, angle, axes in lesions:
        grown = axes + 3.0
        lo = np.clip(np.floor(grid.to_index(centre - grown.max())).astype(int), 0, None)
        hi = np.ceil(grid.to_index(centre + grown.max())).astype(int) + 1
        box = labels[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
        if box.size == 0:
            continue
        coords = [
            grid.origin[a] + spacing[a] * np.arange(lo[a], lo[a] + box.shape[2 - a]) - centre[a]
            for a in range(3)
        ]
        zz, yy, xx = np.meshgrid(coords[2], coords[1], coords[0], indexing="ij")
        c, s = np.cos(angle), np.sin(angle)
        local = np.stack([c * xx + s * yy, -s * xx + c * yy, zz], axis=-1)
        near = inside_fraction(local, grown, spacing, 0.0, (0.0, 0.0)) > 0.0
        soft = (
            (box == LABELS["vessel"])
            | (box == LABELS["airway_wall"])
            | (box == LABELS["airway_lumen"])
        )
        box[near & soft] = 0


def _table_profile(grid: ScanGrid, back_y: float) -> npt.NDArray[np.float32]:
    """One slice of the scanner table (NaN where there is none), under ``back_y``.

    A gently curved carbon-fibre shell (1.5 mm skins of about 250 HU) around a foam
    core (about -950 HU), 30 mm thick, touching the patient's back at the midline.
    It is fixed to the scanner, so it does not follow the patient's repositioning.
    """
    n = grid.matrix
    x = grid.origin[0] + grid.pixel_mm * np.arange(n)
    y = grid.origin[1] + grid.pixel_mm * np.arange(n)
    top = back_y + 1.0 - 12.0 * (x / 200.0) ** 2  # edges curve up by 12 mm at 200 mm
    depth = y[:, None] - top[None, :]
    out = np.full((n, n), np.nan, dtype=np.float32)
    skin = max(1.5, grid.pixel_mm)  # at least one row, on coarse test grids too
    out[(depth >= 0) & (depth < 30.0)] = -950.0
    skins = ((depth >= 0) & (depth < skin)) | ((depth >= 30.0 - skin) & (depth < 30.0))
    out[skins & (np.abs(x)[None, :] < 230.0)] = 250.0
    return out


def _add_table(hu: npt.NDArray[np.float32], grid: ScanGrid) -> None:
    """Put the table under the patient where the image is still air."""
    rows = np.flatnonzero(np.any(hu > -500.0, axis=(0, 2)))
    if len(rows) == 0:
        return
    profile = _table_profile(grid, grid.origin[1] + grid.pixel_mm * rows[-1])
    where = ~np.isnan(profile)
    for k in range(hu.shape[0]):
        plane = hu[k]
        air = where & (plane <= -999.0)
        plane[air] = profile[air]


def render_scan(
    anat: Anatomy,
    tubes: TubeSet,
    lesions: Sequence[LesionSpec],
    t: int,
    grid: ScanGrid,
    body_to_scan: FloatArray,
    noise_hu: float,
    noise_seed: Sequence[int],
) -> npt.NDArray[np.int16]:
    """HU volume ``[k, j, i]`` (int16) of time point ``t`` on ``grid``.

    Args:
        anat: the anatomy. tubes: splatted structures (body coordinates).
        lesions: all lesions; their state at ``t`` is rendered.
        t: time point index.
        grid: the scan's voxel grid (scan patient coordinates).
        body_to_scan: 4x4 rigid transform, rotation about z only.
        noise_hu: standard deviation of the image noise, HU.
        noise_seed: entropy for the per-slice noise generators.
    """
    rot = body_to_scan[:3, :3]
    if not np.allclose(rot[2], [0, 0, 1], atol=1e-9) or not np.allclose(
        rot[:, 2], [0, 0, 1], atol=1e-9
    ):
        raise GeometryError(
            "the synthetic scan transform must rotate about z only", value=rot.tolist()
        )
    angle = float(np.arctan2(rot[1, 0], rot[0, 0]))
    now = [
        (_apply(body_to_scan, np.asarray([spec.centre]))[0], spec.angle + angle, spec)
        for spec in lesions
        if spec.status(t) in ("present", "new")
    ]
    labels = np.zeros((grid.slices, grid.matrix, grid.matrix), dtype=np.uint8)
    points = grid.to_index(_apply(body_to_scan, tubes.points))
    splat(labels, points, tubes.radius, tubes.label, grid.spacing)
    _clear_around_lesions(
        labels, grid, [(c, a, np.asarray(spec.states[t].semi_axes)) for c, a, spec in now]
    )
    hu = _anatomy(anat, grid, body_to_scan, labels)
    _add_table(hu, grid)
    for centre, lesion_angle, spec in now:
        kind = KINDS[spec.kind]
        render_lesion(hu, grid.affine, centre, lesion_angle, spec.states[t], kind, spec.phases)
    return _noisy(hu, noise_hu, noise_seed)


def _anatomy(
    anat: Anatomy, grid: ScanGrid, body_to_scan: FloatArray, labels: npt.NDArray[np.uint8]
) -> npt.NDArray[np.float32]:
    """Noiseless HU of every slice: each pixel centre mapped back to the body."""
    n, s = grid.matrix, grid.slices
    inv: FloatArray = np.linalg.inv(body_to_scan).astype(np.float64)
    xs, ys = np.meshgrid(
        grid.origin[0] + grid.pixel_mm * np.arange(n), grid.origin[1] + grid.pixel_mm * np.arange(n)
    )
    plane = _apply(inv, np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], axis=1))
    fields = anat.plane_fields(plane[:, 0].reshape(n, n), plane[:, 1].reshape(n, n))
    z_body = grid.origin[2] + grid.slice_mm * np.arange(s) + inv[2, 3]  # rotation about z
    hu = np.empty((s, n, n), dtype=np.float32)

    def work(part: range) -> None:
        for k in part:
            hu[k] = anat.render_slice(fields, float(z_body[k]), labels[k])

    _parallel(s, work)
    return hu


def _noisy(
    hu: npt.NDArray[np.float32], noise_hu: float, noise_seed: Sequence[int]
) -> npt.NDArray[np.int16]:
    """Add correlated noise (each slice its own generator) and round to int16 HU."""
    out = np.empty(hu.shape, dtype=np.int16)
    gain = np.float32(noise_hu * _noise_gain(_BLUR_SIGMA_PX))

    def work(part: range) -> None:
        for k in part:
            rng = np.random.default_rng([*noise_seed, k])
            noisy = hu[k] + rng.standard_normal(hu.shape[1:], dtype=np.float32) * gain
            blurred = ndimage.gaussian_filter(noisy, _BLUR_SIGMA_PX, mode="nearest")
            out[k] = np.clip(np.rint(blurred), _HU_MIN, _HU_MAX).astype(np.int16)

    _parallel(hu.shape[0], work)
    return out
