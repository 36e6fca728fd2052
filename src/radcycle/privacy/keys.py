"""The de-identification key and everything derived from it.

One random 32-byte key drives every pseudonym, so the same patient gets the same
pseudonym, UIDs and date shift in every run, in every folder, for DICOM and FHIR
alike, while anyone without the key cannot link the output back (HMAC-SHA256 is a
keyed one-way function).

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
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from radcycle.errors import DataFormatError, InputError, PathNotFoundError

__all__ = ["KEY_BYTES", "DeidKey", "generate_keyfile", "load_keyfile"]

KEY_BYTES = 32
_HEADER = "radcycle-deid-key-v1"
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

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return "DeidKey(<secret>)"

    def digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of ``value`` under the key, separated by ``purpose``."""
        message = f"{purpose}\x00{value}".encode()
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


def generate_keyfile(path: Path) -> DeidKey:
    """Write a new random key to ``path`` with mode 0600; never overwrite.

    Raises:
        InputError: if ``path`` already exists.
    """
    secret = secrets.token_bytes(KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError as exc:
        raise InputError("key file exists already; refusing to overwrite", path=path) from exc
    except OSError as exc:
        raise InputError(f"cannot create key file: {exc.strerror}", path=path) from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{_HEADER}\n{secret.hex()}\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return DeidKey(secret)


def load_keyfile(path: Path) -> DeidKey:
    """Read a key written by :func:`generate_keyfile`.

    Raises:
        PathNotFoundError: if the file is absent.
        DataFormatError: if it is not a radcycle key file.
    """
    if not path.is_file():
        raise PathNotFoundError("key file not found", path=path)
    lines = path.read_text(encoding="ascii", errors="replace").split()
    if len(lines) != 2 or lines[0] != _HEADER:
        raise DataFormatError("not a radcycle de-identification key file", path=path)
    try:
        secret = bytes.fromhex(lines[1])
    except ValueError as exc:
        raise DataFormatError("key file holds no hex key", path=path) from exc
    return DeidKey(secret)
