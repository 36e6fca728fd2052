"""The review service's pipeline calls: decisions on lesions re-run the guidelines."""

from __future__ import annotations

from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.follow import review_new_lesions
from radcycle.pipeline.review import new_lesion_uids, reviewed
from tests.pipeline.test_follow_new import _course


def _analysis() -> PatientAnalysis:
    return PatientAnalysis(_course(), (), None, (), (), {})


def _uid(analysis: PatientAnalysis, name: str) -> str:
    return next(t.tracking_uid for t in analysis.follow.tracks if t.tracking_identifier == name)


def test_new_lesions_count_only_once_confirmed() -> None:
    analysis = _analysis()
    new = _uid(analysis, "lesion 3")
    assert new_lesion_uids(analysis) == {new}
    undecided = reviewed(analysis, {})
    assert undecided.follow.recist["timepoints"][0]["category"] == "SD"
    confirmed = reviewed(analysis, {new: "confirmed"})
    assert confirmed.follow.recist["timepoints"][0]["category"] == "PD"
    rejected = reviewed(analysis, {new: "rejected"})
    assert rejected.follow.recist["timepoints"][0]["category"] == "SD"
    assert rejected.follow.recist["rejected_new_lesion_ids"] == ["lesion 3"]
    # the same answers as the pipeline's own review of new lesions
    direct = review_new_lesions(analysis.follow, confirmed=["lesion 3"])
    assert confirmed.follow.recist == direct.recist


def test_a_rejected_baseline_lesion_leaves_the_assessment() -> None:
    analysis = _analysis()
    before = analysis.follow.recist
    gone = _uid(analysis, "lesion 2")
    after = reviewed(analysis, {gone: "rejected"})
    assert [t.tracking_identifier for t in after.follow.tracks] == ["lesion 1", "lesion 3"]
    assert [t["tracking_identifier"] for t in after.follow.recist["targets"]] == ["lesion 1"]
    assert after.follow.recist["baseline_sum_mm"] == before["baseline_sum_mm"] - 15.0
    assert reviewed(analysis, {}).follow.recist == before
