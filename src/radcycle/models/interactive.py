"""The learned interactive segmenter: clicks in, outline and probabilities out.

:class:`LearnedSegmenter` is a :class:`~radcycle.imaging.segmenters.Segmenter`
over any :class:`~radcycle.models.protocol.ProbabilityModel` (ONNX Runtime on
CPU in use, :class:`OnnxModel`; the torch network while training). The region
around the positive clicks is resampled to the model's grid and
normalised (:mod:`radcycle.models.encoding`); the clicks, positive and
negative, become two channels. Where the lesion reaches the patch's edge the
region is doubled and covered by a sliding window of half-overlapping
patches. The probabilities are brought back to the image grid; the outline is
the part above the contract's threshold joined to a positive click. With
companion series and ``views``, the probabilities are the mean of the model's
reading from each series in turn. It is
``uncertain`` where the mean probability inside it is under
:data:`MIN_CONFIDENCE` or, drawn with companion series, where the outline of
the clicked series alone differs from it (:data:`MIN_AGREEMENT`), and ``leak``
where it still reaches the edge of the largest region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import AnalysisError, InputError
from radcycle.imaging.features import ClickFeatures
from radcycle.imaging.masks import BoolArray, array_spacing, crop_slices
from radcycle.imaging.segmentation_settings import SegmentationSettings
from radcycle.imaging.segmenters import Outline, Quality
from radcycle.models.encoding import (
    encode,
    from_model_grid,
    grid_factor,
    grid_points_in,
    model_stack,
    normalise,
    to_model_grid,
)
from radcycle.models.protocol import ProbabilityModel
from radcycle.models.runtime import OnnxModel  # re-exported: where callers have always found it

__all__ = [
    "FLIP_ENSEMBLE",
    "MIN_AGREEMENT",
    "MIN_CONFIDENCE",
    "LearnedOutline",
    "LearnedSegmenter",
    "OnnxModel",
]

FloatArray = npt.NDArray[np.float32]
Voxel = tuple[int, int, int]

#: An outline whose mean probability is under this is ``uncertain``.
MIN_CONFIDENCE = 0.75

#: An outline drawn with companion series is also ``uncertain`` where the same
#: model's outline of the clicked series alone overlaps it by a Dice under this.
#: Chosen on the 69 series of the companion model's cross-validation: it flags
#: the three series of the 2.3 L tumour (Dice 0.19-0.23 against the reference),
#: the CT of the 1.5 L one (0.34) and one CT at 0.66, and none at 0.70 or more.
MIN_AGREEMENT = 0.45

#: Test-time augmentation: every combination of mirrorings along the three
#: spatial axes (batch axes 2, 3, 4), the network run on each and its
#: probabilities mirrored back and averaged. ``((),)``: the patch as it is.
FLIP_ENSEMBLE: tuple[tuple[int, ...], ...] = (
    (),
    (2,),
    (3,),
    (4,),
    (2, 3),
    (2, 4),
    (3, 4),
    (2, 3, 4),
)


@dataclass(frozen=True)
class LearnedOutline:
    """A learned outline with its probability map on the same crop."""

    outline: Outline
    probabilities: FloatArray


def _tiles(shape: Sequence[int], patch: int) -> list[tuple[int, int, int]]:
    """Corners of half-overlapping patches covering ``shape``."""
    starts = []
    for n in shape:
        step = max(patch // 2, 1)
        axis = list(range(0, max(n - patch, 0) + 1, step))
        if axis[-1] != max(n - patch, 0):
            axis.append(max(n - patch, 0))
        starts.append(axis)
    return [(a, b, c) for a in starts[0] for b in starts[1] for c in starts[2]]


def _region(
    positive: Sequence[Voxel],
    half_mm: float,
    spacing: tuple[float, float, float],
    shape: tuple[int, ...],
) -> tuple[slice, slice, slice]:
    """The box of ``half_mm`` around every positive click (a click in a part of a
    large lesion far from the first is inside the region the network sees)."""
    boxes = [crop_slices(p, half_mm, spacing, shape) for p in positive]
    out = [slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3)]
    return (out[0], out[1], out[2])


def _pad_to(
    array: FloatArray, size: int, fill: float, centre: Sequence[int]
) -> tuple[FloatArray, tuple[int, ...]]:
    """``array`` padded with ``fill`` to at least ``size`` along each spatial
    (last three) axis, placed so that ``centre`` lies as near the middle as the
    padding allows (as in training, where patches are centred on the first click)."""
    before = []
    after = []
    for n, c in zip(array.shape[-3:], centre, strict=True):
        total = max(size, n)
        b = min(max(size // 2 - int(c), 0), total - n)
        before.append(b)
        after.append(total - n - b)
    lead = [(0, 0)] * (array.ndim - 3)
    out = np.pad(array, lead + list(zip(before, after, strict=True)), constant_values=fill)
    return np.asarray(out, np.float32), tuple(before)


@dataclass(frozen=True)
class _Reading:
    """One model's probabilities on ``box`` of the image grid, the companion
    series whose view it averaged in, the half-width of its region (mm) and its
    grid."""

    box: tuple[slice, slice, slice]
    prob: FloatArray
    views: list[str]
    half_mm: float
    spacing_mm: float


def _combined(readings: Sequence[_Reading]) -> tuple[tuple[slice, slice, slice], FloatArray]:
    """The mean probability of several models' readings on the union of their
    regions, each voxel's over the readings whose region holds it (a model
    says nothing of a region it did not read)."""
    if len(readings) == 1:
        return readings[0].box, readings[0].prob
    lo = [min(r.box[a].start for r in readings) for a in range(3)]
    hi = [max(r.box[a].stop for r in readings) for a in range(3)]
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    placed = []
    for r in readings:
        one = np.full([h - a for a, h in zip(lo, hi, strict=True)], np.nan, np.float32)
        one[tuple(slice(b.start - a, b.stop - a) for b, a in zip(r.box, lo, strict=True))] = r.prob
        placed.append(one)
    return box, _mean_where_read(placed)


def _mean_where_read(maps: Sequence[FloatArray]) -> FloatArray:
    """The mean of probability maps on one grid, each point's over the maps that
    read it (NaN where a map did not)."""
    stack = np.stack(maps)
    read = ~np.isnan(stack)
    total = np.where(read, stack, 0.0).sum(axis=0)
    return np.asarray(total / np.maximum(read.sum(axis=0), 1), np.float32)


def _at_inner_edge(mask: BoolArray, box: tuple[slice, slice, slice], volume: Volume) -> bool:
    """Whether ``mask`` (on ``box``) reaches a face of ``box`` while ``box`` is not
    the whole image (the lesion may go on beyond the region read)."""
    edge = any(np.take(mask, end, axis=a).any() for a in range(3) for end in (0, -1))
    whole = all(
        sl.start == 0 and sl.stop == n for sl, n in zip(box, volume.array.shape, strict=True)
    )
    return edge and not whole


@dataclass(frozen=True)
class LearnedSegmenter:
    """Click-to-segment by a learned model (``name``: the model's).

    ``flips``: the mirrorings (batch axes) the network is run on, their
    probabilities averaged (:data:`FLIP_ENSEMBLE` for all eight); by default
    the patch as it is. ``companions``: the patient's co-registered series of
    other modalities, by modality, for a model that takes them
    (``contract.companions``). ``views``: with companions, the model is also run
    with each companion series as the outlined one (the clicked series among
    its companions, the clicks carried over through patient space), and the
    probabilities of every view, brought onto the clicked series' model grid,
    are averaged where they reach (the model reads the same tumour from each
    series in turn; see ``docs/lesions.md`` for where that helps).
    ``partners``: models trained alike on other grids (the same modalities and
    companions); each reads the clicks on its own grid and region, and the
    outline is drawn from the mean of their probabilities and this model's on
    the union of those regions, each voxel's over the models that read it.
    """

    model: ProbabilityModel
    negative: tuple[tuple[float, float, float], ...] = ()
    positive: tuple[tuple[float, float, float], ...] = ()
    batch: int = 4
    flips: tuple[tuple[int, ...], ...] = ((),)
    companions: Mapping[str, Volume] = field(default_factory=dict, compare=False)
    views: bool = False
    partners: tuple[ProbabilityModel, ...] = ()
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.model.spec.name

    def outline(
        self,
        volume: Volume,
        features: ClickFeatures,
        settings: SegmentationSettings,
        *,
        roi_mm: float | None = None,
    ) -> Outline:
        """The outline at the click of ``features`` (with the segmenter's extra
        clicks, voxel indices of ``volume``)."""
        return self.segment(
            volume,
            [features.seed, *self._voxels(self.positive)],
            self._voxels(self.negative),
            features.modality,
        ).outline

    @staticmethod
    def _voxels(points: Sequence[tuple[float, float, float]]) -> list[Voxel]:
        return [(round(p[0]), round(p[1]), round(p[2])) for p in points]

    def segment(
        self,
        volume: Volume,
        positive: Sequence[Voxel],
        negative: Sequence[Voxel],
        modality: str,
    ) -> LearnedOutline:
        """The outline from voxel clicks, with its probabilities.

        Raises:
            InputError: no positive click, a modality the model was not trained
                on, or companion series given to a model that takes none.
            AnalysisError: nothing above the threshold at the clicks.
        """
        if not positive:
            raise InputError("a learned outline needs a positive click")
        contract = self.model.spec.contract
        self._check(modality)
        spacing = array_spacing(volume)
        readings = [self._read(volume, positive, negative, modality)]
        for partner in self.partners:
            member = replace(self, model=partner, partners=())
            member._check(modality)
            readings.append(member._read(volume, positive, negative, modality))
        box, prob = _combined(readings)
        mask = self._mask(prob, box, positive, spacing)
        inner_edge = _at_inner_edge(mask, box, volume)
        fused = readings[0].views
        if not mask.any():
            raise AnalysisError("the model found no lesion at the click", value=list(positive[0]))
        confidence = float(prob[mask].mean())
        quality = Quality.OK
        if inner_edge:
            quality = Quality.LEAK
        elif confidence < MIN_CONFIDENCE:
            quality = Quality.UNCERTAIN
        agreement = None
        if contract.companions and self.companions:
            agreement = self._agreement(volume, box, mask, positive, negative, modality)
            if quality is Quality.OK and agreement < MIN_AGREEMENT:
                quality = Quality.UNCERTAIN
        details = {
            "model": self.name,
            "version": self.model.spec.version,
            "sha256": self.model.spec.sha256,
            "confidence": round(confidence, 3),
            "positive": [list(map(int, p)) for p in positive],
            "negative": [list(map(int, p)) for p in negative],
            "roi_half_mm": readings[0].half_mm,
            "test_time_flips": len(self.flips),
        }
        if self.partners:
            details["grids_mm"] = [r.spacing_mm for r in readings]
            details["partners"] = [
                {"model": m.spec.name, "version": m.spec.version, "sha256": m.spec.sha256}
                for m in self.partners
            ]
        if contract.companions:
            details["companions"] = sorted(self.companions)
        if agreement is not None:
            details["agreement_alone"] = round(agreement, 3)
        if self.views and contract.companions:
            details["views"] = [modality, *fused]
        return LearnedOutline(Outline(box, mask, self.name, quality, details), prob)

    def _check(self, modality: str) -> None:
        contract = self.model.spec.contract
        if self.companions and not contract.companions:
            raise InputError(
                f"model {self.name!r} outlines one series alone: it takes no companion series"
            )
        if modality not in contract.modalities:
            raise InputError(
                f"model {self.name!r} was trained on {', '.join(contract.modalities)}, "
                f"not {modality}",
                value=modality,
            )

    def _read(
        self,
        volume: Volume,
        positive: Sequence[Voxel],
        negative: Sequence[Voxel],
        modality: str,
    ) -> _Reading:
        """This model's probabilities around the clicks: on the region of half a
        patch around them, or, where its outline reaches that region's inner
        edge, on one twice as wide."""
        contract = self.model.spec.contract
        spacing = array_spacing(volume)
        half = contract.patch * contract.spacing_mm / 2.0
        for scale, last in ((1.0, False), (2.0, True)):
            box = _region(positive, half * scale, spacing, volume.array.shape)
            prob, fused = self._probabilities(
                volume, box, positive, negative, modality, half * scale
            )
            mask = self._mask(prob, box, positive, spacing)
            if last or not _at_inner_edge(mask, box, volume):
                break
        return _Reading(box, prob, fused, half * scale, contract.spacing_mm)

    def _agreement(
        self,
        volume: Volume,
        box: tuple[slice, slice, slice],
        mask: BoolArray,
        positive: Sequence[Voxel],
        negative: Sequence[Voxel],
        modality: str,
    ) -> float:
        """Dice between ``mask`` (drawn with the companions, on ``box``) and the
        same model's outline of the clicked series alone (0 where it finds none)."""
        try:
            alone = replace(self, companions={}).segment(volume, positive, negative, modality)
        except AnalysisError:
            return 0.0
        shape = volume.array.shape
        other = alone.outline.full(shape)
        mine = np.zeros(shape, dtype=bool)
        mine[box] = mask
        total = int(mine.sum()) + int(other.sum())
        return 2.0 * float((mine & other).sum()) / total if total else 0.0

    def _mask(
        self,
        prob: FloatArray,
        box: tuple[slice, slice, slice],
        positive: Sequence[Voxel],
        spacing: tuple[float, float, float],
    ) -> BoolArray:
        above = prob >= self.model.spec.contract.threshold
        labels, _ = ndi.label(above)
        hits = set()
        for p in positive:
            local = tuple(v - b.start for v, b in zip(p, box, strict=True))
            if all(0 <= x < n for x, n in zip(local, prob.shape, strict=True)) and labels[local]:
                hits.add(int(labels[local]))
        if not hits:
            # the click sits just off the predicted lesion: the component nearest to it
            if not above.any():
                return above
            # (the nearest voxel above the threshold, in mm: a distance transform of
            # the whole region would cost more than the network)
            points = np.argwhere(above)
            click = np.asarray([v - b.start for v, b in zip(positive[0], box, strict=True)])
            d2 = (((points - click) * np.asarray(spacing)) ** 2).sum(axis=1)
            k, j, i = points[int(np.argmin(d2))]
            hits.add(int(labels[k, j, i]))
        if len(hits) == 1:
            return np.asarray(labels == hits.pop())
        return np.isin(labels, sorted(hits))

    def _predict(self, tiles: FloatArray) -> FloatArray:
        """The model's probabilities, averaged over :attr:`flips` (one batch)."""
        n = tiles.shape[0]
        views = np.concatenate([np.flip(tiles, axes) for axes in self.flips])
        out = self.model.predict(np.ascontiguousarray(views))
        back = [np.flip(out[v * n : (v + 1) * n], axes) for v, axes in enumerate(self.flips)]
        return np.asarray(np.mean(back, axis=0), np.float32)

    def _probabilities(
        self,
        volume: Volume,
        box: tuple[slice, slice, slice],
        positive: Sequence[Voxel],
        negative: Sequence[Voxel],
        modality: str,
        half_mm: float,
    ) -> tuple[FloatArray, list[str]]:
        """The probabilities on ``box`` of the image grid, and the modalities of
        the companion series whose view was averaged into them (:attr:`views`)."""
        contract = self.model.spec.contract
        spacing = array_spacing(volume)
        prob = self._grid_probabilities(volume, box, positive, negative, modality, spacing)
        fused: list[str] = []
        if self.views and contract.companions and self.companions:
            seen = [prob]
            for other in sorted(self.companions):
                view = self._view(
                    volume, box, prob.shape, positive, negative, modality, other, half_mm
                )
                if view is not None:
                    seen.append(view)
                    fused.append(other)
            prob = _mean_where_read(seen)
        region = tuple(b.stop - b.start for b in box)
        return from_model_grid(prob, region, spacing, contract.spacing_mm), fused

    def _view(
        self,
        volume: Volume,
        box: tuple[slice, slice, slice],
        shape: tuple[int, ...],
        positive: Sequence[Voxel],
        negative: Sequence[Voxel],
        modality: str,
        other: str,
        half_mm: float,
    ) -> FloatArray | None:
        """The model's probabilities with the companion series of ``other`` as the
        outlined one (``volume`` and the remaining companions beside it, the
        clicks carried over through patient space), sampled at the model-grid
        points of ``box`` of ``volume`` (``shape``); NaN where that view does not
        reach. None where the first click lies outside the companion."""
        series = self.companions[other]
        limits = series.array.shape

        def carried(points: Sequence[Voxel]) -> list[Voxel]:
            if not points:
                return []
            xyz = volume.index_to_patient(np.asarray([p[::-1] for p in points], np.float64))
            at = np.rint(series.patient_to_index(xyz)[:, ::-1]).astype(int)
            return [
                (int(k), int(j), int(i))
                for k, j, i in at
                if 0 <= k < limits[0] and 0 <= j < limits[1] and 0 <= i < limits[2]
            ]

        pos = carried(positive[:1])
        if not pos:
            return None
        pos += carried(positive[1:])
        step = array_spacing(series)
        theirs = _region(pos, half_mm, step, limits)
        swapped = {m: v for m, v in self.companions.items() if m != other}
        swapped[modality] = volume
        view = replace(self, companions=swapped, views=False)
        prob = view._grid_probabilities(series, theirs, pos, carried(negative), other, step)
        extent = [b.stop - b.start for b in box]
        native = grid_points_in(volume, box, extent, shape, series)
        at = np.stack(
            [
                (native[a] - theirs[a].start) * grid_factor(theirs[a].stop - theirs[a].start, n)
                for a, n in enumerate(prob.shape)
            ]
        )
        out = ndi.map_coordinates(prob, at, order=1, mode="constant", cval=np.nan)
        return np.asarray(out.reshape(shape), np.float32)

    def _grid_probabilities(
        self,
        volume: Volume,
        box: tuple[slice, slice, slice],
        positive: Sequence[Voxel],
        negative: Sequence[Voxel],
        modality: str,
        spacing: tuple[float, float, float],
    ) -> FloatArray:
        """The network's probabilities on the model grid of ``box`` (sliding
        window, flips averaged)."""
        contract = self.model.spec.contract
        region = np.asarray(volume.array[box], dtype=np.float32)
        if contract.companions:
            stack = model_stack(volume, modality, self.companions, box, contract)
            grid, fill = stack[0], 0.0  # a channel, for the grid's shape
        else:
            grid = to_model_grid(region, spacing, contract.spacing_mm, antialias=contract.antialias)
            stack = grid = normalise(grid, modality, contract)
            fill = float(grid.min()) if grid.size else 0.0
        factors = [grid_factor(n, m) for n, m in zip(region.shape, grid.shape, strict=True)]

        def on_grid(p: Voxel) -> Voxel:
            return (
                round((p[0] - box[0].start) * factors[0]),
                round((p[1] - box[1].start) * factors[1]),
                round((p[2] - box[2].start) * factors[2]),
            )

        padded, before = _pad_to(stack, contract.patch, fill, on_grid(positive[0]))
        pos = [tuple(c + b for c, b in zip(on_grid(p), before, strict=True)) for p in positive]
        neg = [tuple(c + b for c, b in zip(on_grid(p), before, strict=True)) for p in negative]
        x = encode(padded, pos, neg, modality, contract)  # type: ignore[arg-type]
        total = np.zeros(padded.shape[-3:], np.float32)
        count = np.zeros(padded.shape[-3:], np.float32)
        corners = _tiles(padded.shape[-3:], contract.patch)
        size = contract.patch
        for start in range(0, len(corners), self.batch):
            chunk = corners[start : start + self.batch]
            tiles = np.stack([x[:, a : a + size, b : b + size, c : c + size] for a, b, c in chunk])
            out = self._predict(tiles)
            for (a, b, c), p in zip(chunk, out, strict=True):
                total[a : a + size, b : b + size, c : c + size] += p[0]
                count[a : a + size, b : b + size, c : c + size] += 1.0
        prob = total / np.maximum(count, 1.0)
        inner = tuple(slice(b, b + n) for b, n in zip(before, grid.shape, strict=True))
        return np.asarray(prob[inner], np.float32)
