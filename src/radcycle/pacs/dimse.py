"""DIMSE (PS3.7) with pynetdicom: C-ECHO, C-FIND, C-GET or C-MOVE, C-STORE as a user.

Queries and retrievals use the Study Root information model (PS3.4 C.6.2). A
retrieval first asks the study's instances (C-FIND at IMAGE level) so that it knows
the SOP classes to negotiate and how many instances must arrive; then

* C-GET brings them back over the same association (no port of ours to open), or
* C-MOVE asks the PACS to send them to our AE title, for which it must know our host
  and port: a storage SCP of ours listens there for the length of the move.

Instances are written as received, ``<SOPInstanceUID>.dcm`` (the encoded data set
behind a File Meta header, never decoded and re-encoded).

Example:
    >>> s = DimseSettings.from_url("dicom://ORTHANC@127.0.0.1:4242", calling_aet="ME")
    >>> (s.called_aet, s.host, s.port, s.calling_aet, s.retrieve_method)
    ('ORTHANC', '127.0.0.1', 4242, 'ME', 'get')
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_role, evt
from pynetdicom.association import Association

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError, PacsError, RadcycleError
from radcycle.io.output import OutputRules, write_file
from radcycle.pacs.gateway import (
    STUDY_RETURN_KEYS,
    InstanceRef,
    LocalInstance,
    RetrievedStudy,
    StoreOutcome,
    StudyMatch,
    StudyQuery,
    Verification,
    instance_file_name,
    verify_by_query,
)

__all__ = ["DimseGateway", "DimseSettings", "check_ae_title"]

# PS3.4 C.6.2 (Study Root query/retrieve) and A.4 (Verification) SOP classes.
StudyRootQueryRetrieveInformationModelFind = UID("1.2.840.10008.5.1.4.1.2.2.1")
StudyRootQueryRetrieveInformationModelMove = UID("1.2.840.10008.5.1.4.1.2.2.2")
StudyRootQueryRetrieveInformationModelGet = UID("1.2.840.10008.5.1.4.1.2.2.3")
VerificationSOPClass = UID("1.2.840.10008.1.1")
# PS3.7 C: 0x0000 success; 0xFF00/0xFF01 pending; 0xB000, 0xB006, 0xB007 warnings.
_SUCCESS = 0x0000
_PENDING = (0xFF00, 0xFF01)
_WARNINGS = (0xB000, 0xB006, 0xB007)
# PS3.4 B.2.3: 0xA700 out of resources (we could not write it).
_OUT_OF_RESOURCES = 0xA700
# PS3.7 D.3.3.2: at most 128 presentation contexts in one association.
_MAX_CONTEXTS = 128


def check_ae_title(title: str, what: str = "AE title") -> str:
    """An AE title (PS3.5 6.2 AE): 1 to 16 characters, no backslash nor control character.

    Example:
        >>> check_ae_title("RADCYCLE")
        'RADCYCLE'
    """
    text = title.strip()
    if not 1 <= len(text) <= 16 or "\\" in text or any(ord(c) < 32 for c in text):
        raise InputError(f"{what} must be 1 to 16 characters without '\\'", value=title)
    return text


@dataclass(frozen=True)
class DimseSettings:
    """Where the PACS listens and how to speak to it.

    Args:
        host, port, called_aet: the PACS.
        calling_aet: our AE title (the PACS must know it for C-MOVE).
        retrieve_method: ``"get"`` (C-GET) or ``"move"`` (C-MOVE to us).
        move_host, move_port: where our storage SCP listens during a C-MOVE.
        timeout: seconds to wait for an association or an answer.
        associations: C-STORE over this many associations at once. A PACS commonly
            answers each C-STORE only once the instance is filed (Orthanc 1.10: about
            70 ms for a 512 x 512 slice), so a study goes faster in parallel;
            ``benchmarks.run pacs`` measured 64 slices in 4.2 s over 1, 1.2 s over 4.
    """

    host: str
    port: int
    called_aet: str
    calling_aet: str = "RADCYCLE"
    retrieve_method: str = "get"
    move_host: str = "127.0.0.1"
    move_port: int = 11112
    timeout: float = 60.0
    associations: int = 4

    def __post_init__(self) -> None:
        check_ae_title(self.called_aet, "the PACS AE title")
        check_ae_title(self.calling_aet, "our AE title")
        if self.retrieve_method not in ("get", "move"):
            raise InputError("retrieve method must be 'get' or 'move'", value=self.retrieve_method)
        if not 1 <= self.associations <= 32:
            raise InputError("associations must be 1 to 32", value=self.associations)
        for port in (self.port, self.move_port):
            if not 0 < port < 65536:
                raise InputError("a port is 1 to 65535", value=port)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DimseSettings:
        """Settings from ``dicom://CALLED_AET@host:port`` and keyword options."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError as exc:
            raise InputError("the port of a dicom:// URL must be a number", value=url) from exc
        if parts.scheme != "dicom" or not parts.hostname or not parts.username or port is None:
            raise InputError("a DIMSE PACS is dicom://AET@host:port", value=url)
        return cls(parts.hostname, port, parts.username, **options)


@dataclass
class _Receiver:
    """Writes each instance a C-GET or C-MOVE brings into ``folder``."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Any) -> int:
        try:
            name = instance_file_name(str(event.request.AffectedSOPInstanceUID))
            data = event.encoded_dataset(include_meta=True)
            path = write_file(self.folder / name, data, OutputRules())
        except (RadcycleError, OSError) as exc:
            with self.lock:
                self.errors.append(str(exc))
            return _OUT_OF_RESOURCES
        with self.lock:
            self.files.append(path)
            self.size += len(data)
        return _SUCCESS


def _keywords(identifier: Dataset | None) -> dict[str, Any]:
    if identifier is None:
        return {}
    out: dict[str, Any] = {}
    for element in identifier:
        if not element.keyword:
            continue
        value = element.value
        if element.VM > 1:
            out[element.keyword] = [str(v) for v in value]
        else:
            out[element.keyword] = "" if value is None else str(value)
    return out


class DimseGateway:
    """A PACS reached over DIMSE (see the module docstring)."""

    def __init__(self, settings: DimseSettings) -> None:
        self.settings = settings
        self.description = (
            f"DIMSE {settings.called_aet}@{settings.host}:{settings.port} "
            f"(as {settings.calling_aet}, retrieve by C-{settings.retrieve_method.upper()})"
        )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DimseGateway:
        return cls(DimseSettings.from_url(url, **options))

    def close(self) -> None:
        """Nothing stays open between calls (one association per call)."""

    def __enter__(self) -> DimseGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ae(self) -> AE:
        ae = AE(ae_title=self.settings.calling_aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.settings.timeout
        ae.connection_timeout = self.settings.timeout
        return ae

    @contextlib.contextmanager
    def _association(
        self,
        ae: AE,
        what: str,
        ext_neg: list[Any] | None = None,
        evt_handlers: list[Any] | None = None,
    ) -> Iterator[Association]:
        s = self.settings
        _reachable(s, what)
        assoc = ae.associate(
            s.host, s.port, ae_title=s.called_aet, ext_neg=ext_neg, evt_handlers=evt_handlers
        )
        if not assoc.is_established:
            raise PacsError(
                f"{what}: no association with {s.called_aet} at {s.host}:{s.port} "
                "(not reachable, or our AE title is refused)"
            )
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def echo(self) -> float:
        """C-ECHO: the round trip in seconds."""
        ae = self._ae()
        ae.add_requested_context(VerificationSOPClass)
        start = time.perf_counter()
        with self._association(ae, "echo") as assoc:
            status = assoc.send_c_echo()
        _check_status(status, "echo")
        return time.perf_counter() - start

    def _find(self, identifier: Dataset, what: str, limit: int | None = None) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        answers: list[Dataset] = []
        with self._association(ae, what) as assoc:
            for status, found in assoc.send_c_find(
                identifier, StudyRootQueryRetrieveInformationModelFind
            ):
                code = _status_code(status, what)
                if code in _PENDING and found is not None:
                    answers.append(found)
                    if limit is not None and len(answers) >= limit:
                        assoc.send_c_cancel(
                            1, query_model=StudyRootQueryRetrieveInformationModelFind
                        )
                        break
                elif code != _SUCCESS:
                    raise PacsError(f"{what}: the PACS answered status 0x{code:04X}")
        return answers

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        """C-FIND at STUDY level with the query's keys and the usual return keys."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        for keyword in STUDY_RETURN_KEYS:
            setattr(ds, keyword, "")
        for keyword, value in query.as_dicom_keys().items():
            setattr(ds, keyword, value)
        found = self._find(ds, "find studies", query.limit)
        return [StudyMatch.from_keywords(_keywords(f)) for f in found]

    def find_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        """C-FIND at IMAGE level: every SOP instance of the study, with its SOP class."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "IMAGE"
        ds.StudyInstanceUID = validate_uid(study_instance_uid, "StudyInstanceUID")
        ds.SeriesInstanceUID = ""
        ds.SOPInstanceUID = ""
        ds.SOPClassUID = ""
        return [
            InstanceRef(
                study_instance_uid,
                str(f.get("SeriesInstanceUID", "")),
                str(f.get("SOPInstanceUID", "")),
                str(f.get("SOPClassUID", "")),
            )
            for f in self._find(ds, "find instances")
        ]

    def retrieve(self, study_instance_uid: str, dest_dir: Path) -> RetrievedStudy:
        """C-GET or C-MOVE (per the settings) of a study into ``dest_dir``.

        Raises:
            PacsError: the PACS does not hold the study, refuses, or not every
                instance arrived and was written.
        """
        refs = self.find_instances(study_instance_uid)
        if not refs:
            raise PacsError("retrieve: the PACS holds no instance of the study",
                            value=study_instance_uid)  # fmt: skip
        dest_dir.mkdir(parents=True, exist_ok=True)
        receiver = _Receiver(dest_dir)
        sop_classes = sorted({r.sop_class_uid for r in refs if r.sop_class_uid})
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.StudyInstanceUID = study_instance_uid
        if self.settings.retrieve_method == "get":
            self._get(ds, sop_classes, receiver)
        else:
            self._move(ds, receiver)
        if receiver.errors or len(receiver.files) < len(refs):
            raise PacsError(
                f"retrieve: {len(receiver.files)} of {len(refs)} instances written"
                + (f"; first error: {receiver.errors[0]}" if receiver.errors else ""),
                value=study_instance_uid,
            )
        return RetrievedStudy(study_instance_uid, dest_dir, tuple(receiver.files), receiver.size)

    def _get(self, ds: Dataset, sop_classes: Sequence[str], receiver: _Receiver) -> None:
        if len(sop_classes) >= _MAX_CONTEXTS:
            raise PacsError("retrieve: the study has more SOP classes than one association takes")
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        for uid in sop_classes:
            ae.add_requested_context(uid, ALL_TRANSFER_SYNTAXES)
        roles = [build_role(uid, scp_role=True) for uid in sop_classes]
        handlers = [(evt.EVT_C_STORE, receiver)]
        with self._association(ae, "retrieve (C-GET)", roles, handlers) as assoc:
            responses = assoc.send_c_get(ds, StudyRootQueryRetrieveInformationModelGet)
            _final_status(responses, "retrieve (C-GET)")

    def _move(self, ds: Dataset, receiver: _Receiver) -> None:
        s = self.settings
        scp = AE(ae_title=s.calling_aet)
        scp.network_timeout = scp.acse_timeout = scp.dimse_timeout = s.timeout
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                scp.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        try:
            server = scp.start_server(
                (s.move_host, s.move_port), block=False, evt_handlers=[(evt.EVT_C_STORE, receiver)]
            )
        except OSError as exc:
            raise PacsError(
                f"retrieve (C-MOVE): cannot listen on {s.move_host}:{s.move_port} ({exc})"
            ) from exc
        try:
            ae = self._ae()
            ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
            with self._association(ae, "retrieve (C-MOVE)") as assoc:
                responses = assoc.send_c_move(
                    ds, s.calling_aet, StudyRootQueryRetrieveInformationModelMove
                )
                _final_status(responses, "retrieve (C-MOVE)")
        finally:
            if server is not None:
                server.shutdown()

    def store(self, files: Sequence[LocalInstance]) -> StoreOutcome:
        """C-STORE each file as it is on disk, over ``associations`` associations at once.

        Each association negotiates at most 128 presentation contexts (one per SOP
        class and transfer syntax of its files); more take several in turn.
        """
        lanes = max(1, min(self.settings.associations, len(files) // 8))
        shares = [list(files[i::lanes]) for i in range(lanes)]
        if lanes == 1:
            results = [self._store_share(shares[0])]
        else:
            with ThreadPoolExecutor(lanes, thread_name_prefix="radcycle-c-store") as pool:
                results = list(pool.map(self._store_share, shares))
        order = {f.ref.sop_instance_uid: n for n, f in enumerate(files)}
        stored = sorted(
            (r for ok, _ in results for r in ok), key=lambda r: order[r.sop_instance_uid]
        )
        failed = sorted(
            (b for _, bad in results for b in bad), key=lambda b: order[b[0].sop_instance_uid]
        )
        return StoreOutcome(tuple(stored), tuple(failed))

    def _store_share(
        self, files: list[LocalInstance]
    ) -> tuple[list[InstanceRef], list[tuple[InstanceRef, str]]]:
        stored: list[InstanceRef] = []
        failed: list[tuple[InstanceRef, str]] = []
        for group in _context_groups(files):
            ok, bad = self._store_group(group)
            stored += ok
            failed += bad
        return stored, failed

    def _store_group(
        self, files: list[LocalInstance]
    ) -> tuple[list[InstanceRef], list[tuple[InstanceRef, str]]]:
        ae = self._ae()
        for (sop_class, _syntax), syntaxes in _contexts(files).items():
            ae.add_requested_context(sop_class, syntaxes)
        ok: list[InstanceRef] = []
        bad: list[tuple[InstanceRef, str]] = []
        with self._association(ae, "store") as assoc:
            for f in files:
                try:
                    status = assoc.send_c_store(f.path)
                except (ValueError, RuntimeError) as exc:  # no accepted context for it
                    bad.append((f.ref, f"not sent: {exc}"))
                    continue
                code = int(getattr(status, "Status", -1)) if status else -1
                if code == _SUCCESS or code in _WARNINGS:
                    ok.append(f.ref)
                else:
                    why = "no answer" if code < 0 else f"status 0x{code:04X}"
                    bad.append((f.ref, f"refused by the PACS ({why})"))
        return ok, bad

    def verify_stored(self, refs: Iterable[InstanceRef]) -> Verification:
        """C-FIND after C-STORE: which of ``refs`` the PACS lists now."""
        return verify_by_query(self, refs)


def _reachable(s: DimseSettings, what: str) -> None:
    """Refuse early a peer that does not accept TCP connections, with the reason.

    (pynetdicom leaves its socket unclosed when the connection is refused.)
    """
    try:
        socket.create_connection((s.host, s.port), timeout=s.timeout).close()
    except OSError as exc:
        raise PacsError(
            f"{what}: no association with {s.called_aet} at {s.host}:{s.port} ({exc})"
        ) from exc


def _contexts(files: Iterable[LocalInstance]) -> dict[tuple[str, str], list[str]]:
    """One presentation context per (SOP class, transfer syntax) of the files."""
    out: dict[tuple[str, str], list[str]] = {}
    for f in files:
        out.setdefault((f.ref.sop_class_uid, f.transfer_syntax_uid), [f.transfer_syntax_uid])
    return out


def _context_groups(files: Sequence[LocalInstance]) -> Iterator[list[LocalInstance]]:
    group: list[LocalInstance] = []
    keys: set[tuple[str, str]] = set()
    for f in files:
        key = (f.ref.sop_class_uid, f.transfer_syntax_uid)
        if key not in keys and len(keys) >= _MAX_CONTEXTS:
            yield group
            group, keys = [], set()
        keys.add(key)
        group.append(f)
    if group:
        yield group


def _status_code(status: Dataset | None, what: str) -> int:
    if status is None or "Status" not in status:
        raise PacsError(f"{what}: the PACS did not answer in time (or aborted)")
    return int(status.Status)


def _check_status(status: Dataset | None, what: str) -> None:
    code = _status_code(status, what)
    if code != _SUCCESS:
        raise PacsError(f"{what}: the PACS answered status 0x{code:04X}")


def _final_status(responses: Iterable[tuple[Dataset, Dataset | None]], what: str) -> None:
    code = None
    failed = 0
    for status, _identifier in responses:
        code = _status_code(status, what)
        failed = int(status.get("NumberOfFailedSuboperations", 0) or 0)
        if code not in _PENDING:
            break
    if code is None:
        raise PacsError(f"{what}: no answer from the PACS")
    if code != _SUCCESS:
        raise PacsError(
            f"{what}: the PACS answered status 0x{code:04X} ({failed} sub-operations failed)"
        )
