"""RECIST 1.1 worked examples at every rule edge (Eisenhauer 2009) and property tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.domain import LesionMeasurement, LesionStatus
from radcycle.errors import InputError
from radcycle.guidelines.recist import (
    Measurability,
    lesion_diameter,
    measurability,
    select_targets,
    sum_of_diameters,
)
from radcycle.guidelines.recist_response import (
    NonTargetResponse,
    OverallResponse,
    RecistFollowUp,
    TargetResponse,
    assess_timepoint,
    follow_up_from_tracked,
    new_lesion_present,
    non_target_response,
    overall_response,
    target_response,
)
from tests.guidelines.builders import lesion, node

D0 = date(2025, 1, 6)


# --- measurability (section 3.1) -------------------------------------------------


@pytest.mark.parametrize(
    ("short_mm", "expected"),
    [
        (9.9, Measurability.NORMAL_NODE),
        (10.0, Measurability.PATHOLOGICAL_NODE),
        (14.9, Measurability.PATHOLOGICAL_NODE),
        (15.0, Measurability.MEASURABLE),
    ],
)
def test_node_short_axis_edges(short_mm: float, expected: Measurability) -> None:
    assert measurability(node("N", short_mm)) is expected


@pytest.mark.parametrize(
    ("long_mm", "slice_mm", "expected"),
    [
        (9.9, 5.0, Measurability.NON_MEASURABLE),
        (10.0, 5.0, Measurability.MEASURABLE),
        (10.0, 1.0, Measurability.MEASURABLE),
        (10.0, 6.0, Measurability.NON_MEASURABLE),  # needs 2 x 6 = 12 mm
        (11.9, 6.0, Measurability.NON_MEASURABLE),
        (12.0, 6.0, Measurability.MEASURABLE),
    ],
)
def test_non_nodal_size_and_slice_thickness(
    long_mm: float, slice_mm: float, expected: Measurability
) -> None:
    assert measurability(lesion("L", long_mm), slice_thickness_mm=slice_mm) is expected


def test_too_small_and_disappeared_diameters() -> None:
    assert lesion_diameter(LesionMeasurement(lesion_id="a", status="too small to measure")) == 5.0
    assert lesion_diameter(LesionMeasurement(lesion_id="a", status="disappeared")) == 0.0
    assert lesion_diameter(LesionMeasurement(lesion_id="a")) is None


def test_sum_uses_short_axis_for_nodes() -> None:
    assert sum_of_diameters([lesion("a", 31.0), node("n", 16.0)]) == pytest.approx(47.0)


# --- target selection (section 4.2) ----------------------------------------------


def _liver_and_lung() -> list[LesionMeasurement]:
    return [
        lesion("liver1", 50.0, "liver"),
        lesion("liver2", 40.0, "liver"),
        lesion("liver3", 45.0, "liver"),
        lesion("lung1", 20.0, "lung"),
        lesion("lung2", 30.0, "lung"),
    ]


def test_selection_represents_every_involved_organ_then_largest() -> None:
    # Five organs involved (liver, lung, nodes, bone, adrenal): one target each,
    # not two liver and two lung lesions that leave bone and adrenal out (section 4.2).
    lesions = [
        *_liver_and_lung(),
        lesion("bone1", 15.0, "bone"),
        lesion("adrenal1", 12.0, "adrenal"),
        node("node1", 18.0),
        node("node2", 12.0),
        node("node3", 6.0),
    ]
    b = select_targets(lesions, D0)
    ids = [t.lesion_id for t in b.targets]
    assert ids == ["liver1", "lung2", "node1", "bone1", "adrenal1"]
    non_ids = {n.lesion_id for n in b.non_targets}
    assert non_ids == {"liver2", "liver3", "lung1", "node2"}  # node3 is normal
    assert b.baseline_sum == pytest.approx(50 + 30 + 18 + 15 + 12)


def test_selection_fills_free_slots_largest_first_two_per_organ() -> None:
    ids = [t.lesion_id for t in select_targets(_liver_and_lung(), D0).targets]
    assert ids == ["liver1", "liver3", "lung2", "lung1"]


def test_all_lymph_nodes_are_one_organ() -> None:
    nodes = [node("n1", 30.0, "mediastinum"), node("n2", 25.0, "hilum"), node("n3", 20.0, "axilla")]
    b = select_targets(nodes, D0)
    assert [t.lesion_id for t in b.targets] == ["n1", "n2"]
    assert [n.lesion_id for n in b.non_targets] == ["n3"]
    with pytest.raises(InputError, match="lymph nodes are one organ"):
        select_targets(nodes, D0, chosen_target_ids=["n1", "n2", "n3"])


def test_selection_prefers_reproducible_lesions() -> None:
    lesions = [
        lesion("big", 60.0, "liver", reproducible=False),
        lesion("a", 20.0, "liver"),
        lesion("b", 15.0, "liver"),
    ]
    assert [t.lesion_id for t in select_targets(lesions, D0).targets] == ["a", "b"]


def test_manual_override_and_its_checks() -> None:
    lesions = [lesion("a", 30.0, "liver"), lesion("b", 20.0, "liver"), lesion("c", 12.0, "lung")]
    b = select_targets(lesions, D0, chosen_target_ids=["c"])
    assert [t.lesion_id for t in b.targets] == ["c"]
    assert {n.lesion_id for n in b.non_targets} == {"a", "b"}
    with pytest.raises(InputError, match="cannot be a target"):
        select_targets([lesion("small", 8.0)], D0, chosen_target_ids=["small"])
    three = [lesion(f"x{i}", 20.0, "liver") for i in range(3)]
    with pytest.raises(InputError, match="per organ"):
        select_targets(three, D0, chosen_target_ids=["x0", "x1", "x2"])
    with pytest.raises(InputError, match="not among"):
        select_targets(lesions, D0, chosen_target_ids=["zzz"])


# --- target response (section 4.3.1) ---------------------------------------------


@pytest.mark.parametrize(
    ("current", "expected"),
    [(70.0, TargetResponse.PR), (70.1, TargetResponse.SD)],  # -30.0 % vs -29.9 %
)
def test_pr_edge_minus_30_percent(current: float, expected: TargetResponse) -> None:
    assert target_response([lesion("a", current)], 100.0, 100.0).response is expected


def test_pr_edge_with_float_sums() -> None:
    # 3 lesions summing to exactly -30.0 % through inexact binary fractions.
    base = [lesion("a", 10.1), lesion("b", 10.2), lesion("c", 10.3)]
    total = sum_of_diameters(base)
    assert total is not None
    now = [lesion("a", 7.07), lesion("b", 7.14), lesion("c", 7.21)]  # each -30 %
    assert target_response(now, total, total).response is TargetResponse.PR


@pytest.mark.parametrize(
    ("nadir", "current", "expected"),
    [
        (24.5, 29.4, TargetResponse.SD),  # +20 % but only +4.9 mm
        (25.0, 30.0, TargetResponse.PD),  # +20 % and +5.0 mm
        (50.0, 59.9, TargetResponse.SD),  # +9.9 mm but +19.8 %
        (50.0, 60.0, TargetResponse.PD),  # +20.0 % and +10 mm
    ],
)
def test_pd_edges_relative_and_absolute(
    nadir: float, current: float, expected: TargetResponse
) -> None:
    result = target_response([lesion("a", current)], nadir, nadir)
    assert result.response is expected


def test_pd_is_relative_to_nadir_not_baseline() -> None:
    # baseline 100, nadir 40, now 50: -50 % from baseline, +25 % / +10 mm over nadir.
    assert target_response([lesion("a", 50.0)], 100.0, 40.0).response is TargetResponse.PD


def test_cr_requires_nodes_below_10mm() -> None:
    gone = LesionMeasurement(lesion_id="a", status="disappeared")
    assert target_response([gone, node("n", 9.9)], 40.0, 40.0).response is TargetResponse.CR
    assert target_response([gone, node("n", 10.0)], 40.0, 40.0).response is not TargetResponse.CR


def test_too_small_to_measure_is_5mm_and_not_cr() -> None:
    small = LesionMeasurement(lesion_id="a", status="too small to measure")
    result = target_response([small], 20.0, 20.0)
    assert result.sum_mm == 5.0
    assert result.response is TargetResponse.PR


def test_missing_target_is_ne_unless_others_show_pd() -> None:
    missing = LesionMeasurement(lesion_id="b")
    assert target_response([lesion("a", 20.0), missing], 50.0, 50.0).response is TargetResponse.NE
    # RECIST 1.1 section 4.4.2 example: baseline 50 mm, two lesions measured already 80 mm.
    pd = target_response([lesion("a", 45.0), lesion("c", 35.0), missing], 50.0, 50.0)
    assert pd.response is TargetResponse.PD


# --- non-target, new lesions, overall table (sections 4.3.3-4.4.1) --------------


def test_non_target_categories() -> None:
    gone = LesionMeasurement(lesion_id="g", status="disappeared")
    present = LesionMeasurement(lesion_id="p", status="present")
    assert non_target_response([gone, node("n", 9.0)]) is NonTargetResponse.CR
    assert non_target_response([gone, node("n", 10.0)]) is NonTargetResponse.NON_CR_NON_PD
    assert non_target_response([present]) is NonTargetResponse.NON_CR_NON_PD
    assert non_target_response([present, LesionMeasurement(lesion_id="x")]) is NonTargetResponse.NE
    assert non_target_response([gone], unequivocal_progression=True) is NonTargetResponse.PD


def test_new_lesion_counting() -> None:
    assert new_lesion_present([lesion("new", 6.0, "liver")])
    assert not new_lesion_present([node("new-node", 9.9)])
    assert new_lesion_present([node("new-node", 10.0)])


T, N, R = TargetResponse, NonTargetResponse, OverallResponse


@pytest.mark.parametrize(
    ("target", "non_target", "new", "expected"),
    [
        (T.CR, N.CR, False, R.CR),
        (T.CR, N.NON_CR_NON_PD, False, R.PR),
        (T.CR, N.NE, False, R.PR),
        (T.PR, N.NON_CR_NON_PD, False, R.PR),
        (T.PR, N.NE, False, R.PR),
        (T.SD, N.NE, False, R.SD),
        (T.NE, N.NON_CR_NON_PD, False, R.NE),
        (T.PD, N.CR, False, R.PD),
        (T.CR, N.PD, False, R.PD),
        (T.CR, N.CR, True, R.PD),
        (T.NE, N.NE, True, R.PD),
        (None, N.CR, False, R.CR),
        (None, N.NON_CR_NON_PD, False, R.NON_CR_NON_PD),
        (None, N.NE, False, R.NE),
        (None, N.NON_CR_NON_PD, True, R.PD),
    ],
)
def test_overall_response_tables(
    target: TargetResponse | None,
    non_target: NonTargetResponse,
    new: bool,
    expected: OverallResponse,
) -> None:
    assert overall_response(target, non_target, new) is expected


def test_timepoint_new_lesion_gives_pd_despite_shrinking_targets() -> None:
    b = select_targets([lesion("a", 40.0)], D0)
    fu = RecistFollowUp(
        D0 + timedelta(days=60), (lesion("a", 20.0),), (lesion("new", 8.0, "liver"),)
    )
    tp = assess_timepoint(b, fu, b.baseline_sum)
    assert tp.target is not None
    assert tp.target.response is T.PR
    assert tp.response is R.PD
    assert "Table 1" in tp.as_result().rule_fired


def test_timepoint_missing_target_is_ne() -> None:
    b = select_targets([lesion("a", 40.0), lesion("b", 30.0, "liver")], D0)
    fu = RecistFollowUp(D0 + timedelta(days=60), [lesion("a", 38.0)])  # type: ignore[arg-type]
    tp = assess_timepoint(b, fu, b.baseline_sum)
    assert tp.response is R.NE
    assert [m.lesion_id for m in tp.target_measurements] == ["a", "b"]
    assert tp.target_measurements[1].status is LesionStatus.NOT_EVALUATED


def test_volumetric_change_beside_response() -> None:
    b = select_targets([lesion("a", 40.0, volume_mm3=30000.0)], D0)
    fu = RecistFollowUp(D0 + timedelta(days=60), (lesion("a", 30.0, volume_mm3=12000.0),))
    tp = assess_timepoint(b, fu, b.baseline_sum)
    assert tp.volume_change_from_baseline_pct == pytest.approx(-60.0)


# --- properties -----------------------------------------------------------------

sizes = st.floats(min_value=10.0, max_value=120.0, allow_nan=False).map(lambda v: round(v, 1))


@settings(max_examples=150, deadline=None)
@given(
    base=st.lists(sizes, min_size=1, max_size=5),
    factors=st.lists(st.floats(0.0, 2.0, allow_nan=False), min_size=5, max_size=5),
    data=st.data(),
)
def test_response_invariant_to_lesion_order(
    base: list[float], factors: list[float], data: st.DataObject
) -> None:
    targets = [lesion(f"L{i}", v, f"organ{i}") for i, v in enumerate(base)]
    now = [
        lesion(f"L{i}", round(v * f, 1))
        for i, (v, f) in enumerate(zip(base, factors, strict=False))
    ]
    total = sum(base)
    expected = target_response(now, total, total).response
    shuffled = data.draw(st.permutations(now))
    assert target_response(shuffled, total, total).response is expected
    b1 = select_targets(targets, D0)
    b2 = select_targets(data.draw(st.permutations(targets)), D0)
    assert {t.lesion_id for t in b1.targets} == {t.lesion_id for t in b2.targets}


@settings(max_examples=150, deadline=None)
@given(
    base=st.lists(sizes, min_size=1, max_size=5),
    growth=st.lists(st.floats(1.2, 3.0, allow_nan=False), min_size=5, max_size=5),
)
def test_every_target_growing_20_percent_and_5mm_total_is_pd(
    base: list[float], growth: list[float]
) -> None:
    now = [lesion(f"L{i}", v * g) for i, (v, g) in enumerate(zip(base, growth, strict=False))]
    total = sum(base)
    grown = sum(m.long_axis_mm or 0.0 for m in now)
    if grown - total >= 5.0:
        assert target_response(now, total, total).response is TargetResponse.PD


@settings(max_examples=150, deadline=None)
@given(
    base=st.lists(sizes, min_size=1, max_size=5),
    shrink=st.floats(0.0, 1.0, allow_nan=False),
    more=st.floats(0.0, 1.0, allow_nan=False),
)
def test_pr_is_monotone_in_shrinkage(base: list[float], shrink: float, more: float) -> None:
    """If a sum gives PR, any smaller sum (still > 0) gives PR or CR."""
    total = sum(base)
    first = [lesion(f"L{i}", v * shrink) for i, v in enumerate(base)]
    second = [lesion(f"L{i}", v * shrink * more) for i, v in enumerate(base)]
    if target_response(first, total, total).response is TargetResponse.PR:
        assert target_response(second, total, total).response in (
            TargetResponse.PR,
            TargetResponse.CR,
        )


@settings(max_examples=100, deadline=None)
@given(base=st.lists(sizes, min_size=1, max_size=5), change=st.floats(-0.29, 0.19, allow_nan=False))
def test_small_changes_are_stable_disease(base: list[float], change: float) -> None:
    total = sum(base)
    now = [lesion(f"L{i}", v * (1 + change)) for i, v in enumerate(base)]
    assert target_response(now, total, total).response is TargetResponse.SD


def test_follow_up_from_tracked_lesions() -> None:
    b = select_targets([lesion("a", 40.0), node("small-node", 8.0), lesion("nt", 8.0, "liver")], D0)
    assert [m.lesion_id for m in b.excluded] == ["small-node"]
    tracked = [
        lesion("a", 41.0),
        node("small-node", 12.0),
        lesion("nt", 9.0, "liver"),
        lesion("x", 11.0, "bone"),
    ]
    fu = follow_up_from_tracked(b, D0 + timedelta(days=60), tracked)
    assert [m.lesion_id for m in fu.lesions] == ["a", "nt"]
    assert [m.lesion_id for m in fu.new_lesions] == ["x"]
    assert assess_timepoint(b, fu, b.baseline_sum).response is R.PD
