"""``multipart/related`` bodies (RFC 2387), as DICOMweb sends and takes them.

WADO-RS answers a study as one part per instance; STOW-RS takes instances the same
way. :func:`iter_parts` reads parts from a stream of chunks, one part in memory at a
time, so a study of any size streams to disk; :func:`encode_related` builds a body.

Example:
    >>> body, content_type = encode_related([b"one", b"two"], "application/dicom", b"XyZ")
    >>> content_type
    'multipart/related; type="application/dicom"; boundary=XyZ'
    >>> [part for _, part in iter_parts([body[:7], body[7:]], boundary_of(content_type))]
    [b'one', b'two']
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from email.message import Message

from radcycle.errors import PacsError

__all__ = ["boundary_of", "encode_related", "iter_parts"]

_CRLF = b"\r\n"


def boundary_of(content_type: str) -> bytes:
    """The ``boundary`` parameter of a multipart Content-Type.

    Raises:
        PacsError: the answer is not multipart or names no boundary.

    Example:
        >>> boundary_of('multipart/related; type="application/dicom"; boundary="a b"')
        b'a b'
    """
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if message.get_content_maintype() != "multipart" or not isinstance(boundary, str):
        raise PacsError("the PACS answered without a multipart body", value=content_type)
    return boundary.encode("latin-1")


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(_CRLF):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def _split_part(raw: bytes) -> tuple[dict[str, str], bytes]:
    # After the delimiter line: optional transport padding, CRLF, headers, CRLF CRLF, body.
    start = raw.find(_CRLF)
    if start < 0:
        raise PacsError("a multipart part without a header line")
    rest = raw[start + 2 :]
    if rest.startswith(_CRLF):
        return {}, rest[2:]
    end = rest.find(_CRLF + _CRLF)
    if end < 0:
        raise PacsError("a multipart part whose headers never end")
    return _headers(rest[:end]), rest[end + 4 :]


def iter_parts(chunks: Iterable[bytes], boundary: bytes) -> Iterator[tuple[dict[str, str], bytes]]:
    """The parts of a multipart body, as (lower-cased headers, body), while it streams.

    Raises:
        PacsError: the body ends before its closing delimiter.
    """
    marker = _CRLF + b"--" + boundary
    buffer = bytearray(_CRLF)  # the first delimiter may start the body without a CRLF
    searched = 0
    started = False
    after_delimiter = False  # the next two bytes tell whether that delimiter closed the body
    for chunk in chunks:
        buffer += chunk
        while True:
            if after_delimiter:
                if len(buffer) < 2:
                    break
                if buffer[:2] == b"--":
                    return
                after_delimiter = False
            at = buffer.find(marker, searched)
            if at < 0:
                searched = max(0, len(buffer) - len(marker))
                break
            if started:
                yield _split_part(bytes(buffer[:at]))
            started = True
            del buffer[: at + len(marker)]
            searched = 0
            after_delimiter = True
    raise PacsError("the multipart answer ended before its closing delimiter")


def encode_related(
    parts: Iterable[bytes], media_type: str, boundary: bytes | None = None
) -> tuple[bytes, str]:
    """A ``multipart/related`` body of ``parts`` of ``media_type``, and its Content-Type."""
    boundary = boundary or secrets.token_hex(16).encode("ascii")
    out = bytearray()
    for part in parts:
        out += b"--" + boundary + _CRLF
        out += f"Content-Type: {media_type}".encode("latin-1") + _CRLF + _CRLF
        out += part + _CRLF
    out += b"--" + boundary + b"--" + _CRLF
    content_type = f'multipart/related; type="{media_type}"; boundary={boundary.decode("ascii")}'
    return bytes(out), content_type
