"""The reader's calls given to ``radcycle follow`` on the command line."""

from __future__ import annotations

from datetime import date

import pytest

from radcycle.cli.follow_cmd import parse_equivocal, parse_reader_call
from radcycle.errors import InputError


def test_reader_call_and_equivocal_are_parsed() -> None:
    assert parse_reader_call(" lesion 3 = thick-walled cyst", "--cyst") == (
        "lesion 3",
        "thick-walled cyst",
    )
    assert parse_equivocal("lesion 4@2025-04-07") == ("lesion 4", date(2025, 4, 7))


@pytest.mark.parametrize("text", ["lesion 2", "=subsegmental", "lesion 2="])
def test_bad_reader_call_names_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--airway"):
        parse_reader_call(text, "--airway")


@pytest.mark.parametrize("text", ["lesion 4", "lesion 4@April", "@2025-04-07"])
def test_bad_equivocal_names_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--equivocal"):
        parse_equivocal(text)
