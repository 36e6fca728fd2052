"""Bytes of a clinical document to text, honestly: the encoding found, never guessed blind.

In order: a byte-order mark (UTF-8, UTF-16, UTF-32); UTF-16 without a mark
(every other byte zero); the encoding an XML declaration names; UTF-8; and
Windows-1252 for old 8-bit text. What still holds control bytes is not text and is
refused; what holds no letters is "no text", never a normal report.
"""

from __future__ import annotations

import codecs
import re

from radcycle.errors import DataFormatError, InputError

__all__ = ["MAX_TEXT_BYTES", "decode_text"]

#: The largest document read (bytes): a radiology report is a few kilobytes.
MAX_TEXT_BYTES = 2_000_000

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_ENCODING = re.compile(rb"^<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")
# Control characters other than tab, newline, form feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# More control characters than this share means binary data.
_MAX_CONTROL_SHARE = 0.01


def _encoding(data: bytes) -> tuple[str, int]:
    """The encoding and the number of leading bytes (the mark) to skip."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    head = data[:200]
    if len(head) >= 4 and head[1::2].count(0) > 0.9 * len(head[1::2]) and 0 not in head[::2]:
        return "utf-16-le", 0
    if len(head) >= 4 and head[::2].count(0) > 0.9 * len(head[::2]) and 0 not in head[1::2]:
        return "utf-16-be", 0
    declared = _XML_ENCODING.match(data.lstrip()[:200])
    if declared:
        name = declared.group(1).decode("ascii")
        try:
            return codecs.lookup(name).name, 0
        except LookupError:
            pass
    return "utf-8", 0


def decode_text(data: bytes | str, *, source: str | None = None) -> str:
    """The text of a document, or a clear error where it is not text.

    Args:
        data: the file's bytes (a str is returned checked, as it is).
        source: the file name, for error messages.

    Raises:
        InputError: the document is larger than :data:`MAX_TEXT_BYTES`, or holds no text.
        DataFormatError: the bytes are not text in any encoding found.

    Example:
        >>> decode_text("Nodule 12 mm.".encode("utf-16"))
        'Nodule 12 mm.'
        >>> decode_text(b"<?xml version='1.0' encoding='latin-1'?><r>caf\\xe9</r>")[-8:]
        'café</r>'
        >>> decode_text(b"   ")
        Traceback (most recent call last):
        ...
        radcycle.errors.InputError: the document holds no text
    """
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(
            f"the document is larger than {MAX_TEXT_BYTES} bytes; not read",
            path=source,
            value=len(data),
        )
    if isinstance(data, str):
        text = data
    else:
        name, skip = _encoding(data)
        try:
            text = data[skip:].decode(name)
        except UnicodeDecodeError:
            if name != "utf-8":
                raise DataFormatError(
                    f"not valid {name} text", path=source, value=data[:16]
                ) from None
            text = data.decode("cp1252", "replace")
    controls = len(_CONTROL.findall(text))
    if controls > _MAX_CONTROL_SHARE * max(len(text), 1):
        raise DataFormatError(
            f"not text: {controls} control characters in {len(text)}",
            path=source,
            value=text[:16],
        )
    if not any(c.isalnum() for c in text):
        raise InputError("the document holds no text", path=source)
    return text
