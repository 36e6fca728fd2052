"""Property tests of the guideline arithmetic at its edges (RECIST, iRECIST, Lung-RADS, TNM)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.domain import LesionMeasurement
from radcycle.guidelines.lungrads import ORDER, LungRadsNodule, classify_nodule
from radcycle.guidelines.recist import select_targets
from radcycle.guidelines.recist_response import RecistFollowUp, target_response
from radcycle.guidelines.recist_series import RecistOptions, assess_series
from radcycle.guidelines.tnm import ORDER as T_ORDER
from radcycle.guidelines.tnm import t_category, t_from_size
from tests.guidelines.builders import lesion, node

D0 = date(2025, 1, 6)
tenths = st.integers(100, 3000).map(lambda v: v / 10.0)


@settings(max_examples=200, deadline=None)
@given(baseline=tenths)
def test_pr_edge_is_exactly_minus_30_percent(baseline: float) -> None:
    at_edge = round(baseline * 0.7, 6)
    above = at_edge + 0.05
    assert target_response([lesion("a", at_edge)], baseline, baseline).response.value == "PR"
    assert target_response([lesion("a", above)], baseline, baseline).response.value == "SD"


@settings(max_examples=200, deadline=None)
@given(nadir=tenths)
def test_pd_needs_both_20_percent_and_5_mm(nadir: float) -> None:
    edge = nadir + max(5.0, 0.2 * nadir)
    big = 10 * nadir  # baseline far above, so no PR
    assert target_response([lesion("a", edge)], big, nadir).response.value == "PD"
    below = edge - 0.05
    assert target_response([lesion("a", below)], big, nadir).response.value != "PD"


@settings(max_examples=100, deadline=None)
@given(
    nodes=st.lists(st.integers(150, 400).map(lambda v: v / 10.0), min_size=1, max_size=6),
    organs=st.lists(st.sampled_from(["liver", "lung", "bone", "adrenal"]), max_size=6),
)
def test_selection_limits_hold_and_every_organ_is_represented(
    nodes: list[float], organs: list[str]
) -> None:
    lesions = [node(f"n{i}", v, f"station{i}") for i, v in enumerate(nodes)]
    lesions += [lesion(f"o{i}", 20.0 + i, organ) for i, organ in enumerate(organs)]
    targets = select_targets(lesions, D0).targets
    node_targets = [t for t in targets if t.is_lymph_node]
    assert len(targets) <= 5
    assert len(node_targets) <= 2
    involved = {"lymph nodes"} | set(organs)
    represented = {"lymph nodes" if t.is_lymph_node else t.organ for t in targets}
    assert represented == involved or len(targets) == 5


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.integers(0, 40).map(lambda v: v / 10.0), min_size=1, max_size=5))
def test_irecist_confirms_when_the_increase_since_iupd_adds_up_to_5_mm(steps: list[float]) -> None:
    baseline = select_targets([lesion("a", 50.0)], D0)
    sizes = [62.0]
    for step in steps:
        sizes.append(round(sizes[-1] + step, 1))
    follow = [
        RecistFollowUp(D0 + timedelta(days=42 * (i + 1)), (lesion("a", v),))
        for i, v in enumerate(sizes)
    ]
    labels = [
        tp.category
        for tp in assess_series(baseline, follow, RecistOptions(immunotherapy=True)).timepoints
    ]
    first = next((i for i, v in enumerate(sizes) if v - 62.0 >= 5.0 - 1e-9), None)
    expected = (
        ["iUPD"] * len(sizes)
        if first is None
        else (["iUPD"] * first + ["iCPD"] * (len(sizes) - first))
    )
    assert labels == expected


sizes = st.integers(10, 400).map(lambda v: v / 10.0)


@settings(max_examples=200, deadline=None)
@given(
    size=sizes,
    prior=st.sampled_from(["2", "3", "4A"]),
    kind=st.sampled_from(["solid", "ground-glass"]),
)
def test_stepped_management_never_raises_a_stable_nodule(
    size: float, prior: str, kind: str
) -> None:
    m = LesionMeasurement(lesion_id="n", long_axis_mm=size, short_axis_mm=size, nodule_type=kind)
    stable = LungRadsNodule(m, prior=m, months_since_prior=6, prior_category=prior)
    category = classify_nodule(stable, baseline_round=False).category
    assert ORDER.index(category) <= ORDER.index(prior)


@settings(max_examples=200, deadline=None)
@given(total=sizes, fraction=st.floats(0.0, 1.0))
def test_subsolid_t_never_exceeds_t_by_total_size(total: float, fraction: float) -> None:
    solid = round(total * fraction, 1)
    m = LesionMeasurement(
        lesion_id="T", long_axis_mm=total, nodule_type="part-solid", solid_component_mm=solid
    )
    coded = t_category(m).category.removeprefix("c")
    assert T_ORDER.index(coded) <= T_ORDER.index(t_from_size(total))
    if solid <= 5.0 and total <= 30.0:
        assert coded == "T1mi"
