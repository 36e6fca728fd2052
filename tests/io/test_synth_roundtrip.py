"""Synthetic patients read back through radcycle's reader: geometry and truth agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radcycle.io import read_image
from radcycle.io.dicom.scan import scan_path
from radcycle.synth import generate_patient, write_patient


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    patient = generate_patient(11, timepoints=2, slices=48, matrix=128)
    out = write_patient(patient, tmp_path_factory.mktemp("synth"))
    return patient, out


def test_round_trip_geometry_values_and_truth(written):
    patient, out = written
    truth = json.loads((out / "truth.json").read_text())
    for tp, tp_truth in zip(patient.timepoints, truth["timepoints"], strict=True):
        volume = read_image(out / tp_truth["folder"])
        assert volume.metadata["problems"] == []
        assert volume.geometry.is_close(tp.volume.geometry, tol_mm=1e-3)
        np.testing.assert_array_equal(volume.array, tp.volume.array)
        assert volume.metadata["series_instance_uid"] == tp_truth["series_instance_uid"]
        assert volume.metadata["study"]["study_date"] == tp_truth["date"].replace("-", "")
        for lesion in tp_truth["lesions"]:
            if lesion["status"] == "vanished" or lesion["long_axis_mm"] < 6:
                continue
            ijk = np.rint(volume.patient_to_index([lesion["centre_mm"]])[0]).astype(int)
            assert volume.contains([lesion["centre_mm"]])
            value = float(volume.array[ijk[2], ijk[1], ijk[0]])
            background = -850.0 if lesion["organ"] == "lung" else None
            if background is not None:
                assert value > background + 200, lesion


def test_scan_sees_one_patient_two_studies(written):
    _, out = written
    result = scan_path(out)
    (patient,) = result.tree()
    assert len(patient["studies"]) == 2
    assert result.tally()["error"] == 0
    skipped = {Path(o.path).name for o in result.outcomes if o.status == "skipped"}
    assert skipped == {"truth.json", "fhir_bundle.json"}
