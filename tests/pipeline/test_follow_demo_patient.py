"""The demo patient (``radcycle demo``: seed 7, three CTs of 120 slices), fully automatic.

The detector proposes every lesion; the record's pembrolizumab makes it iRECIST.
With new lesions found only by the detector left out (unconfirmed), the category
at every follow-up equals the truth's; the unconfirmed new lesion is listed with
its evidence, and the category with it is given beside.
"""

from __future__ import annotations

import pytest

from radcycle.domain.findings import LesionMeasurement
from radcycle.guidelines.recist import select_targets
from radcycle.guidelines.recist_response import follow_up_from_tracked
from radcycle.guidelines.recist_series import RecistOptions, assess_series
from radcycle.pipeline.follow import FollowSettings, Scan, detector_finder, follow_patient
from radcycle.pipeline.follow_guidelines import GuidelineContext
from radcycle.synth import generate_patient


def _truth_irecist(patient) -> list[str]:
    """iRECIST from the truth table's lung lesions (what a lung detector can see)."""
    per_tp = [
        [
            LesionMeasurement(
                lesion_id=rec["lesion_id"],
                organ=rec["organ"],
                long_axis_mm=rec["long_axis_mm"] if rec["status"] != "vanished" else None,
                short_axis_mm=rec["short_axis_mm"] if rec["status"] != "vanished" else None,
                status="disappeared" if rec["status"] == "vanished" else None,
            )
            for rec in tp.lesions
            if rec["organ"] == "lung"
        ]
        for tp in patient.timepoints
    ]
    dates = [tp.date for tp in patient.timepoints]
    baseline = select_targets(per_tp[0], dates[0])
    follow_ups = [
        follow_up_from_tracked(baseline, d, ls) for d, ls in zip(dates[1:], per_tp[1:], strict=True)
    ]
    series = assess_series(baseline, follow_ups, RecistOptions(immunotherapy=True))
    return [tp.category for tp in series.timepoints]


@pytest.mark.slow
def test_demo_patient_categories_equal_the_truth_without_unconfirmed_new_lesions() -> None:
    patient = generate_patient(7, timepoints=3, slices=120)
    scans = [
        Scan(tp.volume, tp.date, tp.study_instance_uid, tp.series_instance_uid, "DEMO")
        for tp in patient.timepoints
    ]
    settings = FollowSettings(guidelines=GuidelineContext(immunotherapy=True, known_cancer=True))
    result = follow_patient(scans, detector_finder(), settings)
    categories = [tp["category"] for tp in result.recist["timepoints"]]
    assert categories == _truth_irecist(patient)
    unconfirmed = [r for r in result.new_lesions if r.status == "unconfirmed"]
    assert unconfirmed, "the detector's new lesion is shown, unconfirmed"
    for review in unconfirmed:
        assert review.confidence is not None
        assert "detector" in review.evidence
    last = result.recist["timepoints"][-1]
    assert last["unconfirmed_new_lesion_ids"] == [r.tracking_identifier for r in unconfirmed]
    assert "category_with_unconfirmed" in last
