"""The docstring examples of the guideline modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "radcycle.domain.findings",
    "radcycle.guidelines.results",
    "radcycle.guidelines.recist",
    "radcycle.guidelines.recist_response",
    "radcycle.guidelines.recist_series",
    "radcycle.guidelines.irecist",
    "radcycle.guidelines.lungrads",
    "radcycle.guidelines.fleischner",
    "radcycle.guidelines.tnm",
    "radcycle.guidelines.brock",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
