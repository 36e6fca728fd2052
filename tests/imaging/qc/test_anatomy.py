"""What the scan covers, the contrast phase and breathing steps, on synthetic series
built with each known, and on the shared real series (docs/quality.md tabulates them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.imaging.qc import assess
from radcycle.imaging.qc.anatomy import contrast_phase
from radcycle.io import read_image

from .test_qc import phantom

SPACING = (1.5, 1.5, 2.0)
ROWS, COLS = np.ogrid[:130, :180]


def _ellipse(cj: float, ci: float, rj: float, ri: float) -> np.ndarray:
    return np.asarray(((ROWS - cj) / rj) ** 2 + ((COLS - ci) / ri) ** 2 <= 1.0)


def _volume(arr: np.ndarray) -> Volume:
    noisy = arr + np.random.default_rng(5).normal(0, 10, arr.shape)
    return Volume(noisy.astype(np.float32), Geometry((0, 0, 0), SPACING), {"modality": "CT"})


def abdomen(liver: bool = True, aorta_hu: float | None = 45.0, bones: bool = False) -> np.ndarray:
    """Fat body with a muscle wall, a spine at the back (j grows backward, i leftward),
    optionally a liver on the patient's right (low i), an aorta front-left of the
    spine, and two hip bones either side."""
    arr = np.full((40, 130, 180), -1000.0)
    arr[:, _ellipse(65, 90, 55, 75)] = 40.0  # muscle wall
    arr[:, _ellipse(65, 90, 48, 68)] = -100.0  # fat inside
    # vertebral body: a cortex round trabecular bone of uneven density
    arr[:, _ellipse(100, 90, 10, 10)] = 700.0
    inside = _ellipse(100, 90, 8, 8)
    trabecular = np.random.default_rng(6).normal(220, 60, (40, 130, 180))
    arr[:, inside] = trabecular[:, inside]
    arr[:, _ellipse(60, 120, 18, 18)] = 10.0  # bowel with fluid
    if liver:
        arr[:, _ellipse(60, 48, 30, 22)] = 55.0
    if aorta_hu is not None:
        arr[:, _ellipse(80, 100, 7, 7)] = aorta_hu
    if bones:
        for ci in (40, 140):
            arr[:, _ellipse(85, ci, 14, 9)] = 500.0
    return arr


def head() -> np.ndarray:
    arr = np.full((40, 130, 180), -1000.0)
    arr[:, _ellipse(65, 90, 60, 75)] = 800.0  # skull
    arr[:, _ellipse(65, 90, 55, 70)] = 35.0  # brain
    return arr


def breathing_chest() -> np.ndarray:
    """Lungs widest mid-chest; the lower slab repeats higher levels (a breath between)."""
    arr = phantom()
    for k in range(4, 56):
        scale = max(0.2, float(np.sqrt(max(0.0, 1 - ((k - 30) / 28.0) ** 2))))
        for centre in (60, 120):
            arr[k, _ellipse(60, centre, 30, 20)] = 45.0
            arr[k, _ellipse(60, centre, 30 * scale, 20 * scale)] = -850.0
    arr[44:56] = arr[30:42].copy()
    return arr


def test_liver_seen_only_where_it_is() -> None:
    assert assess(_volume(abdomen())).facts["covers"]["liver"] is True
    assert assess(_volume(abdomen(liver=False))).facts["covers"]["liver"] is False


def test_liver_on_the_other_side_is_not_a_liver() -> None:
    # the same organ on the patient's left (the array mirrored): a spleen, not a liver
    assert assess(_volume(abdomen()[:, :, ::-1])).facts["covers"]["liver"] is False


def test_pelvis_needs_two_bones_either_side() -> None:
    assert assess(_volume(abdomen(bones=True))).facts["covers"]["pelvis"] is True
    assert assess(_volume(abdomen())).facts["covers"]["pelvis"] is False


def test_brain_inside_a_skull() -> None:
    covers = assess(_volume(head())).facts["covers"]
    assert covers["brain"] is True
    assert covers["lungs"] is False
    assert assess(_volume(abdomen())).facts["covers"]["brain"] is False


@pytest.mark.parametrize(
    ("aorta_hu", "phase"),
    [(45.0, "non-contrast"), (120.0, "delayed"), (190.0, "portal venous"), (320.0, "arterial")],
)
def test_contrast_phase_from_the_aorta(aorta_hu: float, phase: str) -> None:
    facts = assess(_volume(abdomen(aorta_hu=aorta_hu))).facts
    assert facts["aorta_hu"] == pytest.approx(aorta_hu, abs=15)
    assert facts["contrast_phase_from_image"] == phase


def test_header_contrast_against_an_unenhanced_aorta() -> None:
    volume = _volume(abdomen(aorta_hu=45.0))
    meta = {"series": {"contrast_agent": "OMNIPAQUE"}}
    report = assess(volume.with_array(volume.array, **meta))
    assert "contrast-mismatch" in {f.code for f in report.findings}
    assert report.verdict("recist") == "fit with caveats"
    enhanced = _volume(abdomen(aorta_hu=190.0))
    report = assess(enhanced.with_array(enhanced.array, **meta))
    assert "contrast-mismatch" not in {f.code for f in report.findings}


def test_no_aorta_no_phase() -> None:
    facts = assess(_volume(abdomen(aorta_hu=None))).facts
    assert facts["contrast_phase_from_image"] in (None, "non-contrast")
    assert contrast_phase(None) is None


def test_breathing_step_found_and_only_there() -> None:
    report = assess(_volume(breathing_chest()))
    codes = {f.code for f in report.findings}
    assert "breathing" in codes, report.findings
    assert "discontinuities" not in codes
    assert report.facts["breathing_slices"] == [44]
    clean = assess(_volume(phantom()))
    assert clean.facts["breathing_slices"] == []


#: real series: what each is known to cover, and whether its aorta is enhanced
#: (None: not known). Known from the images' own organ masks (TotalSegmentator's
#: model output shipped with the examples: aorta 43 HU unenhanced, 151 HU enhanced,
#: with ContrastBolusAgent APPLIED in the DICOM header), and from what the
#: series are (chest sections, limb crops).
REAL = [
    ("totalsegmentator-example/example_ct.nii.gz", {"liver": True, "pelvis": True}, False),
    ("totalsegmentator-example/example_ct_dicom", {"liver": True, "pelvis": False}, True),
    ("pyradiomics/lung1_image.nrrd", {"liver": False, "brain": False}, None),
    ("ibsi/ibsi_validation/nifti/STS_001/CT_image.nii.gz", {"lungs": False, "brain": False}, None),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("path", "covers", "enhanced"), REAL, ids=[r[0] for r in REAL])
def test_real_coverage_and_phase(
    shared_data: Path, path: str, covers: dict[str, bool], enhanced: bool | None
) -> None:
    facts = assess(read_image(shared_data / path)).facts
    for organ, seen in covers.items():
        assert facts["covers"][organ] is seen, (organ, facts["covers"])
    if enhanced is not None:
        assert (facts["contrast_phase_from_image"] != "non-contrast") is enhanced, facts["aorta_hu"]
