"""The safe-output helper and the folder lock."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from radcycle.errors import ExportError, OutputLockedError, UnsafeOutputError
from radcycle.io.folder_lock import LOCK_NAME, FolderLock, process_alive
from radcycle.io.output import (
    TEMP_PREFIX,
    OutputFolder,
    OutputRules,
    atomic_output,
    write_file,
)


def test_write_is_atomic_and_never_replaces_without_force(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_file(target, "one")
    with pytest.raises(UnsafeOutputError, match="--force"):
        write_file(target, "two")
    assert target.read_text() == "one"
    write_file(target, "three", OutputRules(force=True))
    assert target.read_text() == "three"
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def _dying_writer(target: Path) -> None:
    with atomic_output(target) as temp:
        assert temp.name.startswith(TEMP_PREFIX)
        assert temp.name.endswith("-mask.nii.gz")  # writers choosing by suffix still do
        temp.write_bytes(b"half")
        raise RuntimeError("writer died")


def test_a_failed_writer_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="writer died"):
        _dying_writer(tmp_path / "mask.nii.gz")
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_never_written(tmp_path: Path) -> None:
    image = tmp_path / "ct.nii.gz"
    image.write_bytes(b"original")
    series = tmp_path / "series"
    series.mkdir()
    (series / "1.dcm").write_bytes(b"slice")
    (tmp_path / "hard-link.nii.gz").hardlink_to(image)
    (tmp_path / "soft-link.nii.gz").symlink_to(image)
    rules = OutputRules.of([image, series], force=True)
    for target in (
        image,
        tmp_path / "hard-link.nii.gz",
        tmp_path / "soft-link.nii.gz",
        tmp_path / "x" / ".." / "ct.nii.gz",
        series / "mask.nii.gz",
        series / "1.dcm",
    ):
        with pytest.raises(UnsafeOutputError, match="input"):
            write_file(target, b"mask", rules)
    assert image.read_bytes() == b"original"
    assert sorted(p.name for p in series.iterdir()) == ["1.dcm"]


def test_output_folder_refuses_inputs_files_and_escapes(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (tmp_path / "file").write_text("x")
    rules = OutputRules.of([source])
    for root in (source, source / "out", tmp_path / "file"):
        with pytest.raises(UnsafeOutputError):
            OutputFolder(root, rules)
    folder = OutputFolder(tmp_path / "out", rules)
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    for name in ("../x", "/etc/passwd", "", "link/x", "a/../../x"):
        with pytest.raises(UnsafeOutputError, match="output folder"):
            folder.path(name)
    (tmp_path / "out" / "file-link").symlink_to(tmp_path / "file")
    with pytest.raises(UnsafeOutputError, match="symlink"):
        folder.path("file-link")
    assert folder.path("a/b.txt") == tmp_path / "out" / "a" / "b.txt"


def test_claim_checks_before_the_work(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    (tmp_path / "follow.json").write_text("{}")
    with pytest.raises(UnsafeOutputError, match=r"follow\.json: exists already"):
        folder.claim("charts.png", "follow.json")
    OutputFolder(tmp_path, OutputRules(force=True)).claim("follow.json")


def test_modes(tmp_path: Path) -> None:
    key = write_file(tmp_path / "secret", "k", mode=0o600)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_file_where_a_folder_should_be_is_an_export_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="cannot create the folder"):
        write_file(tmp_path / "file" / "sub" / "a", "x")
    assert (tmp_path / "file").read_text() == "x"


def test_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    with FolderLock(tmp_path, "first"):
        assert (tmp_path / LOCK_NAME).is_file()
        with pytest.raises(OutputLockedError, match=f"first, pid {os.getpid()}"):
            FolderLock(tmp_path, "second").acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    with FolderLock(tmp_path, "again"):
        pass


def test_lock_serialises_threads(tmp_path: Path) -> None:
    held, refused = [], []

    def run() -> None:
        try:
            with FolderLock(tmp_path, "thread"):
                held.append(1)
                threading.Event().wait(0.2)
        except OutputLockedError:
            refused.append(1)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(held) + len(refused) == 4
    assert held


def test_without_flock_a_stale_pid_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    def no_flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "no locks")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    import socket

    host = socket.gethostname()
    (tmp_path / LOCK_NAME).write_text(f'{{"pid": 1, "host": "{host}", "purpose": "init"}}')
    assert process_alive(1)
    with pytest.raises(OutputLockedError, match="pid 1"):
        FolderLock(tmp_path, "x").acquire()
    (tmp_path / LOCK_NAME).write_text(f'{{"pid": 999999999, "host": "{host}"}}')
    assert not process_alive(999999999)
    with FolderLock(tmp_path, "x"):
        assert '"pid": ' + str(os.getpid()) in (tmp_path / LOCK_NAME).read_text()
