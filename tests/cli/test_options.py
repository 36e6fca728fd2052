"""The shared option parsers: points, old spellings, missing outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.cli.options import (
    DeprecatedSpellingWarning,
    Point,
    parse_point,
    pick,
    require,
)
from radcycle.errors import InputError

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("1,2,3", Point(1.0, 2.0, 3.0)),
        (" -80 , 36.5,-217 ", Point(-80.0, 36.5, -217.0)),
        ("1e1,-0,+3", Point(10.0, -0.0, 3.0)),
    ],
)
def test_points_parse(text: str, point: Point) -> None:
    assert parse_point(text) == point


@pytest.mark.parametrize(
    ("text", "organ"),
    [
        ("1,2,3", None),
        ("1,2,3:lung", "lung"),
        ("1,2,3: Lymph Node ", "lymph node"),
        ("1,2,3:liver:left", "liver:left"),
    ],
)
def test_lesion_points_carry_an_organ(text: str, organ: str | None) -> None:
    point = parse_point(text, flag="--lesion", organ=True)
    assert (point.mm, point.organ) == ((1.0, 2.0, 3.0), organ)


@pytest.mark.parametrize(
    "text",
    ["", "1,2", "1,2,3,4", "a,b,c", "1;2;3", "1 2 3", "nan,0,0", "0,inf,0", "1,2,3:lung", ",,"],
)
def test_bad_points_are_refused_naming_the_flag_and_value(text: str) -> None:
    with pytest.raises(InputError, match=r"^--point .*value") as caught:
        parse_point(text)
    assert "\n" not in str(caught.value)


def test_an_organ_needs_a_name() -> None:
    with pytest.raises(InputError, match="organ"):
        parse_point("1,2,3:", flag="--lesion", organ=True)


def test_a_value_with_a_newline_stays_one_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_point("1,2\n,3x")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "args",
    [
        ["segment", "IMAGE", "--point", "1,2", "--out", "OUT/m.nii.gz"],
        ["segment", "IMAGE", "--point", "nan,1,2", "--out", "OUT/m.nii.gz"],
        ["segment", "IMAGE", "--out", "OUT/m.nii.gz"],
        ["follow", "IMAGE", "IMAGE", "--lesion", "1,2,x:lung"],
        ["analyze", "IMAGE", "--lesion", "1,2", "--out", "OUT/a"],
        ["synth", "--timepoints", "1"],
        ["deid-keygen"],
    ],
    ids=["short", "nan", "no-point", "follow-lesion", "analyze-lesion", "synth-no-out", "no-key"],
)
def test_bad_options_exit_2_with_one_error_line(args: list[str], tmp_path: Path) -> None:
    image = tmp_path / "ct.nii.gz"
    image.write_bytes(b"never read: the options are checked first")
    argv = [a.replace("IMAGE", str(image)).replace("OUT", str(tmp_path)) for a in args]
    result = runner.invoke(build_app(argv), argv)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    assert "--point" in errors[0] or "--lesion" in errors[0] or "--out" in errors[0]
    assert not list(tmp_path.glob("m.nii.gz"))
    assert not (tmp_path / "a").exists()


def test_pick_prefers_the_new_spelling_and_refuses_two_values() -> None:
    assert pick("1,2,3", None, new_flag="--point", old_flag="--seed") == "1,2,3"
    with pytest.warns(DeprecatedSpellingWarning, match="--seed .*use --point"):
        assert pick(None, "1,2,3", new_flag="--point", old_flag="--seed") == "1,2,3"
    with pytest.warns(DeprecatedSpellingWarning):  # the same value twice is no conflict
        assert pick(5, 5, new_flag="--random-seed", old_flag="--seed", default=0) == 5
    with pytest.raises(InputError, match="--random-seed only"):
        pick(4, 5, new_flag="--random-seed", old_flag="--seed", default=0)


def test_require_names_the_flag() -> None:
    assert require(Path("x"), "--out", "DIR") == Path("x")
    with pytest.raises(InputError, match="missing --out DIR"):
        require(None, "--out", "DIR")
