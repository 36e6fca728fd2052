"""Body, lungs and airways on chest CT, and where in the lungs a finding lies.

The work runs on a reduced grid (about 1.5 mm in plane, about 2.5 mm between
slices) because lung outlines need no finer detail, and the masks are kept on
that grid with the index map back to the full image:

1. body: the largest connected region above -500 HU, holes filled slice by slice;
2. aerated regions inside the body below -400 HU;
3. airways: the trachea found in the uppermost slices (a small round air
   column near the midline) and grown below -950 HU; where that growth floods
   the lungs (leak), only the tracked trachea is kept;
4. lungs: the aerated regions without the airways that look like lung
   parenchyma (:func:`_lung_parts`: bowel and stomach gas, as dense as the air
   outside the body, and gas mixed with bowel content are left out, so an
   abdominal CT yields its lung bases, not its colon), split into right and
   left (LPS x < body centre is the patient's right) with erosion then
   watershed if they touch at the anterior junction;
5. envelopes: each lung with vessels and nodules filled in and a closing of
   :data:`ENVELOPE_CLOSING_MM` so juxtapleural nodules sit inside it.

The location model names the side, the zone (thirds of the lung's cranio-caudal
extent; where the scan cuts a lung off, thirds of a typical adult lung's
:data:`LUNG_HEIGHT_MM` from the end the scan shows), an approximate lobe from
position alone (detection refines it from the fissures near a nodule,
:mod:`radcycle.imaging.fissures`), and whether a finding is juxtapleural
(within :data:`JUXTAPLEURAL_MM` of the pleura, the distance the synthetic truth
and Lung-RADS perifissural/juxtapleural descriptions use).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from skimage import segmentation as skseg

from radcycle.domain import Geometry, Volume
from radcycle.domain.lesion import LesionLocation
from radcycle.errors import AnalysisError
from radcycle.imaging.hu import AERATED_BELOW_HU, BODY_HU
from radcycle.imaging.inputs import modality_of, require_finite, require_mm_geometry
from radcycle.imaging.masks import BoolArray, distance_mm, largest_components

__all__ = [
    "ENVELOPE_CLOSING_MM",
    "JUXTAPLEURAL_MM",
    "LUNG_HEIGHT_MM",
    "LungModel",
    "check_chest_ct",
    "segment_lungs",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

ENVELOPE_CLOSING_MM = 10.0
JUXTAPLEURAL_MM = 3.0
_AIRWAY_HU = -950.0
_MIN_LUNG_ML = 100.0
# An aerated part of the body is taken for lung when it holds at least
# _MIN_PART_ML and its median lies between gas (the outside air's level plus
# _GAS_MARGIN_HU: bowel and stomach gas, which have no parenchyma) and
# _MAX_LUNG_MEDIAN_HU (a mixture of gas and bowel content). Lung parenchyma has
# a median near -850 HU, 150 HU above air; emphysema lowers it to about -900.
_MIN_PART_ML = 20.0
_GAS_MARGIN_HU = 60.0
_MAX_LUNG_MEDIAN_HU = -600.0
# Bowel and stomach gas hold less than this: a part this large is lung whatever
# its density (severe emphysema), and a part of _MIN_LUNG_ML or more is not
# refused as a mixture (diffuse ground glass or consolidation).
_GAS_MAX_ML = 1000.0
# A second part smaller than this share of the first is not the other lung.
_MIN_SECOND_SHARE = 0.1
# A typical adult lung's height, apex to base: the zones of a lung the scan cuts
# off are reckoned on it from the end the scan shows.
LUNG_HEIGHT_MM = 240.0
# Trachea and main bronchi: cross-sections of at most 5 cm2 and 1.6 times the
# trachea's; a larger air region below is lung.
_MAX_AIRWAY_MM2 = 500.0
_AIRWAY_GROWTH = 1.6
_TARGET_MM = (2.5, 2.0, 2.0)


@dataclass(frozen=True, eq=False)
class LungModel:
    """Lung masks on a reduced grid and how to map full-image voxels onto it.

    Attributes:
        geometry: the reduced grid (a coarser sampling of the image's grid).
        stride: ``(sk, sj, si)`` voxels of the image per reduced voxel.
        labels: ``[k, j, i]`` on the reduced grid: 0 outside, 1 right lung,
            2 left lung, 3 airways.
        envelope: 0 outside, 1 right, 2 left: lungs with vessels, nodules and
            pleural indentations filled in.
        body: the body mask on the reduced grid.
        pleural_distance: distance (mm) from each envelope voxel to the pleura.
    """

    geometry: Geometry
    stride: tuple[int, int, int]
    labels: npt.NDArray[np.uint8]
    envelope: npt.NDArray[np.uint8]
    body: BoolArray
    pleural_distance: npt.NDArray[np.float32]

    def lung_volumes_ml(self) -> dict[str, float]:
        voxel_ml = float(np.prod(self.geometry.spacing)) / 1000.0
        return {
            side: round(float((self.labels == code).sum()) * voxel_ml, 1)
            for side, code in (("right", 1), ("left", 2), ("airways", 3))
        }

    def to_reduced(self, points_mm: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """``(N, 3)`` LPS points to ``(N, 3)`` reduced ``[k, j, i]`` indices (clipped)."""
        ijk = np.rint(self.geometry.patient_to_index(points_mm)).astype(np.int64)
        kji = ijk[:, ::-1]
        upper = np.asarray(self.labels.shape) - 1
        return np.clip(kji, 0, upper)

    def envelope_full(self, shape: tuple[int, int, int]) -> BoolArray:
        """The lung envelope (both sides) on the full image grid ``shape``."""
        idx = [
            np.minimum(np.arange(n) // s, m - 1)
            for n, s, m in zip(shape, self.stride, self.envelope.shape, strict=True)
        ]
        env = self.envelope > 0
        return np.asarray(env[np.ix_(idx[0], idx[1], idx[2])], dtype=bool)

    def envelope_crop(
        self,
        box: tuple[slice, slice, slice],
        min_depth_mm: float = 0.0,
        side: str | None = None,
    ) -> BoolArray:
        """The lung envelope on a crop ``box`` of the full image grid.

        Args:
            box: array slices ``[k, j, i]`` of the full grid.
            min_depth_mm: keep only what lies deeper than this below the pleura.
            side: ``"right"`` or ``"left"`` for that lung only; None for both.
        """
        idx = [
            np.minimum(np.arange(b.start, b.stop) // s, m - 1)
            for b, s, m in zip(box, self.stride, self.envelope.shape, strict=True)
        ]
        lung = self.envelope > 0 if side is None else self.envelope == _SIDE_CODES[side]
        env = lung & (self.pleural_distance > min_depth_mm)
        return np.asarray(env[np.ix_(idx[0], idx[1], idx[2])], dtype=bool)

    def locate(self, centre_mm: tuple[float, float, float], radius_mm: float) -> LesionLocation:
        """Where a finding of this centre and (mean) radius lies in the lungs."""
        k, j, i = (int(v) for v in self.to_reduced([centre_mm])[0])
        kji = (k, j, i)
        side_code = int(self.envelope[kji])
        if side_code == 0:
            side_code = self._nearest_side(kji)
        if side_code == 0:
            return LesionLocation()
        side = "right" if side_code == 1 else "left"
        zone, anterior = self._zone(side_code, centre_mm)
        distance = max(0.0, float(self.pleural_distance[kji]) - radius_mm)
        return LesionLocation(
            side=side,
            zone=zone,
            lobe=_LOBES[(side, zone, anterior)],
            juxtapleural=distance <= JUXTAPLEURAL_MM,
            perifissural=None,
            pleural_distance_mm=round(distance, 1),
        )

    def _nearest_side(self, kji: tuple[int, int, int]) -> int:
        pts = np.argwhere(self.envelope > 0)
        if len(pts) == 0:
            return 0
        spacing = np.asarray(self.geometry.spacing[::-1])
        d = (((pts - np.asarray(kji)) * spacing) ** 2).sum(axis=1)
        nearest = pts[int(np.argmin(d))]
        return int(self.envelope[tuple(nearest)]) if d.min() <= 15.0**2 else 0

    def _zone(self, code: int, centre_mm: tuple[float, float, float]) -> tuple[str, bool]:
        pts = np.argwhere(self.envelope == code)[
            :: max(1, int(np.sum(self.envelope == code)) // 20000)
        ]
        lps = self.geometry.index_to_patient(pts[:, ::-1].astype(np.float64))
        z_lo, z_hi = float(lps[:, 2].min()), float(lps[:, 2].max())
        # A lung the scan cuts off (an abdominal CT's lung bases, a neck CT's
        # apices) is given a typical height from the end that is shown.
        ends = self.geometry.index_to_patient(
            np.array([[0.0, 0.0, 0.0], [0.0, 0.0, self.labels.shape[0] - 1.0]])
        )[:, 2]
        step = float(self.geometry.spacing[2])
        cut_top = z_hi >= float(ends.max()) - step
        cut_bottom = z_lo <= float(ends.min()) + step
        if cut_top and not cut_bottom:
            z_hi = max(z_hi, z_lo + LUNG_HEIGHT_MM)
        elif cut_bottom and not cut_top:
            z_lo = min(z_lo, z_hi - LUNG_HEIGHT_MM)
        frac = (centre_mm[2] - z_lo) / max(z_hi - z_lo, 1e-6)  # 0 bottom, 1 apex
        zone = "upper" if frac >= 2 / 3 else ("middle" if frac >= 1 / 3 else "lower")
        anterior = centre_mm[1] < float(np.median(lps[:, 1]))  # LPS y grows posterior
        return zone, bool(anterior)


_SIDE_CODES = {"right": 1, "left": 2}

# Approximate lobe from side, zone and front/back: the oblique fissure runs from
# high at the back to low at the front, so the middle third in front is the
# right middle lobe (lingula of the left upper lobe) and behind it the lower lobe.
_LOBES: dict[tuple[str, str, bool], str] = {
    ("right", "upper", True): "RUL",
    ("right", "upper", False): "RUL",
    ("right", "middle", True): "RML",
    ("right", "middle", False): "RLL",
    ("right", "lower", True): "RLL",
    ("right", "lower", False): "RLL",
    ("left", "upper", True): "LUL",
    ("left", "upper", False): "LUL",
    ("left", "middle", True): "LUL",
    ("left", "middle", False): "LLL",
    ("left", "lower", True): "LLL",
    ("left", "lower", False): "LLL",
}


def check_chest_ct(volume: Volume) -> None:
    """Refuse what is not a CT in Hounsfield units.

    Raises:
        AnalysisError: the modality is not CT, or the values are not HU.
    """
    modality = modality_of(volume)
    if modality != "CT":
        raise AnalysisError(
            "lung analysis needs a CT series in Hounsfield units (air near -1000 HU)",
            value=modality,
        )
    require_mm_geometry(volume, "lung analysis")
    arr = volume.array
    require_finite(arr, "lung analysis")
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if lo > -900.0 or hi < 0.0 or hi > 40000.0:
        raise AnalysisError(
            "lung analysis needs CT in Hounsfield units (air near -1000 HU)",
            value={"min": lo, "max": hi},
        )
    if min(arr.shape) < 8:
        raise AnalysisError("lung analysis needs a 3D volume of 8 slices or more", value=arr.shape)


def _stride(volume: Volume) -> tuple[int, int, int]:
    di, dj, dk = (float(s) for s in volume.spacing)
    return tuple(  # type: ignore[return-value]
        max(1, round(t / s)) for t, s in zip(_TARGET_MM, (dk, dj, di), strict=True)
    )


def _superior_last(geometry: Geometry) -> bool:
    """Whether increasing k goes towards the head (LPS z grows superior)."""
    return bool(geometry.direction[2, 2] > 0)


def _body(low: npt.NDArray[np.floating[Any]]) -> BoolArray:
    parts = largest_components(low > BODY_HU, 1)
    if not parts:
        raise AnalysisError("no body found (nothing above -500 HU)")
    body = parts[0]
    for k in range(body.shape[0]):
        body[k] = ndi.binary_fill_holes(body[k])
    return body


def _trachea_seed(air: BoolArray, body: BoolArray, head_up: bool, spacing: FloatArray) -> Any:
    order = range(air.shape[0] - 1, -1, -1) if head_up else range(air.shape[0])
    pixel_mm2 = float(spacing[1] * spacing[2])
    for k in list(order)[: max(3, air.shape[0] // 4)]:
        labels, n = ndi.label(air[k])
        if n == 0:
            continue
        cols = np.flatnonzero(body[k].any(axis=0))
        mid = 0.5 * (cols[0] + cols[-1]) if cols.size else air.shape[2] / 2
        for lab, (sj, si) in enumerate(ndi.find_objects(labels), start=1):
            area = float((labels[sj, si] == lab).sum()) * pixel_mm2
            centre_i = 0.5 * (si.start + si.stop)
            if 50.0 <= area <= 700.0 and abs(centre_i - mid) * spacing[2] < 30.0:
                jj, ii = np.argwhere(labels == lab)[0]
                return (k, int(jj), int(ii))
    return None


def _airways(air: BoolArray, body: BoolArray, spacing: FloatArray) -> BoolArray:
    """Trachea and main bronchi, tracked slice by slice down from the trachea's top.

    A branch is followed while its cross-section stays airway-sized: it stops
    where it would grow beyond :data:`_AIRWAY_GROWTH` times the trachea's area
    (it has opened into the lung).
    """
    seed = _trachea_seed(air, body, True, spacing)
    airway = np.zeros_like(air)
    if seed is None:
        return airway
    pixel_mm2 = float(spacing[1] * spacing[2])
    k0 = seed[0]
    labels, _ = ndi.label(air[k0])
    current = labels == labels[seed[1], seed[2]]
    limit = min(_MAX_AIRWAY_MM2, _AIRWAY_GROWTH * float(current.sum()) * pixel_mm2)
    airway[k0] = current
    for k in range(k0 - 1, -1, -1):
        labels, _ = ndi.label(air[k])
        touching = np.unique(labels[ndi.binary_dilation(current, iterations=2) & (labels > 0)])
        nxt = np.zeros_like(current)
        for lab in touching:
            part = labels == lab
            if float(part.sum()) * pixel_mm2 <= limit:
                nxt |= part
        if not nxt.any():
            break
        airway[k] = nxt
        current = nxt
    return airway


def _outside_air_hu(low: npt.NDArray[np.floating[Any]], body: BoolArray) -> float:
    """The level of the air around the body (-1000 HU where the scan shows too little)."""
    outside = low[~body]
    air = outside[(outside > -1100.0) & (outside < -900.0)]
    return float(np.median(air)) if air.size >= 1000 else -1000.0


def _lung_parts(
    lungs: BoolArray,
    low: npt.NDArray[np.floating[Any]],
    body: BoolArray,
    spacing: FloatArray,
) -> list[BoolArray]:
    """The (at most two) largest aerated components that look like lung parenchyma."""
    labels, n = ndi.label(lungs)
    if n == 0:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    voxel_ml = float(np.prod(spacing)) / 1000.0
    gas_below = _outside_air_hu(low, body) + _GAS_MARGIN_HU
    parts: list[BoolArray] = []
    for index in np.argsort(sizes)[::-1]:
        volume_ml = float(sizes[index]) * voxel_ml
        if volume_ml < _MIN_PART_ML or len(parts) == 2:
            break
        part = labels == index + 1
        median = float(np.median(low[part]))
        gas = median < gas_below and volume_ml < _GAS_MAX_ML
        mixture = median > _MAX_LUNG_MEDIAN_HU and volume_ml < _MIN_LUNG_ML
        if gas or mixture:
            kind = "gas" if gas else "gas mixed with denser content"
            log.info(
                "aerated region of %.0f mL left out of the lungs: %s (median %.0f HU)",
                volume_ml,
                kind,
                median,
            )
            continue
        if parts and volume_ml < _MIN_SECOND_SHARE * float(parts[0].sum()) * voxel_ml:
            break
        parts.append(part)
    return parts


def _split_lungs(parts: list[BoolArray], spacing: FloatArray) -> list[BoolArray]:
    """Right and left lungs from the lung parts: two parts as they are, one split in two."""
    voxel_ml = float(np.prod(spacing)) / 1000.0
    if len(parts) != 1 or float(parts[0].sum()) * voxel_ml < _MIN_LUNG_ML:
        return parts
    lungs = parts[0]
    eroded = lungs
    for _ in range(6):
        eroded = ndi.binary_erosion(eroded)
        halves = [p for p in largest_components(eroded, 2) if p.sum() * voxel_ml >= 20.0]
        if len(halves) == 2:
            markers = halves[0].astype(np.int32) + 2 * halves[1].astype(np.int32)
            labels = skseg.watershed(lungs.astype(np.uint8) * 0, markers, mask=lungs)
            return [labels == 1, labels == 2]
    return parts


def _envelope(lung: BoolArray, spacing: FloatArray) -> BoolArray:
    box = ndi.find_objects(lung.astype(np.uint8))[0]
    pad = [int(np.ceil(ENVELOPE_CLOSING_MM / s)) + 1 for s in spacing]
    sl = tuple(slice(max(0, b.start - p), b.stop + p) for b, p in zip(box, pad, strict=True))
    sub = lung[sl]
    grown = distance_mm(~sub, spacing) <= ENVELOPE_CLOSING_MM
    closed = distance_mm(grown, spacing) > ENVELOPE_CLOSING_MM
    closed = ndi.binary_fill_holes(closed | sub)
    out = np.zeros_like(lung)
    out[sl] = closed
    return out


def segment_lungs(volume: Volume) -> LungModel:
    """Body, right and left lungs, airways and the lung envelopes of a chest CT.

    Raises:
        AnalysisError: not a CT in HU, or no lungs found.
    """
    check_chest_ct(volume)
    stride = _stride(volume)
    low = np.asarray(volume.array[:: stride[0], :: stride[1], :: stride[2]], dtype=np.float32)
    geometry = Geometry(
        volume.origin,
        volume.spacing * np.asarray(stride[::-1], dtype=np.float64),
        volume.direction,
    )
    spacing = np.asarray(geometry.spacing[::-1], dtype=np.float64)  # (dk, dj, di)
    if not _superior_last(geometry):
        low = low[::-1]
    body = _body(low)
    air = body & (low < AERATED_BELOW_HU)
    airways = _airways(air, body, spacing)
    lungs = air & ~ndi.binary_dilation(airways, iterations=1)
    parts = _split_lungs(_lung_parts(lungs, low, body, spacing), spacing)
    if not parts:
        raise AnalysisError(
            f"no lungs found: no aerated region of {_MIN_PART_ML:.0f} mL or more in the body"
            " that looks like lung (gas as dense as the outside air is left out)"
        )
    labels = np.zeros(low.shape, dtype=np.uint8)
    envelope = np.zeros(low.shape, dtype=np.uint8)
    centre_x = _body_centre_x(body, geometry, flipped=not _superior_last(geometry))
    for part in parts:
        code = _side_code(part, geometry, centre_x, flipped=not _superior_last(geometry))
        labels[part] = code
        envelope[_envelope(part, spacing) & (envelope == 0)] = code
    labels[airways] = 3
    dist = _pleural_distance(envelope > 0, spacing)
    if not _superior_last(geometry):
        labels, envelope, body, dist = labels[::-1], envelope[::-1], body[::-1], dist[::-1]
    return LungModel(geometry, stride, labels, envelope, body, dist)


def _pleural_distance(envelope: BoolArray, spacing: FloatArray) -> npt.NDArray[np.float32]:
    """Distance (mm) from each envelope voxel to the envelope's surface."""
    out = np.zeros(envelope.shape, dtype=np.float32)
    objects = ndi.find_objects(envelope.astype(np.uint8))
    if not objects or objects[0] is None:
        return out
    box = tuple(slice(max(0, b.start - 1), b.stop + 1) for b in objects[0])
    out[box] = distance_mm(envelope[box], spacing)
    return out


def _lps_of(mask: BoolArray, geometry: Geometry, flipped: bool) -> FloatArray:
    pts = np.argwhere(mask)[:: max(1, int(mask.sum()) // 5000)].astype(np.float64)
    if flipped:
        pts[:, 0] = mask.shape[0] - 1 - pts[:, 0]
    return geometry.index_to_patient(pts[:, ::-1])


def _body_centre_x(body: BoolArray, geometry: Geometry, flipped: bool) -> float:
    return float(np.median(_lps_of(body, geometry, flipped)[:, 0]))


def _side_code(part: BoolArray, geometry: Geometry, centre_x: float, flipped: bool) -> int:
    # LPS: x grows to the patient's left, so a lung left of the body centre is code 2.
    x = float(np.mean(_lps_of(part, geometry, flipped)[:, 0]))
    return 2 if x > centre_x else 1
