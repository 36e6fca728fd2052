"""Small synthetic volumes shared by the routing tests of the classical and learned methods."""

from __future__ import annotations

import numpy as np

from radcycle.domain import Geometry, Volume


def nodule_in_lung() -> tuple[Volume, tuple[float, float, float]]:
    """A 6 mm-radius solid nodule (40 HU) in aerated lung (-850 HU) on a 1 mm CT
    grid, and a click at its centre (LPS mm)."""
    rng = np.random.default_rng(3)
    shape = (40, 64, 64)
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    nodule = (k - 20) ** 2 + (j - 32) ** 2 + (i - 32) ** 2 <= 6**2
    arr = np.where(nodule, 40.0, -850.0) + rng.normal(0, 15, shape)
    vol = Volume(arr, Geometry((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), {"modality": "CT"})
    return vol, (32.0, 32.0, 20.0)
