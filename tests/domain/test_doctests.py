"""The docstring examples of the domain records and the report modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "radcycle.domain.provenance",
    "radcycle.domain.measurement",
    "radcycle.domain.facts",
    "radcycle.longitudinal.measurements",
    "radcycle.pipeline.facts",
    "radcycle.reporting.claims",
    "radcycle.reporting.llm",
    "radcycle.reporting.report",
    "radcycle.reporting.suite",
    "radcycle.reporting.verifier",
    "radcycle.reporting.wording",
    "radcycle.reporting.writer",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
