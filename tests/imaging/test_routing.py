"""The click-to-segment router: its table, the route each outline records, the
settings it honours and the typed quality."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radcycle.imaging import hu
from radcycle.imaging.features import ClickFeatures, click_features
from radcycle.imaging.routing import DECISIONS, RULES, asked, route
from radcycle.imaging.segmentation import (
    DEFAULT_SETTINGS,
    STRATEGIES,
    ClassicalRouter,
    segment_at_seed,
)
from radcycle.imaging.segmentation_settings import OutlineSettings, SegmentationSettings
from radcycle.imaging.segmenters import CLASSICAL, Quality, Segmenter
from tests.imaging.phantoms import nodule_in_lung


@pytest.mark.parametrize(
    ("modality", "share", "method", "rule"),
    [
        ("PT", None, "pet", "pet"),
        ("MR", None, "soft-tissue", "not-ct"),
        ("CT", 0.40, "lung-nodule", "ct-lung-around"),
        ("CT", 0.15, "soft-tissue", "ct-soft-tissue"),  # not above the threshold
        ("CT", 0.0, "soft-tissue", "ct-soft-tissue"),
    ],
)
def test_the_table_chooses_by_modality_and_lung_around(
    modality: str, share: float | None, method: str, rule: str
) -> None:
    f = ClickFeatures((1, 1, 1), modality, (1.0, 1.0, 1.0), lung_share=share)
    chosen = route(f, DEFAULT_SETTINGS)
    assert (chosen.method, chosen.rule) == (method, rule)
    if modality == "CT":
        assert chosen.record()["value"] == pytest.approx(share)


def test_every_rule_and_decision_is_named_once_and_every_method_exists() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert {r.method for r in RULES} <= set(CLASSICAL)
    assert set(DECISIONS) >= {"probe-node", "lung-tumour-redo", "mr-bright", "recentred"}
    assert asked("pet-41").record() == {"rule": "asked", "method": "pet-41"}
    assert STRATEGIES is CLASSICAL


def test_an_outline_records_the_rule_that_chose_its_method() -> None:
    vol, click = nodule_in_lung()
    result = segment_at_seed(vol, click)
    assert result.method == "lung-nodule"
    assert result.details["route"]["rule"] == "ct-lung-around"
    assert result.details["route"]["value"] > DEFAULT_SETTINGS.lung_fraction
    forced = segment_at_seed(vol, click, strategy="lung-nodule")
    assert forced.details["route"] == {"rule": "asked", "method": "lung-nodule"}


def test_settings_move_the_routing_and_the_outline() -> None:
    vol, click = nodule_in_lung()
    # no share of lung is enough: the same click is routed to soft tissue
    never_lung = SegmentationSettings(lung_fraction=1.0)
    result = segment_at_seed(vol, click, settings=never_lung)
    assert result.details["route"]["rule"] == "ct-soft-tissue"
    # a solid nodule's edge set far into the nodule shrinks its outline
    base = segment_at_seed(vol, click, strategy="lung-nodule")
    tight = SegmentationSettings(outline=OutlineSettings(lung_solid_edge_hu=30.0))
    smaller = segment_at_seed(vol, click, strategy="lung-nodule", settings=tight)
    assert smaller.details["threshold_hu"] == 30.0
    assert smaller.mask.array.sum() < base.mask.array.sum()


def test_quality_is_typed_and_serialises_as_its_word() -> None:
    vol, click = nodule_in_lung()
    result = segment_at_seed(vol, click)
    assert result.quality is Quality.OK
    assert json.dumps({"quality": result.quality}) == '{"quality": "ok"}'
    assert {q.value for q in Quality} == {"ok", "leak", "uncertain"}


def test_classical_segmenters_and_the_router_share_one_protocol() -> None:
    vol, click = nodule_in_lung()
    segmenters: list[Segmenter] = [ClassicalRouter(), CLASSICAL["lung-nodule"]]
    f = click_features(vol, (20, 32, 32), None, DEFAULT_SETTINGS)
    assert f.lung_share is not None
    assert f.lung_share > 0.5
    outlines = [s.outline(vol, f, DEFAULT_SETTINGS) for s in segmenters]
    assert [o.method for o in outlines] == ["lung-nodule", "lung-nodule"]
    full = [o.full(vol.array.shape) for o in outlines]
    assert np.array_equal(full[0], full[1])
    assert np.array_equal(full[0], segment_at_seed(vol, click).mask.array)


def test_tissue_levels_are_named_once() -> None:
    # the lung-air level of the lung mask and a nodule's solid edge are one level;
    # the gas a click may not lie in is well below the body outline
    assert OutlineSettings().lung_solid_edge_hu == hu.AERATED_BELOW_HU
    assert hu.GAS_HU < hu.BODY_HU < hu.AERATED_BELOW_HU
    assert hu.AERATED_LUNG_HU == (hu.OUTSIDE_AIR_HU, hu.BODY_HU)
