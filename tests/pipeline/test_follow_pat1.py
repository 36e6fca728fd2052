"""Semi-synthetic follow-ups of a real CT: PAT1 moved rigidly, its tumour rescaled.

The IBSI 1 CT phantom PAT1 (a real lung cancer CT with its GTV mask) is the
baseline. Each follow-up is the same CT with the tumour scaled about its
centroid by a known factor in diameter (the space it leaves filled with lung
drawn from around the tumour), then the whole image moved by a known rigid
motion. The pipeline registers the follow-up, carries the baseline outline over
with a lesion-centred similarity registration, and measures the change, which
must lie within 2 mm of the truth with the RECIST 1.1 category of the truth.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.domain.findings import LesionMeasurement
from radcycle.guidelines.recist import select_targets
from radcycle.guidelines.recist_response import follow_up_from_tracked
from radcycle.guidelines.recist_series import assess_series
from radcycle.imaging.measurement import measure_mask
from radcycle.imaging.registration import apply_matrix, register
from radcycle.io import read_image
from radcycle.longitudinal.tracking import observed
from radcycle.pipeline.follow_lookup import propagate
from radcycle.pipeline.scans import Scan

BASE_DATE, FOLLOW_DATE = date(2024, 1, 10), date(2024, 4, 10)


def _rigid(degrees_z: float, degrees_x: float, shift: tuple[float, float, float]) -> np.ndarray:
    a, b = np.deg2rad(degrees_z), np.deg2rad(degrees_x)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    m = np.eye(4)
    m[:3, :3] = rz @ rx
    m[:3, 3] = shift
    return m


def _scaled_tumour(image: Volume, mask: np.ndarray, factor: float, rng) -> np.ndarray:
    """The image with the tumour scaled about its centroid (index space, exact)."""
    centre = np.argwhere(mask).mean(axis=0)
    grid = np.indices(mask.shape, dtype=np.float32)
    source = [centre[a] + (grid[a] - centre[a]) / factor for a in range(3)]
    values = np.asarray(image.array, dtype=np.float32)
    scaled = ndi.map_coordinates(values, source, order=1, mode="nearest")
    inside = ndi.map_coordinates(mask.astype(np.float32), source, order=1) >= 0.5
    out = values.copy()
    ring = ndi.binary_dilation(mask, iterations=6) & ~mask & (values < -500)
    vacated = mask & ~inside
    out[vacated] = rng.choice(values[ring], size=int(vacated.sum()))
    out[inside] = scaled[inside]
    return out


def _moved(image: Volume, values: np.ndarray, matrix: np.ndarray) -> Volume:
    """The image content moved by ``matrix`` (LPS mm), on the same grid."""
    itk = sitk.GetImageFromArray(values)
    itk.SetOrigin(tuple(float(v) for v in image.origin))
    itk.SetSpacing(tuple(float(v) for v in image.spacing))
    itk.SetDirection(tuple(float(v) for v in image.direction.flatten()))
    inverse = sitk.AffineTransform(3)
    inv = np.linalg.inv(matrix)
    inverse.SetMatrix(tuple(inv[:3, :3].flatten()))
    inverse.SetTranslation(tuple(inv[:3, 3]))
    out = sitk.Resample(itk, itk, inverse, sitk.sitkLinear, -1000.0)
    return Volume(sitk.GetArrayFromImage(out), image.geometry, {"modality": "CT"})


def _recist(baseline_mm: float, follow_mm: float) -> str:
    base = select_targets(
        [LesionMeasurement(lesion_id="GTV", organ="lung", long_axis_mm=baseline_mm)], BASE_DATE
    )
    after = [LesionMeasurement(lesion_id="GTV", organ="lung", long_axis_mm=follow_mm)]
    series = assess_series(base, [follow_up_from_tracked(base, FOLLOW_DATE, after)])
    return series.timepoints[0].category


@pytest.fixture(scope="module")
def pat1(shared_data: Path) -> tuple[Volume, np.ndarray]:
    folder = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "nifti"
    image = read_image(folder / "image" / "phantom.nii.gz")
    mask = np.asarray(read_image(folder / "mask" / "mask.nii.gz").array) > 0
    return image, mask


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize(
    ("factor", "motion"),
    [
        (0.7, _rigid(3.0, 1.0, (6.0, -4.0, 3.0))),
        (1.0, _rigid(-2.5, 0.0, (-5.0, 7.0, -3.0))),
        (1.3, _rigid(2.0, -1.0, (4.0, 5.0, 2.0))),
    ],
)
def test_pat1_rescaled_tumour_change_within_2_mm(pat1, factor: float, motion) -> None:
    image, mask = pat1
    rng = np.random.default_rng(int(factor * 10))
    follow = _moved(image, _scaled_tumour(image, mask, factor, rng), motion)
    registration = register(image, follow)
    baseline = measure_mask(image, mask)
    centre = baseline.centre_mm
    assert (
        np.linalg.norm(registration.map_points([centre])[0] - apply_matrix(motion, [centre])[0])
        < 2.0
    )
    before = observed(
        centre, baseline.long_axis_mm, baseline.short_axis_mm, baseline.volume_mm3, key="GTV"
    )
    scans = [
        Scan(image, BASE_DATE, "1.2.3", "1.2.3.1"),
        Scan(follow, FOLLOW_DATE, "1.2.4", "1.2.4.1"),
    ]
    after = propagate(scans[0], scans[1], mask, before, registration.matrix, "GTV")
    assert after.long_axis_mm is not None
    measured_change = after.long_axis_mm - baseline.long_axis_mm
    true_change = (factor - 1.0) * baseline.long_axis_mm
    assert measured_change == pytest.approx(true_change, abs=2.0)
    truth_category = _recist(baseline.long_axis_mm, factor * baseline.long_axis_mm)
    assert _recist(baseline.long_axis_mm, after.long_axis_mm) == truth_category
    assert truth_category == {0.7: "PR", 1.0: "SD", 1.3: "PD"}[factor]
    # the follow-up centre lands where the motion put the tumour centroid
    assert np.linalg.norm(np.asarray(after.centre_mm) - apply_matrix(motion, [centre])[0]) < 2.0


@pytest.mark.realdata
def test_pat1_click_outline_matches_the_reference_gtv(shared_data: Path) -> None:
    # The click analyze is given on PAT1 (its report's lesion): the outline is the
    # tumour, not a leak: Dice 0.85 against the IBSI GTV, axes within 1 mm of the
    # GTV's own (104.5 x 95.8 mm outlined, 103.8 x 96.7 mm reference).
    from radcycle.imaging.segmentation import segment_at_seed
    from radcycle.io.masks import read_mask

    root = shared_data / "ibsi" / "ibsi_1_ct_radiomics_phantom" / "dicom"
    image = read_image(root / "image")
    gtv = np.asarray(read_mask(next((root / "mask").iterdir()), image, None).array, bool)
    seg = segment_at_seed(image, (-74.5, 16.3, -18.7))
    got = np.asarray(seg.mask.array, bool)
    dice = 2.0 * float((got & gtv).sum()) / float(got.sum() + gtv.sum())
    assert dice >= 0.8
    outlined, reference = measure_mask(image, got), measure_mask(image, gtv)
    assert outlined.long_axis_mm == pytest.approx(reference.long_axis_mm, abs=3.0)
    assert outlined.short_axis_mm == pytest.approx(reference.short_axis_mm, abs=3.0)
    assert reference.long_axis_mm is not None
    assert reference.long_axis_mm > 100.0  # a 10 cm cancer: "mass", never a screening nodule
