"""The key, keyed functions, and the attribute table with its options."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from secrets import token_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.errors import DataFormatError, InputError, PathNotFoundError, UnsafeOutputError
from radcycle.privacy.keys import (
    MAX_SHIFT_DAYS,
    MIN_ENTROPY_BITS,
    DeidKey,
    byte_entropy,
    generate_keyfile,
    load_keyfile,
)
from radcycle.privacy.profile import DeidOptions, load_profile

UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
uids = st.from_regex(r"1\.2\.[1-9][0-9]{0,8}(\.[1-9][0-9]{0,10}){1,5}", fullmatch=True)
# 32 distinct bytes: a key random enough to be accepted.
secrets_ = st.permutations(range(256)).map(lambda p: bytes(p[:32]))


def test_keyfile_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    key = generate_keyfile(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyfile(path) == key
    with pytest.raises(UnsafeOutputError, match="refusing to overwrite"):
        generate_keyfile(path)
    assert load_keyfile(path) == key
    assert generate_keyfile(tmp_path / "other.key") != key


def test_bad_keyfiles(tmp_path: Path) -> None:
    with pytest.raises(PathNotFoundError):
        load_keyfile(tmp_path / "missing")
    (tmp_path / "bad").write_text("hello\n")
    (tmp_path / "bad").chmod(0o600)
    with pytest.raises(DataFormatError):
        load_keyfile(tmp_path / "bad")
    with pytest.raises(DataFormatError):
        DeidKey(b"short")
    assert "secret" in repr(DeidKey(bytes(range(32))))
    assert "01" not in repr(DeidKey(bytes(range(32))))


@pytest.mark.parametrize(
    "secret",
    [
        bytes(32),
        b"\xab" * 32,
        bytes(range(16)) * 2,
        b"secretsecretsecretsecretsecret!!",
        bytes(range(8)) * 4,
    ],
    ids=["all-zero", "one-byte", "16-byte-pattern", "pass-phrase", "8-byte-pattern"],
)
def test_weak_keys_are_refused(secret: bytes, tmp_path: Path) -> None:
    assert byte_entropy(secret) <= MIN_ENTROPY_BITS
    with pytest.raises(DataFormatError, match="not random enough"):
        DeidKey(secret)
    path = tmp_path / "weak.key"
    path.write_text(f"radcycle-deid-key-v1\n{secret.hex()}\n")
    path.chmod(0o600)
    with pytest.raises(DataFormatError, match="not random enough"):
        load_keyfile(path)


def test_random_keys_are_accepted() -> None:
    # far above the threshold: the lowest of 300,000 random keys scored 4.34
    for _ in range(2000):
        key = token_bytes(32)
        assert byte_entropy(key) > MIN_ENTROPY_BITS + 0.2
        DeidKey(key)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    key = generate_keyfile(path)
    for mode in (0o640, 0o604, 0o620):
        path.chmod(mode)
        with pytest.raises(InputError, match="group or others"):
            load_keyfile(path)
        assert load_keyfile(path, allow_readable=True) == key


@given(uids, secrets_)
def test_uid_is_valid_deterministic_and_keyed(original: str, secret: bytes) -> None:
    key = DeidKey(secret)
    new = key.uid(original)
    assert UID.match(new)
    assert new.startswith("2.25.")
    assert len(new) <= 64
    assert key.uid(original) == new
    assert DeidKey(bytes(b ^ 0xFF for b in secret)).uid(original) != new
    assert key.uid(original + "1") != new


@given(st.text(min_size=1, max_size=40), secrets_)
def test_day_shift_is_per_patient_and_bounded(patient: str, secret: bytes) -> None:
    key = DeidKey(secret)
    shift = key.day_shift(patient)
    assert -MAX_SHIFT_DAYS <= shift <= -1
    assert key.day_shift(patient) == shift
    assert key.patient_id(patient).startswith("RC")
    assert len(key.patient_id(patient)) == 16


def test_profile_covers_the_table() -> None:
    profile = load_profile()
    assert len(profile.rows) >= 600
    basic = DeidOptions()
    # Spot checks against PS3.15 Table E.1-1.
    assert profile.action_for(0x00080050, basic) == "Z"  # Accession Number
    assert profile.action_for(0x00100030, basic) == "Z"  # Patient's Birth Date
    assert profile.action_for(0x00080080, basic) == "D"  # Institution Name X/Z/D
    assert profile.action_for(0x00080018, basic) == "U"  # SOP Instance UID
    assert profile.action_for(0x00081140, basic) == "U"  # Referenced Image Sequence X/Z/U*
    assert profile.action_for(0x0008103E, basic) == "X"  # Series Description
    assert profile.action_for(0x60003000, basic) == "X"  # Overlay Data (60xx,3000)
    assert profile.action_for(0x50020000, basic) == "X"  # Curve Data (50xx,xxxx)
    assert profile.action_for(0x00280010, basic) is None  # Rows: not in the table
    actions = profile.actions(basic)
    assert actions[0x00100010] == actions[0x00100020] == "D"  # keyed pseudonyms


@pytest.mark.parametrize(
    ("tag", "options", "expected"),
    [
        (0x00080020, DeidOptions(dates="full"), "K"),
        (0x00080020, DeidOptions(dates="modified"), "C"),
        (0x00080080, DeidOptions(retain_institution=True), "K"),
        (0x00181000, DeidOptions(retain_device=True), "K"),
        (0x00101010, DeidOptions(retain_patient_chars=True), "K"),
        (0x00080018, DeidOptions(retain_uids=True), "K"),
        (0x0008103E, DeidOptions(clean_descriptors=True), "C"),
        (0x0040A730, DeidOptions(clean_structured=True), "C"),
        (0x00100030, DeidOptions(dates="full"), "Z"),
    ],
)
def test_options_change_actions(tag: int, options: DeidOptions, expected: str) -> None:
    assert load_profile().action_for(tag, options) == expected


def test_invalid_options() -> None:
    with pytest.raises(DataFormatError, match="dates"):
        DeidOptions(dates="sometimes")  # type: ignore[arg-type]
