"""Image quality control on synthetic series with known artefacts, and on the real series."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from radcycle.domain import Geometry, Volume
from radcycle.imaging.qc import RULES, Finding, assess
from radcycle.io import read_image

SPACING = (1.5, 1.5, 2.0)


def phantom() -> np.ndarray:
    """A chest in air: fat rim, muscle, two lungs, a spine (HU), 60 x 130 x 180 voxels."""
    rng = np.random.default_rng(3)
    j, i = np.ogrid[:130, :180]
    outer = ((j - 65) / 55.0) ** 2 + ((i - 90) / 75.0) ** 2 <= 1.0
    inner = ((j - 65) / 45.0) ** 2 + ((i - 90) / 65.0) ** 2 <= 1.0
    arr = np.full((60, 130, 180), -1000.0)
    arr[:, outer] = -100.0  # fat
    arr[:, inner] = 45.0  # muscle and soft tissue
    for centre in (60, 120):
        lung = ((j - 60) / 30.0) ** 2 + ((i - centre) / 20.0) ** 2 <= 1.0
        arr[4:-4, lung] = -850.0
    spine = ((j - 100) / 8.0) ** 2 + ((i - 90) / 8.0) ** 2 <= 1.0
    arr[:, spine] = 700.0
    return arr + rng.normal(0, 12, arr.shape)


def _volume(arr: np.ndarray, spacing: tuple[float, float, float] = SPACING) -> Volume:
    return Volume(arr.astype(np.float32), Geometry((0, 0, 0), spacing), {"modality": "CT"})


def _noisy() -> Volume:
    return _volume(phantom() + np.random.default_rng(4).normal(0, 60, (60, 130, 180)))


def _metal() -> Volume:
    arr = phantom()
    arr[20:30, 95:105, 60:70] = 3500.0
    return _volume(arr)


def _truncated() -> Volume:
    return _volume(phantom()[:, :, 25:-25])


def _cut_lungs() -> Volume:
    return _volume(phantom()[10:50])


def _thick() -> Volume:
    return _volume(phantom()[::3], (1.5, 1.5, 6.0))


def _moved() -> Volume:
    arr = phantom()
    arr[30:] = np.roll(arr[30:], 6, axis=2)
    return _volume(arr)


def _no_lungs() -> Volume:
    arr = phantom()
    arr[(arr < -500) & (arr > -950)] = 45.0
    return _volume(arr)


#: series, the finding it must raise, and the verdict it must give per analysis
KNOWN: list[tuple[str, Callable[[], Volume], str | None, dict[str, str]]] = [
    ("clean", lambda: _volume(phantom()), None, {"lung-nodules": "fit", "recist": "fit"}),
    ("noise", _noisy, "noisy", {"lung-nodules": "fit with caveats", "recist": "fit"}),
    ("metal", _metal, "metal", {"recist": "fit with caveats"}),
    ("truncated", _truncated, "truncated-body", {"lung-nodules": "fit with caveats"}),
    ("lungs-cut", _cut_lungs, "lungs-cut-off", {"lung-nodules": "fit with caveats"}),
    ("thick", _thick, "very-thick-slices", {"lung-nodules": "unfit", "recist": "fit with caveats"}),
    ("motion", _moved, "discontinuities", {"recist": "fit with caveats"}),
    ("abdomen", _no_lungs, "no-lungs", {"lung-nodules": "unfit", "recist": "fit"}),
]


@pytest.mark.parametrize(("name", "make", "code", "verdicts"), KNOWN, ids=[k[0] for k in KNOWN])
def test_synthetic_artefacts(
    name: str, make: Callable[[], Volume], code: str | None, verdicts: dict[str, str]
) -> None:
    report = assess(make())
    codes = {f.code for f in report.findings}
    if code is None:
        assert codes == set(), report.findings
    else:
        assert code in codes, (name, report.findings)
    for analysis, verdict in verdicts.items():
        assert report.verdict(analysis) == verdict, (analysis, report.verdicts[analysis])


def test_clean_phantom_facts() -> None:
    facts = assess(_volume(phantom())).facts
    assert facts["lung_ml"] == pytest.approx(np.pi * 30 * 20 * 1.5**2 * 52 * 2 * 2 / 1000, rel=0.1)
    assert facts["fat_sd_hu"] == pytest.approx(12, abs=3)
    assert facts["lungs_cut_off"] == []
    assert facts["metal_ml"] == 0


def test_unknown_spacing_is_unfit_for_everything() -> None:
    problem = {"code": "unknown-pixel-spacing", "message": "PixelSpacing (0028,0030) missing"}
    volume = _volume(phantom()).with_array(phantom(), problems=[problem])
    report = assess(volume)
    assert {report.verdict(a) for a in report.verdicts} == {"unfit"}


def test_unknown_finding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown quality finding"):
        Finding("blurry", "x")
    assert all(set(rules) <= {"lung-nodules", "recist", "radiomics"} for rules in RULES.values())


#: real series and what each is known to be (docs/quality.md tabulates them)
REAL = [
    ("ibsi/ibsi_1_ct_radiomics_phantom/dicom", "CT", True, "fit with caveats"),
    ("pyradiomics/lung1_image.nrrd", "CT", True, "fit with caveats"),
    ("pyradiomics/lung2_image.nrrd", "CT", True, "fit with caveats"),
    ("totalsegmentator-example/example_ct.nii.gz", "CT", True, "fit with caveats"),
    ("ibsi/ibsi_validation/nifti/STS_001/CT_image.nii.gz", "CT", False, "unfit"),
    ("ibsi/ibsi_validation/nifti/STS_001/MR_T1_image.nii.gz", "MR", False, "unfit"),
    ("pyradiomics/brain1_image.nrrd", "MR", False, "unfit"),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("path", "modality", "lungs", "nodules"), REAL, ids=[r[0] for r in REAL])
def test_real_series(
    shared_data: Path, path: str, modality: str, lungs: bool, nodules: str
) -> None:
    report = assess(read_image(shared_data / path))
    assert report.modality == modality
    assert (report.facts.get("lung_ml", 0) > 300) is lungs
    assert report.verdict("lung-nodules") == nodules
