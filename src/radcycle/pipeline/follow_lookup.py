"""Look again for tracked lesions nobody proposed (lesions proposed on a scan are
measured by :func:`radcycle.pipeline.scans.measure_seed`).

What a radiologist does on a follow-up: go to where last time's lesion should be
now (the registration maps its centre), look around it, and either measure it,
or say it is gone, or say it cannot be assessed. In order:

1. the soft tissue nearest to the mapped centre, within the lesion's former
   radius, is where the lesion would be now; in the lung, if there is only
   aerated lung that close, the lesion has disappeared (RECIST 1.1 section 4.3.2
   counts it 0 mm);
2. click-to-segment at that point; the result is kept when its centre stays
   within the gate of the mapped position and it is not much larger than before;
   in the lung, a segmenter that finds nothing but aerated lung there means the
   lesion disappeared;
3. otherwise the previous mask is carried over by a lesion-centred similarity
   registration (:func:`radcycle.imaging.lesion_registration.refine_lesion`) and the
   previous diameters are scaled by the fitted scale: the change in size is
   measured by registration (useful where the lesion abuts tissue of the same
   density and a fresh outline leaks);
4. failing all that, "not evaluated" (RECIST 1.1 section 4.4.2: NE).

Before any of that, the lesion's last outline is carried to the scan through the
registration (:func:`coverage`): where more than a tenth of it falls outside the
scan's field of view, the lesion is "not evaluable" with that reason; never
"disappeared" (a partial view is not an absence). A disappearance always cites
its evidence: the densest smoothed value at the carried position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import AlgorithmRecord, Geometry, Volume
from radcycle.domain.findings import LesionMeasurement
from radcycle.errors import AnalysisError, InputError
from radcycle.imaging.hu import BODY_HU
from radcycle.imaging.lesion_registration import refine_lesion, warp_mask
from radcycle.imaging.masks import array_spacing, bbox, crop_slices, voxel_of_point
from radcycle.imaging.registration import apply_matrix
from radcycle.longitudinal.tracking import (
    PointStatus,
    Track,
    TrackPoint,
    tracking_uid,
)
from radcycle.pipeline.scans import (
    ALGORITHM_VERSION,
    LesionMask,
    LesionSeed,
    Scan,
    image_reference,
    measure_seed,
    rounded_point,
)

__all__ = [
    "LookupContext",
    "carry",
    "coverage",
    "look_again",
    "look_back",
    "propagate",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

# Aerated lung: a smoothed maximum below this (HU) holds no soft tissue at all.
_AERATED_HU = BODY_HU
# Ground-glass attenuation sits near -650 HU, aerated parenchyma near -800 HU: for
# a subsolid nodule "only aerated lung" is drawn half-way between them.
_AERATED_SUBSOLID_HU = -730.0
# More than this fraction of a lesion outside the field of view: not evaluable.
MIN_COVERAGE = 0.9
# Points of an outline checked against the field of view (a random subset beyond).
_COVERAGE_POINTS = 4000
# A fresh outline this much larger than the lesion was is taken as a leak.
_MAX_GROWTH = 3.0
_SUBSOLID = ("ground-glass", "part-solid")
# On review of an earlier scan, a smaller outline is a vessel or noise, not the lesion.
MIN_PRIOR_MM = 3.0
# Name of the algorithm cited in a carried outline's provenance.
_CARRY_ALGORITHM = "radcycle.carry-outline"


def _aerated_below(obs: LesionMeasurement) -> float:
    return _AERATED_SUBSOLID_HU if obs.nodule_type in _SUBSOLID else _AERATED_HU


def _tissue_near(
    scan: Scan, point_mm: FloatArray, radius_mm: float, aerated_hu: float = _AERATED_HU
) -> tuple[FloatArray, float] | None:
    """The soft-tissue point nearest to ``point_mm`` within ``radius_mm``, and its HU.

    Values are smoothed (1 mm Gaussian) so noise is not taken for tissue; None
    where there is no soft tissue that close (only aerated lung).
    """
    volume = scan.volume
    spacing = array_spacing(volume)
    centre = voxel_of_point(volume, rounded_point(point_mm))
    box = crop_slices(centre, radius_mm, spacing, volume.array.shape)
    values = np.asarray(volume.array[box], dtype=np.float32)
    smooth = ndi.gaussian_filter(values, sigma=[1.0 / s for s in spacing])
    tissue = np.argwhere(smooth >= aerated_hu)
    if tissue.size == 0:
        return None
    local = np.array(centre) - np.array([b.start for b in box])
    dist = np.linalg.norm((tissue - local) * np.array(spacing), axis=1)
    nearest = int(np.argmin(dist))
    if dist[nearest] > radius_mm:
        return None
    kji = tissue[nearest] + np.array([b.start for b in box])
    lps = volume.index_to_patient([kji[::-1]])[0]
    return lps, float(smooth[tuple(tissue[nearest])])


def propagate(
    previous: Scan,
    scan: Scan,
    mask: BoolArray,
    before: LesionMeasurement,
    initial: FloatArray,
    key: str,
) -> LesionMeasurement:
    """Carry a lesion to ``scan`` by a lesion-centred similarity registration.

    The diameters are the previous ones times the fitted scale (volume times its
    cube); the centre is the previous centre mapped by the refined transform.
    """
    return carry(previous, scan, mask, before, initial, key)[0]


def _matrix_of_carry(obs: LesionMeasurement) -> FloatArray | None:
    """The refined matrix a carried measurement was made with (kept in its algorithm record)."""
    params = obs.algorithm.parameters if obs.algorithm is not None else {}
    text = params.get("matrix_lps", "")
    if not text:
        return None
    values = np.array([float(v) for v in str(text).split(",")], dtype=np.float64)
    return values.reshape(4, 4) if values.size == 16 else None


def carry(
    previous: Scan,
    scan: Scan,
    mask: BoolArray,
    before: LesionMeasurement,
    initial: FloatArray,
    key: str,
) -> tuple[LesionMeasurement, LesionMask | None]:
    """:func:`propagate`, and the carried outline on ``scan``'s grid (kept for SEG and
    key images, so nothing is outlined again to show it)."""
    fit = refine_lesion(previous.volume, scan.volume, mask, initial)
    carried = _carried_outline(mask, previous.volume, scan.volume, fit.matrix)
    centre = apply_matrix(fit.matrix, [before.centre])[0]
    s = fit.scale

    def scaled(v: float | None, power: int = 1) -> float | None:
        return None if v is None else round(v * s**power, 2)

    return replace(
        before,
        lesion_id="",
        tracking_uid="",
        time_point="",
        status=None,
        centre_mm=rounded_point(centre),
        long_axis_mm=scaled(before.long_axis_mm),
        short_axis_mm=scaled(before.short_axis_mm),
        volume_mm3=scaled(before.volume_mm3, 3),
        solid_component_mm=scaled(before.solid_component_mm),
        max_3d_diameter_mm=scaled(before.max_3d_diameter_mm),
        solid_long_axis_mm=scaled(before.solid_long_axis_mm),
        axial_slice_mm=None,
        long_axis_endpoints_mm=None,
        key=key,
        image=image_reference(scan),
        algorithm=AlgorithmRecord(
            _CARRY_ALGORITHM,
            ALGORITHM_VERSION,
            {
                "scale": f"{s:.4f}",
                "from_series": previous.series_instance_uid,
                "matrix_lps": ",".join(f"{v:.6g}" for v in fit.matrix.flatten()),
            },
        ),
    ), carried


def _sub_volume(volume: Volume, box: tuple[slice, slice, slice], array: Any) -> Volume:
    origin = volume.index_to_patient([[box[2].start, box[1].start, box[0].start]])[0]
    return Volume(array, Geometry(origin, volume.spacing, volume.direction), {})


def _carried_outline(
    mask: BoolArray, source: Volume, target: Volume, matrix: FloatArray
) -> LesionMask | None:
    """``mask`` carried onto ``target`` by ``matrix``, resampled only around the lesion.

    Both grids are cropped to the lesion (a margin of 3 voxels), so carrying a
    small outline does not resample a whole CT.
    """
    box = bbox(mask, margin=(1, 1, 1))
    if box is None:
        return None
    src = _sub_volume(source, box, np.asarray(mask[box], dtype=np.float32))
    corners = [
        [i, j, k]
        for k in (box[0].start, box[0].stop - 1)
        for j in (box[1].start, box[1].stop - 1)
        for i in (box[2].start, box[2].stop - 1)
    ]
    mapped = apply_matrix(matrix, source.index_to_patient(corners))
    ijk = np.asarray(target.patient_to_index(mapped), dtype=np.float64)
    shape = target.array.shape
    lo = np.floor(ijk.min(axis=0)[::-1]).astype(int) - 3
    hi = np.ceil(ijk.max(axis=0)[::-1]).astype(int) + 4
    lo, hi = np.maximum(lo, 0), np.minimum(hi, shape)
    if np.any(hi <= lo):
        return None
    tbox = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    dst = _sub_volume(target, tbox, np.zeros(tuple(hi - lo), dtype=np.float32))
    crop = warp_mask(src.array, src, dst, matrix)
    if not crop.any():
        return None
    return LesionMask(tbox, crop)


def _outline_points(scan: Scan, obs: LesionMeasurement, mask: LesionMask | None) -> FloatArray:
    """LPS points filling a lesion on its scan: its outline, else a ball of its radius."""
    if mask is not None:
        kji = np.argwhere(mask.crop) + np.array([b.start or 0 for b in mask.box])
        if len(kji) > _COVERAGE_POINTS:
            pick = np.random.default_rng(0).choice(len(kji), _COVERAGE_POINTS, replace=False)
            kji = kji[np.sort(pick)]
        points: FloatArray = scan.volume.index_to_patient(kji[:, ::-1])
        return points
    radius = max(obs.radius_mm, 1.0)
    axis = np.linspace(-radius, radius, 9)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    inside: FloatArray = grid[np.linalg.norm(grid, axis=1) <= radius] + np.asarray(obs.centre)
    return inside


def coverage(
    source: Scan,
    obs: LesionMeasurement,
    mask: LesionMask | None,
    target: Scan,
    matrix: FloatArray,
) -> float:
    """The fraction of a lesion of ``source`` that lies inside ``target``'s field of view.

    Args:
        source: the scan the lesion was outlined on.
        obs: the lesion there (its radius stands in where there is no outline).
        mask: its outline on ``source``'s grid, if kept.
        target: the later scan.
        matrix: 4x4, ``source`` LPS -> ``target`` LPS (through the registrations).
    """
    points = apply_matrix(matrix, _outline_points(source, obs, mask))
    ijk = target.volume.patient_to_index(points)
    upper = np.asarray(target.volume.shape_ijk, dtype=np.float64) - 0.5
    inside = np.all((ijk >= -0.5) & (ijk <= upper), axis=1)
    return float(inside.mean()) if len(inside) else 0.0


def _touches_edge(mask: LesionMask, shape: tuple[int, ...]) -> bool:
    """Whether an outline reaches the first or last voxel of the grid on any axis."""
    for axis, (part, n) in enumerate(zip(mask.box, shape, strict=True)):
        lo, hi = part.start or 0, part.stop if part.stop is not None else n
        if lo == 0 and mask.crop.take(0, axis=axis).any():
            return True
        if hi == n and mask.crop.take(-1, axis=axis).any():
            return True
    return False


def _densest_hu(scan: Scan, point_mm: FloatArray, radius_mm: float) -> float | None:
    """The densest smoothed value (1 mm Gaussian) within ``radius_mm`` of a point."""
    volume = scan.volume
    if not volume.contains([point_mm]):
        return None
    spacing = array_spacing(volume)
    box = crop_slices(
        voxel_of_point(volume, rounded_point(point_mm)), radius_mm, spacing, volume.array.shape
    )
    values = np.asarray(volume.array[box], dtype=np.float32)
    smooth = ndi.gaussian_filter(values, sigma=[1.0 / s for s in spacing])
    return float(smooth.max())


def outside_note(inside: float) -> str:
    """Why a lesion cut by the field of view is not evaluable."""
    return (
        f"{100 * (1 - inside):.0f} % of the lesion lies outside this scan's field of view "
        f"(more than {100 * (1 - MIN_COVERAGE):.0f} %): not evaluable (RECIST 1.1 section "
        "4.4.2: NE)"
    )


@dataclass(frozen=True)
class LookupContext:
    """What looking again needs: the scans, their baseline -> scan matrices, the masks."""

    scans: Sequence[Scan]
    matrices: Sequence[FloatArray]
    masks: dict[tuple[int, str], LesionMask]
    gate_mm: float
    patient_key: str = ""


def look_again(track: Track, t: int, ctx: LookupContext) -> TrackPoint:
    """Find a tracked lesion on scan ``t`` where nobody proposed it (see module doc)."""
    seen = track.last_seen(t)
    if seen is None or seen[1].observation is None or seen[1].centre_baseline_mm is None:
        return TrackPoint(PointStatus.NOT_EVALUATED, note="never measured")
    t_prev, prev_point = seen
    prev = prev_point.observation
    prev_centre = prev_point.centre_baseline_mm
    if prev is None or prev_centre is None:
        return TrackPoint(PointStatus.NOT_EVALUATED, note="never measured")
    return _search(track, t, t_prev, prev, prev_centre, ctx)


def _search(
    track: Track,
    t: int,
    t_prev: int,
    prev: LesionMeasurement,
    prev_centre: tuple[float, float, float],
    ctx: LookupContext,
) -> TrackPoint:
    """Look for ``prev`` (seen on scan ``t_prev``) on scan ``t`` at its mapped position."""
    scan = ctx.scans[t]
    mapped = apply_matrix(ctx.matrices[t], [prev_centre])[0]
    inside = coverage(
        ctx.scans[t_prev],
        prev,
        ctx.masks.get((t_prev, prev.key)),
        scan,
        ctx.matrices[t] @ np.linalg.inv(ctx.matrices[t_prev]),
    )
    if inside < MIN_COVERAGE or not scan.volume.contains([mapped]):
        return TrackPoint(PointStatus.NOT_EVALUATED, note=outside_note(inside))
    radius = max(prev.radius_mm, 3.0)
    aerated = _aerated_below(prev)
    near = _tissue_near(scan, mapped, radius, aerated)
    lung = prev.organ.lower() == "lung" and not prev.is_lymph_node
    if near is None and lung:
        densest = _densest_hu(scan, mapped, radius)
        note = (
            f"only aerated lung (< {aerated:.0f} HU) within {radius:.1f} mm of the carried "
            f"position {rounded_point(mapped)} (densest {densest:.0f} HU there): disappeared, 0 mm "
            "(RECIST 1.1 section 4.3.2)"
        )
        return TrackPoint(PointStatus.DISAPPEARED, None, prev_centre, None, note)
    where = near[0] if near is not None else mapped
    key = f"t{t}:{track.tracking_identifier}"
    seed = LesionSeed(rounded_point(where), prev.organ, prev.is_lymph_node, "looked again")
    reason = ""
    try:
        obs, mask, quality = measure_seed(scan, seed, key)
        moved = float(np.linalg.norm(np.asarray(obs.centre) - mapped))
        grown = obs.radius_mm > _MAX_GROWTH * max(prev.radius_mm, 2.5)
        cut = mask is not None and _touches_edge(mask, scan.volume.array.shape)
        if quality == "ok" and moved <= ctx.gate_mm and not grown and not cut:
            if mask is not None:
                ctx.masks[(t, key)] = mask
            return _matched(obs, ctx, t, moved, "segmented again at the position mapped")
        reason = (
            "fresh outline cut by the edge of the field of view"
            if cut
            else f"fresh outline implausible ({quality}, {moved:.1f} mm from the mapped position)"
        )
    except AnalysisError as exc:
        if lung and prev.nodule_type not in _SUBSOLID:
            # The segmenter found nothing but aerated lung at the nearest tissue:
            # a vessel's edge, not a lesion (RECIST 1.1 section 4.3.2: 0 mm).
            densest = _densest_hu(scan, mapped, radius)
            note = (
                "nothing but aerated lung to outline at the carried position "
                f"{rounded_point(mapped)} (densest {densest:.0f} HU within {radius:.1f} mm; "
                f"{exc}): disappeared"
            )
            return TrackPoint(PointStatus.DISAPPEARED, None, prev_centre, None, note)
        reason = f"no fresh outline: {exc}"
    except InputError as exc:
        reason = f"no fresh outline: {exc}"
    return _propagated(track, t, t_prev, prev, key, ctx, mapped, reason)


def look_back(track: Track, ctx: LookupContext) -> Track:
    """Review the earlier scans for a lesion first seen on a follow-up.

    RECIST 1.1 (section 4.3.5) counts a new lesion only when it is unequivocally
    new; a radiologist checks the prior first. Where an outline of at least
    :data:`MIN_PRIOR_MM` is found at the mapped position on the scan before, the
    lesion was already there (the detector missed it): the track starts earlier,
    back to the first scan that shows it, and its tracking UID follows the study
    it was first seen in.
    """
    first = track.points[track.first_timepoint]
    if track.first_timepoint == 0 or first is None or first.observation is None:
        return track
    ref, ref_centre = first.observation, first.centre_baseline_mm
    if ref_centre is None:
        return track
    start = track.first_timepoint
    for t in range(track.first_timepoint - 1, -1, -1):
        found = _search(track, t, track.first_timepoint, ref, ref_centre, ctx)
        obs = found.observation
        if found.status is not PointStatus.MATCHED or obs is None:
            break
        if (obs.long_axis_mm or 0.0) < MIN_PRIOR_MM:
            break
        note = f"found on review of the earlier scan ({found.note})"
        status = PointStatus.BASELINE if t == 0 else PointStatus.MATCHED
        track = track.with_point(t, replace(found, status=status, note=note))
        start = t
    if start == track.first_timepoint:
        return track
    later = track.points[track.first_timepoint]
    if later is not None and later.status is PointStatus.NEW:
        track = track.with_point(
            track.first_timepoint,
            replace(later, status=PointStatus.MATCHED, note="present on the earlier scan"),
        )
    uid = tracking_uid(
        ctx.patient_key, ctx.scans[start].study_instance_uid, track.tracking_identifier
    )
    return replace(track, first_timepoint=start, tracking_uid=uid)


def _matched(
    obs: LesionMeasurement, ctx: LookupContext, t: int, moved: float, note: str
) -> TrackPoint:
    inverse = np.linalg.inv(ctx.matrices[t])
    back = apply_matrix(inverse, [obs.centre])[0]
    return TrackPoint(PointStatus.MATCHED, obs, rounded_point(back), moved, note)


def _propagated(
    track: Track,
    t: int,
    t_prev: int,
    prev: LesionMeasurement,
    key: str,
    ctx: LookupContext,
    mapped: FloatArray,
    reason: str,
) -> TrackPoint:
    stored = ctx.masks.get((t_prev, prev.key))
    if stored is None:
        return TrackPoint(PointStatus.NOT_EVALUATED, note=f"{reason}; no earlier outline to carry")
    previous = ctx.scans[t_prev]
    initial = ctx.matrices[t] @ np.linalg.inv(ctx.matrices[t_prev])
    try:
        full = stored.full(previous.volume.array.shape)
        obs, outline = carry(previous, ctx.scans[t], full, prev, initial, key)
    except (AnalysisError, InputError) as exc:
        return TrackPoint(PointStatus.NOT_EVALUATED, note=f"{reason}; carrying failed: {exc}")
    # The carried outline has the lesion's new size: a lesion grown out of the
    # field of view is not evaluable, whatever its diameter seems to be.
    fitted = _matrix_of_carry(obs)
    inside = 1.0 if fitted is None else coverage(previous, prev, stored, ctx.scans[t], fitted)
    if inside < MIN_COVERAGE:
        return TrackPoint(PointStatus.NOT_EVALUATED, note=f"{reason}; {outside_note(inside)}")
    if outline is not None:
        ctx.masks[(t, key)] = outline
    moved = float(np.linalg.norm(np.asarray(obs.centre) - mapped))
    note = f"{reason}; measured by carrying the {track.tracking_identifier} outline over"
    return _matched(obs, ctx, t, moved, note)
