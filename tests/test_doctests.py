"""The docstring examples of every radcycle module run and hold.

Every module is found by walking the package, so a new module's examples run
without being listed anywhere.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import radcycle


def _modules() -> list[str]:
    prefix = radcycle.__name__ + "."
    return sorted(m.name for m in pkgutil.walk_packages(radcycle.__path__, prefix))


MODULES = _modules()


def test_the_walk_finds_the_packages() -> None:
    assert {"radcycle.guidelines.recist", "radcycle.batch.outputs"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
