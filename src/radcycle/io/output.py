"""Safe output: the one way radcycle writes a file.

Every command that writes goes through here, so the rules hold everywhere:

* a file is written under a temporary name (``.radcycle-tmp-...``) in its final
  folder and renamed into place: a reader never sees half a file, and a run that
  is killed leaves only temporary names behind;
* never onto an input, nor inside an input folder, nor an output folder inside an
  input folder; paths are compared after resolving symlinks and ``..``;
* never over an existing output unless ``force`` (``--force`` on the command line);
* a name inside an output folder must stay inside it once resolved (an absolute
  name, ``..`` or a symlink leading out is refused);
* one run at a time per output folder: :class:`FolderLock` (a lock file holding the
  pid of its holder; a lock left by a process that is gone is taken over).

Example:
    >>> import tempfile
    >>> folder = OutputFolder(Path(tempfile.mkdtemp()) / "out")
    >>> folder.write("a.txt", "hello").read_text()
    'hello'
    >>> folder.write("a.txt", "again")
    Traceback (most recent call last):
    ...
    radcycle.errors.UnsafeOutputError: ...a.txt: exists already; use --force to replace it
    >>> folder.path("../escape.txt")
    Traceback (most recent call last):
    ...
    radcycle.errors.UnsafeOutputError: ...: the name leaves the output folder [value '../...']
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from radcycle.errors import ExportError, UnsafeOutputError

__all__ = [
    "TEMP_PREFIX",
    "OutputFolder",
    "OutputRules",
    "atomic_output",
    "publish",
    "resolved",
    "write_file",
]

TEMP_PREFIX = ".radcycle-tmp-"


def resolved(path: str | Path) -> Path:
    """``path`` made absolute with every symlink and ``..`` resolved (it may not exist)."""
    return Path(os.path.realpath(path))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class OutputRules:
    """What a command's outputs must not touch.

    Args:
        inputs: the command's input files and folders (resolved on construction).
        force: replace existing outputs (``--force``).
    """

    inputs: tuple[Path, ...] = ()
    force: bool = False

    @classmethod
    def of(cls, inputs: Iterable[str | Path] = (), *, force: bool = False) -> OutputRules:
        """Rules for these inputs, resolved now."""
        return cls(tuple(resolved(p) for p in inputs), force)

    def check_not_input(self, target: Path) -> None:
        """Raise if ``target`` is an input, a hard link to one, or inside an input folder."""
        real = resolved(target)
        for source in self.inputs:
            if real == source or (real.exists() and source.exists() and real.samefile(source)):
                raise UnsafeOutputError("would write onto an input", path=target)
            if _within(real, source) and source.is_dir():
                raise UnsafeOutputError(
                    "would write inside an input folder", path=target, value=str(source)
                )

    def check(self, target: Path) -> None:
        """Raise unless ``target`` may be written: not an input, free or ``force``."""
        self.check_not_input(target)
        if os.path.isdir(target):
            raise UnsafeOutputError("is a folder; name a file", path=target)
        if os.path.lexists(target) and not self.force:
            raise UnsafeOutputError("exists already; use --force to replace it", path=target)


def publish(temp: Path, target: Path, *, force: bool) -> None:
    """Rename a finished ``temp`` file to ``target``; without ``force`` never replace one.

    Without ``force`` the file is hard-linked to its name (which fails if the name is
    taken, even by a file that appeared a moment ago) and the temporary name removed.

    Raises:
        UnsafeOutputError: ``target`` exists and ``force`` is false (``temp`` is removed).
    """
    if force:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)
    except FileExistsError as exc:
        temp.unlink(missing_ok=True)
        raise UnsafeOutputError("exists already; use --force to replace it", path=target) from exc
    except OSError as exc:  # a file system without hard links
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(target):
            temp.unlink(missing_ok=True)
            raise UnsafeOutputError(
                "exists already; use --force to replace it", path=target
            ) from exc
        os.replace(temp, target)
        return
    temp.unlink()


@contextlib.contextmanager
def atomic_output(
    target: str | Path, rules: OutputRules | None = None, *, mode: int | None = None
) -> Iterator[Path]:
    """A temporary path beside ``target`` to write; renamed to ``target`` on success.

    The temporary name ends with the target's own name, so writers that choose a
    format by suffix (``.nii.gz``) still do. On an exception it is removed.

    Args:
        target: the file to produce.
        rules: inputs to protect and ``force``; checked before anything is written.
        mode: permission bits of the result (e.g. ``0o600``); default by umask.

    Raises:
        UnsafeOutputError: the rules refuse ``target``.
        ExportError: the folder cannot be created.
    """
    target = Path(target)
    rules = rules or OutputRules()
    rules.check(target)
    _make_folder(target.parent)
    temp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{target.name}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    os.close(fd)
    try:
        yield temp
        if mode is not None:
            os.chmod(temp, mode)
        publish(temp, target, force=rules.force)
    finally:
        temp.unlink(missing_ok=True)


def write_file(
    target: str | Path,
    data: bytes | str,
    rules: OutputRules | None = None,
    *,
    mode: int | None = None,
) -> Path:
    """Write ``data`` (text as UTF-8) to ``target`` atomically, under ``rules``.

    Raises:
        UnsafeOutputError: the rules refuse ``target``.
        ExportError: it cannot be written.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with atomic_output(target, rules, mode=mode) as temp:
            temp.write_bytes(payload)
    except UnsafeOutputError:
        raise
    except OSError as exc:
        raise ExportError(f"cannot write: {exc.strerror}", path=target) from exc
    return Path(target)


def _make_folder(folder: Path) -> None:
    if os.path.isdir(folder):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise UnsafeOutputError("exists and is not a folder", path=folder) from exc
    except OSError as exc:
        raise ExportError(f"cannot create the folder: {exc.strerror}", path=folder) from exc


@dataclass
class OutputFolder:
    """An output folder: created if missing, never an input nor inside one.

    Args:
        root: the folder.
        rules: the command's inputs and ``force``.

    Raises:
        UnsafeOutputError: ``root`` is a file, an input, or inside an input folder.
    """

    root: Path
    rules: OutputRules = field(default_factory=OutputRules)
    _checked: dict[str, bool] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if os.path.lexists(self.root) and not os.path.isdir(self.root):
            raise UnsafeOutputError("the output exists and is not a folder", path=self.root)
        real = resolved(self.root)
        for source in self.rules.inputs:
            if _within(real, source):
                raise UnsafeOutputError(
                    "the output folder is the input or lies inside it; choose a folder "
                    "outside the input",
                    path=self.root,
                    value=str(source),
                )
        _make_folder(self.root)
        self.real = resolved(self.root)

    def path(self, relative: str | Path) -> Path:
        """``root / relative``, once checked to stay inside the folder and off the inputs.

        Raises:
            UnsafeOutputError: an absolute name, ``..``, or a folder that resolves
                (through a symlink) outside the output folder or into an input.
        """
        rel = Path(relative)
        if not rel.parts or rel.is_absolute() or ".." in rel.parts:
            raise UnsafeOutputError(
                "the name leaves the output folder", path=self.root, value=str(relative)
            )
        target = self.root / rel
        parent = str(target.parent)
        if parent not in self._checked:  # one check per folder, not per file
            real = resolved(parent)
            if not _within(real, self.real):
                raise UnsafeOutputError(
                    "the name leads outside the output folder (a symlink?)",
                    path=self.root,
                    value=str(relative),
                )
            self.rules.check_not_input(Path(parent) / "_")
            self._checked[parent] = True
        if os.path.islink(target) and not _within(resolved(target), self.real):
            raise UnsafeOutputError(
                "the name is a symlink leading outside the output folder",
                path=self.root,
                value=str(relative),
            )
        return target

    def claim(self, *relatives: str | Path) -> None:
        """Check now, before long work, that these names may be written."""
        for relative in relatives:
            self.rules.check(self.path(relative))

    def write(self, relative: str | Path, data: bytes | str, *, mode: int | None = None) -> Path:
        """Write one file inside the folder atomically (see :func:`write_file`)."""
        return write_file(self.path(relative), data, self.rules, mode=mode)

    def update(self, relative: str | Path, data: bytes | str) -> Path:
        """Replace atomically a file that runs into this folder keep up to date.

        For a record the caller has merged (a manifest, a summary): it may exist.
        """
        rules = OutputRules(self.rules.inputs, force=True)
        return write_file(self.path(relative), data, rules)

    def make_folder(self, relative: str | Path) -> Path:
        """Create a sub-folder (checked like a file name) and return it."""
        target = self.path(Path(relative) / "_").parent
        _make_folder(target)
        return target
