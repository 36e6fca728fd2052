"""The examples in the synth modules' docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["radcycle.synth.patient", "radcycle.synth.render", "radcycle.synth.lesions"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted >= 1
    assert result.failed == 0
