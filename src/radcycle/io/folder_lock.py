"""One run at a time per output folder: a lock file holding its holder's pid.

``OUT/.radcycle-lock`` is created and locked with ``flock`` (the kernel releases
that lock when the process dies, however it dies) and holds JSON naming the
holder: pid, host, start time and what it does. A second run finds the lock held
and is refused with the holder's pid. On a file system without ``flock`` the pid
decides: a lock whose process is gone (same host) is stale and taken over.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with FolderLock(folder, "example"):
    ...     FolderLock(folder, "second").acquire()
    Traceback (most recent call last):
    ...
    radcycle.errors.OutputLockedError: ...: another radcycle run (example, pid ...) is writing...
    >>> (folder / LOCK_NAME).exists()
    False
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from radcycle.errors import OutputLockedError

__all__ = ["LOCK_NAME", "FolderLock", "process_alive"]

log = logging.getLogger(__name__)

LOCK_NAME = ".radcycle-lock"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class FolderLock:
    """The lock of an output folder (a context manager).

    Args:
        folder: the output folder (it must exist).
        purpose: what the holder does, shown to a run that is refused.
    """

    def __init__(self, folder: Path, purpose: str) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.purpose = purpose
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock or raise :class:`OutputLockedError` naming the holder."""
        for _ in range(5):  # the holder may remove the file between open and lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._refuse(_read_holder(self.path))
            except OSError as exc:  # no flock here: the pid decides
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
                    os.close(fd)
                    raise
                self._check_pid(fd)
            if self._same_file(fd):
                self._take(fd)
                return
            os.close(fd)
        raise OutputLockedError("the lock file keeps changing; another run?", path=self.path)

    def _same_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def _check_pid(self, fd: int) -> None:
        holder = _read_holder(self.path)
        pid = int(holder.get("pid", 0) or 0)
        if pid == os.getpid() or not holder:
            return
        if holder.get("host") != socket.gethostname() or process_alive(pid):
            os.close(fd)
            self._refuse(holder)

    def _take(self, fd: int) -> None:
        previous = _read_holder(self.path)
        if previous.get("pid") and not process_alive(int(previous["pid"])):
            log.info("lock of a run that ended (pid %s) taken over: %s", previous["pid"], self.path)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "purpose": self.purpose,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def _refuse(self, holder: dict[str, Any]) -> None:
        who = f"{holder.get('purpose', '?')}, pid {holder.get('pid', '?')}"
        since = f" since {holder['started']}" if "started" in holder else ""
        raise OutputLockedError(
            f"another radcycle run ({who}) is writing to this folder{since}; wait for it, "
            "or remove the lock file if that process is no radcycle run",
            path=self.path,
        )

    def release(self) -> None:
        """Remove the lock file, then let go (a waiting run then finds no stale file)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
