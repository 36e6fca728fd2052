"""What the imaging algorithms need of their input, decided in one place.

* :func:`modality_of`: the image's modality, from its metadata where it says,
  else from its values (CT has air near -1000 HU); every package that needs the
  modality asks here, so an MR NIfTI is never outlined as MR and measured as HU.
* :func:`require_mm_geometry`: refuse millimetre measurements on a grid whose
  spacing or orientation the reader could not know (the reader's problem codes
  in :data:`NOMINAL_GEOMETRY`).
* :func:`require_finite`: refuse NaN or infinite values in the analysed region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain import Volume
from radcycle.errors import AnalysisError
from radcycle.imaging.hu import BODY_HU

__all__ = ["NOMINAL_GEOMETRY", "modality_of", "require_finite", "require_mm_geometry"]

#: Series problem codes (``metadata["problems"]``) under which the grid's
#: millimetres are nominal: the same codes as ``radcycle.io.dicom.series``.
NOMINAL_GEOMETRY = ("unknown-pixel-spacing", "no-orientation")


def modality_of(volume: Volume, given: str | None = None) -> str:
    """The modality of ``volume``: ``given``, else its metadata, else CT or MR by range.

    ``PET`` is spelled ``PT`` as in DICOM. Without metadata a volume holding air
    near -1000 is CT (Hounsfield units), anything else MR: never CT by default,
    so an MR is not measured in HU.

    Example:
        >>> from radcycle.domain import Geometry
        >>> g = Geometry((0, 0, 0), (1, 1, 1))
        >>> modality_of(Volume(np.full((2, 2, 2), 300.0), g))
        'MR'
        >>> modality_of(Volume(np.full((2, 2, 2), -1000.0), g))
        'CT'
        >>> modality_of(Volume(np.zeros((2, 2, 2)), g, {"modality": "PET"}))
        'PT'
    """
    meta: Any = volume.metadata
    value = str(given or meta.get("modality") or meta.get("Modality") or "").strip().upper()
    if value in {"PT", "PET"}:
        return "PT"
    if value:
        return value
    return "CT" if float(np.nanmin(volume.array)) < BODY_HU else "MR"


def nominal_geometry(volume: Volume) -> list[str]:
    """The reader's messages saying the grid's millimetres are nominal (empty if none)."""
    problems = volume.metadata.get("problems") or []
    return [
        str(p.get("message", p.get("code")))
        for p in problems
        if isinstance(p, dict) and p.get("code") in NOMINAL_GEOMETRY
    ]


def require_mm_geometry(volume: Volume, what: str) -> None:
    """Refuse a measurement in millimetres on a grid of unknown spacing or orientation.

    Raises:
        AnalysisError: the reader recorded that the spacing or orientation is nominal.

    Example:
        >>> from radcycle.domain import Geometry
        >>> problem = {"code": "unknown-pixel-spacing", "message": "PixelSpacing missing"}
        >>> v = Volume(np.zeros((2, 2, 2)), Geometry((0, 0, 0), (1, 1, 1)), {"problems": [problem]})
        >>> try:
        ...     require_mm_geometry(v, "measure")
        ... except AnalysisError as exc:
        ...     print(exc.message)
        measure refused: the image's millimetres are unknown (PixelSpacing missing)
    """
    reasons = nominal_geometry(volume)
    if reasons:
        source = volume.metadata.get("source")
        path = source if source and source != "dicom" else None
        files = volume.metadata.get("files") or []
        raise AnalysisError(
            f"{what} refused: the image's millimetres are unknown ({'; '.join(reasons)})",
            path=path or (files[0] if files else None),
        )


def require_finite(values: npt.NDArray[Any], what: str) -> None:
    """Refuse NaN or infinite values where an algorithm would read them.

    Raises:
        AnalysisError: some values are not finite.
    """
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        raise AnalysisError(f"{what}: {bad} voxel value(s) are NaN or infinite")
