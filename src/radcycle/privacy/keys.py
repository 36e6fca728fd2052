"""The de-identification key and everything derived from it.

One random 32-byte key drives every pseudonym, so the same patient gets the same
pseudonym, UIDs and date shift in every run, in every folder, for DICOM and FHIR
alike, while anyone without the key cannot link the output back (HMAC-SHA256 is a
keyed one-way function).

A key must look random: one with too little entropy (all zero, a short pattern
repeated, few distinct bytes) is refused, and so is a key file that others may
read (unless the caller allows it).

Example:
    >>> key = DeidKey(bytes(range(32)))
    >>> uid = key.uid("1.2.3.4")
    >>> uid.startswith("2.25.") and len(uid) <= 64 and uid == key.uid("1.2.3.4")
    True
    >>> -3650 <= key.day_shift("PAT-1") <= -1
    True
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import logging
import math
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from radcycle.errors import DataFormatError, InputError, PathNotFoundError, UnsafeOutputError
from radcycle.io.output import OutputRules, write_file

__all__ = [
    "KEY_BYTES",
    "MIN_ENTROPY_BITS",
    "DeidKey",
    "byte_entropy",
    "generate_keyfile",
    "load_keyfile",
]

KEY_BYTES = 32
# Shannon entropy of a key's bytes, in bits per byte. 32 bytes score at most 5.0
# (all distinct); among 300,000 keys from the operating system's random source the
# lowest scored 4.34 (median 4.88). A key drawn from 16 byte values or fewer (a
# 16-byte pattern twice, all zero, a pass phrase of few letters) scores 4.0 or less
# and is refused; a random key falls that low with negligible probability.
MIN_ENTROPY_BITS = 4.0
_HEADER = "radcycle-deid-key-v1"
log = logging.getLogger(__name__)
# The largest shift, in days, of the Modified Dates option (about 10 years back).
MAX_SHIFT_DAYS = 3650


@dataclass(frozen=True)
class DeidKey:
    """A secret key and the keyed functions derived from it.

    Args:
        secret: 32 random bytes.
    """

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise DataFormatError(
                f"a de-identification key has {KEY_BYTES} bytes", value=len(self.secret)
            )
        entropy = byte_entropy(self.secret)
        if entropy <= MIN_ENTROPY_BITS:
            raise DataFormatError(
                f"the key is not random enough ({entropy:.2f} bits per byte, more than "
                f"{MIN_ENTROPY_BITS} needed); make one with `radcycle deid-keygen`"
            )

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return "DeidKey(<secret>)"

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` under the key, separated by ``purpose``."""
        # surrogateescape: a file name that is not UTF-8 keeps its own bytes
        message = f"{purpose}\x00{value}".encode("utf-8", "surrogateescape")
        return hmac.new(self.secret, message, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """A new UID for ``original``: ``2.25.`` and a keyed 128-bit UUID (v8 layout).

        The same original UID under the same key always gives the same new UID, so
        references between objects (SR, SEG, RTSTRUCT) stay consistent across runs.
        The result is at most 44 characters (PS3.5 9.1 limit: 64).
        """
        raw = bytearray(self.digest("uid", original.strip())[:16])
        # RFC 9562 UUID version 8 (custom) and the RFC variant bits.
        raw[6] = (raw[6] & 0x0F) | 0x80
        raw[8] = (raw[8] & 0x3F) | 0x80
        return f"2.25.{int.from_bytes(raw, 'big')}"

    def patient_id(self, original: str) -> str:
        """Pseudonymous patient identifier for an original PatientID (or FHIR identifier)."""
        return "RC" + self.digest("patient-id", original.strip()).hex()[:14].upper()

    def patient_name(self, original_id: str) -> str:
        """Pseudonymous patient name (DICOM PN), derived from the same original identifier."""
        return f"PSEUDONYM^{self.patient_id(original_id)}"

    def day_shift(self, original_id: str) -> int:
        """Per-patient date shift in days (negative, 1 to 3650 days back).

        Every date of a patient moves by the same number of days, so the intervals
        between that patient's studies are kept (PS3.15 E.3.6, Modified Dates).
        """
        value = int.from_bytes(self.digest("day-shift", original_id.strip())[:8], "big")
        return -(1 + value % MAX_SHIFT_DAYS)

    def token(self, purpose: str, value: str, length: int = 16) -> str:
        """A short keyed hex token (used for FHIR resource ids and the manifest)."""
        return self.digest(purpose, value).hex()[:length]

    def fernet_key(self) -> bytes:
        """The url-safe base64 key for encrypting the manifest (derived, not the secret)."""
        return base64.urlsafe_b64encode(self.digest("manifest-encryption", "v1"))


def byte_entropy(data: bytes) -> float:
    """Shannon entropy of the byte values of ``data``, in bits per byte.

    Example:
        >>> byte_entropy(bytes(32)), byte_entropy(bytes(range(32)))
        (0.0, 5.0)
    """
    if not data:
        return 0.0
    counts = collections.Counter(data).values()
    return max(0.0, -sum(c / len(data) * math.log2(c / len(data)) for c in counts))


def generate_keyfile(path: Path) -> DeidKey:
    """Write a new random key to ``path`` with mode 0600; never overwrite.

    Raises:
        UnsafeOutputError: if ``path`` already exists.
    """
    if path.exists() or path.is_symlink():
        raise UnsafeOutputError("key file exists already; refusing to overwrite", path=path)
    secret = secrets.token_bytes(KEY_BYTES)
    write_file(path, f"{_HEADER}\n{secret.hex()}\n", OutputRules(), mode=_OWNER_ONLY)
    return DeidKey(secret)


_OWNER_ONLY = stat.S_IRUSR | stat.S_IWUSR


def load_keyfile(path: Path, *, allow_readable: bool = False) -> DeidKey:
    """Read a key written by :func:`generate_keyfile`.

    Args:
        path: the key file.
        allow_readable: accept a key file that its group or others may read or
            write (by default refused: whoever reads the key re-links pseudonyms).

    Raises:
        PathNotFoundError: if the file is absent.
        InputError: if others may read or write it (and ``allow_readable`` is false).
        DataFormatError: if it is not a radcycle key file, or the key is weak.
    """
    if not path.is_file():
        raise PathNotFoundError("key file not found", path=path)
    shared = stat.S_IMODE(path.stat().st_mode) & 0o077
    if shared and not allow_readable:
        raise InputError(
            "key file is readable or writable by group or others; "
            "run `chmod 600` on it (or pass --allow-readable-key)",
            path=path,
            value=oct(stat.S_IMODE(path.stat().st_mode)),
        )
    if shared:
        log.warning("key file %s is readable by group or others", path)
    lines = path.read_text(encoding="ascii", errors="replace").split()
    if len(lines) != 2 or lines[0] != _HEADER:
        raise DataFormatError("not a radcycle de-identification key file", path=path)
    try:
        secret = bytes.fromhex(lines[1])
    except ValueError as exc:
        raise DataFormatError("key file holds no hex key", path=path) from exc
    try:
        return DeidKey(secret)
    except DataFormatError as exc:
        raise DataFormatError(exc.message, path=path) from exc
