"""One patient, end to end: studies, record and prior reports -> tracked, assessed lesions.

:func:`analyze_patient` is what ``radcycle analyze`` runs:

1. every input (folders, files, PACS exports of mixed series) is scanned; per
   study, the CT series with the most slices is the one read (the others are
   listed as skipped);
2. the studies are followed over time (:func:`~radcycle.pipeline.follow.follow_patient`):
   lesions proposed by the detector, or the user's clicks on the earliest study;
3. each tracked lesion becomes a :class:`~radcycle.domain.Lesion` with its
   :class:`~radcycle.domain.Measurement` records, located in the lungs (side, lobe);
4. the FHIR record and prior reports are read for the report's clinical part.

Each stage's wall time is kept in :attr:`PatientAnalysis.timings`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from radcycle.clinical.fhir import parse_bundle
from radcycle.clinical.nlp.miner import MinedReport
from radcycle.clinical.summary import mine_document, record_summary
from radcycle.domain import Lesion
from radcycle.errors import DataFormatError, InputError, RadcycleError, SeriesError
from radcycle.imaging.lungs import segment_lungs
from radcycle.io.dicom.scan import scan_path
from radcycle.io.dicom.series import Stack, load_stack
from radcycle.longitudinal.trajectories import Trajectory
from radcycle.pipeline.follow import (
    FollowResult,
    FollowSettings,
    LesionSeed,
    Scan,
    detector_finder,
    follow_patient,
    scan_from_volume,
)
from radcycle.pipeline.follow_guidelines import GuidelineContext

__all__ = [
    "AnalysisInputs",
    "PatientAnalysis",
    "PriorReport",
    "analyze_patient",
    "guideline_context",
    "read_prior_report",
    "read_record",
    "read_studies",
]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
_LUNG_SIDES = {"left": "left", "right": "right"}


@dataclass(frozen=True)
class AnalysisInputs:
    """What one analysis reads.

    Args:
        studies: folders or files holding the patient's studies (any order).
        fhir: the patient's FHIR R4 bundle, if any.
        prior_reports: earlier reports (plain text or Open-i XML).
        lesions: lesions clicked on the earliest study; none: the detector runs.
        exam_date: the date of a study whose headers have no StudyDate (never guessed).
        confirmed_new: new lesions (TrackingIdentifiers) a radiologist confirmed.
        rejected_new: new lesions a radiologist rejected (left out of the response).
        settings: follow-up settings; None: defaults, with the guideline context
            (immunotherapy, known cancer) read from the FHIR record.
    """

    studies: tuple[Path, ...]
    fhir: Path | None = None
    prior_reports: tuple[Path, ...] = ()
    lesions: tuple[LesionSeed, ...] = ()
    settings: FollowSettings | None = None
    exam_date: date | None = None
    confirmed_new: tuple[str, ...] = ()
    rejected_new: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriorReport:
    """A prior report and what was mined from it."""

    path: str
    mined: MinedReport


@dataclass(frozen=True)
class PatientAnalysis:
    """Everything the report is built from."""

    follow: FollowResult
    lesions: tuple[Lesion, ...]
    record: dict[str, Any] | None
    priors: tuple[PriorReport, ...]
    skipped_series: tuple[str, ...]
    timings: dict[str, float]

    @property
    def patient_id(self) -> str:
        return self.follow.scans[0].patient_id


@contextmanager
def _timed(timings: dict[str, float], stage: str, progress: Progress | None) -> Iterator[None]:
    if progress is not None:
        progress(stage)
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)


def _main_ct(stacks: Sequence[Stack]) -> tuple[dict[str, Stack], list[str]]:
    best: dict[str, Stack] = {}
    for stack in stacks:
        if stack.header.modality != "CT":
            continue
        held = best.get(stack.study_instance_uid)
        if held is None or stack.n_slices > held.n_slices:
            best[stack.study_instance_uid] = stack
    chosen = {id(s) for s in best.values()}
    skipped = [
        f"{s.series_instance_uid} ({s.header.modality}, {s.n_slices} slices)"
        for s in stacks
        if id(s) not in chosen
    ]
    return best, skipped


def read_studies(
    paths: Sequence[Path], exam_date: date | None = None
) -> tuple[list[Scan], list[str]]:
    """Read the main CT series of every study found under ``paths``.

    ``exam_date`` is used only for a study whose headers carry no StudyDate.

    Returns:
        The scans (one per study) and the series skipped, in words.

    Raises:
        SeriesError: no CT image series anywhere under the inputs.
    """
    stacks: list[Stack] = []
    for path in paths:
        stacks.extend(scan_path(path).stacks)
    best, skipped = _main_ct(stacks)
    if not best:
        where = ", ".join(str(p) for p in paths)
        raise SeriesError("no CT image series found", path=where)
    scans = []
    for stack in best.values():
        volume = load_stack(stack)
        acq = volume.acquisition
        given = exam_date if acq is None or acq.study_date is None else None
        scans.append(scan_from_volume(volume, given))
    return scans, skipped


def read_prior_report(path: Path) -> PriorReport:
    """Read and mine one prior report.

    Raises:
        DataFormatError: the file is binary or not UTF-8 text.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the prior report: {exc.strerror}", path=path) from exc
    if b"\x00" in data[:4096]:
        raise DataFormatError("the prior report is a binary file, not text", path=path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"the prior report is not UTF-8 text (byte {exc.start})", path=path
        ) from exc
    return PriorReport(str(path), mine_document(data, source=str(path)))


def read_record(path: Path) -> dict[str, Any]:
    """The timeline summary of a FHIR bundle (``radcycle record``).

    Raises:
        DataFormatError: the bundle does not parse.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the FHIR bundle: {exc.strerror}", path=path) from exc
    return record_summary(parse_bundle(data, source=str(path)))


# A lung cancer in the record: ICD-10 C34 (malignant neoplasm of bronchus and lung),
# SNOMED CT 254637007 (non-small cell lung cancer), 254632001 (small cell carcinoma
# of lung), 363358000 (malignant tumour of lung), 93880001 (primary malignant
# neoplasm of lung), or the words.
_LUNG_CANCER_CODES = ("254637007", "254632001", "363358000", "93880001")
_LUNG_CANCER_WORDS = re.compile(
    r"\b(n?sclc|(?:lung|bronch\w*|pulmonary)\b.*\b(?:cancer|carcinoma|malignan\w*|neoplasm)"
    r"|(?:cancer|carcinoma|malignan\w*|neoplasm)\b.*\b(?:lung|bronch\w*|pulmonary))",
    re.I,
)


def known_lung_cancer(record: dict[str, Any] | None) -> str | None:
    """The record's lung cancer diagnosis (its name), or None.

    Example:
        >>> known_lung_cancer({"diagnoses": [{"code": "C34.1", "name": "Lung cancer"}]})
        'Lung cancer'
        >>> known_lung_cancer({"diagnoses": [{"code": "C50.9", "name": "Breast cancer"}]}) is None
        True
    """
    for dx in (record or {}).get("diagnoses") or ():
        code = str(dx.get("code") or "").upper()
        name = str(dx.get("name") or "")
        if code.startswith("C34") or code in _LUNG_CANCER_CODES or _LUNG_CANCER_WORDS.search(name):
            return name or code
    return None


def guideline_context(record: dict[str, Any] | None) -> GuidelineContext:
    """Immunotherapy and known cancer as the record shows them (never assumed)."""
    if record is None:
        return GuidelineContext()
    lines = [line for line in record.get("lines_of_therapy") or () if line]
    return GuidelineContext(
        immunotherapy=any(line.get("immunotherapy") for line in lines),
        known_cancer=bool(record.get("diagnoses")),
        known_lung_cancer=known_lung_cancer(record) is not None,
    )


def _location(
    traj: Trajectory, scans: Sequence[Scan], cache: dict[int, Any]
) -> tuple[str | None, str | None]:
    if traj.organ.lower() != "lung" or traj.is_lymph_node:
        return None, None
    first = next((p for p in traj.points if p.centre_mm is not None), None)
    if first is None:
        return None, None
    t = first.timepoint
    if t not in cache:
        try:
            cache[t] = segment_lungs(scans[t].volume)
        except RadcycleError as exc:
            log.warning("lungs not segmented on %s: %s", scans[t].exam_date, exc)
            cache[t] = None
    model = cache[t]
    if model is None or first.centre_mm is None:
        return None, None
    radius = (first.long_axis_mm or 0.0) / 2.0
    where = model.locate(first.centre_mm, radius)
    lobe = where.lobe if where.lobe != "unknown" else None
    return _LUNG_SIDES.get(where.side), lobe


def _lesions(result: FollowResult) -> tuple[Lesion, ...]:
    cache: dict[int, Any] = {}
    out = []
    for traj in result.trajectories:
        side, lobe = _location(traj, result.scans, cache)
        kind = "lymph node" if traj.is_lymph_node else traj.nodule_type
        out.append(
            Lesion(
                traj.tracking_identifier,
                traj.tracking_uid,
                organ=traj.organ or "unknown",
                laterality=side,
                lobe=lobe,
                kind=kind,
                measurements=traj.measurements,
            )
        )
    return tuple(out)


def analyze_patient(inputs: AnalysisInputs, progress: Progress | None = None) -> PatientAnalysis:
    """Run the whole analysis for one patient (see the module docstring).

    Args:
        inputs: studies, record, prior reports, clicks, settings.
        progress: called with the name of each stage as it starts.

    Raises:
        SeriesError: no CT series in the inputs.
        DataFormatError: a FHIR bundle that does not parse, a binary prior report.
    """
    timings: dict[str, float] = {}
    record, priors = None, []
    with _timed(timings, "record", progress):
        if inputs.fhir is not None:
            record = read_record(inputs.fhir)
        priors = [read_prior_report(p) for p in inputs.prior_reports]
    with _timed(timings, "read", progress):
        scans, skipped = read_studies(inputs.studies, inputs.exam_date)
    seeds = inputs.lesions
    earliest = min(scans, key=lambda s: s.exam_date).study_instance_uid

    def clicked(scan: Scan) -> list[LesionSeed]:
        return list(seeds) if scan.study_instance_uid == earliest else []

    settings = inputs.settings or FollowSettings(guidelines=guideline_context(record))
    if inputs.confirmed_new or inputs.rejected_new:
        settings = replace(
            settings, confirmed_new=inputs.confirmed_new, rejected_new=inputs.rejected_new
        )
    with _timed(timings, "follow", progress):
        finder = clicked if seeds else detector_finder()
        result = follow_patient(scans, finder, settings)
    with _timed(timings, "locate", progress):
        lesions = _lesions(result)
    return PatientAnalysis(result, lesions, record, tuple(priors), tuple(skipped), timings)
