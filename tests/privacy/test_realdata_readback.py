"""De-identified SEG and SR of the conformance set still read with highdicom.

The rule for attributes outside Table E.1-1 removes what is not known to be safe;
this guards against removing what a reader requires (AlgorithmVersion did once).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import highdicom as hd
import pydicom
import pytest

from radcycle.privacy.batch import deidentify_file, iter_files, read_dicom
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.phi import lenient
from radcycle.privacy.profile import DeidOptions

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

READERS: dict[str, Callable[[pydicom.Dataset], object]] = {
    "1.2.840.10008.5.1.4.1.1.66.4": hd.seg.Segmentation.from_dataset,
    "1.2.840.10008.5.1.4.1.1.88.22": hd.sr.EnhancedSR.from_dataset,
    "1.2.840.10008.5.1.4.1.1.88.33": hd.sr.ComprehensiveSR.from_dataset,
    "1.2.840.10008.5.1.4.1.1.88.34": hd.sr.Comprehensive3DSR.from_dataset,
}


def _reads(reader: Callable[[pydicom.Dataset], object], ds: pydicom.Dataset) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader(ds)
    except Exception:  # any reader error means "does not read"
        return False
    return True


@pytest.mark.parametrize("options", [DeidOptions(), DeidOptions(dates="modified")])
def test_seg_and_sr_read_back(shared_data: Path, tmp_path: Path, options: DeidOptions) -> None:
    src = shared_data / "dicom-conformance"
    key = DeidKey(bytes(range(32)))
    checked, failures = 0, []
    for index, path in enumerate(iter_files(src)):
        try:
            with lenient():
                original = read_dicom(path)
        except Exception:  # not an instance: nothing to read back
            continue
        reader = READERS.get(str(original.SOPClassUID))
        if reader is None or not _reads(reader, original):
            continue
        record = deidentify_file(path, src, tmp_path / str(index), key, options)
        if not _reads(reader, pydicom.dcmread(tmp_path / str(index) / record.staged)):
            failures.append(str(path.relative_to(src)))
        checked += 1
    assert checked >= 10
    assert failures == []
