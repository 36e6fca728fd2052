"""A small synthetic patient (2 time points, 96x96x24 CT) with lesion masks and measurements.

The lesion masks are the truth ellipsoids painted on each scan's grid and measured
with radcycle's own measurement, so the exports see what the pipeline would give.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset

from radcycle.domain import Volume
from radcycle.domain.facts import Fact, FactProvenance, Lesion
from radcycle.domain.measurement import Measurement
from radcycle.domain.provenance import AlgorithmRecord, ImageReference, RuleRecord
from radcycle.imaging.measurement import measure_mask
from radcycle.io import read_image
from radcycle.synth import generate_patient, write_patient

ALGORITHM = AlgorithmRecord("radcycle.measure", "1", {"method": "truth-ellipsoid"})


@dataclass(frozen=True, eq=False)
class TimePoint:
    label: str
    datasets: list[Dataset]
    volume: Volume
    masks: dict[str, npt.NDArray[np.bool_]]  # tracking uid -> mask [k, j, i]
    image: ImageReference


@dataclass(frozen=True, eq=False)
class Patient:
    patient_id: str
    timepoints: list[TimePoint]
    lesions: list[Lesion]
    facts: list[Fact]


def _ellipsoid(volume: Volume, lesion: dict[str, Any]) -> npt.NDArray[np.bool_]:
    k, j, i = np.indices(volume.array.shape)
    ijk = np.column_stack([i.ravel(), j.ravel(), k.ravel()])
    d = volume.index_to_patient(ijk) - np.asarray(lesion["centre_mm"])
    u = np.asarray(lesion["long_axis_direction"], dtype=np.float64)
    v = np.array([-u[1], u[0], 0.0])
    a, b = lesion["long_axis_mm"] / 2, lesion["short_axis_mm"] / 2
    inside = (d @ u / a) ** 2 + (d @ v / b) ** 2 + (d[:, 2] / b) ** 2 <= 1.0
    return np.asarray(inside.reshape(volume.array.shape), dtype=bool)


def _measurements(les: Lesion, tp: TimePoint, mask: npt.NDArray[np.bool_]) -> list[Measurement]:
    m = measure_mask(tp.volume, mask)
    rows = np.flatnonzero(mask.any(axis=(1, 2)))
    sops = tuple(tp.image.sop_instance_uids[r] for r in rows)
    image = ImageReference(
        tp.image.study_instance_uid,
        tp.image.series_instance_uid,
        sops,
        sop_class_uid=tp.image.sop_class_uid,
        frame_of_reference_uid=tp.image.frame_of_reference_uid,
        modality="CT",
    )
    values = {"long_axis": m.long_axis_mm, "short_axis": m.short_axis_mm, "volume": m.volume_mm3}
    units = {"long_axis": "mm", "short_axis": "mm", "volume": "mm3"}
    return [
        Measurement(
            name=name,
            value=value,
            unit=units[name],
            tracking_identifier=les.tracking_identifier,
            tracking_uid=les.tracking_uid,
            time_point=tp.label,
            image=image,
            algorithm=ALGORITHM,
        )
        for name, value in values.items()
    ]


def _gone(identifier: str, uid: str, tp: TimePoint) -> Measurement:
    """A lesion seen before and gone now: a long axis without a value (RECIST 4.4.2)."""
    return Measurement(
        name="long_axis",
        value=None,
        unit="mm",
        tracking_identifier=identifier,
        tracking_uid=uid,
        time_point=tp.label,
        image=tp.image,
        algorithm=ALGORITHM,
        status="disappeared",
    )


def _timepoint(folder: Path, label: str) -> TimePoint:
    datasets = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    volume = read_image(folder)
    order = sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))
    first = order[0]
    image = ImageReference(
        str(first.StudyInstanceUID),
        str(first.SeriesInstanceUID),
        tuple(str(ds.SOPInstanceUID) for ds in order),
        sop_class_uid=str(first.SOPClassUID),
        frame_of_reference_uid=str(first.FrameOfReferenceUID),
        modality="CT",
    )
    return TimePoint(label, datasets, volume, {}, image)


def _response_facts(labels: list[str]) -> list[Fact]:
    rule = FactProvenance(rule=RuleRecord("RECIST", "1.1", "4.3.1"))
    lr = FactProvenance(rule=RuleRecord("Lung-RADS", "v2022", "table 1"))
    return [
        Fact("f-recist-target", "response", "PR", None, None, labels[1], rule, "recist_target"),
        Fact("f-recist-overall", "response", "PR", None, None, labels[1], rule, "recist_overall"),
        Fact(
            "f-recist-best", "response", "PR", None, None, labels[1], rule, "best_overall_response"
        ),
        Fact("f-lr-L1", "guideline", "4B", None, "2.25.1001", labels[0], lr, "lung_rads", "L1"),
    ]


def build_patient(root: Path) -> Patient:
    synthetic = generate_patient(7, timepoints=2, slices=24, matrix=96)
    write_patient(synthetic, root)
    tps = [_timepoint(root / tp.folder, tp.date.isoformat()) for tp in synthetic.timepoints]
    measurements: dict[str, list[Measurement]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for synth_tp, tp in zip(synthetic.timepoints, tps, strict=True):
        for truth in synth_tp.lesions:
            if truth["organ"] != "lung":
                continue
            uid = f"2.25.{1000 + int(truth['lesion_id'][1:])}"
            specs.setdefault(uid, truth)
            if truth["status"] == "vanished":
                measurements.setdefault(uid, []).append(_gone(truth["lesion_id"], uid, tp))
                continue
            mask = _ellipsoid(tp.volume, truth)
            if not mask.any():
                continue
            tp.masks[uid] = mask
            proto = Lesion(truth["lesion_id"], uid)
            measurements.setdefault(uid, []).extend(_measurements(proto, tp, mask))
    lesions = [
        Lesion(
            specs[uid]["lesion_id"],
            uid,
            organ="lung",
            laterality=specs[uid]["side"],
            lobe=specs[uid]["lobe"],
            kind=specs[uid]["type"],
            measurements=tuple(ms),
        )
        for uid, ms in sorted(measurements.items())
    ]
    return Patient(
        synthetic.patient.patient_id, tps, lesions, _response_facts([t.label for t in tps])
    )


@pytest.fixture(scope="session")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Patient:
    return build_patient(tmp_path_factory.mktemp("synthetic"))


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy prints for a file (skips where it is not installed)."""
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.skip("dciodvfy is absent (Debian dicom3tools; scripts/install-system-packages.sh)")
    run = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120, check=False)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def measurement_facts(patient: Patient) -> list[Fact]:
    """One fact per measurement, as the report's facts carry them."""
    out = []
    for les in patient.lesions:
        for m in les.measurements:
            prov = FactProvenance(images=(m.image,) if m.image else (), algorithm=m.algorithm)
            out.append(
                Fact(
                    f"f-{les.tracking_identifier}-{m.time_point}-{m.name.value}",
                    "measurement",
                    m.value,
                    m.unit,
                    les.tracking_uid,
                    m.time_point,
                    prov,
                    name=m.name.value,
                    tracking_identifier=les.tracking_identifier,
                )
            )
    return out


# Text a user (or a model) might put in a report: it must reach the output escaped.
HOSTILE = "<script>alert('x')</script> & \"quoted\""


def build_report(patient: Patient) -> dict[str, Any]:
    """A report.json document citing the patient's facts (the shape CORE's writer gives)."""
    facts = measurement_facts(patient) + patient.facts
    first = patient.lesions[0]
    label = patient.timepoints[1].label
    l1 = [f for f in facts if f.tracking_uid == first.tracking_uid and f.time_point == label]
    sentences = [
        {
            "id": "s1",
            "text": f"{first.tracking_identifier} measures {l1[0].value:.1f} mm.",
            "fact_ids": [l1[0].id],
            "source": "deterministic",
            "verified": True,
        },
        {
            "id": "s2",
            "text": "Partial response (RECIST 1.1).",
            "fact_ids": ["f-recist-overall", "f-recist-target"],
            "source": "deterministic",
            "verified": True,
        },
        {"id": "s3", "text": HOSTILE, "fact_ids": [], "source": "llm", "verified": False},
    ]
    return {
        "schema_version": "1",
        "status": "draft - not for diagnostic use until signed",
        "patient": {"id": patient.patient_id, "name": None},
        "generated": "2024-01-05T10:00:00+00:00",
        "writer": "deterministic",
        "sections": [
            {"name": "findings", "title": "Findings", "sentences": sentences[:1]},
            {"name": "impression", "title": "Impression", "sentences": sentences[1:]},
        ],
        "facts": [f.to_dict() for f in facts],
        "warnings": ["the drafting model was not reached; deterministic sentences used"],
        "rejections": [
            {"text": "L1 is 80 mm.", "reasons": ["80 mm not in facts"], "replaced_by": "s1"}
        ],
    }
