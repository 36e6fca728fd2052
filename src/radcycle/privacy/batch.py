"""De-identify a file or a folder tree in parallel, with an encrypted manifest.

Output layout (no original identifier in any name)::

    OUT/<pseudonymous PatientID>/<new StudyInstanceUID>/<new SeriesInstanceUID>/
        <new SOPInstanceUID>.dcm
    OUT/quarantine/<new SOPInstanceUID>.dcm and .reason.txt   (possible burned-in text)
    OUT/deid-summary.json   every run's counts and failures by reason, and the output
                            files with status (no original names)
    OUT/deid-manifest.enc   per run: original path, UIDs and PatientID -> new ones,
                            encrypted with a key derived from the de-identification key

A run holds the folder's lock (``radcycle.io.folder_lock``), writes the marker of an
unfinished run first and removes it last (``radcycle.privacy.run_marker``). Each
file is written under a ``.part`` name and renamed at the end; an output of an
earlier run is kept when the new file has the same bytes, and replaced only with
``force``. Names are checked before any use: UIDs must be digits and dots (at most
64 characters), and every path must stay inside OUT once resolved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import filecmp
import functools
import logging
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from radcycle.errors import (
    InputError,
    NotDicomError,
    PathNotFoundError,
    RadcycleError,
    TruncatedFileError,
)
from radcycle.io.dicom.completeness import pixel_data_problem
from radcycle.io.folder_lock import FolderLock
from radcycle.io.output import TEMP_PREFIX, OutputFolder, OutputRules
from radcycle.privacy.dicom_deid import deidentify_dataset
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.manifest import (
    MANIFEST_NAME,
    SUMMARY_NAME,
    BatchSummary,
    FileRecord,
    check_manifest_key,
    read_manifest,
    record_run,
)
from radcycle.privacy.phi import lenient
from radcycle.privacy.profile import DeidOptions
from radcycle.privacy.run_marker import MARKER_NAME, marker_document, unfinished_deid_run
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
    "valid_uid",
]

logger = logging.getLogger(__name__)

QUARANTINE_DIR = "quarantine"
# A DICOMDIR indexes the original file names; it is rebuilt after de-identification.
_MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"
# PS3.5 9.1: a UID is digits and dots, at most 64 characters; its components are
# never empty. Checked before a UID becomes a file or folder name.
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PART = ".part"


def valid_uid(value: str) -> bool:
    """Whether ``value`` is a UID that is safe as a file name (digits and dots, <= 64).

    Example:
        >>> valid_uid("1.2.840.10008"), valid_uid("../../etc"), valid_uid("/tmp/x")
        (True, False, False)
    """
    return len(value) <= 64 and _UID.fullmatch(value) is not None


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


def _uid_name(ds: Dataset, keyword: str, missing: str) -> str:
    value = str(ds.get(keyword, "") or "").strip()
    if not value:
        return missing
    if not valid_uid(value):
        raise InputError(
            f"{keyword} is not a valid UID (digits and dots, at most 64 characters); "
            "it cannot name an output file"
        )
    return value


def _output_path(ds: Dataset, quarantined: bool) -> Path:
    name = f"{_uid_name(ds, 'SOPInstanceUID', '')}.dcm"
    if name == ".dcm":
        raise InputError("no SOPInstanceUID to name the output file")
    if quarantined:
        return Path(QUARANTINE_DIR) / name
    study = _uid_name(ds, "StudyInstanceUID", "no-study")
    series = _uid_name(ds, "SeriesInstanceUID", "no-series")
    patient = str(ds.get("PatientID", "") or "").strip() or "no-patient"
    if not _NAME.fullmatch(patient):
        raise InputError("PatientID cannot name an output folder (letters, digits, . _ -)")
    return Path(patient) / study / series / name


def _make_dir(folder: Path) -> None:
    """Create ``folder`` if needed (one stat for the many files of a series)."""
    if not os.path.isdir(folder):
        folder.mkdir(parents=True, exist_ok=True)


def _relative(source: Path, root: Path) -> str:
    return source.name if source == root else str(source.relative_to(root))


def deidentify_file(
    source: Path, root: Path, out: Path | OutputFolder, key: DeidKey, options: DeidOptions
) -> FileRecord:
    """De-identify one file into ``out``; never raises for bad input (see the record).

    The file is written under a ``.part`` name (``record.staged``); the batch
    renames it. A failed file leaves nothing behind.

    Args:
        source: the input file.
        root: the input root (``source`` is recorded relative to it).
        out: the output root (or its :class:`OutputFolder`).
        key: the de-identification key.
        options: the Annex E options.
    """
    folder = out if isinstance(out, OutputFolder) else OutputFolder(out)
    relative = _relative(source, root)
    record = FileRecord(source=relative, status="failed")
    staged: Path | None = None
    try:
        with lenient():
            ds = read_dicom(source)
            problem = pixel_data_problem(ds)
            if problem:
                raise TruncatedFileError(problem)
            result = deidentify_dataset(ds, key, options)
            target = _output_path(result.dataset, result.quarantine_reason is not None)
            # Staged under a keyed token of the source path: two inputs holding the same
            # instance (e.g. one image in two transfer syntaxes) never overwrite each other.
            name = target.with_name(f"{target.stem}.{key.token('source', relative)}{_PART}")
            staged = folder.path(name)
            _make_dir(staged.parent)
            write_instance(result.dataset, staged)
        record.status = "quarantined" if result.quarantine_reason else "written"
        record.reason = result.quarantine_reason or ""
        record.output, record.staged = str(target), str(name)
        record.uid_map = result.uid_map
        record.patient_id, record.pseudonym = result.patient_id, result.pseudonym
    except NotDicomError as exc:
        record.status, record.reason = "skipped", exc.message
    except RadcycleError as exc:
        record.reason = exc.message
    except Exception as exc:  # one broken file must not stop a batch of thousands
        logger.warning("failed on %s: %s", source, exc)
        text = f"{type(exc).__name__}: {exc}"
        record.reason = text.replace(os.fsdecode(source), "<input file>")
    if record.status == "failed" and staged is not None:
        staged.unlink(missing_ok=True)
    return record


def _finalize(folder: OutputFolder, records: list[FileRecord], key: DeidKey) -> None:
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
            _place(folder, record, target)


def _place(folder: OutputFolder, record: FileRecord, target: Path) -> None:
    """Rename one staged file; an earlier run's different file is kept unless forced."""
    staged, final = folder.path(record.staged), folder.path(target)
    record.staged = ""
    if os.path.lexists(final) and not folder.rules.force:
        same = final.is_file() and filecmp.cmp(staged, final, shallow=False)
        staged.unlink()
        if not same:
            record.status, record.output = "failed", ""
            record.reason = "an earlier run wrote a different file of this instance (--force)"
            return
    else:
        os.replace(staged, final)
    record.output = str(target)
    if record.reason and record.status == "quarantined":
        reason = folder.path(target.with_suffix(".reason.txt"))
        folder.update(reason.relative_to(folder.root), record.reason + "\n")


def _clear_leftovers(folder: OutputFolder) -> int:
    """Remove what a killed run left: ``.part`` and temporary files."""
    removed = 0
    for path in folder.root.rglob("*"):
        leftover = path.name.endswith(_PART) or path.name.startswith(TEMP_PREFIX)
        if leftover and path.is_file() and not path.is_symlink():
            path.unlink()
            removed += 1
    return removed


def _process(
    files: list[Path],
    job: Callable[[Path], FileRecord],
    workers: int,
    progress: Callable[[FileRecord], None] | None,
) -> list[FileRecord]:
    records: list[FileRecord] = []
    if workers <= 1:
        results: Iterator[FileRecord] = map(job, files)
        for record in results:
            records.append(record)
            if progress:
                progress(record)
        return records
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunksize = max(1, min(64, len(files) // (workers * 8) or 1))
        for record in pool.map(job, files, chunksize=chunksize):
            records.append(record)
            if progress:
                progress(record)
    return records


def deidentify_tree(
    source: Path,
    out: Path,
    key: DeidKey,
    options: DeidOptions,
    *,
    workers: int = 2,
    progress: Callable[[FileRecord], None] | None = None,
    force: bool = False,
) -> BatchSummary:
    """De-identify every file of ``source`` (a file or folder) into ``out``.

    Files are processed by ``workers`` processes; ``progress`` is called once per
    file, in input order. The manifest and summary of earlier runs in ``out`` are
    kept and this run's records added to them.

    Args:
        source: the input file or folder.
        out: the output folder; neither the input nor inside it.
        key: the de-identification key (the folder's earlier runs must share it).
        options: the Annex E options.
        workers: worker processes.
        progress: called with each file's record.
        force: replace outputs of earlier runs that differ (else those files fail).

    Raises:
        PathNotFoundError: ``source`` does not exist.
        UnsafeOutputError: ``out`` is a file, the input, or inside the input.
        OutputLockedError: another run is writing to ``out``.
        DataFormatError: ``out`` holds runs made with another key.
    """
    files = list(iter_files(source))
    folder = OutputFolder(out, OutputRules.of([source], force=force))
    with FolderLock(folder.root, "deid"):
        check_manifest_key(folder.root, key)
        unfinished = unfinished_deid_run(folder.root)
        if unfinished is not None:
            removed = _clear_leftovers(folder)
            logger.warning("completing an unfinished run (%d partial files removed)", removed)
        chosen = dataclasses.asdict(options)
        run = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "options": chosen}
        folder.update(MARKER_NAME, marker_document(source, chosen))
        job = functools.partial(deidentify_file, root=source, out=folder, key=key, options=options)
        records = _process(files, job, workers, progress)
        _finalize(folder, records, key)
        summary = BatchSummary(records)
        record_run(folder, key, run, summary)
        (folder.root / MARKER_NAME).unlink()
    return summary
