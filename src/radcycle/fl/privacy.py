"""Differential privacy of a site's model updates: clipping, Gaussian noise, accounting.

Each round a site sends ``global + clip(update, C) + N(0, (z C)^2 I)``: its update
clipped to L2 norm ``C`` and noised *on the site*, before anything leaves it
(local DP; the server never sees an un-noised update). The unit protected is the
site's whole data set: replacing every patient of a site moves its clipped update
by at most ``2 C``, so one round is the Gaussian mechanism with sensitivity ``2 C``
and noise ``z C``, of Renyi-DP ``alpha * 2 / z^2`` at order ``alpha``; rounds
compose by adding RDP, and (epsilon, delta) follows by the conversion of Balle et
al. 2020 (Opacus' RDP accountant gives the same numbers), minimised over a grid of orders.

Example:
    >>> round(epsilon(noise_multiplier=4.0, rounds=10, delta=1e-5), 2)
    8.08
    >>> round(noise_for_epsilon(8.08, rounds=10, delta=1e-5), 2)
    4.0
    >>> import numpy as np
    >>> clipped, norm = clip([np.full(4, 3.0, np.float32)], 1.0)
    >>> float(norm), float(np.linalg.norm(clipped[0]))
    (6.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radcycle.errors import InputError

__all__ = ["ORDERS", "DPSettings", "add_noise", "clip", "epsilon", "noise_for_epsilon"]

Arrays = list[npt.NDArray[np.float32]]

#: Renyi orders tried (those of Opacus' accountant).
ORDERS: tuple[float, ...] = (
    *(1 + x / 10.0 for x in range(1, 100)),
    *(float(a) for a in range(12, 64)),
    128.0,
    256.0,
    512.0,
)

#: How far the clipped update of a site moves when its whole data set is replaced,
#: in units of the clipping norm.
SENSITIVITY = 2.0


@dataclass(frozen=True)
class DPSettings:
    """Client-side DP: clipping norm ``C``, noise multiplier ``z`` (noise std ``z C``)
    and the ``delta`` of the reported (epsilon, delta)."""

    clip_norm: float
    noise_multiplier: float
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise InputError(f"DP clipping norm must be positive, not {self.clip_norm}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0):
            raise InputError(f"DP noise multiplier must be positive, not {self.noise_multiplier}")
        if not 0 < self.delta < 1:
            raise InputError(f"DP delta must lie in (0, 1), not {self.delta}")

    def epsilon(self, rounds: int) -> float:
        """The epsilon of ``rounds`` rounds at this ``delta``."""
        return epsilon(self.noise_multiplier, rounds, self.delta)


def epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """(epsilon, ``delta``)-DP of ``rounds`` releases of a site's noised update.

    Raises:
        InputError: ``rounds`` below 1 or a non-positive noise multiplier.
    """
    if rounds < 1 or not noise_multiplier > 0:
        raise InputError("DP accounting needs at least one round and positive noise")
    z = noise_multiplier / SENSITIVITY
    best = math.inf
    for a in ORDERS:
        rdp = rounds * a / (2.0 * z * z)
        eps = rdp + math.log1p(-1.0 / a) - (math.log(delta) + math.log(a)) / (a - 1.0)
        best = min(best, eps)
    return max(best, 0.0)


def noise_for_epsilon(target: float, rounds: int, delta: float) -> float:
    """The smallest noise multiplier whose ``rounds`` rounds stay within ``target``.

    Raises:
        InputError: ``target`` not positive.
    """
    if not (math.isfinite(target) and target > 0):
        raise InputError(f"DP epsilon must be positive, not {target}")
    lo, hi = 1e-3, 1.0
    while epsilon(hi, rounds, delta) > target:
        hi *= 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if epsilon(mid, rounds, delta) > target:
            lo = mid
        else:
            hi = mid
    return hi


def clip(update: Sequence[npt.NDArray[np.float32]], clip_norm: float) -> tuple[Arrays, float]:
    """``update`` scaled to L2 norm at most ``clip_norm`` (over all arrays), and its
    norm before clipping."""
    norm = math.sqrt(sum(float(np.sum(np.square(u, dtype=np.float64))) for u in update))
    scale = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    return [np.asarray(u * scale, dtype=np.float32) for u in update], norm


def add_noise(
    update: Sequence[npt.NDArray[np.float32]], std: float, rng: np.random.Generator
) -> Arrays:
    """``update`` plus independent Gaussian noise of standard deviation ``std``."""
    return [np.asarray(u + rng.normal(0.0, std, u.shape), dtype=np.float32) for u in update]
