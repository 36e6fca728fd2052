"""Every conformance file either loads with pydicom's own pixel values, or gives a typed error."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest

from radcycle.errors import RadcycleError
from radcycle.io import read_image

pytestmark = pytest.mark.realdata


def _reference_values(path: Path, frame_numbers: list[int]) -> np.ndarray:
    """pydicom's decoding with the modality rescale, per frame (enhanced groups too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    out = []
    for number in frame_numbers:
        slope, intercept = (
            float(ds.get("RescaleSlope", 1) or 1),
            float(ds.get("RescaleIntercept", 0) or 0),
        )
        groups = ds.get("PerFrameFunctionalGroupsSequence")
        for seq in (
            groups[number - 1] if groups else None,
            (ds.get("SharedFunctionalGroupsSequence") or [None])[0],
        ):
            if seq is not None and "PixelValueTransformationSequence" in seq:
                item = seq.PixelValueTransformationSequence[0]
                slope, intercept = float(item.RescaleSlope), float(item.RescaleIntercept)
                break
        out.append(arr[number - 1] * slope + intercept)
    return np.asarray(out)


def test_conformance_files_load_or_fail_typed(shared_data: Path):
    root = shared_data / "dicom-conformance"
    tally: Counter[str] = Counter()
    crashes = []
    mismatches = []
    unnamed: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            volume = read_image(path)
        except RadcycleError as exc:
            tally["typed error"] += 1
            if not exc.path:
                unnamed.append(f"{path}: {exc}")
            continue
        except Exception as exc:
            tally["crash"] += 1
            crashes.append(f"{path}: {exc!r}")
            continue
        tally["loaded"] += 1
        if volume.metadata.get("source") != "dicom" or len(volume.metadata["files"]) != 1:
            continue
        expected = _reference_values(path, volume.metadata["frame_numbers"])
        if volume.metadata["problems"]:
            continue  # resampled (tilt, spacing): compared in the series tests
        if expected.shape != volume.array.shape or not np.allclose(
            expected, volume.array, atol=1e-3
        ):
            mismatches.append(str(path))
    print(f"\nconformance tally: {dict(tally)}")
    assert not crashes, crashes
    assert not unnamed, unnamed
    assert not mismatches, mismatches
    assert tally["loaded"] >= 80
