"""What a CT covers besides the lungs, its contrast phase, and breathing artefacts.

Each function reads the CT array ``[k, j, i]`` on the QC grid (about 2 mm) with
its voxel size ``(dk, dj, di)`` in mm and an :class:`Orientation` (which way
the array's columns and rows point in the patient). Landmarks, not models:

* :func:`spine_front`: per slice, the body's midline and the front of the
  spine on it (where the field of view cuts neither side of the body): the
  anchor that says where the patient's right and front are;
* :func:`liver`: a thick soft-tissue organ (20-200 HU, 12 mm or more from its
  edge) at least 30 mm to the patient's right of the midline, not behind the spine;
* :func:`pelvis`: slices without lung holding two large bones (5 cm2 or more
  each, holes filled) 80-300 mm apart on either side of the midline (the hip
  bones or the femoral heads), judged where the field of view cuts neither
  side of the body;
* :func:`brain`: slices where bone encloses 40 cm2 or more of tissue at
  15-60 HU (a skull holding a brain);
* :func:`aorta`: the round vessel in front of and left of the spine, found
  brightest first (at 130 HU, then 80 HU, then 0 HU); its median HU
  gives the contrast phase (:func:`contrast_phase`);
* :func:`breathing`: slices where the lungs' cross-section grows against the
  lungs' own shape (toward the apex or the base) while the body does not move:
  the step a breath between slices leaves in the diaphragm or the apex.

These are heuristics, validated on the shared real series and synthetic
series (docs/quality.md), not a segmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

__all__ = [
    "PHASE_CUTOFFS_HU",
    "Orientation",
    "aorta",
    "brain",
    "breathing",
    "contrast_phase",
    "liver",
    "pelvis",
    "spine_front",
]

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Mm = tuple[float, float, float]

_BONE_HU = 200.0
_CANAL_HU = (-20.0, 70.0)
_CANAL_MM2 = (60.0, 700.0)
_LIVER_HU = (20.0, 200.0)
_LIVER_CORE_MM = 12.0
_LIVER_RIGHT_MM = 30.0
_PELVIS_BONE_MM2 = 500.0
_PELVIS_APART_MM = (80.0, 300.0)
_BRAIN_MM2 = 4000.0
_BRAIN_HU = (15.0, 60.0)
_SLICES_NEEDED = 3
# Aorta: where to look from the spine's front (mm): in front, and to the patient's left.
_AORTA_FRONT_MM = (0.0, 70.0)
_AORTA_LEFT_MM = (-25.0, 50.0)
_AORTA_RADIUS_MM = (4.0, 22.0)
_AORTA_CENTRE_LEFT_MM = 5.0
_AORTA_THRESHOLDS_HU = (130.0, 80.0, 0.0)

#: Aorta HU at or above each cut-off -> phase (ours, from the usual ranges of
#: unenhanced blood, delayed, portal venous and arterial phases; not a
#: published classifier: see docs/quality.md).
PHASE_CUTOFFS_HU: tuple[tuple[float, str], ...] = (
    (250.0, "arterial"),
    (150.0, "portal venous"),
    (90.0, "delayed"),
    (-float("inf"), "non-contrast"),
)


@dataclass(frozen=True)
class Orientation:
    """Which way the array's columns (i) and rows (j) point in the patient.

    ``left``: +1 where i grows toward the patient's left (LPS x), -1 where
    toward the right. ``back``: +1 where j grows toward the back (LPS y).
    """

    left: int
    back: int

    @classmethod
    def of(cls, direction: npt.NDArray[np.float64]) -> Orientation | None:
        """From a volume's direction matrix; None where the axes are oblique."""
        x, y = float(direction[0, 0]), float(direction[1, 1])
        if abs(x) < 0.7 or abs(y) < 0.7:
            return None
        return cls(1 if x > 0 else -1, 1 if y > 0 else -1)


def spine_front(
    hu: FloatArray, body: BoolArray, mm: Mm, o: Orientation
) -> npt.NDArray[np.float64] | None:
    """Per slice, the front of the spine on the body's midline, ``(j, i)``; NaN where unknown.

    The midline is the middle of the body's width, judged only on slices where
    the field of view cuts neither side of the body (over 15 % of its depth
    touching the left or right edge); the spine is bone (above 200 HU, in
    pieces of 20 mm2 or more) within 20 mm of the midline in the back half of
    the body, and its front is its most anterior row there. Returns None
    where it is found on fewer than 3 slices (no whole trunk in view).
    """
    out = np.full((hu.shape[0], 2), np.nan)
    j_all = np.arange(hu.shape[1])
    for k, plane in enumerate(hu):
        if _sides_cut(body[k]):
            continue
        rows = np.flatnonzero(body[k].any(axis=1))
        cols = np.flatnonzero(body[k].any(axis=0))
        mid = (cols[0] + cols[-1]) / 2.0
        half = round(20.0 / mm[2])
        lo, hi = max(0, int(mid) - half), min(hu.shape[2], int(mid) + half + 1)
        centre = (rows[0] + rows[-1]) / 2.0
        back = (j_all - centre) * o.back > 0
        bone = (plane[:, lo:hi] > _BONE_HU) & body[k][:, lo:hi] & back[:, None]
        labels, n = ndi.label(bone)
        if n == 0:
            continue
        sizes = ndi.sum(bone, labels, index=np.arange(1, n + 1)) * mm[1] * mm[2]
        if float(sizes.sum()) < 60.0:
            continue
        # specks of noise in an enhanced vessel are not bone, and neither is an
        # arterial aorta (above 200 HU) reaching the midline: even, where bone is not
        keep = [
            n + 1
            for n in np.flatnonzero(sizes >= 20.0)
            if not _even(plane[:, lo:hi][labels == n + 1])
        ]
        solid = np.isin(labels, keep)
        spine_rows = np.flatnonzero(solid.any(axis=1))
        if spine_rows.size == 0:
            continue
        front = spine_rows[0] if o.back > 0 else spine_rows[-1]
        out[k] = (float(front), mid)
    if int(np.isfinite(out[:, 0]).sum()) < _SLICES_NEEDED:
        return None
    return out


def _even(values: FloatArray) -> bool:
    """Blood: 200-600 HU with a robust SD under 30 HU (bone's texture is rougher)."""
    if values.size < 10:
        return False
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    return 200.0 < median < 600.0 and spread < 30.0


def _offsets(
    shape: tuple[int, int], centre: npt.NDArray[np.float64], mm: Mm, o: Orientation
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per pixel of a slice: mm in front of the spine, and mm to the patient's left of it."""
    j, i = np.indices(shape, dtype=np.float64)
    front = -(j - centre[0]) * mm[1] * o.back
    left = (i - centre[1]) * mm[2] * o.left
    return front, left


def liver(
    hu: FloatArray, body: BoolArray, spine: npt.NDArray[np.float64], mm: Mm, o: Orientation
) -> float:
    """Volume (mL) of thick soft tissue to the patient's right of the spine and in front of it.

    The liver's core: 20-200 HU (unenhanced to portal venous), at least 12 mm
    from the region's edge, on slices where the spine is known.
    """
    smooth = ndi.gaussian_filter(hu, sigma=(0.0, 1.0, 1.0))
    bone = ndi.binary_dilation(hu > _BONE_HU, iterations=1)
    tissue = body & (smooth >= _LIVER_HU[0]) & (smooth <= _LIVER_HU[1]) & ~bone
    voxel_ml = mm[0] * mm[1] * mm[2] / 1000.0
    total = 0.0
    for k in range(hu.shape[0]):
        if np.isnan(spine[k, 0]) or not tissue[k].any():
            continue
        depth = ndi.distance_transform_edt(tissue[k], sampling=(mm[1], mm[2]))
        front, left = _offsets(tissue[k].shape, spine[k], mm, o)
        core = (depth >= _LIVER_CORE_MM) & (left <= -_LIVER_RIGHT_MM) & (front >= -10.0)
        total += float(core.sum()) * voxel_ml
    return round(total, 1)


def _sides_cut(body: BoolArray) -> bool:
    """Whether the field of view cuts the body's left or right side (over 15 % of its depth)."""
    rows = int(body.any(axis=1).sum())
    return rows < 5 or max(int(body[:, 0].sum()), int(body[:, -1].sum())) > 0.15 * rows


def pelvis(
    hu: FloatArray, body: BoolArray, lungs: BoolArray, mm: Mm, o: Orientation
) -> tuple[int, int]:
    """Slices holding two large bones either side of the body's midline, and slices judged.

    Judged: slices without lung where the field of view cuts neither side of
    the body (the midline is the middle of its width).
    """
    area = mm[1] * mm[2]
    count = judged = 0
    for k in range(hu.shape[0]):
        if lungs[k].any() or _sides_cut(body[k]):
            continue
        judged += 1
        bones = ndi.binary_fill_holes(body[k] & (hu[k] > _BONE_HU))
        labels, n = ndi.label(bones)
        if n < 2:
            continue
        sizes = ndi.sum(bones, labels, index=np.arange(1, n + 1)) * area
        big = [int(x) + 1 for x in np.flatnonzero(sizes >= _PELVIS_BONE_MM2)]
        if len(big) < 2:
            continue
        cols = np.flatnonzero(body[k].any(axis=0))
        mid = (cols[0] + cols[-1]) / 2.0
        sides = [(float(ndi.center_of_mass(labels == b)[1]) - mid) * mm[2] * o.left for b in big]
        left = [s for s in sides if s >= 40.0]
        right = [s for s in sides if s <= -40.0]
        if any(_PELVIS_APART_MM[0] <= a - b <= _PELVIS_APART_MM[1] for a in left for b in right):
            count += 1
    return count, judged


def brain(hu: FloatArray, mm: Mm) -> int:
    """Slices (on this grid) where bone encloses 40 cm2 or more of tissue at 15-60 HU."""
    area = mm[1] * mm[2]
    count = 0
    for plane in hu:
        bone = plane > 300.0
        inside = ndi.binary_fill_holes(bone) & ~bone
        if float(inside.sum()) * area < _BRAIN_MM2:
            continue
        labels, n = ndi.label(inside)
        sizes = ndi.sum(inside, labels, index=np.arange(1, n + 1))
        largest = labels == int(np.argmax(sizes)) + 1
        if float(largest.sum()) * area < _BRAIN_MM2:
            continue
        values = plane[largest]
        median = float(np.median(values))
        share = float(((values > -10.0) & (values < 90.0)).mean())
        if _BRAIN_HU[0] <= median <= _BRAIN_HU[1] and share >= 0.8:
            count += 1
    return count


def aorta(
    hu: FloatArray, body: BoolArray, spine: npt.NDArray[np.float64], mm: Mm, o: Orientation
) -> dict[str, float | int | None]:
    """Median HU of the aorta over the slices where a round vessel is found before the spine.

    Per slice, in a window in front of the spine (0-70 mm) and to the left of
    the midline (centre 5-50 mm left), the round part (a local maximum of the
    distance to its edge, 4-22 mm) nearest the spine of the region above a threshold,
    tried at 130, 80 and 0 HU in turn (so an enhanced aorta is not mistaken
    for the psoas beside it); its value is the median HU of a disc 3 mm inside.
    """
    smooth = ndi.gaussian_filter(hu, sigma=(0.0, 0.7, 0.7))
    values: list[float] = []
    for k in range(hu.shape[0]):
        if np.isnan(spine[k, 0]):
            continue
        front, left = _offsets(hu[k].shape, spine[k], mm, o)
        window = (
            body[k]
            & (front >= _AORTA_FRONT_MM[0])
            & (front <= _AORTA_FRONT_MM[1])
            & (left >= _AORTA_LEFT_MM[0])
            & (left <= _AORTA_LEFT_MM[1])
        )
        if not window.any():
            continue
        bone = ndi.binary_dilation(ndi.binary_fill_holes(hu[k] > 600.0), iterations=1)
        # the aorta's centre lies left of the midline; the vertebral body's on it
        window &= left >= _AORTA_CENTRE_LEFT_MM
        for threshold in _AORTA_THRESHOLDS_HU:
            region = (smooth[k] >= threshold) & (smooth[k] < 600.0) & ~bone & body[k]
            depth = ndi.distance_transform_edt(region, sampling=(mm[1], mm[2]))
            # round parts are local maxima of the depth: a vessel joined to its
            # neighbours by a neck keeps its own
            peaks = (depth == ndi.maximum_filter(depth, size=5)) & window
            peaks &= (depth >= _AORTA_RADIUS_MM[0]) & (depth <= _AORTA_RADIUS_MM[1])
            if not peaks.any():
                continue
            # the aorta hugs the spine: the round part nearest its front
            near = np.where(peaks, np.hypot(front, left), np.inf)
            cj, ci = np.unravel_index(int(np.argmin(near)), near.shape)
            radius = float(depth[cj, ci])
            j, i = np.ogrid[: hu.shape[1], : hu.shape[2]]
            inner = max(radius - 3.0, min(mm[1], mm[2]))
            disc = np.hypot((j - cj) * mm[1], (i - ci) * mm[2]) <= inner
            values.append(float(np.median(hu[k][disc])))
            break
    if len(values) < _SLICES_NEEDED:
        return {"aorta_hu": None, "aorta_slices": len(values)}
    return {"aorta_hu": round(float(np.median(values)), 1), "aorta_slices": len(values)}


def contrast_phase(aorta_hu: float | None) -> str | None:
    """The phase the aorta's HU says (:data:`PHASE_CUTOFFS_HU`); None without an aorta.

    Example:
        >>> contrast_phase(40.0), contrast_phase(180.0), contrast_phase(320.0)
        ('non-contrast', 'portal venous', 'arterial')
    """
    if aorta_hu is None:
        return None
    return next(name for cut, name in PHASE_CUTOFFS_HU if aorta_hu >= cut)


def breathing(
    lungs: BoolArray, body: BoolArray, mm: Mm, body_jumps: list[int], share: float = 0.12
) -> list[int]:
    """Slices where the lungs' cross-section steps up against their shape.

    Below the widest lung slice the cross-section shrinks toward the base, and
    above it toward the apex. A slice whose lung area grows against that
    direction by more than ``share`` of the widest area, while the body outline
    does not jump there (``body_jumps``), is a breathing step.

    Returns:
        Indices ``k`` where slice ``k`` steps from slice ``k - 1``.
    """
    areas = lungs.sum(axis=(1, 2)).astype(np.float64) * mm[1] * mm[2]
    on = np.flatnonzero(areas > 0)
    if on.size < 5:
        return []
    widest = float(areas.max())
    peak = int(np.argmax(areas))
    steps = []
    for k in range(int(on[0]) + 1, int(on[-1]) + 1):
        grow = areas[k] - areas[k - 1]
        # toward the peak the area rises; away from it, a rise is against the shape
        against = grow if k > peak else -grow
        if against > share * widest and k not in body_jumps:
            steps.append(k)
    return steps
