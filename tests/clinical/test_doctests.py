"""The examples in the clinical docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "radcycle.clinical.csv_import",
    "radcycle.clinical.evaluation",
    "radcycle.clinical.fhir",
    "radcycle.clinical.openi",
    "radcycle.clinical.summary",
    "radcycle.clinical.timeline",
    "radcycle.clinical.nlp.context",
    "radcycle.clinical.nlp.findings",
    "radcycle.clinical.nlp.labels",
    "radcycle.clinical.nlp.miner",
    "radcycle.clinical.nlp.sections",
    "radcycle.clinical.nlp.sizes",
    "radcycle.domain.clinical",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
