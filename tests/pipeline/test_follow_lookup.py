"""Looking again for a tracked lesion on a later scan: gone, still there, or carried over."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.longitudinal.tracking import (
    PointStatus,
    ScanLesions,
    observed,
    track_lesions,
)
from radcycle.pipeline.follow_lookup import LookupContext, look_again
from radcycle.pipeline.scans import LesionSeed, Scan, measure_seed
from radcycle.synth import generate_patient

SPACING = (1.0, 1.0, 2.0)


def _lung(blobs: list[tuple[tuple[float, float, float], float, float]], seed: int) -> Volume:
    """Aerated lung (-820 HU) inside a soft-tissue wall, with round blobs (centre, radius, HU)."""
    rng = np.random.default_rng(seed)
    shape = (40, 96, 96)
    values = rng.normal(-820.0, 15.0, size=shape).astype(np.float32)
    values[:, :6, :] = values[:, -6:, :] = values[:, :, :6] = values[:, :, -6:] = 40.0
    k, j, i = np.indices(shape)
    for (x, y, z), radius, hu in blobs:
        inside = (i - x) ** 2 + (j - y) ** 2 + ((k * 2.0) - z) ** 2 <= radius**2
        values[inside] = hu + rng.normal(0.0, 15.0, size=int(inside.sum()))
    return Volume(values, Geometry((0.0, 0.0, 0.0), SPACING), {"modality": "CT"})


def _context(later: Volume, kind: str, radius: float) -> tuple[LookupContext, object]:
    first = _lung([((48.0, 48.0, 40.0), radius, -650.0 if kind == "ground-glass" else 30.0)], 1)
    scans = [
        Scan(first, date(2025, 1, 1), "1.1", "1.1.1"),
        Scan(later, date(2025, 4, 1), "1.2", "1.2.1"),
    ]
    before = observed((48.0, 48.0, 40.0), 2 * radius, 2 * radius, nodule_type=kind, key="n")
    tracks = track_lesions([ScanLesions("1.1", (before,)), ScanLesions("1.2", ())], patient_key="P")
    ctx = LookupContext(scans, [np.eye(4), np.eye(4)], {}, 12.0, "P")
    return ctx, tracks[0]


@pytest.mark.parametrize("kind", ["solid", "ground-glass"])
def test_a_lesion_gone_from_aerated_lung_has_disappeared(kind: str) -> None:
    ctx, track = _context(_lung([], 2), kind, 5.0)
    point = look_again(track, 1, ctx)
    assert point.status is PointStatus.DISAPPEARED
    assert "RECIST 1.1 section 4.3.2" in point.note


@pytest.mark.parametrize("kind", ["solid", "ground-glass"])
def test_a_lesion_still_there_is_not_called_gone(kind: str) -> None:
    hu = -650.0 if kind == "ground-glass" else 30.0
    shifted = _lung([((50.0, 47.0, 40.0), 4.0, hu)], 3)
    ctx, track = _context(shifted, kind, 5.0)
    point = look_again(track, 1, ctx)
    assert point.status is not PointStatus.DISAPPEARED
    if kind == "solid":
        assert point.status is PointStatus.MATCHED
        assert point.observation is not None
        assert point.observation.long_axis_mm == pytest.approx(8.0, abs=1.5)
        assert np.allclose(point.observation.centre_mm, (50.0, 47.0, 40.0), atol=1.0)


def test_outside_the_scan_is_not_evaluated() -> None:
    ctx, track = _context(_lung([], 4), "solid", 5.0)
    far = np.eye(4)
    far[:3, 3] = (500.0, 0.0, 0.0)
    ctx = LookupContext(ctx.scans, [np.eye(4), far], {}, 12.0, "P")
    assert look_again(track, 1, ctx).status is PointStatus.NOT_EVALUATED


def test_nodes_and_liver_lesions_touching_the_lung_are_outlined_as_soft_tissue() -> None:
    # seed 3: a hilar node (L7) beside the lung and a liver lesion (L8) under the
    # dome; routed as lung lesions they would take in the mediastinum or the liver
    tp = generate_patient(3, timepoints=1, slices=120).timepoints[0]
    scan = Scan(tp.volume, tp.date, tp.study_instance_uid, tp.series_instance_uid, "P")
    for rec in tp.lesions:
        if rec["organ"] not in {"lymph node", "liver"}:
            continue
        node = rec["organ"] == "lymph node"
        point = tuple(rec["centre_mm"])
        obs, _, quality = measure_seed(scan, LesionSeed(point, rec["organ"], node), "k")
        assert quality == "ok"
        assert abs(obs.short_axis_mm - rec["short_axis_mm"]) <= 1.5, rec["lesion_id"]
        assert abs(obs.long_axis_mm - rec["long_axis_mm"]) <= 2.0, rec["lesion_id"]
        assert obs.algorithm is not None
        assert obs.algorithm.name == "radcycle.click-to-segment"
        assert obs.algorithm.parameters["method"] == "soft-tissue"


def test_a_hilar_node_clicked_without_a_strategy_is_soft_tissue() -> None:
    # aerated lung within 25 mm sends the click towards the lung strategy, but the
    # node is enveloped more by fat than by lung, so it is outlined as soft tissue
    from radcycle.imaging.measurement import measure_mask
    from radcycle.imaging.segmentation import segment_at_seed

    tp = generate_patient(3, timepoints=1, slices=120).timepoints[0]
    (node,) = [rec for rec in tp.lesions if rec["lesion_id"] == "L7"]
    assert node["organ"] == "lymph node"
    result = segment_at_seed(tp.volume, tuple(node["centre_mm"]))
    assert result.method == "soft-tissue"
    got = measure_mask(tp.volume, result.mask.array)
    assert abs(got.short_axis_mm - node["short_axis_mm"]) <= 1.5


def test_a_carried_outline_is_kept_for_seg_and_key_images() -> None:
    from radcycle.pipeline.follow_lookup import _propagated
    from radcycle.pipeline.scans import LesionMask

    later = _lung([((51.0, 47.0, 40.0), 5.0, 30.0)], 7)
    ctx, track = _context(later, "solid", 5.0)
    k, j, i = np.indices(ctx.scans[0].volume.array.shape)
    before = (i - 48.0) ** 2 + (j - 48.0) ** 2 + (k * 2.0 - 40.0) ** 2 <= 25.0
    ctx.masks[(0, "n")] = LesionMask.of(before)
    first = track.points[0]
    assert first is not None
    assert first.observation is not None
    point = _propagated(
        track, 1, 0, first.observation, "t1:lesion 1", ctx, np.array([48.0, 48.0, 40.0]), "test"
    )
    assert point.status is PointStatus.MATCHED
    assert point.observation is not None
    assert point.observation.algorithm is not None
    assert point.observation.algorithm.name == "radcycle.carry-outline"
    # the outline that was measured is the one kept: its centre is the carried centre
    stored = ctx.masks[(1, "t1:lesion 1")].full(later.array.shape)
    assert stored.any()
    kji = np.argwhere(stored).mean(axis=0)
    centre = later.index_to_patient([kji[::-1]])[0]
    assert np.allclose(centre, point.observation.centre, atol=1.0)


def test_a_carried_outline_is_resampled_around_the_lesion_only() -> None:
    from radcycle.imaging.lesion_registration import warp_mask
    from radcycle.pipeline.follow_lookup import _carried_outline

    source = Volume(np.zeros((30, 80, 80), np.float32), Geometry((-20.0, -30.0, 5.0), SPACING))
    target = Volume(
        np.zeros((28, 76, 84), np.float32), Geometry((-15.0, -25.0, 0.0), (1.1, 0.9, 2.5))
    )
    mask = np.zeros(source.array.shape, bool)
    mask[10:16, 30:42, 25:40] = True
    c, s = np.cos(0.15), np.sin(0.15)
    matrix = np.eye(4)
    matrix[:2, :2] = [[c, -s], [s, c]]
    matrix[:3, :3] *= 1.1
    matrix[:3, 3] = (4.0, -3.0, 2.0)
    outline = _carried_outline(mask, source, target, matrix)
    assert outline is not None
    whole = warp_mask(mask, source, target, matrix)
    assert whole.any()
    assert np.array_equal(outline.full(target.array.shape), whole)
