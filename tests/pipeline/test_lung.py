"""Full lung analysis on a reduced synthetic patient: plain data, LPS mm, provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.errors import AnalysisError
from radcycle.pipeline.lung import analyse_lungs
from radcycle.synth import generate_patient


@pytest.mark.slow
def test_lung_analysis_of_a_synthetic_patient() -> None:
    tp = generate_patient(31, timepoints=1, slices=96, matrix=256).timepoints[0]
    result = analyse_lungs(tp.volume)
    data = json.loads(json.dumps(result.to_dict()))  # JSON-ready
    assert data["series_instance_uid"] == tp.series_instance_uid
    assert data["lung_volumes_ml"]["right"] > 500
    assert set(data["timings_s"]) == {"lungs", "detection", "radiomics"}
    big = [t for t in tp.lesions if t["organ"] == "lung" and t["long_axis_mm"] >= 10]
    assert big
    for truth in big:
        near = [
            n
            for n in data["nodules"]
            if np.linalg.norm(np.asarray(n["centre_mm"]) - truth["centre_mm"]) < 6.0
        ]
        assert near, truth
        nodule = near[0]
        assert nodule["location"]["side"] == truth["side"]
        assert abs(nodule["measurements"]["long_axis_mm"] - truth["long_axis_mm"]) <= 3.0
        assert nodule["provenance"]["series_uid"] == tp.series_instance_uid
        assert nodule["radiomics"]["morph_volume"] > 0


def test_lung_analysis_refuses_non_ct() -> None:
    pet = Volume(np.full((10, 20, 20), 2.0), Geometry((0, 0, 0), (4, 4, 4)), {"modality": "PT"})
    with pytest.raises(AnalysisError, match="CT"):
        analyse_lungs(pet)
