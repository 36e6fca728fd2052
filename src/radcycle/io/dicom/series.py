"""Assemble DICOM frames into volumes: group, order by position, check, load.

Slices are ordered by ImagePositionPatient projected on the slice normal
(row cosine x column cosine), never by file name or InstanceNumber (PS3.3
C.7.6.2.1.1: position and orientation define the plane; instance numbers are
only a hint). A series that mixes orientations or matrix sizes is split into
stacks. Every irregularity is reported as a problem on the stack:

* ``duplicate-position``: two frames at the same place (the first is kept);
* ``missing-slices``: gaps that are whole multiples of the usual spacing;
* ``non-uniform-spacing``: other spacing changes;
* ``gantry-tilt``: positions not moving along the normal (sheared stack);
* ``mixed-orientation``: several stacks in one series;
* ``no-position``: frames without ImagePositionPatient (nominal geometry);
* ``unknown-pixel-spacing``: PixelSpacing missing, unreadable, zero or
  implausible (or only ImagerPixelSpacing): the grid is nominal (1 mm) and no
  measurement in millimetres may be made on it;
* ``no-orientation``: ImageOrientationPatient missing: axial is assumed, so
  the slice spacing and every distance across slices are unknown.

:data:`UNKNOWN_GEOMETRY` lists the codes under which millimetres mean nothing.

Missing or irregular slices are filled by linear interpolation onto a uniform
grid and tilted stacks are resampled onto an orthogonal grid, so the Volume's
geometry is always true; the metadata says which slices were interpolated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain import AcquisitionInfo, Geometry, ImageReference, Volume
from radcycle.errors import GeometryError, InputError, SeriesError
from radcycle.io.dicom.headers import FrameRef, ImageHeader
from radcycle.io.dicom.pixels import read_frames

log = logging.getLogger(__name__)

__all__ = [
    "UNKNOWN_GEOMETRY",
    "Problem",
    "Stack",
    "build_stacks",
    "load_stack",
    "read_dicom_volume",
]

#: Problem codes under which the grid's millimetres are nominal, not measured.
UNKNOWN_GEOMETRY = ("unknown-pixel-spacing", "no-orientation")

_POS_TOL_MM = 0.01
_TILT_TOL_DEG = 0.5


@dataclass(frozen=True)
class Problem:
    """An irregularity found in a series, with a machine code and a sentence."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Stack:
    """One geometrically consistent stack of frames of a series, ordered along the normal."""

    study_instance_uid: str
    series_instance_uid: str
    frames: list[FrameRef]
    geometry: Geometry
    offsets_mm: npt.NDArray[np.float64]
    problems: list[Problem] = field(default_factory=list)
    stack_index: int = 0

    @property
    def header(self) -> ImageHeader:
        return self.frames[0].header

    @property
    def n_slices(self) -> int:
        """Slices of the uniform grid the stack is loaded onto."""
        return (
            round(float(self.offsets_mm[-1] - self.offsets_mm[0]) / float(self.geometry.spacing[2]))
            + 1
        )

    def describe(self) -> dict[str, Any]:
        h = self.header
        return {
            "study_instance_uid": self.study_instance_uid,
            "series_instance_uid": self.series_instance_uid,
            "stack": self.stack_index,
            "modality": h.modality,
            "description": h.series.get("description", ""),
            "size": [h.columns, h.rows, self.n_slices],
            "slices": self.n_slices,
            "spacing_mm": [round(float(v), 4) for v in self.geometry.spacing],
            "origin_mm": [round(float(v), 3) for v in self.geometry.origin],
            "direction": [round(float(v), 6) for v in self.geometry.direction.T.ravel()],
            "frames": len(self.frames),
            "files": len({f.header.path for f in self.frames}),
            "problems": [p.as_dict() for p in self.problems],
        }


def _orientation_key(iop: tuple[float, ...] | None) -> tuple[float, ...]:
    if iop is None:
        return ()
    return tuple(round(v, 3) for v in iop)


def _direction(iop: tuple[float, ...] | None) -> npt.NDArray[np.float64]:
    if iop is None:
        return np.eye(3)
    row = np.asarray(iop[:3], dtype=np.float64)
    col = np.asarray(iop[3:], dtype=np.float64)
    row /= np.linalg.norm(row) or 1.0
    col -= row * float(row @ col)  # re-orthogonalise rounding noise in the header
    col /= np.linalg.norm(col) or 1.0
    return np.column_stack([row, col, np.cross(row, col)])


def build_stacks(headers: Sequence[ImageHeader]) -> tuple[list[Stack], list[tuple[str, str]]]:
    """Group image headers into ordered stacks.

    Returns:
        The stacks, and ``(path, reason)`` for image files that fit no stack.
    """
    rejected: list[tuple[str, str]] = []
    by_series: dict[tuple[str, str], list[FrameRef]] = defaultdict(list)
    for h in headers:
        if not h.is_image:
            continue
        reason = _unsupported(h)
        if reason:
            rejected.append((h.path, reason))
            continue
        for frame in h.frames:
            by_series[(h.study_instance_uid, h.series_instance_uid)].append(frame)
    stacks: list[Stack] = []
    for (study, series), frames in by_series.items():
        groups: dict[tuple[Any, ...], list[FrameRef]] = defaultdict(list)
        for f in frames:
            groups[(f.header.rows, f.header.columns, _orientation_key(f.orientation))].append(f)
        ordered = sorted(groups.values(), key=len, reverse=True)
        for index, group in enumerate(ordered):
            for part in _split_acquisitions(group):
                stack = _make_stack(study, series, part)
                stack.stack_index = len([s for s in stacks if s.series_instance_uid == series])
                if len(ordered) > 1:
                    stack.problems.append(
                        Problem(
                            "mixed-orientation",
                            f"series holds {len(ordered)} stacks of different orientation or "
                            f"matrix; this is stack {index} with {len(group)} frames",
                        )
                    )
                stacks.append(stack)
    return stacks, rejected


def _unsupported(h: ImageHeader) -> str:
    if h.samples_per_pixel != 1:
        return (
            f"colour image (SamplesPerPixel {h.samples_per_pixel}, {h.photometric}): "
            "radcycle reads greyscale volumes"
        )
    if h.modality == "SM":
        return "slide microscopy tiles are a 2D pyramid, not a patient volume"
    if h.photometric == "PALETTE COLOR":
        return "palette colour image: radcycle reads greyscale volumes"
    if h.rows == 0 or h.columns == 0:
        return "image without Rows/Columns"
    return ""


def _projected(frames: Sequence[FrameRef], normal: npt.NDArray[np.float64]) -> np.ndarray:
    return np.array([float(np.dot(f.position, normal)) if f.position else 0.0 for f in frames])


def _split_acquisitions(frames: list[FrameRef]) -> list[list[FrameRef]]:
    """Split on AcquisitionNumber only where that removes duplicate positions."""
    if any(f.position is None for f in frames):
        return [frames]
    normal = _direction(frames[0].orientation)[:, 2]
    d = np.round(_projected(frames, normal) / _POS_TOL_MM)
    if len(np.unique(d)) == len(d):
        return [frames]
    acq: dict[int | None, list[FrameRef]] = defaultdict(list)
    for f in frames:
        acq[f.header.acquisition_number].append(f)
    if len(acq) < 2:
        return [frames]
    parts = list(acq.values())
    for part in parts:
        dp = np.round(_projected(part, normal) / _POS_TOL_MM)
        if len(np.unique(dp)) != len(dp):
            return [frames]
    return sorted(parts, key=len, reverse=True)


def _pixel_spacing(frame: FrameRef) -> tuple[float, float]:
    if frame.pixel_spacing and not frame.spacing_problem:
        # PixelSpacing is (row spacing, column spacing) = (dj, di).
        return float(frame.pixel_spacing[1]), float(frame.pixel_spacing[0])
    return 1.0, 1.0


def _geometry_problems(first: FrameRef) -> list[Problem]:
    """What the header leaves unknown about the grid (nominal values are used)."""
    problems = []
    if first.spacing_problem:
        problems.append(
            Problem(
                "unknown-pixel-spacing",
                f"{first.spacing_problem}; the grid is nominal (1 mm) and sizes in mm are refused",
            )
        )
    if first.orientation is None:
        problems.append(
            Problem(
                "no-orientation",
                "ImageOrientationPatient (0020,0037) missing or unreadable; axial assumed, "
                "so slice spacing and sizes in mm are refused",
            )
        )
    return problems


def _make_stack(study: str, series: str, frames: list[FrameRef]) -> Stack:
    first = frames[0]
    direction = _direction(first.orientation)
    normal = direction[:, 2]
    di, dj = _pixel_spacing(first)
    problems = _geometry_problems(first)
    if any(f.position is None for f in frames):
        problems.append(
            Problem(
                "no-position", "frames lack ImagePositionPatient; geometry is nominal (stacked)"
            )
        )
        ordered = sorted(frames, key=lambda f: (f.header.instance_number or 0, f.frame))
        thickness = first.header.slice_thickness or 1.0
        origin = np.asarray(first.position or (0.0, 0.0, 0.0))
        offsets = np.arange(len(ordered), dtype=np.float64) * thickness
        geometry = Geometry(origin, (di, dj, thickness if thickness > 0 else 1.0), direction)
        return Stack(study, series, ordered, geometry, offsets, problems)
    d = _projected(frames, normal)
    order = np.argsort(d, kind="stable")
    ordered = [frames[i] for i in order]
    d = d[order]
    keep = np.ones(len(d), dtype=bool)
    keep[1:] = np.diff(d) > _POS_TOL_MM
    if not keep.all():
        dup = [round(float(v), 3) for v in d[1:][~keep[1:]]]
        problems.append(
            Problem(
                "duplicate-position",
                f"{int((~keep).sum())} frame(s) repeat a position (at {dup[:5]} mm along the "
                "normal); the first of each is kept",
            )
        )
        ordered = [f for f, k in zip(ordered, keep, strict=True) if k]
        d = d[keep]
    spacing_k = _slice_spacing(d, first, problems)
    origin = np.asarray(ordered[0].position, dtype=np.float64)
    _check_tilt(ordered, d, normal, problems)
    geometry = Geometry(origin, (di, dj, spacing_k), direction)
    return Stack(study, series, ordered, geometry, d - d[0], problems)


def _slice_spacing(d: np.ndarray, first: FrameRef, problems: list[Problem]) -> float:
    if len(d) < 2:
        t = first.header.slice_thickness
        return float(t) if t and t > 0 else 1.0
    gaps = np.diff(d)
    for spacing in (float(np.median(gaps)), float(np.min(gaps))):
        ratio = gaps / spacing
        if np.all(np.abs(ratio - 1.0) < 0.02):
            return spacing
        if np.all((np.abs(ratio - np.round(ratio)) < 0.05) & (ratio > 0.95)):
            missing = int(np.round(ratio).sum() - len(gaps))
            where = [round(float(v), 2) for v in d[:-1][np.round(ratio) > 1][:5]]
            problems.append(
                Problem(
                    "missing-slices",
                    f"{missing} slice(s) missing (gaps after {where} mm along the normal at "
                    f"spacing {spacing:.3f} mm); filled by linear interpolation",
                )
            )
            return spacing
    spacing = float(np.min(gaps))
    problems.append(
        Problem(
            "non-uniform-spacing",
            f"slice spacing varies from {gaps.min():.3f} to {gaps.max():.3f} mm; resampled "
            f"to {spacing:.3f} mm by linear interpolation",
        )
    )
    return spacing


def _check_tilt(
    ordered: list[FrameRef], d: np.ndarray, normal: npt.NDArray[np.float64], problems: list[Problem]
) -> None:
    if len(ordered) < 2 or d[-1] - d[0] <= 0:
        return
    step = np.asarray(ordered[-1].position) - np.asarray(ordered[0].position)
    cos = float(np.dot(step, normal) / np.linalg.norm(step))
    angle = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    if angle > _TILT_TOL_DEG:
        problems.append(
            Problem(
                "gantry-tilt",
                f"slices advance {angle:.2f} degrees off their normal (gantry tilt); "
                "resampled onto an orthogonal grid",
            )
        )


def _rescale(raw: npt.NDArray[Any], slopes: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """Apply the modality LUT (value = stored * slope + intercept) per frame.

    Integer results stay integer (int16 where they fit, else int32); anything
    else becomes float32.
    """
    integral = bool(
        np.all(slopes == 1.0) and np.all(intercepts == np.round(intercepts))
    ) and np.issubdtype(raw.dtype, np.integer)
    if integral:
        same = bool(np.all(intercepts == intercepts[0]))
        lo, hi = int(raw.min()), int(raw.max())
        lo_out, hi_out = lo + int(intercepts.min()), hi + int(intercepts.max())
        out_dtype = np.int16 if lo_out >= -32768 and hi_out <= 32767 else np.int32
        if raw.dtype == out_dtype and same and int(intercepts[0]) == 0:
            return raw
        if raw.dtype == np.uint16 and out_dtype == np.int16 and hi <= 32767:
            raw = raw.view(np.int16)
        out: npt.NDArray[Any] = raw if raw.dtype == out_dtype else raw.astype(out_dtype)
        if same:
            out += out_dtype(int(intercepts[0]))
        else:
            out += intercepts.astype(out_dtype)[:, None, None]
        return out
    out = np.asarray(raw, dtype=np.float32).copy()
    out *= slopes.astype(np.float32)[:, None, None]
    out += intercepts.astype(np.float32)[:, None, None]
    return out


def _resample_to_grid(stack: Stack, values: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Put frames on the uniform grid along k, interpolating where positions differ."""
    spacing = float(stack.geometry.spacing[2])
    target = np.arange(stack.n_slices, dtype=np.float64) * spacing
    src = stack.offsets_mm
    if len(src) == len(target) and np.allclose(src, target, atol=0.05 * spacing):
        return values, []
    out = np.empty((len(target), *values.shape[1:]), dtype=np.float32)
    idx = np.clip(np.searchsorted(src, target, side="right") - 1, 0, len(src) - 2)
    interpolated = []
    for k, (t, i) in enumerate(zip(target, idx, strict=True)):
        lo, hi = src[i], src[i + 1]
        w = 0.0 if hi <= lo else float(np.clip((t - lo) / (hi - lo), 0.0, 1.0))
        if min(abs(t - lo), abs(t - hi)) > 0.05 * spacing:
            interpolated.append(k)
        out[k] = (1 - w) * values[i] + w * values[i + 1]
    if np.issubdtype(values.dtype, np.integer):
        return np.round(out).astype(values.dtype), interpolated
    return out, interpolated


def _correct_tilt(stack: Stack, values: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    g = stack.geometry
    row, col, normal = g.direction[:, 0], g.direction[:, 1], g.direction[:, 2]
    p0 = np.asarray(stack.frames[0].position)
    out = np.empty(values.shape, dtype=np.float32)
    fill = float(values.min())
    for k, frame in enumerate(stack.frames):
        off = np.asarray(frame.position) - p0 - stack.offsets_mm[k] * normal
        shift = (float(off @ col) / g.spacing[1], float(off @ row) / g.spacing[0])
        out[k] = ndimage.shift(values[k].astype(np.float32), shift, order=1, cval=fill)
    if np.issubdtype(values.dtype, np.integer):
        return np.round(out).astype(values.dtype)
    return out


# A grid this many times longer than the frames it is built from is a header
# error (a position a million mm away), not missing slices to fill.
_MAX_FILL_RATIO = 4


def _check_grid_size(stack: Stack) -> None:
    n = len(stack.frames)
    if stack.n_slices > _MAX_FILL_RATIO * n + 8:
        raise SeriesError(
            f"{n} frames would span {stack.n_slices} slices at {stack.geometry.spacing[2]:.3g} mm;"
            " an ImagePositionPatient is implausible",
            path=stack.header.path,
            tag="(0020,0032) ImagePositionPatient",
            value=[round(float(v), 1) for v in stack.offsets_mm[[0, -1]]],
        )


def _check_rescale(stack: Stack, slopes: np.ndarray, intercepts: np.ndarray) -> None:
    for name, tag, values in (
        ("RescaleSlope", "(0028,1053)", slopes),
        ("RescaleIntercept", "(0028,1052)", intercepts),
    ):
        bad = ~np.isfinite(values)
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(
                f"{name} is not a finite number",
                path=stack.frames[k].header.path,
                tag=f"{tag} {name}",
                value=float(values[k]),
            )


def _check_finite(stack: Stack, values: np.ndarray) -> None:
    """Refuse NaN or infinite voxels (float pixel data): they are not 0, nor tissue."""
    if np.issubdtype(values.dtype, np.integer):
        return
    finite = np.isfinite(values)
    if not finite.all():
        k = int(np.argmax(~finite.reshape(len(finite), -1).all(axis=1)))
        raise InputError(
            f"{int((~finite).sum())} voxel(s) are NaN or infinite",
            path=stack.frames[k].header.path,
            tag="(7FE0,0008) FloatPixelData",
        )


def load_stack(
    stack: Stack, workers: int = 2, progress: Callable[[int], None] | None = None
) -> Volume:
    """Read the pixel data of a stack into a Volume (modality LUT applied)."""
    _check_grid_size(stack)
    slopes = np.array([f.rescale_slope for f in stack.frames], dtype=np.float64)
    intercepts = np.array([f.rescale_intercept for f in stack.frames], dtype=np.float64)
    _check_rescale(stack, slopes, intercepts)
    raw = read_frames(stack.frames, workers=workers, progress=progress)
    values = _rescale(raw, slopes, intercepts)
    _check_finite(stack, values)
    if any(p.code == "gantry-tilt" for p in stack.problems):
        values = _correct_tilt(stack, values)
    values, interpolated = _resample_to_grid(stack, values)
    h = stack.header
    metadata: dict[str, Any] = {
        "source": "dicom",
        "modality": h.modality,
        "study_instance_uid": stack.study_instance_uid,
        "series_instance_uid": stack.series_instance_uid,
        "frame_of_reference_uid": h.series.get("frame_of_reference_uid", ""),
        "sop_class_uid": h.sop_class_uid,
        "patient": dict(h.patient),
        "study": dict(h.study),
        "series": dict(h.series),
        "units": h.series.get("units", "") or ("HU" if h.modality == "CT" else ""),
        "slice_thickness": h.slice_thickness,
        "sop_instance_uids": [f.header.sop_instance_uid for f in stack.frames],
        "frame_numbers": [f.frame + 1 for f in stack.frames],
        "files": sorted({f.header.path for f in stack.frames}),
        "problems": [p.as_dict() for p in stack.problems],
        "interpolated_slices": interpolated,
    }
    return Volume(values, stack.geometry, metadata, acquisition_info(stack))


def _da(text: str) -> date | None:
    # Lenient on reading: a malformed DA is left out, not guessed.
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) >= 8 else None
    except ValueError:
        return None


def acquisition_info(stack: Stack) -> AcquisitionInfo:
    """The typed source facts of a stack (modality, UIDs, slice thickness, dates)."""
    h = stack.header
    frame_of_ref = str(h.series.get("frame_of_reference_uid", "") or "")
    try:
        image: ImageReference | None = ImageReference(
            stack.study_instance_uid,
            stack.series_instance_uid,
            tuple(f.header.sop_instance_uid for f in stack.frames),
            h.sop_class_uid or None,
            frame_of_ref or None,
            h.modality or None,
        )
    except InputError:
        # real-world files with malformed UIDs are read; they are not cited
        image = None
    thickness = h.slice_thickness
    return AcquisitionInfo(
        modality=h.modality or None,
        image=image,
        slice_thickness_mm=thickness if thickness and thickness > 0 else None,
        study_date=_da(str(h.study.get("study_date", "") or "").strip()),
        patient_id=str(h.patient.get("patient_id", "") or "") or None,
        birth_date=_da(str(h.patient.get("birth_date", "") or "").strip()),
        source_files=tuple(sorted({str(f.header.path) for f in stack.frames})),
    )


def read_dicom_volume(
    path: str | Path, series_instance_uid: str | None = None, workers: int = 2
) -> Volume:
    """Read one DICOM series (a folder, or one file of a series) into a Volume.

    Args:
        path: a folder holding the series (other files are skipped) or a DICOM file.
        series_instance_uid: which series to read when the folder holds several.
        workers: threads reading pixel data.

    Raises:
        SeriesError: no image series, or several and none chosen.
    """
    from radcycle.io.dicom.scan import scan_path

    result = scan_path(path)
    stacks = result.stacks
    if series_instance_uid is not None:
        stacks = [s for s in stacks if s.series_instance_uid == series_instance_uid]
    if not stacks:
        reasons = "; ".join(
            f"{Path(o.path).name}: {o.reason or f'{o.kind} object, not an image series'}"
            for o in result.outcomes
        )
        raise SeriesError(
            "no readable image series found" + (f" ({reasons[:500]})" if reasons else ""),
            path=path,
            value=series_instance_uid,
        )
    series = {s.series_instance_uid for s in stacks}
    if len(series) > 1:
        raise SeriesError(
            f"{len(series)} series found; choose one with series_instance_uid",
            path=path,
            value=sorted(series),
        )
    try:
        return load_stack(stacks[0], workers=workers)
    except GeometryError as exc:
        raise GeometryError(exc.message, path=path, value=exc.value) from exc
    except InputError:
        raise
