"""``radcycle follow`` on a real CT that shows only part of the chest (IBSI PAT1).

The cases of :mod:`radcycle.synth.realcase`: the tumour shrunk to 0.6 of its
diameter then grown to 1.3 with the patient moved each time (truth PR, then PD),
and three partial fields of view. No lungs are enclosed by the body outline on
these scans, so registration takes the intensity path; the tumour is given on
the baseline with ``--lesion`` and followed from there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from radcycle.cli.main import build_app
from radcycle.io import read_image
from radcycle.synth.realcase import RealCase, pat1_cases, write_case

runner = CliRunner()


@pytest.fixture(scope="module")
def cases(shared_data: Path) -> dict[str, RealCase]:
    folder = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "nifti"
    image = read_image(folder / "image" / "phantom.nii.gz")
    mask = np.asarray(read_image(folder / "mask" / "mask.nii.gz").array) > 0
    return {case.name: case for case in pat1_cases(image, mask)}


def _follow(case: RealCase, folder: Path) -> dict[str, Any]:
    series = write_case(case, folder)
    x, y, z = case.lesion_mm
    args = ["follow", *map(str, series), f"--lesion={x},{y},{z}:lung", "--json"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.realdata
@pytest.mark.slow
def test_scenario_gives_pr_then_pd_within_ten_percent(
    cases: dict[str, RealCase], tmp_path: Path
) -> None:
    case = cases["scenario"]
    assert case.categories == ["PR", "PD"]
    document = _follow(case, tmp_path)
    categories = [tp["category"] for tp in document["recist"]["timepoints"]]
    assert categories == ["PR", "PD"]
    (lesion,) = document["lesions"]
    sizes = {p["timepoint"]: p["diameter_mm"] for p in lesion["points"]}
    for t, scan in enumerate(case.scans):
        assert sizes[t] == pytest.approx(scan.long_axis_mm, rel=0.10), t
    for scan in document["scans"][1:]:
        reg = scan["registration_to_baseline"]
        assert reg["path"] == "intensity"
        assert not reg["failed"], reg["reason"]
        assert reg["details"]["ncc"] >= 0.5
        assert reg["details"]["bone_dice"] >= 0.6


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", ["upper-chest", "one-lung", "abdomen-shift"])
def test_partial_fields_of_view_give_the_true_categories(
    cases: dict[str, RealCase], name: str, tmp_path: Path
) -> None:
    case = cases[name]
    document = _follow(case, tmp_path)
    categories = [tp["category"] for tp in document["recist"]["timepoints"]]
    assert categories == case.categories
    if "NE" in case.categories:
        t = case.categories.index("NE") + 1
        point = next(p for p in document["lesions"][0]["points"] if p["timepoint"] == t)
        assert point["status"] == "not evaluated"
        assert "outside this scan's field of view" in point["note"]


@pytest.mark.realdata
def test_detector_on_a_view_without_lungs_says_so(
    cases: dict[str, RealCase], tmp_path: Path
) -> None:
    series = write_case(cases["scenario"], tmp_path)
    result = runner.invoke(build_app(), ["follow", str(series[0]), str(series[1])])
    assert result.exit_code == 2
    assert "--lesion" in result.output
    assert "no evidence of disease" not in result.output
