"""De-identify a file or a folder tree in parallel, with an encrypted manifest.

Output layout (no original identifier in any name)::

    OUT/<pseudonymous PatientID>/<new StudyInstanceUID>/<new SeriesInstanceUID>/
        <new SOPInstanceUID>.dcm
    OUT/quarantine/<new SOPInstanceUID>.dcm and .reason.txt   (possible burned-in text)
    OUT/deid-summary.json   counts and output files with status (no original names)
    OUT/deid-manifest.enc   original path, UIDs and PatientID -> new ones, encrypted
                            with a key derived from the de-identification key (Fernet)
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pydicom
from cryptography.fernet import Fernet, InvalidToken
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from radcycle.errors import (
    DataFormatError,
    InputError,
    NotDicomError,
    PathNotFoundError,
    RadcycleError,
)
from radcycle.privacy.dicom_deid import deidentify_dataset
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.phi import lenient
from radcycle.privacy.profile import DeidOptions
from radcycle.privacy.writer import write_instance

__all__ = [
    "MANIFEST_NAME",
    "QUARANTINE_DIR",
    "SUMMARY_NAME",
    "BatchSummary",
    "FileRecord",
    "deidentify_file",
    "deidentify_tree",
    "iter_files",
    "read_dicom",
    "read_manifest",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "deid-manifest.enc"
SUMMARY_NAME = "deid-summary.json"
QUARANTINE_DIR = "quarantine"
# A DICOMDIR indexes the original file names; it is rebuilt after de-identification.
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"


@dataclass
class FileRecord:
    """The fate of one input file.

    Attributes:
        source: input path relative to the input root (kept only in the manifest).
        status: ``written``, ``quarantined``, ``skipped`` (not a DICOM instance) or
            ``failed`` (unreadable or unwritable).
        reason: why a file was quarantined, skipped or failed.
        output: output path relative to the output root.
        uid_map: original UID -> new UID.
        patient_id: original patient identifier; ``pseudonym`` its replacement.
    """

    source: str
    status: str
    reason: str = ""
    output: str = ""
    uid_map: dict[str, str] = field(default_factory=dict)
    patient_id: str = ""
    pseudonym: str = ""
    staged: str = ""


@dataclass
class BatchSummary:
    """All file records of a run and the counts by status."""

    records: list[FileRecord]

    def count(self, status: str) -> int:
        """How many files ended with ``status``."""
        return sum(1 for r in self.records if r.status == status)


def iter_files(root: Path) -> Iterator[Path]:
    """``root`` itself if it is a file, else every file below it in sorted order."""
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        raise PathNotFoundError("input not found", path=root)
    yield from sorted(p for p in root.rglob("*") if p.is_file())


def read_dicom(path: Path) -> Dataset:
    """Read a DICOM instance leniently (files without preamble included).

    Raises:
        NotDicomError: not DICOM, or a fragment without SOP Class/Instance UID.
        InputError: a DICOM file that cannot be parsed (truncated, corrupt).
    """
    with lenient():  # real-world files: invalid values are read as they are
        ds = _dcmread(path)
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
        raise NotDicomError("not a DICOM instance (no SOP Class/Instance UID)", path=path)
    if str(ds.SOPClassUID) == _MEDIA_DIRECTORY:
        raise NotDicomError("DICOMDIR is not copied (it names the original files)", path=path)
    return ds


def _dcmread(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        try:
            return pydicom.dcmread(path, force=True)
        except Exception as exc:  # pydicom raises many types on garbage input
            raise NotDicomError("not a DICOM file", path=path) from exc
    except Exception as exc:
        raise InputError(f"unreadable DICOM file ({type(exc).__name__}: {exc})", path=path) from exc


def _output_path(ds: Dataset, quarantined: bool) -> Path:
    name = f"{ds.SOPInstanceUID}.dcm"
    if quarantined:
        return Path(QUARANTINE_DIR) / name
    study = str(ds.get("StudyInstanceUID", "") or "no-study")
    series = str(ds.get("SeriesInstanceUID", "") or "no-series")
    return Path(str(ds.PatientID) or "no-patient") / study / series / name


def _make_dir(folder: Path) -> None:
    """Create ``folder`` if needed (one stat for the many files of a series)."""
    if not os.path.isdir(folder):
        folder.mkdir(parents=True, exist_ok=True)


def deidentify_file(
    source: Path, root: Path, out: Path, key: DeidKey, options: DeidOptions
) -> FileRecord:
    """De-identify one file into ``out``; never raises for bad input (see the record).

    Args:
        source: the input file.
        root: the input root (``source`` is recorded relative to it).
        out: the output root.
        key: the de-identification key.
        options: the Annex E options.
    """
    relative = source.name if source == root else str(source.relative_to(root))
    record = FileRecord(source=relative, status="failed")
    try:
        with lenient():
            ds = read_dicom(source)
            result = deidentify_dataset(ds, key, options)
            target = _output_path(result.dataset, result.quarantine_reason is not None)
            # Staged under a keyed token of the source path: two inputs holding the same
            # instance (e.g. one image in two transfer syntaxes) never overwrite each other.
            staged = target.with_name(f"{target.stem}.{key.token('source', relative)}.part")
            _make_dir((out / staged).parent)
            write_instance(result.dataset, out / staged)
        record.status = "quarantined" if result.quarantine_reason else "written"
        record.reason = result.quarantine_reason or ""
        record.output, record.staged = str(target), str(staged)
        record.uid_map = result.uid_map
        record.patient_id, record.pseudonym = result.patient_id, result.pseudonym
    except NotDicomError as exc:
        record.status, record.reason = "skipped", exc.message
    except RadcycleError as exc:
        record.reason = exc.message
    except Exception as exc:  # one broken file must not stop a batch of thousands
        logger.warning("failed on %s: %s", source, exc)
        record.reason = f"{type(exc).__name__}: {exc}"
    return record


def _finalize(out: Path, records: list[FileRecord], key: DeidKey) -> None:
    """Move staged files to their names; same-named outputs get a keyed suffix each.

    The suffix depends only on the key and the source path, so names do not depend
    on which worker finished first (same key, same input: same output tree).
    """
    by_name: dict[str, list[FileRecord]] = {}
    for record in records:
        if record.staged:
            by_name.setdefault(record.output, []).append(record)
    for name, group in by_name.items():
        for record in group:
            target = Path(name)
            if len(group) > 1:
                target = target.with_name(f"{target.stem}-{key.token('source', record.source)}.dcm")
            (out / record.staged).replace(out / target)
            record.output, record.staged = str(target), ""
            if record.reason and record.status == "quarantined":
                (out / target).with_suffix(".reason.txt").write_text(
                    record.reason + "\n", encoding="utf-8"
                )


def deidentify_tree(
    source: Path,
    out: Path,
    key: DeidKey,
    options: DeidOptions,
    *,
    workers: int = 2,
    progress: Callable[[FileRecord], None] | None = None,
) -> BatchSummary:
    """De-identify every file of ``source`` (a file or folder) into ``out``.

    Files are processed by ``workers`` processes; ``progress`` is called once per
    file, in input order. The summary and the encrypted manifest are written last.
    """
    files = list(iter_files(source))
    out.mkdir(parents=True, exist_ok=True)
    job = functools.partial(deidentify_file, root=source, out=out, key=key, options=options)
    records: list[FileRecord] = []
    if workers <= 1:
        results: Iterator[FileRecord] = map(job, files)
        for record in results:
            records.append(record)
            if progress:
                progress(record)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for record in pool.map(
                job, files, chunksize=max(1, min(64, len(files) // (workers * 8) or 1))
            ):
                records.append(record)
                if progress:
                    progress(record)
    _finalize(out, records, key)
    summary = BatchSummary(records)
    _write_summary(out, summary)
    _write_manifest(out, key, summary)
    return summary


def _write_summary(out: Path, summary: BatchSummary) -> None:
    counts = {s: summary.count(s) for s in ("written", "quarantined", "skipped", "failed")}
    outputs = [
        {"output": r.output, "status": r.status, "reason": r.reason}
        for r in summary.records
        if r.output
    ]
    text = json.dumps({"counts": counts, "outputs": outputs}, indent=2, sort_keys=True)
    (out / SUMMARY_NAME).write_text(text + "\n", encoding="utf-8")


def _write_manifest(out: Path, key: DeidKey, summary: BatchSummary) -> None:
    payload = json.dumps([asdict(r) for r in summary.records], sort_keys=True).encode()
    token = Fernet(key.fernet_key()).encrypt(payload)
    (out / MANIFEST_NAME).write_bytes(token)


def read_manifest(out: Path, key: DeidKey) -> list[FileRecord]:
    """Decrypt the manifest of a run: only the holder of the key can re-link.

    Raises:
        PathNotFoundError: no manifest in ``out``.
        DataFormatError: wrong key, or the manifest was altered.
    """
    path = out / MANIFEST_NAME
    if not path.is_file():
        raise PathNotFoundError("no de-identification manifest", path=path)
    try:
        payload = Fernet(key.fernet_key()).decrypt(path.read_bytes())
    except InvalidToken as exc:
        raise DataFormatError(
            "manifest does not open with this key (or was altered)", path=path
        ) from exc
    return [FileRecord(**item) for item in json.loads(payload)]
