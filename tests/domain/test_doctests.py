"""The docstring examples of the shared domain records run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "radcycle.domain.provenance",
    "radcycle.domain.measurement",
    "radcycle.domain.facts",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
