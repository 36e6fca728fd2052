from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from radcycle.errors import PathNotFoundError, SeriesError
from radcycle.io import read_image
from radcycle.io.dicom.scan import scan_path
from tests.io.factory import write_series

RNG = np.random.default_rng(3)


def _stack(n: int, rows: int = 12, cols: int = 10) -> np.ndarray:
    return RNG.integers(0, 3000, size=(n, rows, cols)).astype(np.uint16)


def _codes(volume) -> set[str]:
    return {p["code"] for p in volume.metadata["problems"]}


def test_orders_by_position_not_by_name_or_instance_number(tmp_path: Path):
    stack = _stack(6)
    z = [10.0, 12.5, 15.0, 17.5, 20.0, 22.5]
    order = [3, 0, 5, 1, 4, 2]  # written shuffled, instance numbers reversed
    write_series(
        tmp_path,
        stack[order],
        [(-5.0, -6.0, z[i]) for i in order],
        names=[f"x{k}.dcm" for k in range(6)],
        study="1.2.3",
        series="1.2.3.1",
    )
    v = read_image(tmp_path)
    np.testing.assert_array_equal(v.array, stack.astype(np.int32) - 1024)
    assert v.array.dtype == np.int16
    np.testing.assert_allclose(v.spacing, [0.7, 0.8, 2.5])
    np.testing.assert_allclose(v.origin, [-5.0, -6.0, 10.0])
    np.testing.assert_allclose(v.index_to_patient([[2, 3, 4]])[0], [-5 + 1.4, -6 + 2.4, 20.0])
    assert _codes(v) == set()


def test_feet_first_order_along_normal(tmp_path: Path):
    stack = _stack(4)
    write_series(tmp_path, stack, [(0, 0, -2.0 * k) for k in range(4)])
    v = read_image(tmp_path)
    # sorted along +normal: most inferior slice first
    np.testing.assert_array_equal(v.array, stack[::-1].astype(np.int32) - 1024)
    assert v.origin[2] == pytest.approx(-6.0)


def test_oblique_orientation_geometry(tmp_path: Path):
    a = np.deg2rad(20)
    row = [np.cos(a), np.sin(a), 0.0]
    col = [0.0, 0.0, -1.0]
    normal = np.cross(row, col)
    stack = _stack(3)
    positions = [tuple(np.array([1.0, 2.0, 3.0]) + 3.0 * k * normal) for k in range(3)]
    write_series(tmp_path, stack, positions, orientation=row + col)
    v = read_image(tmp_path)
    np.testing.assert_allclose(v.direction[:, 0], row, atol=1e-6)
    np.testing.assert_allclose(v.direction[:, 2], normal, atol=1e-6)
    np.testing.assert_allclose(v.index_to_patient([[0, 0, 2]])[0], positions[2], atol=1e-6)


def test_missing_slice_is_reported_and_interpolated(tmp_path: Path):
    stack = _stack(5)
    z = [0.0, 2.0, 4.0, 8.0, 10.0]  # 6.0 missing
    write_series(tmp_path, stack, [(0, 0, zz) for zz in z])
    v = read_image(tmp_path)
    assert "missing-slices" in _codes(v)
    assert v.array.shape[0] == 6
    assert v.metadata["interpolated_slices"] == [3]
    expected = (stack[2].astype(float) + stack[3]) / 2 - 1024
    np.testing.assert_allclose(v.array[3], np.round(expected), atol=1)


def test_non_uniform_spacing_reported(tmp_path: Path):
    stack = _stack(4)
    write_series(tmp_path, stack, [(0, 0, z) for z in (0.0, 2.0, 5.0, 7.0)])
    v = read_image(tmp_path)
    assert "non-uniform-spacing" in _codes(v)
    assert v.spacing[2] == pytest.approx(2.0)


def test_duplicate_positions_reported(tmp_path: Path):
    stack = _stack(4)
    write_series(tmp_path, stack, [(0, 0, z) for z in (0.0, 2.0, 2.0, 4.0)])
    v = read_image(tmp_path)
    assert "duplicate-position" in _codes(v)
    assert v.array.shape[0] == 3


def test_two_acquisitions_at_same_positions_are_split(tmp_path: Path):
    study, series = generate_uid(), generate_uid()
    stack = _stack(3)
    pos = [(0, 0, z) for z in (0.0, 2.0, 4.0)]
    write_series(
        tmp_path, stack, pos, names=["a1", "a2", "a3"], study=study, series=series, acquisition=1
    )
    write_series(
        tmp_path, stack, pos, names=["b1", "b2", "b3"], study=study, series=series, acquisition=2
    )
    result = scan_path(tmp_path)
    assert len(result.stacks) == 2
    assert all(len(s.frames) == 3 for s in result.stacks)


def test_gantry_tilt_is_detected_and_resampled(tmp_path: Path):
    stack = np.zeros((5, 20, 20), dtype=np.uint16)
    stack[:, 8:12, 8:12] = 2000  # a bar that, in patient space, is straight
    tilt = np.tan(np.deg2rad(10))
    # positions shift along y by tilt * z (sheared stack); pixel content shifted the other way
    positions = []
    for k in range(5):
        dy = tilt * 2.0 * k
        positions.append((0.0, dy, 2.0 * k))
    write_series(tmp_path, stack, positions, spacing=(1.0, 1.0))
    v = read_image(tmp_path)
    assert "gantry-tilt" in _codes(v)
    # slice k must be shifted by dy/1mm rows so that the bar lands at y = 8..11 + dy
    k = 4
    dy = tilt * 8.0
    column = v.array[k, :, 10].astype(float) + 1024
    centre = (column * np.arange(20)).sum() / column.sum()
    assert centre == pytest.approx(9.5 + dy, abs=0.2)


def test_mixed_orientation_is_split(tmp_path: Path):
    study, series = generate_uid(), generate_uid()
    write_series(
        tmp_path,
        _stack(4),
        [(0, 0, 2.0 * k) for k in range(4)],
        names=[f"ax{k}" for k in range(4)],
        study=study,
        series=series,
    )
    write_series(
        tmp_path,
        _stack(2),
        [(2.0 * k, 0, 0) for k in range(2)],
        names=["sag0", "sag1"],
        study=study,
        series=series,
        orientation=(0, 1, 0, 0, 0, -1),
    )
    result = scan_path(tmp_path)
    assert len(result.stacks) == 2
    assert all("mixed-orientation" in {p.code for p in s.problems} for s in result.stacks)
    v = read_image(tmp_path)  # the largest stack
    assert v.array.shape[0] == 4


@pytest.mark.parametrize("signed", [False, True])
def test_bits_stored_masking_matches_pydicom(tmp_path: Path, signed: bool):
    raw = np.array([[[0x0FFF, 0x0800], [5, 0x07FF]]], dtype=np.uint16)
    raw[0, 0, 0] |= 0xF000  # garbage in the unused high bits
    paths = write_series(
        tmp_path,
        raw.view(np.int16) if signed else raw,
        [(0, 0, 0)],
        bits_stored=12,
        signed=signed,
        intercept=0.0,
    )
    v = read_image(tmp_path)
    expected = pydicom.dcmread(paths[0]).pixel_array
    np.testing.assert_array_equal(v.array[0], expected)


def test_float_rescale(tmp_path: Path):
    stack = _stack(3)
    write_series(tmp_path, stack, [(0, 0, z) for z in (0.0, 1.0, 2.0)], slope=0.5, intercept=-10.0)
    v = read_image(tmp_path)
    assert v.array.dtype == np.float32
    np.testing.assert_allclose(v.array, stack * 0.5 - 10.0)


def test_mixed_folder_every_file_gets_an_outcome(tmp_path: Path):
    write_series(tmp_path / "a", _stack(3), [(0, 0, z) for z in (0.0, 1.0, 2.0)], patient_id="A")
    write_series(tmp_path / "b", _stack(2), [(0, 0, z) for z in (0.0, 1.0)], patient_id="B")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty.dcm").write_bytes(b"")
    good = next((tmp_path / "a").iterdir())
    data = good.read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) // 2])
    junk = bytearray(128) + b"DICM" + b"\xff" * 50
    (tmp_path / "junk.dcm").write_bytes(bytes(junk))
    result = scan_path(tmp_path)
    by_name = {str(Path(o.path).relative_to(tmp_path)): o for o in result.outcomes}
    assert len(by_name) == 9
    assert by_name["notes.txt"].status == "skipped"
    assert by_name["empty.dcm"].status in ("skipped", "error")
    assert by_name["cut.dcm"].status == "error"
    assert "cut short" in by_name["cut.dcm"].reason
    assert by_name["junk.dcm"].status in ("skipped", "error")
    assert result.tally()["loaded"] == 5
    tree = result.tree()
    assert sorted(p["patient_id"] for p in tree) == ["A", "B"]
    with pytest.raises(SeriesError, match="2 series found"):
        read_image(tmp_path)


def test_empty_and_missing_paths(tmp_path: Path):
    with pytest.raises(PathNotFoundError):
        read_image(tmp_path / "nope")
    with pytest.raises(SeriesError, match="no readable image series"):
        read_image(tmp_path)
    assert scan_path(tmp_path).tally() == {"loaded": 0, "skipped": 0, "error": 0}


def test_typed_acquisition_info_is_filled_once_on_reading(tmp_path: Path):
    from datetime import date

    write_series(tmp_path, _stack(3), [(0.0, 0.0, 2.0 * k) for k in range(3)], study="1.2.3")
    v = read_image(tmp_path)
    acq = v.acquisition
    assert acq is not None
    assert acq.image is not None
    assert acq.modality == "CT"
    assert acq.slice_thickness_mm == 2.0
    assert acq.study_date == date(2024, 1, 5)
    assert acq.patient_id == "P1"
    assert acq.image.study_instance_uid == "1.2.3"
    assert acq.image.frame_of_reference_uid == "1.2.3.4"
    assert len(acq.image.sop_instance_uids) == 3
    # a mask built on the same grid keeps the source facts
    assert v.with_array(v.array > 0).acquisition == acq
