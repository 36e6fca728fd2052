"""The planted suite: every case, in every encoding, found before and gone after."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from radcycle.privacy.batch import deidentify_tree
from radcycle.privacy.check import check_tree
from radcycle.privacy.keys import DeidKey
from radcycle.privacy.phi import iter_elements, lenient
from radcycle.privacy.profile import DeidOptions

from .planting import CASES, VARIANTS, Case, present, write

OPTION_SETS = {
    "basic": DeidOptions(),
    "clean-all": DeidOptions(dates="modified", clean_descriptors=True, clean_structured=True),
}


def output_text(out: Path) -> tuple[str, bytes]:
    """Every decoded string value and the raw bytes of every DICOM file below ``out``."""
    texts, raw = [], b""
    with lenient():
        for path in sorted(out.rglob("*.dcm")):
            raw += path.read_bytes()
            for _path, elem in iter_elements(pydicom.dcmread(path)):
                value = elem.value
                if isinstance(value, bytes) and elem.VR == "UN":
                    texts.append(value.decode("latin-1"))
                elif elem.VR not in ("SQ", "OB", "OW", "UN") and value is not None:
                    texts.append(str(value))
    return "\n".join(texts), raw


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_found_before_and_gone_after(
    case: Case, variant: str, tmp_path: Path, key: DeidKey
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write(case.build(), src / "case.dcm", variant)
    before = check_tree(src, src)
    assert before.files_scanned == 1
    details = [leak.detail.casefold() for leak in before.leaks]
    for secret in case.secrets:
        assert any(secret.casefold() in d for d in details), (secret, details)
    for label, options in OPTION_SETS.items():
        out = tmp_path / label
        summary = deidentify_tree(src, out, key, options, workers=1)
        assert summary.count("written") == 1, [r.reason for r in summary.records]
        after = check_tree(out, src)
        assert after.leaks == [], (label, after.leaks)
        assert after.clean, (label, after.problems())
        text, raw = output_text(out)
        for secret in case.secrets:
            assert not present(secret, text), (label, secret)
            if len(secret) >= 6 and secret.isascii():
                assert secret.encode() not in raw, (label, secret)
