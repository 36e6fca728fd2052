"""The docstring examples of the export modules (and the measurement helpers they draw) hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "radcycle.reporting.export.codes",
    "radcycle.reporting.export.document",
    "radcycle.reporting.export.keyimage",
    "radcycle.reporting.export.seg",
    "radcycle.imaging.measurement",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
