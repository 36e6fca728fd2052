"""The hostile suite covers every command, including those added later."""

from __future__ import annotations

import importlib
from pathlib import Path

from radcycle.cli.main import COMMANDS
from tests.hostile.cases import Case


def _suite() -> dict[str, list[Case]]:
    found: dict[str, list[Case]] = {}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.hostile.{path.stem}")
        for command, cases in getattr(module, "HOSTILE", {}).items():
            found.setdefault(command, []).extend(cases)
    return found


def test_every_command_has_hostile_cases() -> None:
    suite = _suite()
    missing = sorted(set(COMMANDS) - {c for c, cases in suite.items() if cases})
    assert not missing, f"commands without a hostile-input case in tests/hostile: {missing}"


def test_cases_are_named_once_per_command() -> None:
    for command, cases in _suite().items():
        names = [c.name for c in cases]
        assert len(names) == len(set(names)), command
