"""What a PACS offers radcycle, whichever protocol speaks to it: :class:`PacsGateway`.

The service, the CLI and the listener talk to a PACS only through this protocol, in
plain data: a :class:`StudyQuery` in, :class:`StudyMatch` records out; a study
retrieved into a folder (:class:`RetrievedStudy`); files stored and then checked to
be there (:class:`StoreOutcome`, :class:`Verification`). Two implementations:
:class:`radcycle.pacs.dicomweb.DicomWebGateway` (QIDO-RS, WADO-RS, STOW-RS) and
:class:`radcycle.pacs.dimse.DimseGateway` (C-ECHO, C-FIND, C-GET or C-MOVE,
C-STORE). :func:`open_gateway` picks one from a URL.

Example:
    >>> q = StudyQuery(patient_id="PAT-1", study_date="20240101-20241231")
    >>> q.as_dicom_keys()["StudyDate"]
    '20240101-20241231'
    >>> StudyQuery(study_date="2024-01-01")
    Traceback (most recent call last):
    ...
    radcycle.errors.InputError: study date must be YYYYMMDD or a range ... [value '2024-01-01']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError, NotDicomError, PathNotFoundError

__all__ = [
    "InstanceRef",
    "LocalInstance",
    "PacsGateway",
    "RetrievedStudy",
    "StoreOutcome",
    "StudyMatch",
    "StudyQuery",
    "Verification",
    "collect_instances",
    "instance_file_name",
    "open_gateway",
]

# PS3.5 6.2 DA: YYYYMMDD; PS3.4 C.2.2.2.5: a range is two dates joined by "-", either open.
_DATE_RANGE_RE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")


@dataclass(frozen=True)
class StudyQuery:
    """Study-level matching keys (PS3.4 C.6.2.1.2 / PS3.18 10.6): ``None`` matches all.

    Args:
        patient_id: PatientID, exact.
        study_instance_uid: StudyInstanceUID, exact.
        accession_number: AccessionNumber, exact.
        study_date: StudyDate, ``YYYYMMDD`` or a range ``YYYYMMDD-YYYYMMDD``.
        modality: one of ModalitiesInStudy (``CT``, ``SR``...).
        limit: the most matches wanted (DICOMweb ``limit``; DIMSE stops reading).
    """

    patient_id: str | None = None
    study_instance_uid: str | None = None
    accession_number: str | None = None
    study_date: str | None = None
    modality: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.study_instance_uid is not None:
            validate_uid(self.study_instance_uid, "StudyInstanceUID")
        if self.study_date is not None and (
            not self.study_date or not _DATE_RANGE_RE.match(self.study_date)
        ):
            raise InputError(
                "study date must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD", value=self.study_date
            )
        if self.limit is not None and self.limit < 1:
            raise InputError("limit must be at least 1", value=self.limit)

    def as_dicom_keys(self) -> dict[str, str]:
        """The matching keys that are set, by DICOM keyword."""
        keys = {
            "PatientID": self.patient_id,
            "StudyInstanceUID": self.study_instance_uid,
            "AccessionNumber": self.accession_number,
            "StudyDate": self.study_date,
            "ModalitiesInStudy": self.modality,
        }
        return {k: v for k, v in keys.items() if v is not None}


#: The study attributes every match reports (the return keys of a study query).
STUDY_RETURN_KEYS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)


@dataclass(frozen=True)
class StudyMatch:
    """One study the PACS holds, as its query answered."""

    study_instance_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    study_time: str = ""
    accession_number: str = ""
    description: str = ""
    modalities: tuple[str, ...] = ()
    series: int | None = None
    instances: int | None = None

    @classmethod
    def from_keywords(cls, values: dict[str, Any]) -> StudyMatch:
        """A match from keyword -> value (multi-valued as lists), as both protocols give."""

        def text(key: str) -> str:
            value = values.get(key)
            return "" if value is None else str(value)

        def number(key: str) -> int | None:
            value = values.get(key)
            try:
                return None if value in (None, "") else int(str(value))
            except ValueError:
                return None

        modalities = values.get("ModalitiesInStudy") or ()
        if isinstance(modalities, str):
            modalities = modalities.split("\\")
        return cls(
            study_instance_uid=text("StudyInstanceUID"),
            patient_id=text("PatientID"),
            patient_name=text("PatientName"),
            study_date=text("StudyDate"),
            study_time=text("StudyTime"),
            accession_number=text("AccessionNumber"),
            description=text("StudyDescription"),
            modalities=tuple(str(m) for m in modalities if m),
            series=number("NumberOfStudyRelatedSeries"),
            instances=number("NumberOfStudyRelatedInstances"),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (what ``radcycle pacs find --json`` prints)."""
        return {
            "study_instance_uid": self.study_instance_uid,
            "patient_id": self.patient_id,
            "patient_name": self.patient_name,
            "study_date": self.study_date,
            "study_time": self.study_time,
            "accession_number": self.accession_number,
            "description": self.description,
            "modalities": list(self.modalities),
            "series": self.series,
            "instances": self.instances,
        }


@dataclass(frozen=True)
class InstanceRef:
    """Where one SOP instance sits: study, series, instance UIDs and its SOP class."""

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    sop_class_uid: str = ""


@dataclass(frozen=True)
class LocalInstance:
    """A DICOM file on disk to store, with the identity read from its header."""

    path: Path
    ref: InstanceRef
    transfer_syntax_uid: str


@dataclass(frozen=True)
class RetrievedStudy:
    """A study written into a folder, one ``<SOPInstanceUID>.dcm`` per instance."""

    study_instance_uid: str
    folder: Path
    files: tuple[Path, ...]
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "study_instance_uid": self.study_instance_uid,
            "folder": str(self.folder),
            "instances": len(self.files),
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class StoreOutcome:
    """What a store request did: the instances the PACS accepted and those it refused."""

    stored: tuple[InstanceRef, ...] = ()
    failed: tuple[tuple[InstanceRef, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "stored": [r.sop_instance_uid for r in self.stored],
            "failed": [
                {"sop_instance_uid": r.sop_instance_uid, "reason": w} for r, w in self.failed
            ],
        }


@dataclass(frozen=True)
class Verification:
    """Instances asked for, split into those the PACS lists and those it does not."""

    present: tuple[InstanceRef, ...] = ()
    missing: tuple[InstanceRef, ...] = ()

    @property
    def ok(self) -> bool:
        """Every instance asked for is on the PACS."""
        return not self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "present": [r.sop_instance_uid for r in self.present],
            "missing": [r.sop_instance_uid for r in self.missing],
        }


@runtime_checkable
class PacsGateway(Protocol):
    """A PACS, whichever protocol reaches it. Every call raises ``PacsError`` on failure.

    * ``echo()``: check the PACS answers; the round trip in seconds.
    * ``find_studies(query)``: the studies matching ``query``.
    * ``find_instances(study_instance_uid)``: the SOP instances of one study.
    * ``retrieve(study_instance_uid, dest_dir)``: write the study into ``dest_dir``
      (created if missing), one ``<SOPInstanceUID>.dcm`` each, byte for byte as
      the PACS sent them; an existing file is never replaced.
    * ``store(files)``: send DICOM files (read by :func:`collect_instances`).
    * ``verify_stored(refs)``: which of ``refs`` the PACS now lists (query after store).
    """

    description: str

    def echo(self) -> float: ...

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]: ...

    def find_instances(self, study_instance_uid: str) -> list[InstanceRef]: ...

    def retrieve(self, study_instance_uid: str, dest_dir: Path) -> RetrievedStudy: ...

    def store(self, files: Sequence[LocalInstance]) -> StoreOutcome: ...

    def verify_stored(self, refs: Iterable[InstanceRef]) -> Verification: ...

    def close(self) -> None: ...


def verify_by_query(gateway: PacsGateway, refs: Iterable[InstanceRef]) -> Verification:
    """Query each study's instances and split ``refs`` into present and missing."""
    wanted = list(refs)
    on_pacs: set[str] = set()
    for study in dict.fromkeys(r.study_instance_uid for r in wanted):
        on_pacs |= {r.sop_instance_uid for r in gateway.find_instances(study)}
    present = tuple(r for r in wanted if r.sop_instance_uid in on_pacs)
    missing = tuple(r for r in wanted if r.sop_instance_uid not in on_pacs)
    return Verification(present, missing)


def instance_file_name(sop_instance_uid: str) -> str:
    """The file name of a received instance, once its UID is checked to be a UID.

    Example:
        >>> instance_file_name("1.2.3.4")
        '1.2.3.4.dcm'
        >>> instance_file_name("../../etc/passwd")
        Traceback (most recent call last):
        ...
        radcycle.errors.InputError: SOPInstanceUID is not a valid DICOM UID [value '../...']
    """
    return f"{validate_uid(sop_instance_uid, 'SOPInstanceUID')}.dcm"


def _read_identity(path: Path) -> LocalInstance:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise NotDicomError(f"not a DICOM file ({exc})", path=path) from exc
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    values = {}
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        value = str(ds.get(key, "") or "")
        if not value:
            raise NotDicomError(f"the file has no {key}; it cannot be stored", path=path)
        values[key] = validate_uid(value, key) if key != "SOPClassUID" else value
    if not syntax:
        raise NotDicomError("the file has no file meta TransferSyntaxUID", path=path)
    ref = InstanceRef(
        values["StudyInstanceUID"],
        values["SeriesInstanceUID"],
        values["SOPInstanceUID"],
        values["SOPClassUID"],
    )
    return LocalInstance(path, ref, syntax)


def _iter_paths(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    for path in paths:
        if not path.exists():
            raise PathNotFoundError("no such file or folder", path=path)
        if path.is_dir():
            for dirpath, dirnames, filenames in _walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        yield Path(dirpath) / name, False
        else:
            yield path, True


def _walk(path: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    import os

    yield from os.walk(path, followlinks=False)


@dataclass
class Collected:
    """DICOM files found to store, and the files of folders skipped (with why)."""

    instances: list[LocalInstance] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def collect_instances(paths: Iterable[Path]) -> Collected:
    """The DICOM files of ``paths`` (files, or folders walked, hidden names left out).

    A file named directly must be DICOM with its UIDs, else ``NotDicomError``; a
    file found in a folder that is not is skipped, with the reason.

    Raises:
        PathNotFoundError: a path that does not exist.
        NotDicomError: a file named directly that cannot be stored.
    """
    found = Collected()
    seen: set[str] = set()
    for path, named in _iter_paths(paths):
        try:
            instance = _read_identity(path)
        except (NotDicomError, InputError) as exc:
            if named:
                raise
            found.skipped.append((path, exc.message))
            continue
        if instance.ref.sop_instance_uid in seen:
            found.skipped.append((path, "the same SOPInstanceUID as an earlier file"))
            continue
        seen.add(instance.ref.sop_instance_uid)
        found.instances.append(instance)
    return found


def open_gateway(
    url: str, *, username: str | None = None, password: str | None = None, **options: Any
) -> PacsGateway:
    """A gateway for ``url``: ``http(s)://host:port/dicom-web`` or ``dicom://AET@host:port``.

    ``options`` go to the DIMSE settings (``calling_aet``, ``retrieve_method``,
    ``move_port``, ``timeout``) or, for DICOMweb, ``timeout``.

    Raises:
        InputError: a URL of another scheme.
    """
    if url.startswith(("http://", "https://")):
        from radcycle.pacs.dicomweb import DicomWebGateway

        return DicomWebGateway.from_url(url, username=username, password=password, **options)
    if url.startswith("dicom://"):
        from radcycle.pacs.dimse import DimseGateway

        return DimseGateway.from_url(url, **options)
    raise InputError(
        "a PACS is http(s)://host:port/dicom-web (DICOMweb) or dicom://AET@host:port (DIMSE)",
        value=url,
    )
