"""DICOMweb (PS3.18): QIDO-RS queries, WADO-RS retrieval, STOW-RS storage, over httpx.

httpx rather than a DICOMweb client library: a study streams part by part to disk
and each file is written byte for byte as the PACS sent it (no decode and re-encode),
and every request names its media types explicitly. (A frame request with a generic
Accept header gets HTTP 400 from Orthanc; :meth:`DicomWebGateway.retrieve_frames`
asks for ``application/octet-stream`` with ``transfer-syntax=*``.)

Example:
    >>> gw = DicomWebGateway.from_url("http://user:secret@127.0.0.1:8042/dicom-web/")
    >>> gw.description
    'DICOMweb http://127.0.0.1:8042/dicom-web'
    >>> gw.close()
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from radcycle.domain.identity import validate_uid
from radcycle.errors import InputError, PacsError
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
from radcycle.pacs.multipart import boundary_of, encode_related, iter_parts

__all__ = ["DicomWebGateway"]

DICOM_JSON = "application/dicom+json"
# PS3.18 8.7.3.5.2: "*" asks for the instance in the transfer syntax the PACS holds.
ACCEPT_INSTANCES = 'multipart/related; type="application/dicom"; transfer-syntax=*'
ACCEPT_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'

# One STOW-RS request carries at most this many bytes of files (then another starts).
STOW_BATCH_BYTES = 64 * 1024 * 1024

# PS3.6 tags of a DICOM JSON answer (PS3.18 F.2) that the gateway reads.
_TAGS = {
    "0020000D": "StudyInstanceUID",
    "0020000E": "SeriesInstanceUID",
    "00080018": "SOPInstanceUID",
    "00080016": "SOPClassUID",
    "00100020": "PatientID",
    "00100010": "PatientName",
    "00080020": "StudyDate",
    "00080030": "StudyTime",
    "00080050": "AccessionNumber",
    "00081030": "StudyDescription",
    "00080061": "ModalitiesInStudy",
    "00201206": "NumberOfStudyRelatedSeries",
    "00201208": "NumberOfStudyRelatedInstances",
}
_FAILED_SOP_SEQUENCE = "00081198"
_REFERENCED_SOP_SEQUENCE = "00081199"
_REFERENCED_SOP_INSTANCE_UID = "00081155"
_FAILURE_REASON = "00081197"


def _value(element: Any) -> Any:
    """The value of one DICOM JSON element: a string, a list for many, or None."""
    if not isinstance(element, dict):
        return None
    values = element.get("Value")
    if not isinstance(values, list) or not values:
        return None
    out = []
    for v in values:
        if isinstance(v, dict):  # PN: {"Alphabetic": ...}
            out.append(v.get("Alphabetic", ""))
        else:
            out.append(v)
    return out[0] if len(out) == 1 else out


def _keywords(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise PacsError("a DICOM JSON answer that is not an object", value=str(item)[:80])
    return {name: _value(item.get(tag)) for tag, name in _TAGS.items() if tag in item}


class DicomWebGateway:
    """A PACS reached over DICOMweb at ``base_url`` (the root holding ``/studies``).

    Args:
        base_url: e.g. ``http://127.0.0.1:8042/dicom-web``.
        auth: (user, password) for HTTP basic authentication, if the PACS asks.
        timeout: seconds to wait for each answer.
    """

    def __init__(
        self, base_url: str, *, auth: tuple[str, str] | None = None, timeout: float = 60.0
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError("a DICOMweb URL is http(s)://host[:port]/path", value=base_url)
        self.base_url = base_url.rstrip("/")
        self.description = f"DICOMweb {self.base_url}"
        self._client = httpx.Client(auth=auth, timeout=timeout)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
    ) -> DicomWebGateway:
        """A gateway for ``url``; credentials in the URL (``user:pw@host``) are taken out."""
        parts = urlsplit(url)
        user = username if username is not None else parts.username
        secret = password if password is not None else parts.password
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        clean = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        auth = (user, secret or "") if user else None
        return cls(clean, auth=auth, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> DicomWebGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------

    def _url(self, *path: str) -> str:
        return "/".join([self.base_url, *path])

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code >= 400:
            response.read()
            detail = response.text[:200].strip()
            raise PacsError(
                f"{what}: the PACS answered HTTP {response.status_code}",
                path=self.base_url,
                value=detail or None,
            )

    def _get_json(self, what: str, *path: str, params: dict[str, Any] | None = None) -> list[Any]:
        try:
            response = self._client.get(
                self._url(*path), params=params, headers={"Accept": DICOM_JSON}
            )
        except httpx.HTTPError as exc:
            raise PacsError(f"{what}: cannot reach the PACS ({exc})", path=self.base_url) from exc
        if response.status_code == 204:
            return []
        self._check(response, what)
        try:
            data = response.json()
        except ValueError as exc:
            raise PacsError(f"{what}: the answer is not JSON", path=self.base_url) from exc
        if not isinstance(data, list):
            raise PacsError(f"{what}: the answer is not a JSON array", path=self.base_url)
        return data

    # -- the gateway ---------------------------------------------------------------

    def echo(self) -> float:
        """A QIDO-RS query for one study: the PACS answers DICOMweb (seconds taken)."""
        start = time.perf_counter()
        self._get_json("echo", "studies", params={"limit": 1})
        return time.perf_counter() - start

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        """QIDO-RS ``/studies`` with the query's keys (PS3.18 10.6)."""
        params: dict[str, Any] = dict(query.as_dicom_keys())
        if query.limit is not None:
            params["limit"] = query.limit
        params["includefield"] = ",".join(STUDY_RETURN_KEYS)
        items = self._get_json("find studies", "studies", params=params)
        return [StudyMatch.from_keywords(_keywords(item)) for item in items]

    def find_instances(self, study_instance_uid: str) -> list[InstanceRef]:
        """QIDO-RS ``/studies/{uid}/instances``: the study's SOP instances."""
        validate_uid(study_instance_uid, "StudyInstanceUID")
        items = self._get_json(
            "find instances",
            "studies",
            study_instance_uid,
            "instances",
            params={"includefield": "SeriesInstanceUID"},
        )
        refs = []
        for item in items:
            values = _keywords(item)
            refs.append(
                InstanceRef(
                    str(values.get("StudyInstanceUID") or study_instance_uid),
                    str(values.get("SeriesInstanceUID") or ""),
                    str(values.get("SOPInstanceUID") or ""),
                    str(values.get("SOPClassUID") or ""),
                )
            )
        return refs

    def _stream(self, what: str, accept: str, *path: str) -> Iterator[tuple[dict[str, str], bytes]]:
        try:
            with self._client.stream("GET", self._url(*path), headers={"Accept": accept}) as r:
                self._check(r, what)
                boundary = boundary_of(r.headers.get("content-type", ""))
                yield from iter_parts(r.iter_bytes(), boundary)
        except httpx.HTTPError as exc:
            raise PacsError(f"{what}: the transfer failed ({exc})", path=self.base_url) from exc

    def retrieve(self, study_instance_uid: str, dest_dir: Path) -> RetrievedStudy:
        """WADO-RS ``/studies/{uid}``: each instance to ``dest_dir/<SOPInstanceUID>.dcm``.

        Raises:
            PacsError: the PACS refuses, or sends a part that is not a DICOM file.
            UnsafeOutputError: a file of that name exists already.
        """
        import pydicom

        validate_uid(study_instance_uid, "StudyInstanceUID")
        dest_dir.mkdir(parents=True, exist_ok=True)
        rules = OutputRules()
        files: list[Path] = []
        size = 0
        for _headers, body in self._stream(
            "retrieve", ACCEPT_INSTANCES, "studies", study_instance_uid
        ):
            try:
                uid = pydicom.dcmread(io.BytesIO(body), stop_before_pixels=True).SOPInstanceUID
            except Exception as exc:  # pydicom raises many kinds on garbage
                raise PacsError(
                    "retrieve: the PACS sent a part that is not a DICOM file", path=self.base_url
                ) from exc
            files.append(write_file(dest_dir / instance_file_name(str(uid)), body, rules))
            size += len(body)
        return RetrievedStudy(study_instance_uid, dest_dir, tuple(files), size)

    def retrieve_frames(
        self,
        study_instance_uid: str,
        series_instance_uid: str,
        sop_instance_uid: str,
        frames: Sequence[int],
    ) -> list[bytes]:
        """WADO-RS frames (1-based numbers), each as the PACS stores its pixel data."""
        for uid, key in (
            (study_instance_uid, "StudyInstanceUID"),
            (series_instance_uid, "SeriesInstanceUID"),
            (sop_instance_uid, "SOPInstanceUID"),
        ):
            validate_uid(uid, key)
        if not frames or any(int(f) < 1 for f in frames):
            raise InputError("frame numbers start at 1", value=list(frames))
        path = (
            "studies", study_instance_uid, "series", series_instance_uid,
            "instances", sop_instance_uid, "frames", ",".join(str(int(f)) for f in frames),
        )  # fmt: skip
        return [body for _h, body in self._stream("retrieve frames", ACCEPT_FRAMES, *path)]

    def store(self, files: Sequence[LocalInstance]) -> StoreOutcome:
        """STOW-RS ``/studies``, in requests of at most :data:`STOW_BATCH_BYTES`."""
        stored: list[InstanceRef] = []
        failed: list[tuple[InstanceRef, str]] = []
        for batch in _batches(files, STOW_BATCH_BYTES):
            ok, bad = self._stow(batch)
            stored += ok
            failed += bad
        return StoreOutcome(tuple(stored), tuple(failed))

    def _stow(
        self, batch: list[LocalInstance]
    ) -> tuple[list[InstanceRef], list[tuple[InstanceRef, str]]]:
        body, content_type = encode_related(
            (f.path.read_bytes() for f in batch), "application/dicom"
        )
        try:
            response = self._client.post(
                self._url("studies"),
                content=body,
                headers={"Content-Type": content_type, "Accept": DICOM_JSON},
            )
        except httpx.HTTPError as exc:
            raise PacsError(f"store: cannot reach the PACS ({exc})", path=self.base_url) from exc
        if response.status_code not in (200, 202, 409):  # 409: some failed, listed below
            self._check(response, "store")
        try:
            answer = response.json()
        except ValueError as exc:
            raise PacsError("store: the answer is not JSON", path=self.base_url) from exc
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        accepted = {_sop_uid(i) for i in _sequence(answer, _REFERENCED_SOP_SEQUENCE)}
        refused = {_sop_uid(i): _reason(i) for i in _sequence(answer, _FAILED_SOP_SEQUENCE)}
        ok = [f.ref for f in batch if f.ref.sop_instance_uid in accepted]
        bad = [
            (f.ref, refused.get(f.ref.sop_instance_uid, "not listed as stored by the PACS"))
            for f in batch
            if f.ref.sop_instance_uid not in accepted
        ]
        return ok, bad

    def verify_stored(self, refs: Iterable[InstanceRef]) -> Verification:
        """QIDO-RS after STOW-RS: which of ``refs`` the PACS lists now."""
        return verify_by_query(self, refs)


def _sequence(answer: Any, tag: str) -> list[Any]:
    if not isinstance(answer, dict):
        return []
    element = answer.get(tag)
    if not isinstance(element, dict):
        return []
    items = element.get("Value")
    return items if isinstance(items, list) else []


def _sop_uid(item: Any) -> str:
    value = _value(item.get(_REFERENCED_SOP_INSTANCE_UID)) if isinstance(item, dict) else None
    return str(value or "")


def _reason(item: Any) -> str:
    value = _value(item.get(_FAILURE_REASON)) if isinstance(item, dict) else None
    return f"refused by the PACS (failure reason {value})" if value is not None else "refused"


def _batches(files: Sequence[LocalInstance], limit: int) -> Iterator[list[LocalInstance]]:
    batch: list[LocalInstance] = []
    size = 0
    for f in files:
        length = f.path.stat().st_size
        if batch and size + length > limit:
            yield batch
            batch, size = [], 0
        batch.append(f)
        size += length
    if batch:
        yield batch
