"""Lung nodule detection on CT: blob candidates in the lungs, then false-positive tests.

1. **Candidates.** Inside the lung envelopes (:mod:`radcycle.imaging.lungs`), on a
   grid of about 1.5 mm, the scale-normalised Laplacian of Gaussian
   (``-sigma^2 * LoG``) is taken at the scales of :data:`SCALES_MM`; its local
   maxima over space and scale above :attr:`DetectionSettings.min_response` are
   the candidates (bright round things of the matching size).
2. **False-positive reduction**, each test kept by name as the reason:

   * ``blob``: at the candidate's scale the three Hessian eigenvalues are all
     negative and the smallest is at least :attr:`min_blobness` of the largest
     (a vessel, a tube, has one eigenvalue near zero);
   * ``segmented``: click-to-segment at the candidate gives a lesion with no leak;
   * ``size``: its Lung-RADS mean diameter is at least :attr:`min_diameter_mm`;
   * ``compact``: volume over that of the sphere of its 3D maximum diameter is at
     least :attr:`min_compactness` (a vessel segment is long and thin), or
     :attr:`min_compactness_pleural` at the pleura;
   * ``round``: its smallest principal axis is at least :attr:`min_roundness` of
     its largest (vessel pieces cut at two necks are elongated), or
     :attr:`min_roundness_pleural` for a lesion that reaches within 3 mm of the
     pleura: nodules against the pleura are often oval (lentiform), or
     :attr:`min_roundness_flat` for one on a single slice, judged in plane.
     Away from the pleura the limits keep most real nodules, which are less
     round than synthetic ones: they pass 83 % of the LIDC-IDRI radiologist
     outlines of nodules >= 6 mm, where the limits tuned on synthetic nodules
     alone (0.6, 0.35) passed 52 % (``benchmarks/bench_lung.py``). At the
     pleura, where chest-wall bumps are the false positives, they stay strict;
   * ``isolated``: at most :attr:`max_attached` of the lung in a 1-3 mm shell
     around it is dense (vessel pieces keep their continuations there; the chest
     wall, outside the lung envelope, does not count, so juxtapleural nodules pass);
     a mass (:attr:`DetectionSettings.mass_mm` and more) is no piece of a vessel,
     and the vessels entering it fill more of its shell: it is not held to this;
   * ``cut``: dense lung tissue connected to the lesion 1-6 mm beyond its edge is
     at most :attr:`max_continuation` of its volume. The segmentation cuts a
     piece of vessel from the vessel tree at two necks, and the vessel runs on
     from both cuts; a nodule's mask holds all of the nodule, so at most a vessel
     touching it adds a little. Dense tissue that runs on into the chest wall or
     the mediastinum is the wall, not a vessel, and does not count, so
     juxtapleural nodules pass. This sees what ``isolated`` misses: a thin vessel
     fills little of a thin shell, and with thick slices its continuation in the
     next slice lies more than 3 mm from the piece's edge.

   The :attr:`DetectionSettings.max_candidates` most blob-like candidates are
   tested, cheapest test first; a candidate inside an earlier segmentation (a
   nodule kept or a vessel piece refused) is skipped.

3. Confidence is a logistic function of the margins by which the tests pass.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Geometry, Volume
from radcycle.domain.findings import LesionMeasurement
from radcycle.domain.lesion import Detection, Provenance
from radcycle.errors import RadcycleError
from radcycle.imaging.fissures import fissure_lobe, is_perifissural
from radcycle.imaging.hu import AERATED_BELOW_HU
from radcycle.imaging.lungs import LungModel, segment_lungs
from radcycle.imaging.masks import array_spacing, distance_mm
from radcycle.imaging.measurement import measure_mask
from radcycle.imaging.segmentation import RoiSegmentation, segment_roi

__all__ = ["SCALES_MM", "DetectionSettings", "ShapeTests", "detect_nodules", "shape_tests"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

METHOD = "radcycle.detect/1 (LoG candidates, Hessian blob test, click-to-segment)"
SCALES_MM = (1.5, 2.5, 4.0, 6.5, 10.0)
# Half-size of the region segmented around a candidate: its scale and a margin.
_MIN_ROI_MM = 15.0
# Candidates within this distance (mm) of the pleura have their own budget.
_PLEURA_MM = 12.0
# The shell (mm from the lesion's edge) of the isolation test; dense is above
# AERATED_BELOW_HU.
_SHELL_MM = (1.0, 3.0)
# The envelope is drawn on a coarse grid: its outer few mm may hold chest wall,
# which must not count against a juxtapleural nodule's isolation.
_WALL_MARGIN_MM = 3.0
# How far (mm from the lesion's edge) the cut test follows dense tissue connected
# to it; the first mm is the lesion's own blurred edge. 6 mm spans two slices of
# a 2.5 mm CT, so a vessel leaving a piece obliquely through the slices is seen.
_CONTINUATION_MM = (1.0, 6.0)
_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class DetectionSettings:
    """Thresholds of the detector (defaults tuned on synthetic chest CTs).

    Args:
        grid_mm: target spacing of the candidate grid (in plane, between slices).
        min_response: least scale-normalised LoG response (HU) of a candidate.
        min_blobness: least ratio of smallest to largest Hessian eigenvalue.
        min_diameter_mm: least Lung-RADS mean diameter of a nodule.
        min_compactness: least volume fraction of the max-diameter sphere
            (0.22: the tenth percentile of the LIDC-IDRI outlines >= 6 mm).
        min_compactness_pleural: the same within 3 mm of the envelope surface.
        min_roundness: least ratio of the smallest to the largest principal axis
            (square root of the principal variances) of the lesion mask (0.45:
            about the tenth percentile of the LIDC-IDRI outlines >= 6 mm).
        min_roundness_pleural: the same for a lesion that reaches within 3 mm of
            the envelope surface (juxtapleural nodules are often oval; 0.55 chosen
            on synthetic seeds 0-19, checked on held-out seeds 20-59;
            docs/lesions.md).
        max_attached: most of the lung in a 1-3 mm shell around the lesion that
            may be dense (> -400 HU): a piece of vessel is cut from the rest of the
            vessel tree, which fills part of its shell.
        max_continuation: most dense (> -400 HU) lung tissue, as a fraction of
            the lesion's volume, that may be connected to the lesion 1-6 mm beyond
            its edge, not counting tissue that runs on into the chest wall or
            mediastinum: a piece of vessel keeps the rest of its vessel attached
            (0.3 chosen on synthetic seeds 0-19, checked on held-out seeds 20-39;
            docs/lesions.md).
        max_candidates: how many of the most blob-like candidates are segmented.
        max_pleural: how many more, among those within 12 mm of the pleura.
        min_roundness_flat: least in-plane roundness of a lesion on one slice
            away from the pleura (on thick slices a vessel running in the
            slice is a one-slice oval).
        mass_mm: a lesion whose volume-equivalent diameter is this or more is a
            mass (over 3 cm, Fleischner glossary): no piece of a vessel, so it
            is not held to ``max_attached`` (the vessels that enter a 45 mm
            mass fill 0.12 of its shell on a synthetic chest CT).
    """

    grid_mm: tuple[float, float] = (1.5, 1.5)
    min_response: float = 60.0
    min_blobness: float = 0.3
    min_diameter_mm: float = 4.0
    min_compactness: float = 0.22
    min_compactness_pleural: float = 0.35
    min_roundness: float = 0.45
    min_roundness_pleural: float = 0.55
    max_attached: float = 0.08
    max_continuation: float = 0.3
    max_candidates: int = 300
    max_pleural: int = 150
    scales_mm: tuple[float, ...] = field(default=SCALES_MM)
    min_roundness_flat: float = 0.6
    mass_mm: float = 30.0

    def shape_limits(self, *, pleural: bool, flat: bool = False) -> tuple[float, float]:
        """The least roundness and compactness of a lesion at the pleura or not,
        on one slice (judged in plane) or more."""
        if pleural:
            return self.min_roundness_pleural, self.min_compactness_pleural
        return (self.min_roundness_flat if flat else self.min_roundness), self.min_compactness


@dataclass(frozen=True)
class _Candidate:
    centre_mm: tuple[float, float, float]
    response: float
    scale_mm: float
    blobness: float


def _grid(volume: Volume, settings: DetectionSettings) -> tuple[int, int, int]:
    di, dj, dk = (float(s) for s in volume.spacing)
    inplane, between = settings.grid_mm
    return (
        max(1, round(between / dk)),
        max(1, round(inplane / dj)),
        max(1, round(inplane / di)),
    )


def _envelope_on(
    lungs: LungModel,
    shape: tuple[int, ...],
    stride: tuple[int, int, int],
    box: tuple[slice, slice, slice],
) -> npt.NDArray[np.bool_]:
    idx = []
    for axis in range(3):
        full = np.arange(box[axis].start, box[axis].stop) * stride[axis]
        idx.append(np.minimum(full // lungs.stride[axis], lungs.envelope.shape[axis] - 1))
    env = lungs.envelope > 0
    return np.asarray(env[np.ix_(idx[0], idx[1], idx[2])], dtype=bool)


def _hessians_at(
    smooth: FloatArray, points: npt.NDArray[np.int64], spacing: FloatArray
) -> FloatArray:
    """``(N, 3, 3)`` Hessians of ``smooth`` at interior ``points`` by central differences."""
    k, j, i = points.T

    def at(dk: int, dj: int, di: int) -> FloatArray:
        result: FloatArray = smooth[k + dk, j + dj, i + di].astype(np.float64)
        return result

    c = at(0, 0, 0)
    steps = [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
    h = np.empty((len(points), 3, 3))
    for a_, sa in enumerate(steps):
        plus = at(*sa)
        minus = at(*(-x for x in sa))
        h[:, a_, a_] = (plus - 2 * c + minus) / spacing[a_] ** 2
        for b_ in range(a_ + 1, 3):
            sb = steps[b_]
            pp = at(*(x + y for x, y in zip(sa, sb, strict=True)))
            mm = at(*(-x - y for x, y in zip(sa, sb, strict=True)))
            pm = at(*(x - y for x, y in zip(sa, sb, strict=True)))
            mp = at(*(-x + y for x, y in zip(sa, sb, strict=True)))
            h[:, a_, b_] = h[:, b_, a_] = (pp + mm - pm - mp) / (4 * spacing[a_] * spacing[b_])
    return h


def _near_pleura(lungs: LungModel, centres: list[tuple[float, float, float]]) -> FloatArray:
    """1.0 for points within :data:`_PLEURA_MM` of the pleura, else 0.0."""
    if not centres:
        return np.zeros(0)
    k, j, i = lungs.to_reduced(centres).T
    result: FloatArray = (lungs.pleural_distance[k, j, i] <= _PLEURA_MM).astype(np.float64)
    return result


def _blobness(eig: FloatArray) -> FloatArray:
    """Per row: smallest over largest eigenvalue magnitude if all are negative, else 0."""
    mags = np.sort(np.abs(eig), axis=1)
    ratio = mags[:, 0] / np.maximum(mags[:, 2], 1e-12)
    result: FloatArray = np.where(np.all(eig < 0, axis=1), ratio, 0.0)
    return result


def _candidates(volume: Volume, lungs: LungModel, settings: DetectionSettings) -> list[_Candidate]:
    stride = _grid(volume, settings)
    env_full_box = ndi.find_objects((lungs.envelope > 0).astype(np.uint8))
    if not env_full_box or env_full_box[0] is None:
        return []
    box = tuple(
        slice(b.start * ls // s, min(n, (b.stop * ls + s - 1) // s))
        for b, ls, s, n in zip(
            env_full_box[0],
            lungs.stride,
            stride,
            [math.ceil(x / y) for x, y in zip(volume.array.shape, stride, strict=True)],
            strict=True,
        )
    )
    grid = volume.array[:: stride[0], :: stride[1], :: stride[2]][box]
    image = np.clip(np.asarray(grid, dtype=np.float32), -1000.0, 200.0)
    envelope = _envelope_on(lungs, image.shape, stride, box)  # type: ignore[arg-type]
    spacing = np.array(
        [
            volume.spacing[2] * stride[0],
            volume.spacing[1] * stride[1],
            volume.spacing[0] * stride[2],
        ]
    )
    best = np.full(image.shape, -np.inf, dtype=np.float32)
    best_scale = np.zeros(image.shape, dtype=np.int8)
    smoothed = []
    for n, sigma in enumerate(settings.scales_mm):
        smooth = ndi.gaussian_filter(image, sigma=list(sigma / spacing))
        smoothed.append(smooth)
        laplace = sum(
            np.gradient(np.gradient(smooth, axis=a_), axis=a_) / spacing[a_] ** 2 for a_ in range(3)
        )
        response = -(sigma**2) * laplace
        better = response > best
        best[better] = response[better]
        best_scale[better] = n
    peaks = (best == ndi.maximum_filter(best, size=3)) & envelope & (best >= settings.min_response)
    peaks[[0, -1]] = peaks[:, [0, -1]] = peaks[:, :, [0, -1]] = False
    coords = np.argwhere(peaks)
    blob = np.zeros(len(coords))
    scale_of = best_scale[peaks]
    for n in range(len(settings.scales_mm)):
        sel = scale_of == n
        if sel.any():
            hessians = _hessians_at(smoothed[n], coords[sel], spacing)
            blob[sel] = _blobness(np.asarray(np.linalg.eigvalsh(hessians), dtype=np.float64))
    out: list[_Candidate] = []
    for kji, b_, n in zip(coords, blob, scale_of, strict=True):
        if b_ < settings.min_blobness:
            continue
        full_kji = [(c + s_.start) * st for c, s_, st in zip(kji, box, stride, strict=True)]
        p = volume.index_to_patient([[full_kji[2], full_kji[1], full_kji[0]]])[0]
        out.append(
            _Candidate(
                (float(p[0]), float(p[1]), float(p[2])),
                float(best[tuple(kji)]),
                settings.scales_mm[n],
                float(b_),
            )
        )
    out.sort(key=lambda c: -c.blobness)
    # juxtapleural nodules look less blob-like (the wall flattens their Hessian), so
    # the next most blob-like candidates near the pleura get a budget of their own
    rest = out[settings.max_candidates :]
    near = _near_pleura(lungs, [c.centre_mm for c in rest])
    pleural = [c for c, n in zip(rest, near, strict=True) if n][: settings.max_pleural]
    return out[: settings.max_candidates] + pleural


def _compactness(m: LesionMeasurement) -> float:
    sphere = math.pi / 6.0 * max(m.max_3d_diameter_mm or 0.0, 1e-6) ** 3
    return min(1.0, (m.volume_mm3 or 0.0) / sphere)


def _equivalent_diameter(mask: npt.NDArray[np.bool_], spacing: tuple[float, float, float]) -> float:
    """Diameter (mm) of the sphere of the mask's volume."""
    volume = float(np.count_nonzero(mask)) * float(np.prod(spacing))
    return float((6.0 * volume / math.pi) ** (1.0 / 3.0))


def _one_slice(mask: npt.NDArray[np.bool_]) -> bool:
    """Whether a mask lies on a single slice (no measurable depth)."""
    return int(np.count_nonzero(mask.any(axis=(1, 2)))) == 1


def _roundness(
    mask: npt.NDArray[np.bool_], spacing: tuple[float, float, float], flat_in_plane: bool = False
) -> float:
    """Square root of the smallest over the largest principal variance of a mask.

    With ``flat_in_plane``, a mask on a single slice (a small nodule on thick
    slices, no measurable depth) is judged by its in-plane shape.
    """
    pts = np.argwhere(mask) * np.asarray(spacing)
    if flat_in_plane and _one_slice(mask):
        pts = pts[:, 1:]
    if len(pts) < 4:
        return 0.0
    ev = np.linalg.eigvalsh(np.cov(pts.T))
    return float(math.sqrt(max(ev[0], 0.0) / max(ev[-1], 1e-9)))


def _attached(
    volume: Volume, seg: RoiSegmentation, deep: npt.NDArray[np.bool_], dist: FloatArray
) -> float:
    """Dense (> -400 HU) fraction of the lung in a 1-3 mm shell around the mask.

    ``deep`` is the envelope deeper than :data:`_WALL_MARGIN_MM` on the crop and
    ``dist`` the distance (mm) of each voxel of the crop from the mask.
    """
    shell = (dist > _SHELL_MM[0]) & (dist <= _SHELL_MM[1]) & deep
    if not shell.any():
        return 1.0
    return float(np.mean(volume.array[seg.box][shell] > AERATED_BELOW_HU))


def _continuation(
    volume: Volume, lungs: LungModel, seg: RoiSegmentation, dist: FloatArray
) -> float:
    """Volume of the dense lung tissue connected to the mask 1-6 mm beyond its edge,
    over the mask's, leaving out what runs on into the chest wall or mediastinum."""
    lung = lungs.envelope_crop(seg.box)
    dense = (volume.array[seg.box] > AERATED_BELOW_HU) & lung & (dist <= _CONTINUATION_MM[1])
    grown, _ = ndi.label(dense | seg.mask, structure=_CONNECTIVITY)
    own = np.unique(grown[seg.mask])
    beyond = np.isin(grown, own[own > 0]) & ~seg.mask & (dist > _CONTINUATION_MM[0])
    parts, _ = ndi.label(beyond, structure=_CONNECTIVITY)
    outside = ndi.binary_dilation(~lung, structure=_CONNECTIVITY)
    wall = np.unique(parts[outside & beyond])
    vessel = beyond & ~np.isin(parts, wall[wall > 0])
    return float(np.count_nonzero(vessel)) / max(1, int(np.count_nonzero(seg.mask)))


def _confidence(
    blob: float,
    compact: tuple[float, float],
    round_: tuple[float, float],
    attached: float,
    settings: DetectionSettings,
) -> float:
    """``compact`` and ``round_`` are each the value and the limit that applied to it."""
    z = (
        8.0 * (blob - settings.min_blobness)
        + 8.0 * (compact[0] - compact[1])
        + 8.0 * (round_[0] - round_[1])
        + 40.0 * (settings.max_attached - attached)
    )
    return round(1.0 / (1.0 + math.exp(-z)), 3)


def _assess(
    volume: Volume, lungs: LungModel, cand: _Candidate, settings: DetectionSettings
) -> tuple[Detection | None, RoiSegmentation | None]:
    """The candidate's detection if it passes every test, and its segmentation if any."""
    try:
        roi = max(_MIN_ROI_MM, 3.0 * cand.scale_mm + 10.0)
        seg = segment_roi(volume, cand.centre_mm, strategy="lung-nodule", roi_mm=roi)
    except RadcycleError as exc:
        log.debug("candidate at %s not segmented: %s", cand.centre_mm, exc)
        return None, None
    if seg.quality != "ok":
        return None, seg
    spacing = array_spacing(volume)
    # the cheap tests first: shape of the mask, then its surroundings, then measuring
    # within the wall margin of the envelope surface: against the pleura
    deep = lungs.envelope_crop(seg.box, min_depth_mm=_WALL_MARGIN_MM)
    pleural = bool(np.any(seg.mask & ~deep))
    # one slice deep at the pleura is a chest-wall bump or a vessel stub more
    # often than a nodule (synthetic seeds 0-19): there the 3D shape stays
    round_ = _roundness(seg.mask, spacing, flat_in_plane=not pleural)
    min_round, min_compact = settings.shape_limits(pleural=pleural, flat=_one_slice(seg.mask))
    if round_ < min_round:
        return None, seg
    dist = distance_mm(~seg.mask, spacing)
    attached = _attached(volume, seg, deep, dist)
    # a mass is no piece of a vessel, and the vessels that enter it fill more
    # of its shell than a nodule's: it is not held to the isolation limit
    mass = _equivalent_diameter(seg.mask, spacing) >= settings.mass_mm
    if attached > settings.max_attached and not mass:
        return None, seg
    continuation = _continuation(volume, lungs, seg, dist)
    if continuation > settings.max_continuation:
        return None, seg
    m = _measure(volume, seg)
    compact = _compactness(m)
    if m.rounded_mean_diameter_mm < settings.min_diameter_mm or compact < min_compact:
        return None, seg
    radius = 0.5 * m.rounded_mean_diameter_mm
    location = lungs.locate(m.centre, radius)
    if location.side == "unknown":
        return None, seg
    location = replace(location, perifissural=is_perifissural(volume, seg.box, seg.mask))
    location = fissure_lobe(volume, lungs, m.centre, location)
    reason = (
        f"blob: Hessian eigenvalue ratio {cand.blobness:.2f} >= {settings.min_blobness}; "
        f"segmented: {seg.method}, no leak; "
        f"size: mean diameter {m.rounded_mean_diameter_mm} mm >= {settings.min_diameter_mm}; "
        f"compact: {compact:.2f} >= {min_compact}; "
        f"round: {round_:.2f} >= {min_round}{' (at the pleura)' if pleural else ''}; "
        f"isolated: {attached:.2f} of its shell dense "
        + (
            f"(a mass, >= {settings.mass_mm:g} mm: no limit); "
            if mass
            else f"<= {settings.max_attached}; "
        )
        + f"cut: dense lung connected beyond it {continuation:.2f} of its volume "
        f"<= {settings.max_continuation}"
    )
    meta = volume.metadata
    provenance = Provenance(
        method=METHOD,
        series_uid=meta.get("series_instance_uid") or meta.get("SeriesInstanceUID"),
        reason=reason,
        source=meta.get("source"),
    )
    confidence = _confidence(
        cand.blobness,
        (compact, min_compact),
        (round_, min_round),
        min(attached, settings.max_attached) if mass else attached,
        settings,
    )
    return Detection(m.centre, confidence, m, location, provenance), seg


@dataclass(frozen=True)
class ShapeTests:
    """The detector's ``round`` and ``compact`` tests on one lesion mask."""

    roundness: float
    min_roundness: float
    compactness: float
    min_compactness: float

    @property
    def passed(self) -> bool:
        return self.roundness >= self.min_roundness and self.compactness >= self.min_compactness


def shape_tests(
    mask: npt.NDArray[np.bool_],
    spacing: tuple[float, float, float],
    measurements: LesionMeasurement,
    *,
    pleural: bool,
    settings: DetectionSettings | None = None,
) -> ShapeTests:
    """The shape tests as detection applies them to a lesion ``mask``.

    Args:
        mask: the lesion, ``[k, j, i]``.
        spacing: voxel size ``(dk, dj, di)`` in mm.
        measurements: the lesion's measurements (volume, 3D diameter).
        pleural: whether the lesion reaches within 3 mm of the pleura.
        settings: detector thresholds (the defaults if None).
    """
    settings = settings or DetectionSettings()
    min_round, min_compact = settings.shape_limits(pleural=pleural, flat=_one_slice(mask))
    return ShapeTests(
        _roundness(mask, spacing, flat_in_plane=not pleural),
        min_round,
        _compactness(measurements),
        min_compact,
    )


def _measure(volume: Volume, seg: RoiSegmentation) -> LesionMeasurement:
    """Measure on the crop (a sub-volume with the crop's own origin)."""
    box = seg.box
    origin = volume.index_to_patient([[box[2].start, box[1].start, box[0].start]])[0]
    sub = Volume(
        np.asarray(volume.array[box]),
        Geometry(origin, volume.spacing, volume.direction),
        volume.metadata,
    )
    return measure_mask(sub, seg.mask, modality="CT", lung=True)


def detect_nodules(
    volume: Volume, lungs: LungModel | None = None, settings: DetectionSettings | None = None
) -> list[tuple[Detection, npt.NDArray[np.bool_]]]:
    """Find lung nodules of 4 mm and more on a chest CT.

    Args:
        volume: chest CT in HU.
        lungs: the lung model, if already computed.
        settings: detector thresholds.

    Returns:
        ``(detection, mask)`` pairs, most confident first; each mask is a boolean
        array on the image grid.

    Raises:
        AnalysisError: not a chest CT in HU, or no lungs found.
    """
    settings = settings or DetectionSettings()
    lungs = lungs or segment_lungs(volume)
    kept: list[tuple[Detection, RoiSegmentation]] = []
    covered = np.zeros(volume.array.shape, dtype=bool)
    for cand in _candidates(volume, lungs, settings):
        seed = volume.patient_to_index([cand.centre_mm])[0]
        kji = tuple(round(float(v)) for v in seed[::-1])
        if covered[kji]:
            continue  # inside a nodule already kept or a vessel piece already refused
        det, seg = _assess(volume, lungs, cand, settings)
        if seg is not None:
            covered[seg.box] |= seg.mask
        if det is not None and seg is not None:
            kept.append((det, seg))
    kept.sort(key=lambda r: -r[0].confidence)
    if not kept:
        log.info("no nodule found")
    return [(det, seg.full(volume.array.shape)) for det, seg in kept]
