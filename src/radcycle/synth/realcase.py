"""Follow-up cases made from a real CT: the tumour rescaled, the patient moved, the view cut.

A real lung-cancer CT with its tumour outline (the IBSI 1 CT phantom PAT1 is
the one used in the tests and benchmarks) is the baseline. Each follow-up is the
same CT with the tumour scaled about its centroid by a known factor in diameter
(the space it leaves filled with lung drawn from around the tumour), the whole
image moved by a known rigid motion (a patient repositioned by a few millimetres
and degrees), and a few millimetres cut off every border (the motion leaves no
invented air at the edges). Partial-field-of-view variants cut the follow-ups
further: to the upper chest, to the lateral lung (the mediastinum and spine
gone), or with the field of view moved caudally so part of the tumour is outside.

The truth of every scan (long axis, the fraction of the tumour inside the field
of view and the RECIST 1.1 category) is computed from the known factors:
:func:`pat1_cases` builds the cases, :func:`write_case` writes them as DICOM CT
series with study dates, for ``radcycle follow``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import SimpleITK as sitk
from scipy import ndimage as ndi

from radcycle.domain import Geometry, Volume
from radcycle.domain.identity import Patient
from radcycle.errors import InputError
from radcycle.imaging.measurement import measure_mask
from radcycle.synth.dicom_writer import CTSeriesHeader, write_ct_series

__all__ = ["RealCase", "RealCaseScan", "pat1_cases", "rigid_motion", "write_case"]

FloatArray = npt.NDArray[np.float64]

_BASE_DATE = date(2024, 1, 10)
_INTERVAL = timedelta(days=91)
# Voxels cut off every border of a follow-up (i, j, k): more than the motion moves.
_BORDER = (10, 10, 3)
# A lesion more than this fraction outside the field of view cannot be evaluated.
_MIN_INSIDE = 0.9


def rigid_motion(
    degrees_z: float, degrees_x: float, shift_mm: tuple[float, float, float]
) -> FloatArray:
    """4x4 LPS matrix: rotation about z then x (degrees), then a shift (mm).

    Example:
        >>> rigid_motion(0.0, 0.0, (1.0, 2.0, 3.0))[:3, 3].tolist()
        [1.0, 2.0, 3.0]
    """
    a, b = np.deg2rad(degrees_z), np.deg2rad(degrees_x)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    m = np.eye(4)
    m[:3, :3] = rz @ rx
    m[:3, 3] = shift_mm
    return m


@dataclass(frozen=True)
class RealCaseScan:
    """One scan of a case and its truth.

    Args:
        volume: the CT (HU).
        exam_date: its study date.
        factor: the tumour's diameter relative to the baseline.
        motion: 4x4, baseline LPS -> this scan's LPS (identity for the baseline).
        long_axis_mm: the true long axis (baseline long axis x factor).
        inside_fraction: the fraction of the tumour inside the field of view.
        category: the true RECIST 1.1 category (None for the baseline).
    """

    volume: Volume
    exam_date: date
    factor: float
    motion: FloatArray
    long_axis_mm: float
    inside_fraction: float
    category: str | None


@dataclass(frozen=True)
class RealCase:
    """A baseline and its follow-ups, the tumour's baseline centre and what was done."""

    name: str
    description: str
    scans: tuple[RealCaseScan, ...]
    lesion_mm: tuple[float, float, float]

    @property
    def categories(self) -> list[str | None]:
        return [s.category for s in self.scans[1:]]


def _scaled_tumour(
    values: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], factor: float, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """The image with the tumour scaled about its centroid (index space), and its mask."""
    rng = np.random.default_rng(seed)
    centre = np.argwhere(mask).mean(axis=0)
    grid = np.indices(mask.shape, dtype=np.float32)
    source = [centre[a] + (grid[a] - centre[a]) / factor for a in range(3)]
    scaled = ndi.map_coordinates(values, source, order=1, mode="nearest")
    inside = ndi.map_coordinates(mask.astype(np.float32), source, order=1) >= 0.5
    out = values.copy()
    ring = ndi.binary_dilation(mask, iterations=6) & ~mask & (values < -500)
    vacated = mask & ~inside
    if vacated.any():
        out[vacated] = rng.choice(values[ring], size=int(vacated.sum()))
    out[inside] = scaled[inside]
    return out, inside


def _moved(
    image: Volume, values: npt.NDArray[np.float32], matrix: FloatArray, order: int
) -> npt.NDArray[np.float32]:
    """``values`` moved by ``matrix`` (LPS mm) on ``image``'s grid."""
    itk = sitk.GetImageFromArray(values)
    itk.SetOrigin(tuple(float(v) for v in image.origin))
    itk.SetSpacing(tuple(float(v) for v in image.spacing))
    itk.SetDirection(tuple(float(v) for v in image.direction.flatten()))
    inverse = sitk.AffineTransform(3)
    inv = np.linalg.inv(matrix)
    inverse.SetMatrix(tuple(float(v) for v in inv[:3, :3].flatten()))
    inverse.SetTranslation(tuple(float(v) for v in inv[:3, 3]))
    interpolator = sitk.sitkLinear if order else sitk.sitkNearestNeighbor
    out = sitk.Resample(itk, itk, inverse, interpolator, -1000.0 if order else 0.0)
    return np.asarray(sitk.GetArrayFromImage(out), dtype=np.float32)


def _crop(volume: Volume, lo_ijk: tuple[int, int, int], hi_ijk: tuple[int, int, int]) -> Volume:
    """The sub-volume ``lo_ijk <= ijk < hi_ijk`` with its own origin."""
    (i0, j0, k0), (i1, j1, k1) = lo_ijk, hi_ijk
    array = np.ascontiguousarray(volume.array[k0:k1, j0:j1, i0:i1])
    origin = volume.index_to_patient([[i0, j0, k0]])[0]
    geometry = Geometry(origin, volume.spacing, volume.direction)
    return Volume(array, geometry, dict(volume.metadata))


@dataclass(frozen=True)
class _Cut:
    """Which part of a moved follow-up is kept: fractions of the grid along i, j, k."""

    lo: tuple[float, float, float] = (0.0, 0.0, 0.0)
    hi: tuple[float, float, float] = (1.0, 1.0, 1.0)


def _follow_up(
    image: Volume,
    mask: npt.NDArray[np.bool_],
    factor: float,
    motion: FloatArray,
    cut: _Cut,
    seed: int,
) -> tuple[Volume, float]:
    values = np.asarray(image.array, dtype=np.float32)
    scaled, inside = _scaled_tumour(values, mask, factor, seed)
    moved = _moved(image, scaled, motion, 1)
    moved_mask = _moved(image, inside.astype(np.float32), motion, 0) > 0.5
    shape = np.asarray(image.shape_ijk)
    lo = np.maximum(np.floor(np.asarray(cut.lo) * shape).astype(int), _BORDER)
    hi = np.minimum(np.ceil(np.asarray(cut.hi) * shape).astype(int), shape - _BORDER)
    full = Volume(np.round(moved).astype(np.int16), image.geometry, {"modality": "CT"})
    cropped = _crop(full, tuple(int(v) for v in lo), tuple(int(v) for v in hi))  # type: ignore[arg-type]
    total = int(moved_mask.sum())
    kept = int(moved_mask[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]].sum())
    return cropped, kept / total if total else 0.0


def _category(baseline_mm: float, nadir_mm: float, now_mm: float, inside: float) -> str:
    """RECIST 1.1 for one target lesion (sections 4.3.1 and 4.4.2)."""
    if inside < _MIN_INSIDE:
        return "NE"
    if now_mm == 0.0:
        return "CR"
    if now_mm - nadir_mm >= 5.0 and now_mm >= 1.2 * nadir_mm:
        return "PD"
    if now_mm <= 0.7 * baseline_mm:
        return "PR"
    return "SD"


# name -> description and, per follow-up, (diameter factor, motion, cut)
_MOTIONS = (
    rigid_motion(3.0, 1.0, (6.0, -4.0, 3.0)),
    rigid_motion(-2.0, 1.5, (-5.0, 6.0, -4.0)),
)
_PLANS: dict[str, tuple[str, tuple[_Cut, _Cut]]] = {
    "scenario": (
        "the tumour shrunk to 0.6 of its diameter, then grown to 1.3; the patient moved "
        "a few millimetres and degrees each time",
        (_Cut(), _Cut()),
    ),
    "upper-chest": (
        "the follow-ups cropped to the upper chest (the lowest sixth of the field of view gone)",
        (_Cut(lo=(0.0, 0.0, 0.15)), _Cut(lo=(0.0, 0.0, 0.15))),
    ),
    "one-lung": (
        "the follow-ups cropped to the lateral lung: the mediastinum and spine are outside",
        (_Cut(hi=(0.82, 1.0, 1.0)), _Cut(hi=(0.82, 1.0, 1.0))),
    ),
    "abdomen-shift": (
        "the second follow-up's field of view moved caudally, towards the abdomen: the upper "
        "half of the chest and part of the tumour are outside",
        (_Cut(), _Cut(hi=(1.0, 1.0, 0.55))),
    ),
}
_FACTORS = (0.6, 1.3)


def pat1_cases(
    image: Volume, mask: npt.ArrayLike, names: tuple[str, ...] | None = None
) -> list[RealCase]:
    """The scenario and the three partial-field-of-view cases from one CT and its tumour.

    Args:
        image: the baseline CT (HU).
        mask: the tumour on the image's grid (non-zero inside).
        names: which cases (default all: ``scenario``, ``upper-chest``, ``one-lung``,
            ``abdomen-shift``).

    Raises:
        InputError: the mask is empty or not on the image's grid, or a name is unknown.
    """
    tumour = np.asarray(mask) > 0
    if tumour.shape != image.array.shape or not tumour.any():
        raise InputError("the tumour mask is empty or not on the image's grid")
    chosen = names or tuple(_PLANS)
    unknown = [n for n in chosen if n not in _PLANS]
    if unknown:
        raise InputError(f"unknown case(s); choose from {sorted(_PLANS)}", value=unknown)
    measured = measure_mask(image, tumour)
    if measured.long_axis_mm is None:
        raise InputError("the tumour mask has no measurable long axis")
    base_mm, centre = measured.long_axis_mm, measured.centre
    base_volume = Volume(
        np.round(np.asarray(image.array)).astype(np.int16), image.geometry, {"modality": "CT"}
    )
    cases = []
    for name in chosen:
        description, cuts = _PLANS[name]
        scans = [RealCaseScan(base_volume, _BASE_DATE, 1.0, np.eye(4), base_mm, 1.0, None)]
        nadir = base_mm
        for t, (factor, motion, cut) in enumerate(zip(_FACTORS, _MOTIONS, cuts, strict=True)):
            volume, inside = _follow_up(image, tumour, factor, motion, cut, seed=t + 1)
            now = factor * base_mm
            category = _category(base_mm, nadir, now, inside)
            if category != "NE":
                nadir = min(nadir, now)
            day = _BASE_DATE + _INTERVAL * (t + 1)
            scans.append(RealCaseScan(volume, day, factor, motion, round(now, 2), inside, category))
        cases.append(RealCase(name, description, tuple(scans), centre))
    return cases


def _uid(*parts: Any) -> str:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()
    return "2.25." + str(int(digest[:30], 16))


def write_case(case: RealCase, folder: str | Path) -> list[Path]:
    """Write each scan of ``case`` as a DICOM CT series in ``folder/t<n>``.

    Returns:
        The series folders, baseline first.
    """
    patient = Patient(f"REALCASE-{case.name}", "REALCASE^PAT1", date(1960, 5, 1), "M")
    frame = _uid(case.name, "frame")
    out = []
    for t, scan in enumerate(case.scans):
        target = Path(folder) / f"t{t}"
        header = CTSeriesHeader(
            patient=patient,
            study_instance_uid=_uid(case.name, t, "study"),
            series_instance_uid=_uid(case.name, t, "series"),
            frame_of_reference_uid=frame if t == 0 else _uid(case.name, t, "frame"),
            study_date=scan.exam_date,
            series_description=f"{case.name} t{t}",
        )
        write_ct_series(scan.volume, target, header)
        out.append(target)
    return out
