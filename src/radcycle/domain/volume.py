"""A voxel array with its geometry in DICOM patient coordinates.

Conventions (the same as ITK/SimpleITK, so conversion is free):

* patient coordinates are DICOM LPS (x to the patient's Left, y to Posterior,
  z to Superior), in millimetres;
* the array is indexed ``array[k, j, i]``: ``k`` slice, ``j`` row, ``i`` column,
  which is how DICOM stores a stack of frames;
* ``spacing`` is ``(di, dj, dk)``: column spacing, row spacing, slice spacing;
* ``direction`` is a 3x3 matrix whose *columns* are the unit vectors, in LPS, of
  the i, j and k axes (for an axial DICOM series: column 0 is the row direction
  cosine, column 1 the column direction cosine, column 2 the slice normal);
* ``origin`` is the centre of voxel ``(i, j, k) = (0, 0, 0)``.

So ``p = origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain.provenance import AcquisitionInfo
from radcycle.errors import GeometryError

__all__ = ["Geometry", "Volume"]

_ORTHO_TOL = 1e-4

FloatArray = npt.NDArray[np.float64]


def _as_vector(name: str, value: Any) -> FloatArray:
    arr = np.array(value, dtype=np.float64)
    if arr.shape != (3,):
        raise GeometryError(f"{name} must have 3 components", value=value)
    if not np.all(np.isfinite(arr)):
        raise GeometryError(f"{name} must be finite", value=value)
    return arr


class Geometry:
    """Where a voxel grid sits in patient space (LPS, mm). Immutable, valid once built.

    Args:
        origin: LPS position of the centre of voxel (0, 0, 0).
        spacing: ``(di, dj, dk)`` in mm, each > 0.
        direction: 3x3, columns are the unit vectors of the i, j, k axes
            (orthonormal); identity by default.

    Example:
        >>> g = Geometry(origin=(0, 0, 0), spacing=(0.5, 0.5, 2.0))
        >>> g.index_to_patient([[2, 4, 3]]).tolist()
        [[1.0, 2.0, 6.0]]
        >>> g.patient_to_index([[1.0, 2.0, 6.0]]).tolist()
        [[2.0, 4.0, 3.0]]
    """

    __slots__ = ("direction", "origin", "spacing")

    origin: FloatArray
    spacing: FloatArray
    direction: FloatArray

    def __init__(
        self,
        origin: npt.ArrayLike,
        spacing: npt.ArrayLike,
        direction: npt.ArrayLike | None = None,
    ) -> None:
        origin_arr = _as_vector("origin", origin)
        spacing_arr = _as_vector("spacing", spacing)
        if np.any(spacing_arr <= 0):
            raise GeometryError("spacing must be > 0 along every axis", value=spacing_arr.tolist())
        matrix = np.eye(3) if direction is None else np.array(direction, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
            raise GeometryError("direction must be a finite 3x3 matrix", value=direction)
        if not np.allclose(matrix.T @ matrix, np.eye(3), atol=_ORTHO_TOL):
            raise GeometryError(
                "direction cosines must be orthonormal", value=np.round(matrix, 6).tolist()
            )
        for name, value in (
            ("origin", origin_arr),
            ("spacing", spacing_arr),
            ("direction", matrix),
        ):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Geometry is immutable")

    def __repr__(self) -> str:
        return (
            f"Geometry(origin={self.origin.tolist()}, spacing={self.spacing.tolist()}, "
            f"direction={self.direction.tolist()})"
        )

    @property
    def affine(self) -> FloatArray:
        """4x4 matrix mapping homogeneous ``(i, j, k, 1)`` to LPS mm."""
        out = np.eye(4)
        out[:3, :3] = self.direction * self.spacing[np.newaxis, :]
        out[:3, 3] = self.origin
        return out

    @property
    def slice_normal(self) -> FloatArray:
        """Unit vector of the k axis in LPS."""
        return np.asarray(self.direction[:, 2])

    def index_to_patient(self, ijk: npt.ArrayLike) -> FloatArray:
        """Convert ``(N, 3)`` continuous indices ``(i, j, k)`` to LPS mm."""
        pts = np.atleast_2d(np.asarray(ijk, dtype=np.float64))
        result: FloatArray = pts * self.spacing @ self.direction.T + self.origin
        return result

    def patient_to_index(self, xyz: npt.ArrayLike) -> FloatArray:
        """Convert ``(N, 3)`` LPS mm points to continuous indices ``(i, j, k)``."""
        pts = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
        result: FloatArray = (pts - self.origin) @ self.direction / self.spacing
        return result

    def is_close(self, other: Geometry, tol_mm: float = 1e-3) -> bool:
        """Whether two geometries agree within ``tol_mm`` (origin) and 1e-4 (cosines)."""
        return bool(
            np.allclose(self.origin, other.origin, atol=tol_mm)
            and np.allclose(self.spacing, other.spacing, atol=tol_mm)
            and np.allclose(self.direction, other.direction, atol=1e-4)
        )


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D image: ``array[k, j, i]`` plus its :class:`Geometry` and metadata.

    Args:
        array: voxel values, 3 dimensions, indexed ``[k, j, i]``. CT is in HU
            (rescale already applied), PET in the unit ``metadata["units"]`` names.
        geometry: where the grid sits in patient space.
        metadata: free-form facts about the source (modality, UIDs, units, the
            files it came from). Keep provenance here.
        acquisition: the typed facts other packages read (modality, image
            reference, slice thickness, study date), filled once by ``io``.

    Example:
        >>> v = Volume(np.zeros((2, 3, 4)), Geometry((0, 0, 0), (1, 1, 2)))
        >>> v.shape_ijk
        (4, 3, 2)
        >>> v.extent_mm.tolist()
        [4.0, 3.0, 4.0]
    """

    array: npt.NDArray[Any]
    geometry: Geometry
    metadata: Mapping[str, Any] = field(default_factory=dict)
    acquisition: AcquisitionInfo | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.array, np.ndarray):
            raise GeometryError("Volume.array must be a numpy array", value=type(self.array))
        if self.array.ndim != 3:
            raise GeometryError(
                "Volume.array must have 3 dimensions [k, j, i]", value=self.array.shape
            )
        if 0 in self.array.shape:
            raise GeometryError("Volume.array must not be empty", value=self.array.shape)
        if not isinstance(self.geometry, Geometry):
            raise GeometryError("Volume.geometry must be a Geometry", value=type(self.geometry))

    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Grid size as ``(columns, rows, slices)``."""
        k, j, i = self.array.shape
        return (i, j, k)

    @property
    def spacing(self) -> FloatArray:
        return self.geometry.spacing

    @property
    def origin(self) -> FloatArray:
        return self.geometry.origin

    @property
    def direction(self) -> FloatArray:
        return self.geometry.direction

    @property
    def extent_mm(self) -> FloatArray:
        """Physical size of the grid along i, j, k in mm (voxel count x spacing)."""
        return np.asarray(self.shape_ijk, dtype=np.float64) * self.geometry.spacing

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.geometry.spacing))

    def index_to_patient(self, ijk: npt.ArrayLike) -> FloatArray:
        return self.geometry.index_to_patient(ijk)

    def patient_to_index(self, xyz: npt.ArrayLike) -> FloatArray:
        return self.geometry.patient_to_index(xyz)

    def contains(self, xyz: npt.ArrayLike) -> bool:
        """Whether an LPS point lies within the grid (voxel centres +- half a voxel)."""
        ijk = self.patient_to_index(xyz)[0]
        upper = np.asarray(self.shape_ijk, dtype=np.float64) - 0.5
        return bool(np.all(ijk >= -0.5) and np.all(ijk <= upper))

    def with_array(self, array: npt.NDArray[Any], **metadata: Any) -> Volume:
        """A new volume on the same grid (e.g. a mask), metadata updated."""
        if array.shape != self.array.shape:
            raise GeometryError(
                "array shape differs from the volume's grid",
                value={"array": array.shape, "grid": self.array.shape},
            )
        return Volume(array, self.geometry, {**self.metadata, **metadata}, self.acquisition)
