from __future__ import annotations

import pytest

from radcycle import errors


def test_every_error_derives_from_the_base():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.RadcycleError)


def test_message_names_file_tag_and_value():
    exc = errors.SeriesError(
        "duplicate slice position", path="/d/x.dcm", tag="(0020,0032)", value=[0, 0, 5]
    )
    text = str(exc)
    assert text.startswith("/d/x.dcm: duplicate slice position")
    assert "(0020,0032)" in text
    assert "[0, 0, 5]" in text


def test_error_is_catchable_by_family():
    with pytest.raises(errors.InputError):
        raise errors.TruncatedFileError("cut short", path="a.dcm")


def test_a_huge_value_is_cut_in_the_message() -> None:
    from radcycle.errors import SeriesError

    text = str(SeriesError("3000 series found", path="in", value=["1.2.3"] * 30000))
    assert len(text) < 400
    assert "characters)" in text
