"""Hostile inputs to ``radcycle train-segmenter`` and ``radcycle model-card``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cases import Case, ids, run_case


def _half_patient(folder: Path) -> Path:
    """A patient folder whose series are not images (a text file named as NIfTI)."""
    patient = folder / "data" / "STS_001"
    patient.mkdir(parents=True)
    (patient / "CT_image.nii.gz").write_text("not an image\n")
    (patient / "CT_mask.nii.gz").write_text("not a mask\n")
    return folder / "data"


TRAIN = [
    Case(
        "data-missing",
        lambda f: [str(f / "nothere"), "--out", str(f / "m")],
        says=r"no STS_\* patient folder",
    ),
    Case(
        "data-without-patients",
        lambda f: [str(f), "--out", str(f.parent / "m-x")],
        says=r"no STS_\* patient folder",
    ),
    Case(
        "series-not-an-image",
        lambda f: [str(_half_patient(f)), "--out", str(f / "m")],
        says=r"CT_image\.nii\.gz",
    ),
    Case(
        "out-inside-data",
        lambda f: [str(_half_patient(f)), "--out", str(f / "data" / "m")],
        says=r"inside an input folder",
    ),
]

CARD = [
    Case(
        "unknown-model",
        lambda f: ["nope", "--out", str(f / "card.md")],
        says=r"no model 'nope'",
    ),
    Case(
        "existing-card-without-force",
        lambda f: [
            "click-unet",
            "--out",
            str((f / "card.md", (f / "card.md").write_text("mine\n"))[0]),
        ],
        says=r"exists",
    ),
]


@pytest.mark.parametrize("case", TRAIN, ids=ids(TRAIN))
def test_train_segmenter_hostile(case: Case, tmp_path: Path) -> None:
    run_case("train-segmenter", case, tmp_path)
    assert not (tmp_path / "m" / "click-unet.onnx").exists()


@pytest.mark.parametrize("case", CARD, ids=ids(CARD))
def test_model_card_hostile(case: Case, tmp_path: Path) -> None:
    run_case("model-card", case, tmp_path)
    card = tmp_path / "card.md"
    assert not card.exists() or card.read_text() == "mine\n"


HOSTILE = {"train-segmenter": TRAIN, "model-card": CARD}
