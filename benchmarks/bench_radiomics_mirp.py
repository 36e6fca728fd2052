"""radcycle vs MIRP feature by feature on the IBSI validation sarcoma CTs (STS_001,
STS_002, STS_008), configuration C settings (3D, trilinear 2 mm, FBS 25 HU).

No reference values exist for these ROIs, so MIRP is the second opinion: the table
counts features within 1 % of MIRP's value and names the ones that are not, with
both engines' times (fresh processes; MIRP needs scripts/install-bench-peers.sh).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from rich.table import Table

from benchmarks.bench_radiomics import RUNNERS, _peer_python, _shared_data
from benchmarks.radiomics_peer_names import mirp_to_ibsi

CASES = ("STS_001", "STS_002", "STS_008")
REL_TOL = 0.01


def _json_run(argv: list[str]) -> dict[str, object]:
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    data: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def _compare(ours: dict[str, float], mirp: dict[str, float]) -> tuple[int, list[str]]:
    common = [k for k in ours if k in mirp and math.isfinite(ours[k]) and math.isfinite(mirp[k])]
    off = [k for k in common if abs(ours[k] - mirp[k]) > REL_TOL * max(abs(mirp[k]), 1e-12)]
    return len(common), off


def run(workdir: Path) -> Table:
    del workdir
    table = Table(title="radcycle vs MIRP on sarcoma CTs, configuration C settings")
    for col in ("case", "features", f"within {REL_TOL:.0%}", "radcycle s", "MIRP s", "differ"):
        table.add_column(col)
    python = _peer_python()
    folder = _shared_data() / "ibsi" / "ibsi_validation" / "nifti"
    if not python.exists() or not folder.is_dir():
        table.add_row(
            "-", "-", "-", "-", "-", "MIRP or data absent (scripts/install-bench-peers.sh)"
        )
        return table
    for case in CASES:
        image, mask = folder / case / "CT_image.nii.gz", folder / case / "CT_mask.nii.gz"
        ours = _json_run(
            [
                sys.executable,
                str(RUNNERS / "radiomics_radcycle.py"),
                str(image),
                str(mask),
                "ibsi-c",
            ]
        )
        mirp = _json_run(
            [str(python), str(RUNNERS / "radiomics_mirp.py"), str(image), str(mask), "ibsi-c"]
        )
        features = ours["features"]
        peer = mirp["features"]
        if not isinstance(features, dict) or not isinstance(peer, dict):
            raise TypeError("runner output without features")
        total, off = _compare(features, mirp_to_ibsi(peer))
        table.add_row(
            case,
            str(total),
            str(total - len(off)),
            f"{float(str(ours['seconds'])):.2f}",
            f"{float(str(mirp['seconds'])):.1f}",
            ", ".join(off),
        )
    return table
