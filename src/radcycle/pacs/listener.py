"""``radcycle listen``: a DICOM C-STORE SCP that files studies and hands on complete ones.

Each instance a modality or PACS sends is written to
``FOLDER/<StudyInstanceUID>/<SOPInstanceUID>.dcm`` as received (written under a
temporary name in ``FOLDER/.partial`` and linked into place, so a reader of the study
folder never sees half a file). A study counts as complete once no instance of it has
arrived for ``quiet_seconds``; then the hook is called once with a
:class:`CompletedStudy` (a later instance of the same study starts it again, and it
is handed on again when quiet). The hook is the one seam to the rest of radcycle: a
:class:`QueueFolder` (one JSON file per study), the service's job API, or the CLI's
``--analyze``.

What it refuses, with a DIMSE failure status and nothing written:

* anything but storage SOP classes and Verification (at association negotiation);
* a data set that cannot be decoded, or whose StudyInstanceUID / SOPInstanceUID is
  missing, not a UID, or differs from the C-STORE request (0xC000, cannot understand);
* an instance whose file exists with other content (0x0111, duplicate SOP instance):
  never overwritten; the same content again is accepted and left as it is.

It listens on loopback unless told otherwise, and can be limited to calling AE titles.
What was handed on is recorded in ``FOLDER/.handed-on/<StudyInstanceUID>.json``; at
start, a study folder holding other instances than were handed on (the listener was
stopped while it arrived, or before its hook ran) is tracked again and handed on once
quiet, so a restart loses no study.

Example:
    >>> tracker = StudyTracker(quiet_seconds=5)
    >>> tracker.received("1.2.3", Path("/in/1.2.3"), "CT1", now=100.0)
    >>> tracker.complete(now=104.0)
    []
    >>> [s.study_instance_uid for s in tracker.complete(now=105.0)]
    ['1.2.3']
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError, PacsError, RadcycleError, UnsafeOutputError
from radcycle.io.output import OutputFolder, publish, write_file
from radcycle.pacs.dimse import check_ae_title

__all__ = [
    "CompletedStudy",
    "ListenerSettings",
    "QueueFolder",
    "StoreListener",
    "StudyHook",
    "StudyTracker",
]

log = logging.getLogger(__name__)

# PS3.4 B.2.3 and PS3.7 C.4.2: C-STORE statuses the listener answers.
_SUCCESS = 0x0000
_DUPLICATE = 0x0111
_OUT_OF_RESOURCES = 0xA700
_CANNOT_UNDERSTAND = 0xC000
_VERIFICATION = "1.2.840.10008.1.1"
_PARTIAL = ".partial"
_HANDED_ON = ".handed-on"


@dataclass(frozen=True)
class ListenerSettings:
    """Where and how the listener listens.

    Args:
        folder: where studies are filed (created).
        host: the address to listen on; loopback by default.
        port: the TCP port.
        ae_title: our AE title (the sender's "called AE").
        quiet_seconds: a study is complete after this long without a new instance.
        calling_aets: AE titles allowed to send; empty: any.
    """

    folder: Path
    host: str = "127.0.0.1"
    port: int = 11112
    ae_title: str = "RADCYCLE"
    quiet_seconds: float = 30.0
    calling_aets: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_ae_title(self.ae_title, "the listener's AE title")
        if not 0 < self.port < 65536:
            raise InputError("a port is 1 to 65535", value=self.port)
        if not self.quiet_seconds > 0:
            raise InputError("the quiet time must be more than 0 seconds", value=self.quiet_seconds)

    @property
    def loopback_only(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class CompletedStudy:
    """A study that went quiet: where it is filed and what arrived."""

    study_instance_uid: str
    folder: Path
    instances: int
    received: int
    calling_aets: tuple[str, ...]
    first_received: str
    last_received: str

    def to_json(self) -> dict[str, Any]:
        return {
            "study_instance_uid": self.study_instance_uid,
            "folder": str(self.folder),
            "instances": self.instances,
            "received": self.received,
            "calling_aets": list(self.calling_aets),
            "first_received": self.first_received,
            "last_received": self.last_received,
        }


#: What the listener calls with each completed study (from its own thread).
StudyHook = Callable[[CompletedStudy], None]


@dataclass
class _Arrival:
    folder: Path
    first: float
    last: float
    received: int = 0
    aets: set[str] = field(default_factory=set)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


class StudyTracker:
    """Studies receiving, and those quiet for ``quiet_seconds`` (thread-safe).

    Times are seconds on the caller's clock (``time.time()`` in the listener).
    """

    def __init__(self, quiet_seconds: float) -> None:
        self.quiet_seconds = quiet_seconds
        self._arrivals: dict[str, _Arrival] = {}
        self._lock = threading.Lock()

    def received(self, study_uid: str, folder: Path, calling_aet: str, now: float) -> None:
        """One instance of ``study_uid`` arrived at ``now``."""
        with self._lock:
            arrival = self._arrivals.setdefault(study_uid, _Arrival(folder, now, now))
            arrival.last = max(arrival.last, now)
            arrival.received += 1
            arrival.aets.add(calling_aet)

    def resume(self, study_uid: str, folder: Path, now: float) -> None:
        """A study found on disk at start, never handed on as it is: track it as arriving."""
        with self._lock:
            self._arrivals.setdefault(study_uid, _Arrival(folder, now, now))

    def pending(self) -> list[str]:
        """The studies still receiving."""
        with self._lock:
            return sorted(self._arrivals)

    def complete(self, now: float) -> list[CompletedStudy]:
        """The studies quiet since ``now - quiet_seconds``; they are forgotten here."""
        with self._lock:
            done = [uid for uid, a in self._arrivals.items() if now - a.last >= self.quiet_seconds]
            arrivals = [(uid, self._arrivals.pop(uid)) for uid in sorted(done)]
        return [
            CompletedStudy(
                uid,
                a.folder,
                sum(1 for p in a.folder.glob("*.dcm")),
                a.received,
                tuple(sorted(a.aets)),
                _iso(a.first),
                _iso(a.last),
            )
            for uid, a in arrivals
        ]


class QueueFolder:
    """A hook that queues each completed study as one JSON file in ``folder``.

    Files are named ``<UTC time>-<StudyInstanceUID>.json`` and never replaced; a
    worker (the service's, or a script) takes them in name order.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = OutputFolder(folder)

    def __call__(self, study: CompletedStudy) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{study.study_instance_uid}.json"
        self.folder.write(name, json.dumps(study.to_json(), indent=2) + "\n")


def _status(code: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]  # LO: at most 64 characters
    return ds


class StoreListener:
    """The C-STORE SCP (see the module docstring). Use as a context manager or start/stop.

    Args:
        settings: where to listen and file studies.
        hook: called with each completed study, from the listener's monitor thread;
            an exception it raises is logged and the listener goes on.
    """

    def __init__(self, settings: ListenerSettings, hook: StudyHook | None = None) -> None:
        self.settings = settings
        self.hook = hook
        self.tracker = StudyTracker(settings.quiet_seconds)
        self.stored = 0
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: Any = None
        self._monitor: threading.Thread | None = None
        self.recovered: list[str] = []

    # -- receiving ---------------------------------------------------------------

    def _reject(self, code: int, why: str) -> Dataset:
        with self._lock:
            self.rejected.append(why)
        log.warning("instance refused: %s", why)
        return _status(code, why)

    def _on_store(self, event: Any) -> Dataset | int:
        try:
            ds = event.dataset
            study = validate_uid(str(ds.get("StudyInstanceUID", "") or ""), "StudyInstanceUID")
            sop = validate_uid(str(ds.get("SOPInstanceUID", "") or ""), "SOPInstanceUID")
        except InputError as exc:
            return self._reject(_CANNOT_UNDERSTAND, exc.message)
        except Exception as exc:  # pydicom raises many kinds on garbage
            return self._reject(
                _CANNOT_UNDERSTAND, f"not a decodable data set ({type(exc).__name__})"
            )
        if sop != str(event.request.AffectedSOPInstanceUID):
            return self._reject(_CANNOT_UNDERSTAND, "SOPInstanceUID differs from the request")
        try:
            data = event.encoded_dataset(include_meta=True)
            code = self._file(study, sop, data)
        except (RadcycleError, OSError) as exc:
            return self._reject(_OUT_OF_RESOURCES, f"cannot write: {exc}")
        if code != _SUCCESS:
            return self._reject(code, "a different instance with this SOPInstanceUID is on file")
        calling = str(event.assoc.requestor.ae_title).strip()
        self.tracker.received(study, self.settings.folder / study, calling, time.time())
        with self._lock:
            self.stored += 1
        return _SUCCESS

    def _file(self, study: str, sop: str, data: bytes) -> int:
        root = self.settings.folder
        target = root / study / f"{sop}.dcm"
        if target.exists():
            return _SUCCESS if target.read_bytes() == data else _DUPLICATE
        (root / study).mkdir(exist_ok=True)
        temp = root / _PARTIAL / f"{secrets.token_hex(8)}.dcm"
        write_file(temp, data)
        try:
            publish(temp, target, force=False)
        except UnsafeOutputError:  # the same instance, arrived a moment ago
            return _SUCCESS if target.read_bytes() == data else _DUPLICATE
        return _SUCCESS

    # -- completion ----------------------------------------------------------------

    def _watch(self) -> None:
        step = min(1.0, self.settings.quiet_seconds / 4)
        while not self._stop.wait(step):
            self.check_complete()

    def check_complete(self, now: float | None = None) -> list[CompletedStudy]:
        """Hand each study quiet by ``now`` to the hook (the monitor thread calls this)."""
        done = self.tracker.complete(time.time() if now is None else now)
        for study in done:
            log.info("study complete: %d instances in %s", study.instances, study.folder)
            if self.hook is not None:
                try:
                    self.hook(study)
                except Exception:  # a failing hook must not stop the listener
                    log.exception("the hook failed on a completed study; the listener goes on")
                    continue  # not recorded: handed on again after a restart
            self._record_handed_on(study)
        return done

    def _record_handed_on(self, study: CompletedStudy) -> None:
        record = {"instances": study.instances, "at": study.last_received}
        handed = OutputFolder(self.settings.folder / _HANDED_ON)
        handed.update(f"{study.study_instance_uid}.json", json.dumps(record) + "\n")

    def _recover(self) -> list[str]:
        """Track again the studies on disk that were never handed on as they are now.

        A listener stopped (or killed) while a study was arriving, or before its hook
        ran, leaves a study folder whose instances differ from what was last handed on;
        it is handed on once quiet again, as if its last instance had just arrived.
        """
        root = self.settings.folder
        found = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != "."):
            try:
                uid = validate_uid(folder.name, "StudyInstanceUID")
            except InputError:
                continue
            count = sum(1 for _ in folder.glob("*.dcm"))
            record = root / _HANDED_ON / f"{uid}.json"
            try:
                handed = int(json.loads(record.read_text())["instances"])
            except (OSError, ValueError, KeyError, TypeError):
                handed = -1
            if count and count != handed:
                self.tracker.resume(uid, folder, time.time())
                found.append(uid)
        return found

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        """Listen (in background threads).

        Raises:
            PacsError: the address cannot be listened on.
            UnsafeOutputError: the folder is a file.
        """
        s = self.settings
        OutputFolder(s.folder)
        (s.folder / _PARTIAL).mkdir(exist_ok=True)
        for stale in (s.folder / _PARTIAL).iterdir():  # left by a listener that was killed
            stale.unlink(missing_ok=True)
        self.recovered = self._recover()
        ae = AE(ae_title=s.ae_title)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(_VERIFICATION)
        if s.calling_aets:
            ae.require_calling_aet = sorted(s.calling_aets)
        try:
            self._server = ae.start_server(
                (s.host, s.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._on_store)]
            )
        except OSError as exc:
            raise PacsError(f"cannot listen on {s.host}:{s.port} ({exc.strerror})") from exc
        self._stop.clear()
        self._monitor = threading.Thread(target=self._watch, name="radcycle-listen", daemon=True)
        self._monitor.start()

    def stop(self) -> None:
        """Stop listening. Studies still receiving are not handed on (they may be partial)."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join()
            self._monitor = None
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` is called from elsewhere (True) or ``timeout`` passes."""
        return self._stop.wait(timeout)

    def __enter__(self) -> StoreListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
