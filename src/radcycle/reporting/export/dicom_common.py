"""What the SR and SEG writers share: the source series, the device identity, codes.

A writer is strict: the source datasets must be one series, each slice with its
position and orientation; they are ordered along the slice normal, as
``radcycle.io`` orders a volume's slices.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

import radcycle
from radcycle.errors import InputError
from radcycle.reporting.export.codes import LOCAL_SCHEME, Concept

log = logging.getLogger(__name__)

__all__ = [
    "MANUFACTURER",
    "build_logging_warnings",
    "declare_local_scheme",
    "hd_code",
    "save",
    "software_version",
    "sorted_series",
]

MANUFACTURER = "radcycle"


def software_version() -> str:
    """The radcycle version written into SoftwareVersions and algorithm records."""
    return str(radcycle.__version__)


def hd_code(concept: Concept) -> Any:
    """A highdicom ``CodedConcept`` from a :class:`~radcycle.reporting.export.codes.Concept`."""
    import highdicom as hd

    return hd.sr.CodedConcept(
        value=concept.value, scheme_designator=concept.scheme, meaning=concept.meaning
    )


def _position(ds: Dataset) -> float:
    normal = np.cross(
        np.asarray(ds.ImageOrientationPatient[:3], dtype=np.float64),
        np.asarray(ds.ImageOrientationPatient[3:], dtype=np.float64),
    )
    return float(np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=np.float64)))


def sorted_series(datasets: Sequence[Dataset]) -> list[Dataset]:
    """The source slices of one series, ordered along the slice normal (the ``k`` order).

    Raises:
        InputError: no datasets, several series, or a slice without position.
    """
    if not datasets:
        raise InputError("no source images given for the export")
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(series) != 1:
        raise InputError(
            "the source images must be one series", tag="(0020,000E)", value=sorted(series)
        )
    for ds in datasets:
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            raise InputError(
                "a source image has no position or orientation",
                tag="(0020,0032) ImagePositionPatient",
                value=str(ds.get("SOPInstanceUID", "")),
            )
    return sorted(datasets, key=_position)


def declare_local_scheme(ds: Dataset) -> None:
    """Declare radcycle's private coding scheme (Coding Scheme Identification Sequence)."""
    item = Dataset()
    item.CodingSchemeDesignator = LOCAL_SCHEME
    item.CodingSchemeName = "radcycle local concepts"
    item.CodingSchemeResponsibleOrganization = MANUFACTURER
    ds.CodingSchemeIdentificationSequence = [item]


def save(ds: Dataset, path: Path) -> None:
    """Write a dataset as a DICOM file (preamble, file meta information)."""
    ds.save_as(path, enforce_file_format=True)


def build_logging_warnings(build: Callable[[], Dataset]) -> Dataset:
    """Run a highdicom constructor, logging its warnings instead of raising them.

    highdicom warns about real-world values it copies from the source images (a
    one-component PatientName, for instance); they are the source's, not ours.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = build()
    for w in caught:
        log.warning("%s", w.message)
    return result
