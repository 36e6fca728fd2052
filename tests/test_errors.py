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
