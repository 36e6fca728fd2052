"""Hostile inputs to ``radcycle follow``: points outside, other patients, failed registration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.hostile.cases import (
    Case,
    chest_array,
    chest_volume,
    dicom_series,
    ids,
    nodule_point,
    run_case,
)

NODULE = nodule_point(chest_volume())


def _pair(
    folder: Path, second_patient: str = "P1", follow_up: np.ndarray | None = None
) -> list[str]:
    base = dicom_series(folder / "t0", chest_array(), study_date="20240105")
    later = chest_array(seed=2) if follow_up is None else follow_up
    second = dicom_series(folder / "t1", later, patient_id=second_patient, study_date="20240405")
    return [str(base), str(second)]


def _air_inside() -> str:
    # right lung air, well away from the nodule
    p = chest_volume().index_to_patient([[20, 20, 20]])[0]
    return ",".join(f"{v:.2f}" for v in p)


def _no_lungs() -> np.ndarray:
    arr = np.full((40, 96, 120), -1000.0)
    arr[:, 30:-30, 30:-30] = 40.0
    return arr


CASES = [
    Case(
        "lesion-outside-image",
        lambda f: [*_pair(f), "--lesion", "900,900,900"],
        says=r"--lesion 900,900,900 lies outside the baseline image",
        never="no evidence of disease",
    ),
    Case(
        "different-patients",
        lambda f: [*_pair(f, "P2"), "--lesion", NODULE],
        says=r"different patients.*PatientID.*'P1', 'P2'",
    ),
    Case(
        "lesion-in-lung-air",
        lambda f: [*_pair(f), "--lesion", _air_inside()],
        says=r"cannot be measured on the baseline",
        never="no evidence of disease",
    ),
    Case(
        "registration-fails",
        lambda f: [*_pair(f, follow_up=_no_lungs()), "--lesion", NODULE],
        exit_code=0,
        says=r"warning:.*registration to the baseline FAILED",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_follow_hostile(case: Case, tmp_path: Path) -> None:
    run_case("follow", case, tmp_path)


HOSTILE = {"follow": CASES}
