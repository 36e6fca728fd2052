"""One flag, one meaning, on every command (also on those added later).

The commands are walked from the typer app itself (every name of ``COMMANDS``
and every sub-command of a group such as ``batch``), so a new command is held
to the conventions of ``radcycle.cli.options`` without being listed here.
Exceptions are explicit, each with its reason.

The commands are inspected by duck typing (``commands``, ``params``, ``opts``,
``hidden``, ``param_type_name``): typer releases differ in whether they use click
or a copy of it of their own, so no class of either is named here.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from radcycle.cli.main import COMMANDS, build_app
from radcycle.cli.options import FORCE_HELP

#: Commands that write files (checked to be found as writers below).
WRITERS = {
    "segment",
    "follow",
    "analyze",
    "synth",
    "demo",
    "deid",
    "deid-keygen",
    "batch radiomics",
    "batch deid",
    "batch analyze",
    "fl make-sites",
    "pacs retrieve",
    "listen",
}

#: Writers without --force, and why.
NO_FORCE = {
    "deid-keygen": "a replaced key is lost for good, and with it the re-linking of every "
    "pseudonym made with it; a new key goes to a new file",
    "listen": "each analysis goes to a new folder OUT/<StudyInstanceUID> (.2, .3... when a "
    "study comes again), so there is nothing to replace",
}

#: Commands without --json, and why (none today).
NO_JSON: dict[str, str] = {}

#: The old spellings kept (hidden) for one release, by command.
DEPRECATED = {
    "segment": ["--seed"],
    "synth": ["--seed", "OUT"],
    "demo": ["--seed", "OUT"],
    "deid": ["OUT"],
    "deid-keygen": ["KEYFILE"],
    "batch deid": ["OUT"],
    "batch analyze": ["OUT"],
}

#: Spellings no visible option may use: each concept has its one spelling.
BANNED = {
    "--seed": "--point for a click, --random-seed for randomness",
    "--output": "--out",
    "-o": "--out",
    "--overwrite": "--force",
}


def _commands() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(command: Any, name: str) -> None:
        subs = getattr(command, "commands", None)
        if isinstance(subs, dict):
            for sub_name, sub in subs.items():
                walk(sub, f"{name} {sub_name}".strip())
        else:
            found[name] = command

    walk(typer.main.get_command(build_app()), "")
    return found


COMMAND_TABLE = _commands()
NAMES = sorted(COMMAND_TABLE)


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _options(command: Any, *, hidden: bool = False) -> dict[str, Any]:
    """The options of ``command`` by each of their spellings (visible ones by default)."""
    spelled: dict[str, Any] = {}
    for param in command.params:
        if _is_option(param) and bool(getattr(param, "hidden", False)) == hidden:
            for flag in (*param.opts, *param.secondary_opts):
                spelled[flag] = param
    return spelled


def _deprecated(command: Any) -> list[Any]:
    return [p for p in command.params if (getattr(p, "help", None) or "").startswith("Deprecated")]


def _writes(command: Any) -> bool:
    visible = _options(command)
    return "--out" in visible or "--force" in visible or bool(_deprecated(command))


def test_every_registered_command_is_walked() -> None:
    tops = {name.split()[0] for name in NAMES}
    assert tops == set(COMMANDS)
    assert {"batch radiomics", "batch deid", "batch analyze"} <= set(NAMES)
    assert set(NAMES) >= WRITERS


@pytest.mark.parametrize("name", NAMES)
def test_json_everywhere(name: str) -> None:
    if name in NO_JSON:
        pytest.skip(NO_JSON[name])
    option = _options(COMMAND_TABLE[name]).get("--json")
    assert option is not None, f"{name} has no --json"
    assert option.is_flag


@pytest.mark.parametrize("name", NAMES)
def test_writers_take_out_and_force(name: str) -> None:
    command = COMMAND_TABLE[name]
    if name in WRITERS:
        assert _writes(command), f"{name} no longer writes through --out?"
    if not _writes(command):
        return
    visible = _options(command)
    assert "--out" in visible, f"{name} writes but has no --out PATH"
    if name in NO_FORCE:
        assert "--force" not in visible, f"{name}: NO_FORCE says why it has none"
        return
    force = visible.get("--force")
    assert force is not None, f"{name} writes but has no --force (or a reason in NO_FORCE)"
    assert (force.help or "").startswith(FORCE_HELP), f"{name}: use force_option()"


@pytest.mark.parametrize("name", NAMES)
def test_one_spelling_per_concept(name: str) -> None:
    command = COMMAND_TABLE[name]
    visible = _options(command)
    for flag, instead in BANNED.items():
        assert flag not in visible, f"{name}: {flag} is spelled {instead}"
    for flag in visible:
        if "seed" in flag:
            assert flag == "--random-seed", f"{name}: {flag}; randomness is --random-seed"
    for flag, option in visible.items():
        if (option.metavar or "").startswith("X,Y,Z"):
            # --negative: a corrective click the outline must leave out (segment)
            points = ("--point", "--lesion", "--negative")
            assert flag in points, f"{name}: a point is --point (or --lesion, --negative)"


@pytest.mark.parametrize("name", NAMES)
def test_deprecated_spellings_are_hidden(name: str) -> None:
    command = COMMAND_TABLE[name]
    old = _deprecated(command)
    assert all(getattr(p, "hidden", False) for p in old), name
    spelled = {p.opts[0] if _is_option(p) else p.metavar for p in old}
    assert spelled == set(DEPRECATED.get(name, [])), name
    words = name.split()
    result = CliRunner().invoke(build_app(words), [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Deprecated" not in result.output
    for p in old:
        if _is_option(p):
            for flag in p.opts:
                assert f"{flag} " not in result.output, f"{name} --help shows {flag}"
