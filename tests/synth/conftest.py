"""Small synthetic patients shared by the synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radcycle.synth import SyntheticPatient, generate_patient, write_patient

SEED = 3


@pytest.fixture(scope="session")
def small_patient() -> SyntheticPatient:
    """Three time points on a 128x128x40 grid (3 mm pixels, 5 mm slices)."""
    return generate_patient(SEED, timepoints=3, slices=40, matrix=128)


@pytest.fixture(scope="session")
def fine_patient() -> SyntheticPatient:
    """One time point on a 256x256x200 grid (1.5 mm pixels and slices)."""
    return generate_patient(5, timepoints=1, slices=200, matrix=256)


@pytest.fixture(scope="session")
def written(small_patient: SyntheticPatient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_patient(small_patient, tmp_path_factory.mktemp("synth") / "out")
