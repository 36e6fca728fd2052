"""Tracked lesions to guideline inputs: RECIST 1.1 Appendix I splits and merges, NE, new."""

from __future__ import annotations

from datetime import date

import pytest

from radcycle.domain.findings import LesionMeasurement, LesionStatus
from radcycle.longitudinal.tracking import ScanLesions, observed, track_lesions
from radcycle.pipeline.follow_guidelines import GuidelineContext, assess_scans, lesion_measurements

DATES = [date(2025, 1, 6), date(2025, 4, 7)]
UIDS = ["1.2.40.1", "1.2.40.2"]


def _obs(x: float, long: float, short: float, **kw) -> LesionMeasurement:
    return observed((x, 0.0, 0.0), long, short, long**3 / 2, **kw)


def _tracks(before: list[LesionMeasurement], after: list[LesionMeasurement]):
    scans = [ScanLesions("1.1", tuple(before)), ScanLesions("1.2", tuple(after))]
    return track_lesions(scans, patient_key="P")


def test_split_fragments_add_to_their_parent() -> None:
    tracks = _tracks([_obs(4.0, 22.0, 12.0)], [_obs(0.0, 10.0, 8.0), _obs(9.0, 8.0, 7.0)])
    (whole,) = lesion_measurements(tracks, 1, DATES[1])
    assert whole.lesion_id == "lesion 1"
    assert whole.long_axis_mm == pytest.approx(18.0)  # 10 + 8 (RECIST 1.1 Appendix I)
    assert whole.fragments == ("lesion 2",)


def test_merged_lesion_counts_zero_and_the_coalesced_one_carries_it() -> None:
    tracks = _tracks([_obs(0.0, 12.0, 9.0), _obs(9.0, 10.0, 8.0)], [_obs(4.0, 24.0, 12.0)])
    found = {m.lesion_id: m for m in lesion_measurements(tracks, 1, DATES[1])}
    assert found["lesion 1"].long_axis_mm == 24.0
    assert found["lesion 2"].status is LesionStatus.DISAPPEARED
    assessments, recist = assess_scans(DATES, UIDS, tracks, GuidelineContext())
    assert recist["baseline_sum_mm"] == pytest.approx(22.0)
    assert recist["timepoints"][0]["sum_mm"] == pytest.approx(24.0)
    assert recist["timepoints"][0]["category"] == "SD"
    assert assessments[1].recist is not None


def test_new_lesion_is_pd_and_missing_target_is_ne() -> None:
    base = [_obs(0.0, 30.0, 20.0), _obs(80.0, 15.0, 10.0)]
    new = _tracks(base, [*base, _obs(-60.0, 9.0, 7.0)])
    _, recist = assess_scans(DATES, UIDS, new, GuidelineContext())
    assert recist["timepoints"][0]["new_lesions"] is True
    assert recist["timepoints"][0]["category"] == "PD"
    missing = _tracks(base, base[:1])
    _, recist = assess_scans(DATES, UIDS, missing, GuidelineContext())
    assert recist["timepoints"][0]["category"] == "NE"


def test_lung_rads_uses_the_prior_of_the_same_nodule_and_fleischner_needs_age() -> None:
    nodule = dict(nodule_type="solid")
    # mean 5.5 mm -> 7.25 mm: growth > 1.5 mm, still < 8 mm
    tracks = _tracks([_obs(0.0, 6.0, 5.0, **nodule)], [_obs(0.0, 7.5, 7.0, **nodule)])
    assessments, _ = assess_scans(
        DATES, UIDS, tracks, GuidelineContext(), birth_date=date(1960, 5, 1)
    )
    first, second = assessments
    assert first.lung_rads is not None
    assert first.lung_rads.category == "2"
    assert second.lung_rads is not None
    assert second.lung_rads.category == "4A"  # growing < 8 mm
    assert "grow" in second.lung_rads.rule_fired
    assert first.fleischner is not None
    assert first.fleischner.category.startswith("single solid")
    no_age, _ = assess_scans(DATES, UIDS, tracks, GuidelineContext())
    assert no_age[0].fleischner is None


def test_equivocal_new_lesion_waits_and_dates_progression_back() -> None:
    base = [_obs(0.0, 30.0, 20.0)]
    scans = [
        ScanLesions("1.1", tuple(base)),
        ScanLesions("1.2", (*base, _obs(-60.0, 9.0, 7.0))),
        ScanLesions("1.3", (*base, _obs(-60.0, 14.0, 10.0))),
    ]
    tracks = track_lesions(scans, patient_key="P")
    dates = [*DATES, date(2025, 7, 7)]
    new_id = next(t.tracking_identifier for t in tracks if t.first_timepoint == 1)
    context = GuidelineContext(equivocal_new_lesions=((new_id, dates[1]),))
    _, recist = assess_scans(dates, [*UIDS, "1.2.40.3"], tracks, context)
    first, second = recist["timepoints"]
    assert first["category"] == "SD"
    assert first["equivocal_new_lesion_ids"] == [new_id]
    assert second["category"] == "PD"
    assert second["new_lesion_ids"] == [new_id]
    assert second["progression_dated_from"] == dates[1].isoformat()


def test_airway_nodule_from_context_and_fleischner_sees_the_prior() -> None:
    part = dict(nodule_type="part-solid", solid_component_mm=3.0)
    grown = dict(nodule_type="part-solid", solid_component_mm=5.0)
    tracks = _tracks([_obs(0.0, 10.0, 10.0, **part)], [_obs(0.0, 10.0, 10.0, **grown)])
    ident = tracks[0].tracking_identifier
    context = GuidelineContext(airway_nodules={ident: "segmental or more proximal"})
    assessments, _ = assess_scans(DATES, UIDS, tracks, context, birth_date=date(1960, 5, 1))
    first, second = assessments
    assert first.lung_rads is not None
    assert first.lung_rads.category == "4A"
    assert second.lung_rads is not None
    assert second.lung_rads.category == "4B"  # segmental airway nodule still there
    assert second.fleischner is not None
    assert "PET/CT, biopsy or resection" in second.fleischner.recommendation


def test_split_part_solid_nodule_keeps_its_solid_component_and_is_assessed() -> None:
    # Regression: the rebuilt parent lost its solid component, and Lung-RADS then
    # stopped the whole follow-up on a part-solid nodule without one.
    part_solid = dict(nodule_type="part-solid", solid_component_mm=6.0)
    tracks = _tracks(
        [_obs(4.0, 22.0, 12.0, **part_solid)],
        [_obs(0.0, 10.0, 8.0, **part_solid), _obs(9.0, 8.0, 7.0, **part_solid)],
    )
    (whole,) = lesion_measurements(tracks, 1, DATES[1])
    assert whole.long_axis_mm == pytest.approx(18.0)
    assert whole.solid_component_mm == pytest.approx(6.0)
    assert whole.nodule_type is not None
    assert whole.nodule_type.value == "part-solid"
    assessments, _ = assess_scans(DATES, UIDS, tracks, GuidelineContext())
    assert assessments[1].lung_rads is not None


def test_the_lesion_record_is_passed_on_with_its_provenance_unchanged() -> None:
    from radcycle.domain import AlgorithmRecord, ImageReference
    from radcycle.longitudinal.measurements import TRACKING_ALGORITHM, point_measurements

    image = ImageReference("1.2.3", "1.2.3.4", ("1.2.3.4.5",), modality="CT")
    algorithm = AlgorithmRecord("radcycle.click-to-segment", "1", {"method": "lung-nodule"})
    seen = _obs(0.0, 14.0, 10.0, image=image, algorithm=algorithm)
    tracks = _tracks([seen], [_obs(0.5, 12.0, 9.0)])
    (record,) = lesion_measurements(tracks, 0, DATES[0])
    assert record.image is image
    assert record.algorithm is algorithm
    assert (record.lesion_id, record.time_point) == ("lesion 1", DATES[0].isoformat())
    # the TID 1500 items cite the same image and algorithm
    items = point_measurements(tracks[0], 0, DATES[0])
    assert {m.image for m in items} == {image}
    assert {m.algorithm for m in items} == {algorithm}
    assert items[0].tracking_uid == record.tracking_uid
    # nothing proposed and no tracking outcome at all: tracking is cited, never prose
    gone = _tracks([seen], [])
    (missing,) = lesion_measurements(gone, 1, DATES[1])
    assert missing.status is LesionStatus.NOT_EVALUATED
    assert missing.algorithm == TRACKING_ALGORITHM
    assert missing.note


def test_lung_rads_is_given_per_nodule_with_its_tracking_uid() -> None:
    nodule = dict(nodule_type="solid")
    tracks = _tracks(
        [_obs(0.0, 6.0, 5.0, **nodule), _obs(60.0, 4.0, 3.0, **nodule)],
        [_obs(0.0, 7.5, 7.0, **nodule), _obs(60.0, 4.0, 3.0, **nodule)],
    )
    assessments, _ = assess_scans(DATES, UIDS, tracks, GuidelineContext())
    second = assessments[1]
    by_id = {n.lesion_id: n.category for n in second.lung_rads_nodules}
    assert by_id == {"lesion 1": "4A", "lesion 2": "2"}
    rows = second.to_dict()["lung_rads_nodules"]
    uids = {t.tracking_identifier: t.tracking_uid for t in tracks}
    assert {(r["tracking_identifier"], r["tracking_uid"]) for r in rows} == set(uids.items())


def test_lung_rads_is_not_applicable_with_a_known_lung_cancer() -> None:
    from radcycle.pipeline.analysis import guideline_context

    tracks = _tracks([_obs(0.0, 30.0, 25.0, nodule_type="solid")], [_obs(0.0, 32.0, 26.0)])
    record = {"diagnoses": [{"code": "254637007", "name": "Non-small cell lung cancer"}]}
    context = guideline_context(record)
    assert context.known_lung_cancer
    assessments, _ = assess_scans(DATES, UIDS, tracks, context)
    for a in assessments:
        assert a.lung_rads is not None
        assert a.lung_rads.category == "not applicable"
        assert not a.lung_rads.applicable
        assert "screening" in a.lung_rads.rule_fired
        assert a.lung_rads_nodules == ()
    other = guideline_context({"diagnoses": [{"code": "C50.9", "name": "Breast cancer"}]})
    assert not other.known_lung_cancer
    screened, _ = assess_scans(DATES, UIDS, tracks, other)
    assert screened[0].lung_rads is not None
    assert screened[0].lung_rads.category == "4B"
