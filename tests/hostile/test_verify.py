"""Hostile inputs to ``radcycle verify``: missing or malformed findings, text that is not text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radcycle.domain import Fact, FactProvenance
from tests.hostile.cases import Case, ids, run_case


def _findings(folder: Path) -> Path:
    fact = Fact(
        "f-1", "measurement", 12.0, "mm", None, "2024-01-05", FactProvenance(), name="long_axis"
    )
    path = folder / "findings.json"
    path.write_text(json.dumps({"facts": [fact.to_dict()]}))
    return path


def _raw(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _text(folder: Path, data: bytes) -> list[str]:
    return [str(_findings(folder)), str(_raw(folder, "draft.txt", data))]


def _bad_findings(folder: Path, data: bytes) -> list[str]:
    return [str(_raw(folder, "findings.json", data)), str(_raw(folder, "draft.txt", b"Hi.\n"))]


CASES = [
    Case(
        "findings-missing",
        lambda f: [str(f / "nothere.json"), str(_raw(f, "draft.txt", b"A nodule.\n"))],
        says=r"nothere\.json",
    ),
    Case(
        "findings-not-json",
        lambda f: _bad_findings(f, b"\x89PNG\x00\x01"),
        says=r"findings\.json.*not a JSON",
    ),
    Case(
        "findings-wrong-shape",
        lambda f: _bad_findings(f, b'[{"id": 1}]'),
        says=r"findings\.json.*no 'facts' list",
    ),
    Case(
        "fact-malformed",
        lambda f: _bad_findings(f, b'{"facts": [{"id": "f-1", "kind": "nonsense"}]}'),
        says=r"findings\.json.*fact is malformed",
    ),
    Case(
        "text-binary",
        lambda f: _text(f, bytes(range(256)) * 4),
        says=r"draft\.txt.*not text",
        never=r"\bsupported",
    ),
    Case("text-empty", lambda f: _text(f, b""), says=r"draft\.txt.*no text", never=r"\bsupported"),
    Case(
        "text-utf-16",
        lambda f: _text(f, "The nodule measures 12 mm.\n".encode("utf-16")),
        exit_code=0,
        says=r"^supported: The nodule measures 12 mm\.",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_verify_hostile(case: Case, tmp_path: Path) -> None:
    run_case("verify", case, tmp_path)


HOSTILE = {"verify": CASES}
