"""Image quality control of every series under a path (``radcycle qc``).

A folder tree is scanned like ``radcycle inspect`` does; each DICOM series and
each NIfTI/NRRD file is loaded and assessed by
:func:`radcycle.imaging.qc.assess`. A series that cannot be loaded is listed
with its error, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radcycle.domain import Volume
from radcycle.errors import RadcycleError
from radcycle.imaging.qc import QualityReport, assess
from radcycle.io import read_image
from radcycle.io.dicom.scan import scan_path
from radcycle.io.dicom.series import load_stack
from radcycle.io.images import is_itk_image_path

__all__ = ["SeriesQuality", "assess_path", "scan_quality"]


@dataclass(frozen=True)
class SeriesQuality:
    """One series: where it came from, and its report or why it could not be read."""

    source: str
    report: QualityReport | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        if self.report is None:
            return {"source": self.source, "error": self.error}
        return {"source": self.source, **self.report.to_dict()}


def assess_path(path: str | Path, modality: str | None = None) -> list[SeriesQuality]:
    """Quality of every image series under ``path`` (a file, a series folder, a tree).

    Args:
        path: an image file, a DICOM series folder, or a folder tree.
        modality: CT, MR or PT for files that do not say (NIfTI, NRRD).

    Raises:
        PathNotFoundError: the path does not exist.
        RadcycleError: ``path`` is one image file that cannot be read (in a
            folder, a series that cannot be read is listed with its error).
    """
    p = Path(path)
    if p.is_file() and is_itk_image_path(p):  # the one file asked for: its error is the answer
        return [SeriesQuality(str(p), assess(_with_modality(read_image(p), modality)))]
    scanned = scan_path(p)
    out = [
        _one(
            stack.header.path if len(scanned.stacks) > 1 else str(p), lambda s=stack: load_stack(s)
        )
        for stack in scanned.stacks
    ]
    for image in scanned.other_images:
        name = str(image["file"])
        out.append(_one(name, lambda n=name: read_image(n), modality))
    return out


def _one(source: str, load: Any, modality: str | None = None) -> SeriesQuality:
    try:
        volume = load()
    except RadcycleError as exc:
        return SeriesQuality(source, error=f"{type(exc).__name__}: {exc}")
    return SeriesQuality(source, assess(_with_modality(volume, modality)))


def _with_modality(volume: Volume, modality: str | None) -> Volume:
    if modality and not volume.metadata.get("modality"):
        return volume.with_array(volume.array, modality=modality.upper())
    return volume


def scan_quality(volumes: list[Volume]) -> list[dict[str, Any]]:
    """The quality report of each study's volume, JSON-ready (what ``follow`` carries)."""
    return [assess(v).to_dict() for v in volumes]
