"""Shared fixtures: where the real data is, and the realdata marker's skip rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    """The shared folder: ``$RADCYCLE_SHARED`` or ``../shared`` beside the project."""
    env = os.environ.get("RADCYCLE_SHARED")
    return Path(env) if env else PROJECT_ROOT.parent / "shared"


def shared_data_dir() -> Path:
    return shared_root() / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    data = shared_data_dir()
    if data.is_dir():
        return
    skip = pytest.mark.skip(
        reason=f"real data folder {data} is absent (set RADCYCLE_SHARED to the shared folder)"
    )
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``$RADCYCLE_SHARED/data``; tests using it must carry ``realdata``."""
    data = shared_data_dir()
    if not data.is_dir():
        pytest.skip(f"real data folder {data} is absent")
    return data
