"""Hostile inputs to ``radcycle mine``: encodings, binary and empty files, run-on text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcycle.clinical.text import MAX_TEXT_BYTES
from tests.hostile.cases import Case, ids, run_case

REPORT = "FINDINGS: A 12 mm nodule in the right upper lobe.\nIMPRESSION: Pulmonary nodule."
OPENI = (
    '<?xml version="1.0" encoding="{enc}"?>\n<eCitation><MedlineCitation><Article><Abstract>'
    '<AbstractText Label="FINDINGS">{findings}</AbstractText>'
    '<AbstractText Label="IMPRESSION">{impression}</AbstractText>'
    "</Abstract></Article></MedlineCitation></eCitation>"
)
FOUND = r'"size_mm": 12\.0'
NORMAL = r'"No Finding": true|"label": "No Finding"'


def _file(folder: Path, data: bytes, name: str = "report.txt") -> list[str]:
    path = folder / name
    path.write_bytes(data)
    return [str(path), "--json"]


def _binary(folder: Path) -> list[str]:
    noise = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    return _file(folder, b"\x89PNG\r\n\x1a\n" + noise, "report.png")


def _openi(folder: Path, enc: str, findings: str, impression: str) -> list[str]:
    text = OPENI.format(enc=enc, findings=findings, impression=impression)
    return _file(folder, text.encode(enc), "report.xml")


def _run_on(folder: Path) -> list[str]:
    unit = "no effusion and a nodule of 12 mm and no pneumothorax and "
    return _file(folder, ("FINDINGS: " + unit * 400).encode())


CASES = [
    Case("utf-16-bom", lambda f: _file(f, REPORT.encode("utf-16")), 0, FOUND, NORMAL),
    Case("utf-16-le-no-bom", lambda f: _file(f, REPORT.encode("utf-16-le")), 0, FOUND, NORMAL),
    Case("utf-8-bom", lambda f: _file(f, REPORT.encode("utf-8-sig")), 0, FOUND, NORMAL),
    Case("utf-32", lambda f: _file(f, REPORT.encode("utf-32")), 0, FOUND, NORMAL),
    Case(
        "xml-declared-utf-16",
        lambda f: _openi(f, "utf-16", "A 12 mm nodule.", "Nodule."),
        0,
        FOUND,
        NORMAL,
    ),
    Case(
        "xml-declared-latin-1",
        lambda f: _openi(f, "latin-1", "Caf\u00e9 au lait 12 mm nodule.", "Nodule."),
        0,
        FOUND,
        NORMAL,
    ),
    Case("binary", _binary, says=r"report\.png.*not text", never=NORMAL),
    Case("empty", lambda f: _file(f, b""), says="no text", never=NORMAL),
    Case("whitespace", lambda f: _file(f, b" \n\t\n"), says="no text", never=NORMAL),
    Case("empty-openi-sections", lambda f: _openi(f, "utf-8", "", ""), says="no findings"),
    Case(
        "too-large",
        lambda f: _file(f, b"nodule " * (MAX_TEXT_BYTES // 7 + 1)),
        says=r"larger than \d+ bytes",
    ),
    Case("run-on-sentence", _run_on, 0, FOUND),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_mine_hostile(case: Case, tmp_path: Path) -> None:
    run_case("mine", case, tmp_path)


HOSTILE = {"mine": CASES}
