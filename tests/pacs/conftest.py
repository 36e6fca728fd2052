"""A real Orthanc (with its DICOMweb plugin) on loopback only, and small studies to send it.

The Orthanc runs in a network namespace that holds only loopback; the tests of a
module run inside that namespace (``LocalOrthanc.inside``) and the server is killed
when the module ends (and with the test process, by ``PR_SET_PDEATHSIG``). Where
Orthanc cannot run (not installed, not root) the tests skip with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from radcycle.pacs.orthanc import LocalOrthanc, OrthancSettings, orthanc_unavailable
from tests.io.factory import write_series

#: Our AE title, and the port where a C-MOVE sends to it (in Orthanc's namespace).
OUR_AET = "RADCYCLE"
MOVE_PORT = 11112
#: The AE title and port of ``radcycle listen`` in the listener tests.
LISTENER_AET = "LISTENER"
LISTENER_PORT = 11113


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOrthanc]:
    reason = orthanc_unavailable()
    if reason is not None:
        pytest.skip(f"no local Orthanc: {reason} (scripts/install-system-packages.sh)")
    settings = OrthancSettings(modalities={OUR_AET: MOVE_PORT, LISTENER_AET: LISTENER_PORT})
    server = LocalOrthanc(tmp_path_factory.mktemp("orthanc"), settings)
    server.start()
    try:
        with server.inside():
            yield server
    finally:
        server.stop()


def make_study(folder: Path, slices: int = 4, size: int = 16, seed: int = 0) -> list[Path]:
    """A small CT study of ``slices`` slices (one series), written into ``folder``."""
    rng = np.random.default_rng(seed)
    stack = rng.integers(0, 2000, size=(slices, size, size)).astype(np.uint16)
    positions = [(0.0, 0.0, 2.0 * k) for k in range(slices)]
    return write_series(folder, stack, positions, study=generate_uid(), patient_id=f"PACS-{seed}")
