"""The docstring examples of the batch modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "radcycle.batch.manifest",
    "radcycle.batch.outputs",
    "radcycle.batch.executors",
    "radcycle.batch.radiomics",
    "radcycle.batch.deid",
    "radcycle.batch.analyze",
    "radcycle.pipeline.radiomics",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
