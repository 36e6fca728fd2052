"""A throw-away Orthanc PACS on loopback only, for tests, benchmarks and demos.

Orthanc 1.10 binds every interface whatever its ``RemoteAccessAllowed`` says, so it
runs here in a network namespace of its own that holds nothing but loopback
(``unshare --net`` then ``ip link set lo up``): nothing outside the machine can
reach it. The calling thread joins that namespace with :meth:`LocalOrthanc.inside`
(``setns``, Linux, root) to talk to it; threads it starts there (a listener, a C-MOVE
destination) live there too. The server gets ``PR_SET_PDEATHSIG``: it dies with the
thread that started it, so it never outlives the tests. Its configuration, storage
and index live in a folder of the caller's (a temporary one).

Example:
    >>> settings = OrthancSettings(password="pw", modalities={"RADCYCLE": 11112})
    >>> settings.config(Path("/tmp/x"), Path("/p.so"))["DicomModalities"]["RADCYCLE"]["Port"]
    11112
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radcycle.errors import PacsError

__all__ = ["LocalOrthanc", "OrthancSettings", "orthanc_unavailable"]

DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class OrthancSettings:
    """How the local Orthanc is set up.

    Args:
        http_port, dicom_port: its ports (free in its own namespace).
        aet: its application entity title.
        username, password: the one registered HTTP user (a random password by default).
        modalities: AE titles it may send to (C-MOVE), each on ``127.0.0.1:port``.
    """

    http_port: int = 8042
    dicom_port: int = 4242
    aet: str = "ORTHANC"
    username: str = "radcycle"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    modalities: dict[str, int] = field(default_factory=dict)

    def config(self, storage: Path, plugin: Path) -> dict[str, Any]:
        """The Orthanc JSON configuration."""
        return {
            "Name": "radcycle-test-orthanc",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "DicomModalities": {
                aet: {"AET": aet, "Host": "127.0.0.1", "Port": port}
                for aet, port in self.modalities.items()
            },
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "StableAge": 1,
            "Plugins": [str(plugin)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }


def _plugin_path() -> Path | None:
    if DICOMWEB_PLUGIN.exists():
        return DICOMWEB_PLUGIN
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return None
    listing = subprocess.run(
        [dpkg, "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        if line.endswith(".so") and "DicomWeb" in line:
            return Path(line)
    return None


def orthanc_unavailable() -> str | None:
    """Why a local Orthanc cannot run here, or ``None`` when it can."""
    for tool, package in (("Orthanc", "orthanc"), ("unshare", "util-linux"), ("ip", "iproute2")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian package {package})"
    if _plugin_path() is None:
        return "the DICOMweb plugin is not installed (Debian package orthanc-dicomweb)"
    if os.geteuid() != 0:
        return "joining a network namespace (setns) needs root"
    return None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _setns(fd: int) -> None:
    if _libc().setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise PacsError(f"cannot join the network namespace: {os.strerror(err)}")


class LocalOrthanc:
    """One Orthanc process in its own loopback-only network namespace.

    Args:
        workdir: a folder for its configuration, storage and log (created).
        settings: ports, AE title, credentials, modalities.
    """

    def __init__(self, workdir: Path, settings: OrthancSettings | None = None) -> None:
        self.workdir = workdir
        self.settings = settings or OrthancSettings()
        self._process: subprocess.Popen[bytes] | None = None
        self._netns: int | None = None

    @property
    def dicomweb_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}/dicom-web"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    @property
    def dicom_url(self) -> str:
        return f"dicom://{self.settings.aet}@127.0.0.1:{self.settings.dicom_port}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.settings.username, self.settings.password)

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait until its REST API answers.

        Raises:
            PacsError: it cannot start here, or does not answer within ``timeout``.
        """
        reason = orthanc_unavailable()
        plugin = _plugin_path()
        if reason is not None or plugin is None:
            raise PacsError(f"cannot start a local Orthanc: {reason}")
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "orthanc.json"
        config.write_text(json.dumps(self.settings.config(storage, plugin), indent=2))
        script = 'ip link set lo up && exec Orthanc "$0"'
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                ["unshare", "--net", "sh", "-c", script, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self._netns = self._open_netns()
        self._wait_ready(timeout)

    def _open_netns(self) -> int:
        process = self._process
        if process is None:
            raise PacsError("Orthanc is not running")
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise PacsError(f"Orthanc exited at start; see {self.log_path}")
            # The namespace is the child's once unshare has run: its link differs from ours.
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{process.pid}/ns/net") != own:
                    return os.open(f"/proc/{process.pid}/ns/net", os.O_RDONLY)
            time.sleep(0.01)
        raise PacsError("Orthanc's network namespace did not appear")

    def _wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        with self.inside():
            while time.monotonic() < deadline:
                if self._process is not None and self._process.poll() is not None:
                    raise PacsError(f"Orthanc exited at start; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.rest_url}/system", auth=self.auth).status_code == 200:
                        return
                time.sleep(0.05)
        raise PacsError(f"Orthanc did not answer within {timeout:g} s; see {self.log_path}")

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Run the calling thread (and threads it starts) in Orthanc's namespace."""
        if self._netns is None:
            raise PacsError("Orthanc is not running")
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(self._netns)
            yield
        finally:
            _setns(own)
            os.close(own)

    def stop(self) -> None:
        """Kill it and wait for it to be gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        if self._netns is not None:
            os.close(self._netns)
            self._netns = None

    def __enter__(self) -> LocalOrthanc:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
