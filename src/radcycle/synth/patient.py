"""A synthetic patient: identity, time points, scans, lesion truth (in memory, no I/O)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.uid import generate_uid

from radcycle.domain import Geometry, Patient, Volume
from radcycle.errors import InputError
from radcycle.synth.anatomy import Anatomy
from radcycle.synth.lesions import LesionSpec, plan_lesions
from radcycle.synth.render import ScanGrid, render_scan
from radcycle.synth.tubes import TubeSet, build_tubes, emphysema_holes

__all__ = [
    "MAX_SLICES",
    "MIN_SLICES",
    "SyntheticPatient",
    "SyntheticTimepoint",
    "generate_patient",
    "slice_spacing_mm",
]

FloatArray = npt.NDArray[np.float64]

MIN_SLICES = 16
MAX_SLICES = 400
_FOV_MM = 384.0
_CHEST_MM = 300.0  # lung apex to costophrenic recess, with a margin
_CHEST_CENTRE_Z = -72.0  # body z of the middle of the chest (carina at z = 0)
_MONTHS_BETWEEN = 3


def slice_spacing_mm(slices: int) -> float:
    """Slice spacing so ``slices`` cover the chest: 300 mm, at 1 to 5 mm, in 1/8 mm steps."""
    raw = _CHEST_MM / slices
    return float(min(5.0, max(1.0, np.ceil(raw * 8.0) / 8.0)))


@dataclass(frozen=True, eq=False)
class SyntheticTimepoint:
    """One CT scan of the patient and the truth about it.

    Attributes:
        index: 0 for the baseline. date: the study date.
        volume: HU volume in this scan's patient coordinates (LPS mm).
        baseline_to_scan: 4x4 rigid transform, baseline patient mm -> this scan's.
        lesions: truth records (the ``truth.json`` lesion shape).
        landmarks: named anatomical points in this scan's patient coordinates.
    """

    index: int
    date: date
    volume: Volume
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    accession_number: str
    baseline_to_scan: FloatArray
    lesions: tuple[dict[str, Any], ...]
    landmarks: dict[str, list[float]]

    @property
    def folder(self) -> str:
        """Folder name of this time point's DICOM series (``tp0_20240115``)."""
        return f"tp{self.index}_{self.date:%Y%m%d}"


@dataclass(frozen=True, eq=False)
class SyntheticPatient:
    """A synthetic lung cancer patient followed over ``len(timepoints)`` CT scans."""

    seed: int
    patient: Patient
    timepoints: tuple[SyntheticTimepoint, ...]
    lesion_specs: tuple[LesionSpec, ...]
    treatment: str
    smoking: str
    noise_hu: float
    emphysema: bool = False

    def truth(self) -> dict[str, Any]:
        """The ``truth.json`` document (see the package docstring for its shape)."""
        p = self.patient
        return {
            "seed": self.seed,
            "patient": {
                "patient_id": p.patient_id,
                "name": p.name,
                "birth_date": p.birth_date.isoformat() if p.birth_date else None,
                "sex": p.sex,
            },
            "treatment": self.treatment,
            "smoking": self.smoking,
            "emphysema": self.emphysema,
            "noise_hu": round(self.noise_hu, 2),
            "timepoints": [
                {
                    "index": tp.index,
                    "date": tp.date.isoformat(),
                    "folder": tp.folder,
                    "study_instance_uid": tp.study_instance_uid,
                    "series_instance_uid": tp.series_instance_uid,
                    "frame_of_reference_uid": tp.frame_of_reference_uid,
                    "accession_number": tp.accession_number,
                    "baseline_to_scan": _round(tp.baseline_to_scan).tolist(),
                    "geometry": {
                        "origin": _round(tp.volume.origin).tolist(),
                        "spacing": _round(tp.volume.spacing).tolist(),
                        "shape_ijk": list(tp.volume.shape_ijk),
                    },
                    "landmarks": tp.landmarks,
                    "lesions": list(tp.lesions),
                }
                for tp in self.timepoints
            ],
        }


def _round(a: FloatArray, ndigits: int = 4) -> FloatArray:
    result: FloatArray = np.round(np.asarray(a, dtype=np.float64), ndigits).astype(np.float64)
    result += 0.0  # no negative zeros in JSON
    return result


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _rotation_z(theta: float) -> FloatArray:
    c, s = np.cos(theta), np.sin(theta)
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    return out


def _translation(t: FloatArray) -> FloatArray:
    out = np.eye(4)
    out[:3, 3] = t
    return out


def _repositioning(rng: np.random.Generator) -> FloatArray:
    """A rigid patient repositioning: 1.5-4 degrees about z, 6-18 mm translation."""
    theta = np.deg2rad(rng.uniform(1.5, 4.0)) * rng.choice([-1.0, 1.0])
    direction = rng.normal(size=3) * np.array([1.0, 1.0, 0.6])
    shift = direction / np.linalg.norm(direction) * rng.uniform(6.0, 18.0)
    return _translation(shift) @ _rotation_z(theta)


def _apply(m: FloatArray, p: FloatArray) -> list[float]:
    return [round(float(v), 3) for v in m[:3, :3] @ p + m[:3, 3]]


def _lesion_truth(spec: LesionSpec, t: int, body_to_scan: FloatArray) -> dict[str, Any] | None:
    status = spec.status(t)
    if status is None:
        return None
    state = spec.states[t]
    a, b, c = state.semi_axes
    solid = None
    angle = spec.angle + float(np.arctan2(body_to_scan[1, 0], body_to_scan[0, 0]))
    if b > a:
        angle += np.pi / 2
    if spec.kind == "part-solid":
        solid = round(2.0 * max(a, b) * state.core_fraction, 3) if state.present else 0.0
    return {
        "lesion_id": spec.lesion_id,
        "type": spec.kind,
        "organ": {"lymph-node": "lymph node", "liver": "liver"}.get(spec.kind, "lung"),
        "side": spec.side,
        "zone": spec.zone,
        "centre_mm": _apply(body_to_scan, np.asarray(spec.centre)),
        # RECIST 1.1: longest diameter in the axial plane and the longest perpendicular
        # to it in that plane; for an ellipsoid with a z axis: 2a and 2b at its centre.
        "long_axis_mm": round(2.0 * max(a, b), 3),
        "short_axis_mm": round(2.0 * min(a, b), 3),
        "max_3d_diameter_mm": round(2.0 * max(a, b, c), 3),
        "volume_mm3": round(4.0 / 3.0 * np.pi * a * b * c, 3),
        "solid_component_mm": solid,
        "status": status,
        "juxtapleural": spec.juxtapleural,
        "perifissural": bool(spec.perifissural[t]) if spec.perifissural else False,
        "lobe": spec.lobe,
        "long_axis_direction": [round(float(f(angle)), 6) for f in (np.cos, np.sin)] + [0.0],
    }


def _uid(seed: int, *parts: object) -> str:
    return str(generate_uid(entropy_srcs=["radcycle-synth", str(seed), *map(str, parts)]))


def _identity(seed: int, rng: np.random.Generator, baseline: date) -> Patient:
    sex = "F" if rng.uniform() < 0.45 else "M"
    age = int(rng.integers(52, 82))
    birth = date(baseline.year - age, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    return Patient(
        patient_id=f"SYN{seed:08d}", name=f"SYNTHETIC^CHEST{seed}", birth_date=birth, sex=sex
    )


def _check_args(seed: int, timepoints: int, slices: int, matrix: int) -> None:
    if seed < 0:
        raise InputError("seed must be >= 0", value=seed)
    if timepoints < 1:
        raise InputError("timepoints must be >= 1", value=timepoints)
    if not MIN_SLICES <= slices <= MAX_SLICES:
        raise InputError(f"slices must be between {MIN_SLICES} and {MAX_SLICES}", value=slices)
    if not 64 <= matrix <= 1024:
        raise InputError("matrix must be between 64 and 1024 pixels", value=matrix)


def generate_patient(
    seed: int, timepoints: int = 3, slices: int = 120, *, matrix: int = 512
) -> SyntheticPatient:
    """Generate a synthetic lung cancer patient followed by CT (pure, in memory).

    Args:
        seed: any integer >= 0; the same seed gives the same patient, bit for bit.
        timepoints: number of CT scans, 3 months apart (>= 1).
        slices: slices per scan (16 to 400); the spacing is chosen so they cover
            the chest (300 mm) at 1 to 5 mm.
        matrix: in-plane pixels (512 for a real CT; smaller only to test quickly).
            The field of view stays 384 mm.

    Returns:
        The patient, with one HU :class:`~radcycle.domain.Volume` per time point.

    Example:
        >>> p = generate_patient(7, timepoints=1, slices=16, matrix=64)
        >>> p.timepoints[0].volume.shape_ijk
        (64, 64, 16)
    """
    _check_args(seed, timepoints, slices, matrix)
    rng = np.random.default_rng([seed, 11])
    anat = Anatomy(
        scale_lr=float(rng.uniform(0.93, 1.05)),
        scale_ap=float(rng.uniform(0.93, 1.05)),
        fat_mm=float(rng.uniform(8.0, 20.0)),
        seed_shift=float(rng.uniform(-6.0, 6.0)),
        emphysema=bool(np.random.default_rng([seed, 14]).uniform() < 0.5),
    )
    tubes = TubeSet.concat(
        [
            build_tubes(anat, np.random.default_rng([seed, 12])),
            emphysema_holes(anat, np.random.default_rng([seed, 15])),
        ]
    )
    dz = slice_spacing_mm(slices)
    half = (slices - 1) * dz / 2.0
    covered = (_CHEST_CENTRE_Z - half + 3.0, _CHEST_CENTRE_Z + half - 3.0)
    specs = plan_lesions(anat, np.random.default_rng([seed, 13]), timepoints, covered)
    baseline = date(
        int(rng.integers(2021, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    )
    patient = _identity(seed, rng, baseline)
    body_to_baseline = _translation(
        np.array([rng.uniform(-5, 5), rng.uniform(-12, 0), rng.uniform(-220, -120)])
    )
    model = _Model(
        seed=seed,
        anat=anat,
        tubes=tubes,
        specs=tuple(specs),
        body_to_baseline=body_to_baseline,
        size=(matrix, slices, dz),
        noise_hu=float(rng.uniform(10.0, 18.0)),
    )
    tps = []
    for t in range(timepoints):
        move = np.eye(4) if t == 0 else _repositioning(rng)
        day = baseline if t == 0 else _add_months(baseline, _MONTHS_BETWEEN * t)
        day += timedelta(days=0 if t == 0 else int(rng.integers(-6, 7)))
        tps.append(_timepoint(model, t, day, move, rng))
    return SyntheticPatient(
        seed=seed,
        patient=patient,
        timepoints=tuple(tps),
        lesion_specs=tuple(specs),
        treatment=str(rng.choice(["carboplatin-pemetrexed", "pembrolizumab"])),
        smoking=str(rng.choice(["former", "current"])),
        noise_hu=model.noise_hu,
        emphysema=anat.emphysema,
    )


@dataclass(frozen=True, eq=False)
class _Model:
    """What every scan of one patient shares."""

    seed: int
    anat: Anatomy
    tubes: TubeSet
    specs: tuple[LesionSpec, ...]
    body_to_baseline: FloatArray
    size: tuple[int, int, float]  # matrix, slices, slice spacing (mm)
    noise_hu: float


def _timepoint(
    model: _Model, t: int, day: date, move: FloatArray, rng: np.random.Generator
) -> SyntheticTimepoint:
    """Render scan ``t`` (patient moved by ``move`` from the baseline) and its truth."""
    seed, anat, specs = model.seed, model.anat, model.specs
    matrix, slices, dz = model.size
    body_to_scan = move @ model.body_to_baseline
    pixel = _FOV_MM / matrix
    centre_z = (body_to_scan @ np.array([0.0, 0.0, _CHEST_CENTRE_Z, 1.0]))[2] + rng.uniform(
        -1.5, 1.5
    )
    xy0 = -(matrix - 1) / 2.0 * pixel
    origin = (xy0, xy0, round(float(centre_z - (slices - 1) * dz / 2.0), 2))
    grid = ScanGrid(origin=origin, pixel_mm=pixel, slice_mm=dz, matrix=matrix, slices=slices)
    array = render_scan(
        anat, model.tubes, specs, t, grid, body_to_scan, model.noise_hu, (seed, t, 21)
    )
    study_uid, series_uid, for_uid = (_uid(seed, role, t) for role in ("study", "series", "for"))
    volume = Volume(
        array,
        Geometry(origin=origin, spacing=grid.spacing),
        {
            "modality": "CT",
            "units": "HU",
            "study_instance_uid": study_uid,
            "series_instance_uid": series_uid,
        },
    )
    lesions = tuple(
        rec for spec in specs if (rec := _lesion_truth(spec, t, body_to_scan)) is not None
    )
    landmarks = {
        "carina": _apply(body_to_scan, anat.carina),
        "spine_centre_at_carina": _apply(body_to_scan, np.array([0.0, anat.spine_y, 0.0])),
    }
    return SyntheticTimepoint(
        index=t,
        date=day,
        volume=volume,
        study_instance_uid=study_uid,
        series_instance_uid=series_uid,
        frame_of_reference_uid=for_uid,
        accession_number=f"SYNACC{seed % 100000:05d}{t:02d}",
        baseline_to_scan=move,
        lesions=lesions,
        landmarks=landmarks,
    )
