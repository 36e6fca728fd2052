"""Scan a folder tree of mixed files: every file gets an outcome, nothing crashes.

The result lists patients -> studies -> series (image stacks and non-image
objects such as RTSTRUCT, SEG and SR), the problems found in each series, and
for every file whether it was loaded, skipped (with why) or an error (with why).
"""

from __future__ import annotations

import logging
import os
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


def _scan_itk(path: Path, result: ScanResult) -> None:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        result.outcomes.append(
            FileOutcome(
                str(path), "error", "IMAGE-FILE", f"cannot read image: {reason}", "InputError"
            )
        )
        return
    result.other_images.append(
        {
            "file": str(path),
            "size": list(reader.GetSize()),
            "spacing_mm": [round(v, 4) for v in reader.GetSpacing()],
            "origin_mm": [round(v, 3) for v in reader.GetOrigin()],
            "direction": [round(v, 6) for v in reader.GetDirection()],
        }
    )
    result.outcomes.append(FileOutcome(str(path), "loaded", "IMAGE-FILE"))


def scan_path(path: str | Path, progress: Callable[[int], None] | None = None) -> ScanResult:
    """Scan a file or folder tree; never raises for a bad file, only for a bad root.

    Raises:
        PathNotFoundError: ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise PathNotFoundError("no such file or folder", path=root)
    result = ScanResult(root=str(root))
    for file in iter_files(root):
        _scan_one(file, result)
        if progress is not None:
            progress(1)
    stacks, rejected = build_stacks(result.headers)
    result.stacks = stacks
    rejected_paths = dict(rejected)
    assigned = {f.header.path for s in stacks for f in s.frames}
    dropped = {f.header.path for s in stacks for f in s.frames}
    for h in result.headers:
        if h.path in rejected_paths:
            result.outcomes.append(
                FileOutcome(h.path, "error", "IMAGE", rejected_paths[h.path], "InputError")
            )
        elif h.path in assigned:
            result.outcomes.append(FileOutcome(h.path, "loaded", "IMAGE"))
        elif h.path not in dropped:
            result.outcomes.append(
                FileOutcome(h.path, "skipped", "IMAGE", "duplicate of another frame position")
            )
    result.outcomes.sort(key=lambda o: o.path)
    return result


def _scan_one(file: Path, result: ScanResult) -> None:
    if _is_itk_image(file):
        _scan_itk(file, result)
        return
    if file.name.upper() == "DICOMDIR":
        result.outcomes.append(
            FileOutcome(
                str(file), "skipped", "DICOMDIR", "DICOMDIR index (files are read directly)"
            )
        )
        return
    try:
        header = read_header(file)
    except NotDicomError as exc:
        result.outcomes.append(FileOutcome(str(file), "skipped", "NOT-DICOM", exc.message))
        return
    except RadcycleError as exc:
        result.outcomes.append(
            FileOutcome(str(file), "error", "DICOM", exc.message, type(exc).__name__)
        )
        return
    except Exception as exc:
        log.warning("unexpected failure reading %s: %r", file, exc)
        result.outcomes.append(
            FileOutcome(str(file), "error", "DICOM", f"unexpected: {exc!r}", "InputError")
        )
        return
    if header.kind == "IMAGE":
        result.headers.append(header)
    elif header.kind == "NON-IMAGE":
        result.outcomes.append(
            FileOutcome(str(file), "skipped", "NON-IMAGE", "DICOM object without pixel data")
        )
    else:
        result.objects.append(header)
        result.outcomes.append(FileOutcome(str(file), "loaded", header.kind))


def ensure_dicom_file(path: str | Path) -> ImageHeader:
    """Header of a single DICOM file, with a typed error where it is not one."""
    p = Path(path)
    if not p.is_file():
        raise PathNotFoundError("no such file", path=p)
    header = read_header(p)
    if header.kind != "IMAGE":
        raise InputError(f"not an image object ({header.kind})", path=p)
    return header
