"""Scan a folder tree of mixed files: every file gets an outcome, nothing crashes.

The result lists patients -> studies -> series (image stacks and non-image
objects such as RTSTRUCT, SEG and SR), the problems found in each series, and
for every file whether it was loaded, skipped (with why) or an error (with why).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radcycle.errors import InputError, NotDicomError, PathNotFoundError, RadcycleError
from radcycle.io.dicom.headers import FileOutcome, ImageHeader, read_header
from radcycle.io.dicom.series import Stack, build_stacks

log = logging.getLogger(__name__)

__all__ = ["ScanResult", "iter_files", "scan_path"]

_ITK_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


@dataclass
class ScanResult:
    """What a folder holds, and what happened to each file."""

    root: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    headers: list[ImageHeader] = field(default_factory=list)
    stacks: list[Stack] = field(default_factory=list)
    objects: list[ImageHeader] = field(default_factory=list)
    other_images: list[dict[str, Any]] = field(default_factory=list)

    def tally(self) -> dict[str, int]:
        counts = {"loaded": 0, "skipped": 0, "error": 0}
        for o in self.outcomes:
            counts[o.status] += 1
        return counts

    def tree(self) -> list[dict[str, Any]]:
        """Patients -> studies -> series, as plain data (what ``inspect --json`` prints)."""
        patients: dict[str, dict[str, Any]] = {}

        def study_entry(h: ImageHeader) -> dict[str, Any]:
            pid = h.patient.get("patient_id", "")
            patient = patients.setdefault(
                pid, {**h.patient, "studies": {}} if h.patient else {"studies": {}}
            )
            studies: dict[str, dict[str, Any]] = patient["studies"]
            return studies.setdefault(
                h.study_instance_uid,
                {"study_instance_uid": h.study_instance_uid, **h.study, "series": []},
            )

        for stack in self.stacks:
            study_entry(stack.header)["series"].append({"kind": "image", **stack.describe()})
        for obj in self.objects:
            study_entry(obj)["series"].append(
                {
                    "kind": obj.kind,
                    "series_instance_uid": obj.series_instance_uid,
                    "modality": obj.modality,
                    "description": obj.series.get("description", ""),
                    "sop_instance_uid": obj.sop_instance_uid,
                    "file": obj.path,
                }
            )
        out = []
        for patient in patients.values():
            studies = list(patient.pop("studies").values())
            out.append({**patient, "studies": studies})
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "tally": self.tally(),
            "patients": self.tree(),
            "images": self.other_images,
            "files": [o.as_dict() for o in self.outcomes],
        }


def iter_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (or ``root`` itself), in a stable order."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _is_itk_image(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in _ITK_SUFFIXES)


def _itk_info(path: Path) -> FileOutcome | dict[str, Any]:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        reason = f"cannot read image: {lines[-1] if lines else 'unreadable'}"
        return FileOutcome(str(path), "error", "IMAGE-FILE", reason, "InputError")
    return {
        "file": str(path),
        "size": list(reader.GetSize()),
        "spacing_mm": [round(v, 4) for v in reader.GetSpacing()],
        "origin_mm": [round(v, 3) for v in reader.GetOrigin()],
        "direction": [round(v, 6) for v in reader.GetDirection()],
    }


def _itk_infos(files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for f in files:
        if _is_itk_image(f):
            info = _itk_info(f)
            if isinstance(info, dict):
                out.append(info)
    return out


# Forking pays only for large folders: most headers take the raw walker's fast path.
_PARALLEL_MIN_FILES = 1000


def _parsed(files: list[Path], workers: int) -> list[FileOutcome | ImageHeader]:
    """Parse every file, in processes when the folder is large and it is safe to fork."""
    safe = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    if workers > 1 and len(files) >= _PARALLEL_MIN_FILES and safe:
        ctx = multiprocessing.get_context("fork")
        chunk = max(1, len(files) // (workers * 4))
        with ctx.Pool(workers) as pool:
            return list(pool.map(_parse_one, files, chunksize=chunk))
    return [_parse_one(f) for f in files]


def _parse_one(file: Path) -> FileOutcome | ImageHeader:
    """One file's header, or its outcome when it is not an image or object."""
    if _is_itk_image(file):
        info = _itk_info(file)
        return (
            info
            if isinstance(info, FileOutcome)
            else FileOutcome(str(file), "loaded", "IMAGE-FILE")
        )
    if file.name.upper() == "DICOMDIR":
        return FileOutcome(
            str(file), "skipped", "DICOMDIR", "DICOMDIR index (files are read directly)"
        )
    try:
        header = read_header(file)
    except NotDicomError as exc:
        return FileOutcome(str(file), "skipped", "NOT-DICOM", exc.message)
    except RadcycleError as exc:
        return FileOutcome(str(file), "error", "DICOM", exc.message, type(exc).__name__)
    except Exception as exc:  # one broken file must not stop a folder scan
        log.warning("unexpected failure reading %s: %r", file, exc)
        return FileOutcome(str(file), "error", "DICOM", f"unexpected: {exc!r}", "InputError")
    if header.kind == "NON-IMAGE":
        return FileOutcome(str(file), "skipped", "NON-IMAGE", "DICOM object without pixel data")
    return header


def scan_path(
    path: str | Path,
    progress: Callable[[int], None] | None = None,
    workers: int = 2,
) -> ScanResult:
    """Scan a file or folder tree; never raises for a bad file, only for a bad root.

    Headers of large folders are parsed by ``workers`` processes (header parsing
    is pure Python, so threads would not help).

    Raises:
        PathNotFoundError: ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise PathNotFoundError("no such file or folder", path=root)
    result = ScanResult(root=str(root))
    files = list(iter_files(root))
    for item in _parsed(files, workers):
        if isinstance(item, FileOutcome):
            result.outcomes.append(item)
        elif item.kind == "IMAGE":
            result.headers.append(item)
        else:
            result.objects.append(item)
            result.outcomes.append(FileOutcome(item.path, "loaded", item.kind))
        if progress is not None:
            progress(1)
    result.other_images.extend(_itk_infos(files))
    stacks, rejected = build_stacks(result.headers)
    result.stacks = stacks
    rejected_paths = dict(rejected)
    assigned = {f.header.path for s in stacks for f in s.frames}
    for h in result.headers:
        if h.path in rejected_paths:
            result.outcomes.append(
                FileOutcome(h.path, "error", "IMAGE", rejected_paths[h.path], "InputError")
            )
        elif h.path in assigned:
            result.outcomes.append(FileOutcome(h.path, "loaded", "IMAGE"))
        else:  # dropped from its stack as a repeat of an earlier frame position
            result.outcomes.append(
                FileOutcome(h.path, "skipped", "IMAGE", "duplicate of another frame position")
            )
    result.outcomes.sort(key=lambda o: o.path)
    return result


def ensure_dicom_file(path: str | Path) -> ImageHeader:
    """Header of a single DICOM file, with a typed error where it is not one."""
    p = Path(path)
    if not p.is_file():
        raise PathNotFoundError("no such file", path=p)
    header = read_header(p)
    if header.kind != "IMAGE":
        raise InputError(f"not an image object ({header.kind})", path=p)
    return header
