"""What a review-service job reads: which studies a folder holds, whether a file is DICOM.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> f = Path(tempfile.mkdtemp()) / "x.dcm"
    >>> _ = f.write_bytes(b"not dicom")
    >>> is_dicom_file(f)
    False
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from radcycle.errors import SeriesError
from radcycle.io.dicom.scan import scan_path

__all__ = ["is_dicom_file", "study_key", "study_uids"]


def is_dicom_file(path: Path) -> bool:
    """A DICOM Part 10 file: ``DICM`` after the 128-byte preamble."""
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def study_uids(paths: Sequence[Path]) -> list[str]:
    """The StudyInstanceUIDs of the CT image series under ``paths``, sorted.

    Raises:
        SeriesError: no CT image series anywhere under the paths.
    """
    found: set[str] = set()
    for path in paths:
        for stack in scan_path(path).stacks:
            if stack.header.modality == "CT":
                found.add(stack.study_instance_uid)
    if not found:
        raise SeriesError("no CT image series found", path=", ".join(map(str, paths)))
    return sorted(found)


def study_key(uids: Iterable[str]) -> str:
    """One key per set of studies, in any order: SHA-256 of the sorted UIDs.

    Example:
        >>> study_key(["1.2", "1.3"]) == study_key(["1.3", "1.2", "1.2"])
        True
    """
    return hashlib.sha256("\n".join(sorted(set(uids))).encode()).hexdigest()
