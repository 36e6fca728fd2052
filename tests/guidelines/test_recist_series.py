"""RECIST 1.1 over time: nadir, best overall response, confirmation, iRECIST."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radcycle.domain import LesionMeasurement
from radcycle.errors import InputError
from radcycle.guidelines.recist import select_targets
from radcycle.guidelines.recist_response import RecistFollowUp
from radcycle.guidelines.recist_series import RecistOptions, assess_series
from tests.guidelines.builders import lesion

D0 = date(2025, 1, 6)


def _course(
    sums: list[float], new_at: set[int] | None = None, step_days: int = 42
) -> list[RecistFollowUp]:
    """Follow-ups of one target lesion with the given long axes, 6 weeks apart.

    The new lesion is the same one (same TrackingIdentifier) at every exam in ``new_at``.
    """
    new_at = new_at or set()
    out = []
    for i, value in enumerate(sums):
        new = (lesion("new", 12.0, "liver"),) if i in new_at else ()
        status = {"status": "disappeared"} if value == 0 else {}
        target = (
            LesionMeasurement(lesion_id="a", organ="lung", **status)  # type: ignore[arg-type]
            if value == 0
            else lesion("a", value)
        )
        out.append(RecistFollowUp(D0 + timedelta(days=step_days * (i + 1)), (target,), new))
    return out


def _baseline(size: float = 50.0):  # type: ignore[no-untyped-def]
    return select_targets([lesion("a", size)], D0)


def test_nadir_tracks_smallest_sum_and_pd_is_against_it() -> None:
    series = assess_series(_baseline(), _course([30.0, 36.0]))
    assert [tp.category for tp in series.timepoints] == ["PR", "PD"]
    assert series.timepoints[1].nadir_sum_mm == 30.0
    assert series.best_overall_response == "PR"


def test_best_response_stops_at_first_pd() -> None:
    series = assess_series(_baseline(), _course([60.0, 20.0]))
    assert series.timepoints[0].category == "PD"
    assert series.best_overall_response == "PD"


def test_confirmation_required_for_pr() -> None:
    unconfirmed = assess_series(
        _baseline(), _course([30.0, 45.0]), RecistOptions(confirmation_required=True)
    )
    assert unconfirmed.best_overall_response == "SD"
    confirmed = assess_series(
        _baseline(), _course([30.0, 32.0]), RecistOptions(confirmation_required=True)
    )
    assert confirmed.best_overall_response == "PR"
    too_soon = assess_series(
        _baseline(), _course([30.0, 32.0], step_days=20), RecistOptions(confirmation_required=True)
    )
    assert too_soon.best_overall_response == "SD"


def test_cr_confirmed_by_cr_only() -> None:
    opts = RecistOptions(confirmation_required=True)
    assert assess_series(_baseline(), _course([0.0, 0.0]), opts).best_overall_response == "CR"
    # Table 3: CR then PD -> SD (minimum SD duration met), not CR.
    assert assess_series(_baseline(), _course([0.0, 12.0]), opts).best_overall_response == "SD"
    strict = RecistOptions(confirmation_required=True, min_sd_days=60)
    assert assess_series(_baseline(), _course([0.0, 12.0]), strict).best_overall_response == "PD"


def test_min_sd_duration() -> None:
    opts = RecistOptions(min_sd_days=56)
    # SD at day 42 only, then PD: SD too early, best response PD.
    assert assess_series(_baseline(), _course([48.0, 62.0]), opts).best_overall_response == "PD"
    assert assess_series(_baseline(), _course([48.0, 49.0]), opts).best_overall_response == "SD"


def test_follow_up_before_baseline_is_rejected() -> None:
    bad = [RecistFollowUp(D0 - timedelta(days=1), (lesion("a", 10.0),))]
    with pytest.raises(InputError, match="after the baseline"):
        assess_series(_baseline(), bad)


def test_best_response_result_cites_rule() -> None:
    result = assess_series(_baseline(), _course([30.0])).best_response_result()
    assert result.category == "PR"
    assert "section 4.4.3" in result.rule_fired


# --- iRECIST -----------------------------------------------------------------------

IMMUNO = RecistOptions(immunotherapy=True)


def test_irecist_first_pd_is_iupd_then_confirmed_by_5mm() -> None:
    series = assess_series(_baseline(), _course([62.0, 67.0]), IMMUNO)
    assert [tp.category for tp in series.timepoints] == ["iUPD", "iCPD"]
    assert series.best_overall_response == "iCPD"


def test_irecist_4_9mm_further_does_not_confirm() -> None:
    series = assess_series(_baseline(), _course([62.0, 66.9]), IMMUNO)
    assert [tp.category for tp in series.timepoints] == ["iUPD", "iUPD"]
    assert series.best_overall_response == "iUPD"


def test_irecist_reset_after_shrinkage() -> None:
    series = assess_series(_baseline(), _course([62.0, 40.0, 30.0, 45.0]), IMMUNO)
    # iUPD, then iSD (reset; nadir 40 -> +20 %...), iPR, then PD again -> iUPD, not iCPD
    assert [tp.category for tp in series.timepoints] == ["iUPD", "iSD", "iPR", "iUPD"]
    assert series.best_overall_response == "iPR"


def test_irecist_new_lesion_confirms_target_iupd() -> None:
    series = assess_series(_baseline(), _course([62.0, 62.0], new_at={1}), IMMUNO)
    assert [tp.category for tp in series.timepoints] == ["iUPD", "iCPD"]


def test_irecist_more_new_lesions_confirm() -> None:
    follow_ups = _course([45.0, 45.0], new_at={0})
    second = follow_ups[1]
    more = (lesion("n1", 12.0, "liver"), lesion("n2", 11.0, "bone"))
    follow_ups[1] = RecistFollowUp(second.exam_date, second.lesions, more)
    series = assess_series(_baseline(), follow_ups, IMMUNO)
    assert [tp.category for tp in series.timepoints] == ["iUPD", "iCPD"]
    same = assess_series(_baseline(), _course([45.0, 45.0], new_at={0, 1}), IMMUNO)
    assert [tp.category for tp in same.timepoints] == ["iUPD", "iUPD"]


def test_irecist_ne_keeps_iupd_pending() -> None:
    follow_ups = _course([62.0, 62.0, 68.0])
    follow_ups[1] = RecistFollowUp(follow_ups[1].exam_date, ())  # target not evaluated
    series = assess_series(_baseline(), follow_ups, IMMUNO)
    assert [tp.category for tp in series.timepoints] == ["iUPD", "NE", "iCPD"]


# --- properties over a course --------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(
        st.floats(0.0, 120.0, allow_nan=False).map(lambda v: round(v, 1)), min_size=1, max_size=6
    )
)
def test_follow_up_order_of_input_does_not_matter(sizes: list[float]) -> None:
    course = _course(sizes)
    forward = assess_series(_baseline(), course)
    backward = assess_series(_baseline(), list(reversed(course)))
    assert [tp.category for tp in forward.timepoints] == [tp.category for tp in backward.timepoints]
    assert forward.best_overall_response == backward.best_overall_response


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(
        st.floats(1.0, 120.0, allow_nan=False).map(lambda v: round(v, 1)), min_size=1, max_size=6
    )
)
def test_irecist_without_pd_matches_recist(sizes: list[float]) -> None:
    plain = assess_series(_baseline(), _course(sizes))
    immuno = assess_series(_baseline(), _course(sizes), IMMUNO)
    for p, i in zip(plain.timepoints, immuno.timepoints, strict=True):
        if p.category == "PD":
            assert i.category in ("iUPD", "iCPD")
        elif p.category == "NE":
            assert i.category == "NE"
        else:
            assert i.category == "i" + p.category


def test_non_target_only_patient() -> None:
    present = LesionMeasurement(lesion_id="nt", organ="pleura", status="present")  # type: ignore[arg-type]
    baseline = select_targets([present], D0)
    assert baseline.targets == ()
    follow = [
        RecistFollowUp(D0 + timedelta(days=42), (present,)),
        RecistFollowUp(
            D0 + timedelta(days=84), (present,), unequivocal_non_target_progression=True
        ),
    ]
    series = assess_series(baseline, follow)
    assert [tp.category for tp in series.timepoints] == ["Non-CR/Non-PD", "PD"]
    assert series.best_overall_response == "Non-CR/Non-PD"
    assert "Table 2" in series.timepoints[0].as_result().rule_fired


def test_irecist_notes_name_the_window_and_the_reference() -> None:
    early = assess_series(_baseline(), _course([62.0, 68.0], step_days=20), IMMUNO)
    assert early.timepoints[1].category == "iUPD"
    assert "< 4 weeks" in early.timepoints[1].notes[-1]
    late = assess_series(_baseline(), _course([62.0, 68.0], step_days=60), IMMUNO)
    assert late.timepoints[1].category == "iCPD"
    assert "later than the 4-8 week window" in late.timepoints[1].notes[-1]
    pending = assess_series(_baseline(), _course([62.0, 64.0]), IMMUNO)
    assert "since iUPD of 2025-02-17" in pending.timepoints[1].notes[-1]
