"""Analysis jobs: submission (server folder, DICOM upload, StudyInstanceUIDs on a PACS),
the background worker, and recovery after a restart.

* **Idempotent per set of studies.** A job's key is the SHA-256 of its sorted
  StudyInstanceUIDs; submitting the same studies again returns the same job
  (a failed one is queued again).
* **Survives a restart.** A job is claimed by an atomic ``UPDATE ... WHERE
  status = 'queued'``. Its outputs are built in ``cases/.job-<n>.partial`` and
  renamed to ``cases/job-<n>`` before the one transaction that creates the case
  commits. At start-up, :func:`recover` puts running jobs back in the queue and
  removes partial folders and folders no case refers to: a job killed at any
  moment is re-run cleanly and never makes two cases (``cases.job_id`` is unique).
* Progress: the pipeline's stage names, as a percentage, in the job row.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from radcycle.errors import InputError, RadcycleError
from radcycle.pipeline.analysis import AnalysisInputs, PatientAnalysis
from radcycle.pipeline.intake import study_key, study_uids
from radcycle.pipeline.review import draft, new_lesion_uids, run_analysis
from radcycle.service.gateways import GatewayRegistry
from radcycle.service.settings import ServiceSettings
from radcycle.store import audit
from radcycle.store.db import Store
from radcycle.store.models import Case, Job, Lesion, Patient, ReportVersion, Study

__all__ = ["STAGES", "Submitted", "Worker", "recover", "run_queued", "submit"]

log = logging.getLogger(__name__)

#: Pipeline stages and the progress (percent) reached when each starts.
STAGES = {
    "retrieve": 2,
    "record": 5,
    "read": 10,
    "follow": 30,
    "locate": 75,
    "report": 85,
    "write": 90,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Submitted:
    """A submission's job and whether it was new."""

    job_id: int
    created: bool
    status: str


def submit(
    store: Store,
    source_kind: str,
    source: dict[str, Any],
    uids: list[str],
    actor: tuple[int, str],
    priority: int = 0,
) -> Submitted:
    """Queue a job for ``uids`` (or return the job that has them)."""
    key = study_key(uids)
    with store.session() as session:
        job = session.scalar(select(Job).where(Job.study_key == key))
        if job is not None:
            if job.status == "failed":
                job.status, job.error, job.stage, job.progress = "queued", None, "", 0
                job.updated = _now()
                audit.append(session, actor[1], "job.requeue", f"job {job.id}")
            return Submitted(job.id, False, job.status)
        now = _now()
        job = Job(
            study_key=key,
            source_kind=source_kind,
            source=source,
            status="queued",
            stage="",
            progress=0,
            priority=priority,
            submitted_by=actor[0],
            created=now,
            updated=now,
        )
        session.add(job)
        session.flush()
        audit.append(session, actor[1], "job.submit", f"job {job.id}", {"source": source_kind})
        return Submitted(job.id, True, "queued")


def folder_uids(paths: list[Path]) -> list[str]:
    """The studies of a folder submission (refused when it holds no CT study)."""
    return study_uids(paths)


def recover(store: Store, settings: ServiceSettings) -> int:
    """Put jobs left running back in the queue; clear half-built case and signed folders.

    Returns:
        How many jobs were put back.
    """
    with store.session() as session:
        result = session.execute(
            update(Job).where(Job.status == "running").values(status="queued", stage="")
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        folders = [Path(f) for f in session.scalars(select(Case.folder))]
        known = {f.name for f in folders}
        signed = {
            Path(f) for f in session.scalars(select(ReportVersion.signed_folder)) if f is not None
        }
        if count:
            audit.append(session, "system", "job.recover", "jobs", {"requeued": count})
    for child in settings.cases.iterdir() if settings.cases.is_dir() else ():
        if child.name.startswith(".job-") or (
            child.name.startswith("job-") and child.name not in known
        ):
            shutil.rmtree(child, ignore_errors=True)
    for folder in folders:
        # A sign killed before its transaction committed leaves files no version owns.
        for child in folder.glob("signed-v*") if folder.is_dir() else ():
            if child not in signed:
                shutil.rmtree(child, ignore_errors=True)
    if count:
        log.info("%d job(s) left running were queued again", count)
    return count


class Worker:
    """Runs queued jobs one at a time in a background thread."""

    def __init__(self, store: Store, settings: ServiceSettings, gateways: GatewayRegistry) -> None:
        self.store = store
        self.settings = settings
        self.gateways = gateways
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="radcycle-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            job_id = self.claim()
            if job_id is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            self.run_job(job_id)

    def claim(self) -> int | None:
        with self.store.session() as session:
            job_id = session.scalar(
                select(Job.id)
                .where(Job.status == "queued")
                .order_by(Job.priority.desc(), Job.id)
                .limit(1)
            )
            if job_id is None:
                return None
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued")
                .values(status="running", attempts=Job.attempts + 1, updated=_now())
            )
            return job_id if getattr(claimed, "rowcount", 0) == 1 else None

    def _progress(self, job_id: int, stage: str) -> None:
        with self.store.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(stage=stage, progress=STAGES.get(stage, 0), updated=_now())
            )

    def _inputs(self, job_id: int, job: Job) -> AnalysisInputs:
        source = job.source
        if job.source_kind == "pacs":
            self._progress(job_id, "retrieve")
            dest = self.settings.data / "pacs" / f"job-{job_id}"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            gateway = self.gateways.for_url(source["url"])
            gateway.retrieve(source["url"], source["study_instance_uids"], dest)
            return AnalysisInputs((dest,))
        paths = tuple(Path(p) for p in source["paths"])
        fhir = Path(source["fhir"]) if source.get("fhir") else None
        return AnalysisInputs(paths, fhir)

    def run_job(self, job_id: int) -> None:
        with self.store.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            session.expunge(job)
        final = self.settings.cases / f"job-{job_id}"
        partial = self.settings.cases / f".job-{job_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            inputs = self._inputs(job_id, job)
            analysis, digest = run_analysis(inputs, partial, lambda s: self._progress(job_id, s))
            partial.rename(final)
            self._finish(job, analysis, final, digest)
        except (RadcycleError, OSError, ValueError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            self._fail(job_id, exc)
        except Exception as exc:  # the worker must outlive any one job
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            log.exception("job %d failed unexpectedly", job_id)
            self._fail(job_id, exc)

    def _fail(self, job_id: int, exc: BaseException) -> None:
        # The message goes to the job row (shown to its users), not to the log.
        log.warning("job %d failed (%s)", job_id, type(exc).__name__)
        with self.store.session() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="failed", error=str(exc)[:2000], updated=_now())
            )
            audit.append(session, "system", "job.fail", f"job {job_id}")

    def _finish(self, job: Job, analysis: PatientAnalysis, folder: Path, digest: str) -> None:
        report = draft(analysis, {}, _now().isoformat(timespec="seconds"))
        new = new_lesion_uids(analysis)
        with self.store.session() as session:
            patient = _patient(session, analysis.patient_id)
            for scan in analysis.follow.scans:
                if (
                    session.scalar(
                        select(Study.id).where(Study.study_instance_uid == scan.study_instance_uid)
                    )
                    is None
                ):
                    session.add(
                        Study(
                            study_instance_uid=scan.study_instance_uid,
                            patient_id=patient.id,
                            study_date=scan.exam_date.isoformat(),
                        )
                    )
            now = _now()
            case = Case(
                job_id=job.id,
                patient_id=patient.id,
                folder=str(folder),
                analysis_sha256=digest,
                status="draft",
                priority=job.priority,
                current_version=1,
                created=now,
                updated=now,
            )
            session.add(case)
            session.flush()
            for track in analysis.follow.tracks:
                session.add(
                    Lesion(
                        case_id=case.id,
                        tracking_uid=track.tracking_uid,
                        tracking_identifier=track.tracking_identifier,
                        first_timepoint=track.first_timepoint,
                        is_new=track.tracking_uid in new,
                        decision="pending",
                    )
                )
            session.add(
                ReportVersion(
                    case_id=case.id,
                    number=1,
                    status="draft",
                    document=report.to_dict(),
                    text=report.to_text(),
                    author_id=None,
                    created=now,
                )
            )
            session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(status="done", stage="done", progress=100, updated=now)
            )
            audit.append(session, "system", "case.create", f"case {case.id}", {"job": job.id})
        log.info("job %d done", job.id)


def run_queued(store: Store, settings: ServiceSettings, gateways: GatewayRegistry) -> int:
    """Run every queued job here and now (no server); how many ran."""
    worker = Worker(store, settings, gateways)
    count = 0
    while (job_id := worker.claim()) is not None:
        worker.run_job(job_id)
        count += 1
    return count


def _patient(session: Session, key: str) -> Patient:
    if not key:
        raise InputError("the studies carry no PatientID")
    patient = session.scalar(select(Patient).where(Patient.patient_key == key))
    if patient is None:
        patient = Patient(patient_key=key)
        session.add(patient)
        session.flush()
    return patient
