"""The one exception hierarchy of radcycle.

Every error radcycle raises on purpose derives from :class:`RadcycleError`, so a
caller can catch them all at once, or pick the family it can handle::

    RadcycleError
    ├── InputError              bad or unreadable input (file, folder, argument)
    │   ├── PathNotFoundError   a path that does not exist
    │   ├── NotDicomError       a file that is not DICOM at all
    │   ├── TruncatedFileError  a DICOM file cut short
    │   ├── UnsupportedTransferSyntaxError  pixel data nobody here can decode
    │   ├── NotAnImageError     a DICOM object without pixel data (SR, RT plan, ...)
    │   ├── MissingReferenceError     an object that refers to data that is not there
    │   └── DataFormatError     a field present but malformed (JSON, FHIR, CSV, ...)
    ├── GeometryError           invalid or inconsistent patient geometry
    ├── SeriesError             a series that cannot become one volume
    ├── AnalysisError           an algorithm that cannot run on what it was given
    ├── ExportError             a result that cannot be written
    │   ├── UnsafeOutputError   a write onto an input, over an existing output
    │   │                       (without --force) or outside the output folder
    │   └── OutputLockedError   an output folder another run is writing to
    └── PacsError               a PACS that cannot be reached, refuses a request
                                or answers something unreadable

Messages name the file, the DICOM tag and the offending value where there is one.
Errors of the libraries underneath are translated with ``raise ... from exc`` so
the original traceback stays attached.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AnalysisError",
    "DataFormatError",
    "ExportError",
    "GeometryError",
    "InputError",
    "MissingReferenceError",
    "NotAnImageError",
    "NotDicomError",
    "OutputLockedError",
    "PacsError",
    "PathNotFoundError",
    "RadcycleError",
    "SeriesError",
    "TruncatedFileError",
    "UnsafeOutputError",
    "UnsupportedTransferSyntaxError",
]


# A value longer than this is cut in the message (a whole file is no message).
_MAX_VALUE_CHARS = 200


class RadcycleError(Exception):
    """Base of every error radcycle raises on purpose.

    Args:
        message: what went wrong, in words a user can act on.
        path: the file or folder concerned, if any.
        tag: the DICOM tag concerned (e.g. ``"(0020,0032) ImagePositionPatient"``).
        value: the offending value, if any.

    Example:
        >>> str(InputError("not a number", path="a.dcm", tag="(0028,0030)", value="x"))
        "a.dcm: not a number [tag (0028,0030), value 'x']"
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        tag: str | None = None,
        value: object = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.tag = tag
        self.value = value
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        extra = []
        if self.tag:
            extra.append(f"tag {self.tag}")
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > _MAX_VALUE_CHARS:
                shown = f"{shown[:_MAX_VALUE_CHARS]}... ({len(shown)} characters)"
            extra.append(f"value {shown}")
        if extra:
            text += f" [{', '.join(extra)}]"
        return text


class InputError(RadcycleError):
    """Bad or unreadable input: a file, a folder or an argument."""


class PathNotFoundError(InputError):
    """A path that does not exist."""


class NotDicomError(InputError):
    """A file that is not a DICOM file."""


class TruncatedFileError(InputError):
    """A DICOM file that ends before its declared content."""


class UnsupportedTransferSyntaxError(InputError):
    """Pixel data in a transfer syntax that no installed decoder handles."""


class NotAnImageError(InputError):
    """A DICOM object that carries no image (SR, RT plan, waveform, ...)."""


class MissingReferenceError(InputError):
    """An object that refers to images or objects that are not present."""


class DataFormatError(InputError):
    """A field or record that is present but malformed (JSON, FHIR, CSV, ...)."""


class GeometryError(RadcycleError):
    """Invalid or inconsistent patient geometry (spacing, direction, positions)."""


class SeriesError(RadcycleError):
    """A set of slices that cannot be assembled into one volume."""


class AnalysisError(RadcycleError):
    """An algorithm that cannot run on the input it was given."""


class ExportError(RadcycleError):
    """A result that cannot be written in the requested format."""


class UnsafeOutputError(ExportError):
    """A write refused: onto an input, over an existing output, or out of the output folder."""


class OutputLockedError(ExportError):
    """An output folder that another run holds (see ``radcycle.io.folder_lock``)."""


class PacsError(RadcycleError):
    """A PACS (DICOMweb or DIMSE peer) that cannot be reached, refuses, or answers badly."""
