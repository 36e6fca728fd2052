"""The key, keyed functions, and the attribute table with its options."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radcycle.errors import DataFormatError, InputError, PathNotFoundError
from radcycle.privacy.keys import MAX_SHIFT_DAYS, DeidKey, generate_keyfile, load_keyfile
from radcycle.privacy.profile import DeidOptions, load_profile

UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
uids = st.from_regex(r"1\.2\.[1-9][0-9]{0,8}(\.[1-9][0-9]{0,10}){1,5}", fullmatch=True)


def test_keyfile_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    key = generate_keyfile(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyfile(path) == key
    with pytest.raises(InputError, match="refusing to overwrite"):
        generate_keyfile(path)
    assert load_keyfile(path) == key
    assert generate_keyfile(tmp_path / "other.key") != key


def test_bad_keyfiles(tmp_path: Path) -> None:
    with pytest.raises(PathNotFoundError):
        load_keyfile(tmp_path / "missing")
    (tmp_path / "bad").write_text("hello\n")
    with pytest.raises(DataFormatError):
        load_keyfile(tmp_path / "bad")
    with pytest.raises(DataFormatError):
        DeidKey(b"short")
    assert "secret" in repr(DeidKey(bytes(32)))
    assert "00" not in repr(DeidKey(bytes(32)))


@given(uids, st.binary(min_size=32, max_size=32))
def test_uid_is_valid_deterministic_and_keyed(original: str, secret: bytes) -> None:
    key = DeidKey(secret)
    new = key.uid(original)
    assert UID.match(new)
    assert new.startswith("2.25.")
    assert len(new) <= 64
    assert key.uid(original) == new
    assert DeidKey(bytes(b ^ 0xFF for b in secret)).uid(original) != new
    assert key.uid(original + "1") != new


@given(st.text(min_size=1, max_size=40), st.binary(min_size=32, max_size=32))
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
