"""Every worked example in this folder, one test each, against the engines.

The examples (``*.json``) were written from the published rule texts; each quotes
the sentence it comes from. How an ambiguous rule is read is in docs/guidelines.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from radcycle.errors import RadcycleError
from tests.guidelines.worked_examples.runner import KINDS, mismatches, run

HERE = Path(__file__).parent
REQUIRED = {"id", "kind", "rule", "source", "input", "expect"}


def _examples() -> list[Any]:
    found = []
    for path in sorted(HERE.glob("*.json")):
        for example in json.loads(path.read_text(encoding="utf-8")):
            found.append(pytest.param(example, id=f"{path.stem}:{example['id']}"))
    return found


EXAMPLES = _examples()


@pytest.mark.parametrize("example", EXAMPLES)
def test_worked_example(example: dict[str, Any]) -> None:
    missing = REQUIRED - set(example)
    assert not missing, f"example lacks {sorted(missing)}"
    assert example["kind"] in KINDS
    if "error" in example["expect"]:
        with pytest.raises(RadcycleError, match=example["expect"]["error"]):
            run(example)
        return
    wrong = mismatches(example["expect"], run(example))
    assert not wrong, f"{example['rule']} ({example['source']}): " + "; ".join(wrong)


def test_suite_size_and_unique_ids() -> None:
    ids = [p.id for p in EXAMPLES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 150
