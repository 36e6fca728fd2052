"""New lesions found only by the detector: unconfirmed, and no category rests on them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.domain.findings import LesionMeasurement
from radcycle.errors import InputError
from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
from radcycle.pipeline.follow import FollowResult, review_new_lesions
from radcycle.pipeline.follow_guidelines import GuidelineContext, assess_scans
from radcycle.pipeline.follow_new import keep_candidate, review_tracks
from radcycle.pipeline.scans import LesionSeed, Scan

DATES = [date(2025, 1, 6), date(2025, 4, 7)]
UIDS = ["1.2.40.1", "1.2.40.2"]


def _obs(x: float, long: float, short: float, key: str = "") -> LesionMeasurement:
    return observed((x, 0.0, 0.0), long, short, long**3 / 2, key=key)


def _tracks():
    base = [_obs(0.0, 30.0, 20.0, "b1"), _obs(80.0, 15.0, 10.0, "b2")]
    after = [_obs(0.0, 29.0, 20.0, "f1"), _obs(80.0, 15.0, 10.0, "f2"), _obs(-60.0, 7.0, 6.0, "f3")]
    scans = [ScanLesions("1.1", tuple(base)), ScanLesions("1.2", tuple(after))]
    return track_lesions(scans, patient_key="P")


def _scans() -> list[Scan]:
    volume = Volume(np.zeros((2, 2, 2), dtype=np.int16), Geometry((0, 0, 0), (1, 1, 1)))
    return [
        Scan(volume, d, f"1.2.3.{i}", uid)
        for i, (d, uid) in enumerate(zip(DATES, UIDS, strict=True))
    ]


def test_recist_without_and_with_an_unconfirmed_new_lesion() -> None:
    tracks = _tracks()
    context = GuidelineContext(unconfirmed_new_lesions=("lesion 3",))
    _, recist = assess_scans(DATES, UIDS, tracks, context)
    (tp,) = recist["timepoints"]
    assert tp["category"] == "SD"
    assert tp["category_with_unconfirmed"] == "PD"
    assert tp["unconfirmed_new_lesion_ids"] == ["lesion 3"]
    assert recist["best_overall_response_with_unconfirmed"] == "PD"
    _, plain = assess_scans(DATES, UIDS, tracks, GuidelineContext())
    assert plain["timepoints"][0]["category"] == "PD"
    rejected = GuidelineContext(rejected_new_lesions=("lesion 3",))
    _, recist = assess_scans(DATES, UIDS, tracks, rejected)
    assert recist["timepoints"][0]["category_with_unconfirmed"] == "SD"


def _course() -> FollowResult:
    tracks = _tracks()
    seeds = {"f3": LesionSeed((-60.0, 0.0, 0.0), label="f3", method="detector", confidence=0.91)}
    course = FollowResult(
        scans=tuple(_scans()),
        registrations=(None, None),
        tracks=tuple(tracks),
        trajectories=(),
        assessments=(),
        recist={},
        proposals=seeds,
    )
    return review_new_lesions(course)


def test_a_detector_only_new_lesion_is_unconfirmed_with_its_evidence() -> None:
    course = _course()
    (review,) = course.new_lesions
    assert review.status == "unconfirmed"
    assert review.confidence == pytest.approx(0.91)
    assert "detector" in review.evidence
    assert "not found at its registered position" in review.evidence
    assert course.recist["timepoints"][0]["category"] == "SD"
    assert course.to_dict()["new_lesions"][0]["status"] == "unconfirmed"


def test_a_radiologist_settles_it() -> None:
    course = _course()
    confirmed = review_new_lesions(course, confirmed=["lesion 3"])
    assert confirmed.new_lesions[0].status == "confirmed"
    assert confirmed.recist["timepoints"][0]["category"] == "PD"
    rejected = review_new_lesions(confirmed, rejected=["lesion 3"])
    assert rejected.new_lesions[0].status == "rejected"
    assert rejected.recist["timepoints"][0]["category"] == "SD"
    assert rejected.recist["rejected_new_lesion_ids"] == ["lesion 3"]
    with pytest.raises(InputError, match="not a new lesion"):
        review_new_lesions(course, confirmed=["lesion 1"])
    with pytest.raises(InputError, match="both"):
        review_new_lesions(course, confirmed=["lesion 3"], rejected=["lesion 3"])


def test_a_new_lesion_a_reader_proposed_is_confirmed() -> None:
    tracks = _tracks()
    reviews = review_tracks(tracks, _scans(), {"f3": LesionSeed((-60.0, 0.0, 0.0), label="f3")})
    assert [r.status for r in reviews] == ["confirmed"]


def test_weak_candidates_are_kept_only_where_a_lesion_was() -> None:
    weak = LesionSeed((10.0, 0.0, 0.0), confidence=0.6)
    shift = np.eye(4)
    shift[:3, 3] = (10.0, 0.0, 0.0)  # the follow-up's frame is 10 mm along x
    assert keep_candidate(weak, shift, [(0.0, 0.0, 0.0)], 5.0)
    assert not keep_candidate(weak, np.eye(4), [(0.0, 0.0, 0.0)], 5.0)
    assert keep_candidate(replace(weak, confidence=0.95), np.eye(4), [], 5.0)
    assert keep_candidate(replace(weak, confidence=None), np.eye(4), [], 5.0)
