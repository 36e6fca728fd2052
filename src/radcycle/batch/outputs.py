"""Outputs that are whole or absent: write to a temporary name, then rename.

A task killed half-way leaves at most a ``.part`` file beside its output, never a
half-written output under the real name (``os.replace`` is atomic on one file
system). Checksums are sha256, over one file or over a list of files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PART_SUFFIX", "move_tree", "remove_orphan_parts", "tree_checksum", "write_atomic"]

PART_SUFFIX = ".part"
_CHUNK = 1 << 20
#: The temporary names :func:`write_atomic` makes: ``.<name>.<32 hex digits>.part``.
_PART_NAME = re.compile(r"^\..+\.[0-9a-f]{32}" + re.escape(PART_SUFFIX) + "$")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     target = Path(tmp) / "a" / "out.json"
        ...     write_atomic(target, b"{}")
        ...     target.read_bytes(), sorted(p.name for p in target.parent.iterdir())
        (b'{}', ['out.json'])
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
    try:
        with part.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def remove_orphan_parts(root: Path) -> int:
    """Remove the temporary files that killed tasks left under ``root``; return how many.

    Only names :func:`write_atomic` makes are touched. Call it while holding the run's
    lock, once no task is running: a worker killed mid-write (or one the pool stopped
    when another died) cannot finish its rename any more.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     left = Path(tmp) / f".out.json.{'a' * 32}.part"
        ...     _ = left.write_bytes(b"{"), (Path(tmp) / "keep.part").write_bytes(b"")
        ...     remove_orphan_parts(Path(tmp)), sorted(p.name for p in Path(tmp).iterdir())
        (1, ['keep.part'])
    """
    if not root.is_dir():
        return 0
    removed = 0
    for path in root.rglob(f"*{PART_SUFFIX}"):
        if _PART_NAME.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def file_checksum(path: Path) -> str:
    """The sha256 of one file, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tree_checksum(root: Path, outputs: Iterable[str]) -> str:
    """One sha256 over the names and contents of ``outputs`` (paths relative to ``root``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_atomic(Path(tmp) / "x", b"1")
        ...     tree_checksum(Path(tmp), ["x"]) == tree_checksum(Path(tmp), ["x"])
        True
    """
    digest = hashlib.sha256()
    for name in sorted(outputs):
        path = root / name
        if not path.is_file():
            return ""
        digest.update(f"{name}\0{file_checksum(path)}\n".encode())
    return digest.hexdigest()


def move_tree(staging: Path, target: Path) -> list[str]:
    """Move every file of ``staging`` to the same relative place under ``target``.

    Each file is renamed on its own (atomic), over an identical file a killed
    earlier attempt may have moved already; ``staging`` is removed after.

    Returns:
        the moved files, relative to ``target``, sorted.
    """
    moved = []
    for source in sorted(p for p in staging.rglob("*") if p.is_file()):
        relative = source.relative_to(staging)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target / relative)
        moved.append(relative.as_posix())
    shutil.rmtree(staging, ignore_errors=True)
    return moved
