"""Evaluation against the MeSH tags of the Open-i reports (realdata) and its arithmetic."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from radcycle.clinical.evaluation import (
    LabelScore,
    evaluate,
    keyword_baseline,
    macro_f1,
    mesh_labels,
    miner_labels,
    negation_window_baseline,
    score,
)
from radcycle.clinical.openi import OpenIReport, parse_openi

# Floor a little under the measured macro-F1 (0.93 at the time of writing).
MACRO_F1_FLOOR = 0.90


@pytest.fixture(scope="module")
def iu_reports(shared_data: Path) -> list[OpenIReport]:
    archive = shared_data / "iu-xray" / "iu_xray_reports_dev.tgz"
    with tarfile.open(archive) as tar:
        return [
            parse_openi(tar.extractfile(m).read(), source=m.name)  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile() and m.name.endswith(".xml")
        ]


@pytest.mark.realdata
@pytest.mark.slow
def test_miner_beats_baseline_on_open_i(iu_reports: list[OpenIReport]) -> None:
    assert len(iu_reports) == 3161
    scores = evaluate(iu_reports, {"baseline": keyword_baseline, "miner": miner_labels})
    miner, baseline = macro_f1(scores["miner"]), macro_f1(scores["baseline"])
    assert miner >= MACRO_F1_FLOOR
    assert miner > baseline + 0.2
    by_label = {s.label: s for s in scores["miner"]}
    assert by_label["Pleural Effusion"].f1 > 0.85
    assert by_label["No Finding"].f1 > 0.85


def test_mesh_mapping() -> None:
    assert mesh_labels(["Cardiac Shadow/enlarged/mild"]) == {"Cardiomegaly"}
    assert mesh_labels(["Cardiac Shadow/borderline"]) == frozenset()
    assert mesh_labels(["Thickening/pleura/left"]) == {"Pleural Other"}
    assert mesh_labels(["Hydropneumothorax/right"]) == {"Pneumothorax", "Pleural Effusion"}
    assert mesh_labels(["Calcified Granuloma/lung"]) == frozenset()


def test_scores_arithmetic() -> None:
    truth = [frozenset({"Edema"}), frozenset({"Edema"}), frozenset(), frozenset()]
    predicted = [frozenset({"Edema"}), frozenset(), frozenset({"Edema"}), frozenset()]
    (edema,) = score(truth, predicted, labels=["Edema"])
    assert (edema.tp, edema.fp, edema.fn, edema.support) == (1, 1, 1, 2)
    assert edema.precision == edema.recall == edema.f1 == 0.5
    assert macro_f1([edema, LabelScore("Fracture", 1, 1, 0, 0)], min_support=2) == 0.5
    with pytest.raises(ValueError, match="predictions"):
        score(truth, predicted[:2])


def test_baseline_ignores_negation() -> None:
    sections = {"findings": "No pleural effusion."}
    assert "Pleural Effusion" in keyword_baseline(sections)
    assert "Pleural Effusion" not in miner_labels(sections)
    assert "No Finding" in miner_labels(sections)


def test_negation_window_has_no_scope_termination() -> None:
    near = {"findings": "No pleural effusion."}
    assert "Pleural Effusion" not in negation_window_baseline(near)
    far = {"findings": "Heart normal, no acute disease, the lungs are clear, small effusion."}
    assert "Pleural Effusion" in negation_window_baseline(far)
    terminated = {"findings": "No pneumothorax but small effusion."}
    assert "Pleural Effusion" not in negation_window_baseline(terminated)
    assert "Pleural Effusion" in miner_labels(terminated)
