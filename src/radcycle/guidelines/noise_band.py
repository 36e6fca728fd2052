"""When a measurement sits within its own noise of a RECIST 1.1 or Lung-RADS threshold.

A diameter measured on a repeat scan moves a little: noise, a sub-voxel shift,
a small turn of the patient. Its 95 % band is

    ``band = 1.96 x max(REPEAT_REL x diameter, REPEAT_FLOOR_MM)``

where :data:`REPEAT_REL` and :data:`REPEAT_FLOOR_MM` come from our own
measurements (``python -m benchmarks.run robustness``, docs/robustness.md):
the long-axis change of click-to-segment outlines under the perturbations of a
repeat scan (noise at the image's level, half-voxel translation, rotation by
4 degrees) on the three shared real lung lesions: 12 outlines, root mean square
1.65 %, largest 3.5 % (and 0.44 mm on the 16 mm nodule). 2.5 % is 1.5 times
that root mean square, so the band covers every change measured. A sum of
diameters adds its lesions' bands in quadrature, and a change from baseline
carries both sums' bands.

A threshold is "within noise" when the measurement lies no further from it
than its band: a repeat scan could land on the other side, and the category
with it. The thresholds:

* Lung-RADS v2022 (solid nodule, baseline): mean diameter 6, 8 and 15 mm;
* RECIST 1.1: a measurable lesion is 10 mm or more in long axis (section
  3.1.1); progression is +20 % of the sum (and +5 mm), partial response -30 %
  (section 4.3.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LUNG_RADS_SOLID_MM",
    "RECIST_MEASURABLE_MM",
    "RECIST_RESPONSE_PCT",
    "REPEAT_FLOOR_MM",
    "REPEAT_REL",
    "NearThreshold",
    "change_band_pct",
    "near_change_thresholds",
    "near_size_thresholds",
    "noise_band_mm",
]

#: Relative SD of a diameter on a repeat scan (see docs/robustness.md, "noise band").
REPEAT_REL = 0.025
#: Least SD of a diameter (mm): below it the voxel grid, not the size, sets the noise.
REPEAT_FLOOR_MM = 0.4
_Z95 = 1.96

LUNG_RADS_SOLID_MM = (6.0, 8.0, 15.0)
RECIST_MEASURABLE_MM = 10.0
RECIST_RESPONSE_PCT = (20.0, -30.0)


@dataclass(frozen=True)
class NearThreshold:
    """A measurement within its noise band of a threshold.

    Args:
        rule: the guideline and what the threshold divides, e.g. ``"Lung-RADS v2022"``.
        threshold: the threshold, in ``unit``.
        unit: ``"mm"`` or ``"%"``.
        value: the measurement compared with it.
        band: the half-width of the measurement's 95 % band, in ``unit``.
    """

    rule: str
    threshold: float
    unit: str
    value: float
    band: float

    @property
    def label(self) -> str:
        sign = "+" if self.unit == "%" and self.threshold > 0 else ""
        return f"{self.rule} {sign}{self.threshold:g}{' ' if self.unit == 'mm' else ''}{self.unit}"


def noise_band_mm(diameter_mm: float) -> float:
    """Half-width (mm) of the 95 % band of one diameter on a repeat scan.

    Example:
        >>> round(noise_band_mm(8.0), 2), round(noise_band_mm(40.0), 2)
        (0.78, 1.96)
    """
    return _Z95 * max(REPEAT_REL * float(diameter_mm), REPEAT_FLOOR_MM)


def _sum_sd(diameters: Sequence[float]) -> float:
    return math.sqrt(sum((noise_band_mm(d) / _Z95) ** 2 for d in diameters))


def change_band_pct(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Half-width (percentage points) of the 95 % band of a sum's change from baseline.

    Example:
        >>> round(change_band_pct([30.0, 20.0], [36.0, 24.0]), 1)
        6.0
    """
    s0, s1 = sum(baseline), sum(current)
    if s0 <= 0:
        return float("inf")
    sd0, sd1 = _sum_sd(baseline), _sum_sd(current)
    # d(100 (s1 - s0) / s0): 100 / s0 * ds1 - 100 s1 / s0^2 * ds0
    return _Z95 * 100.0 * math.sqrt(sd1**2 + (s1 / s0) ** 2 * sd0**2) / s0


def near_size_thresholds(
    long_mm: float, short_mm: float | None, lung: bool, node: bool = False
) -> list[NearThreshold]:
    """Size thresholds a lesion's measurement sits within its noise of.

    Lung-RADS (lung nodules) by mean diameter, ``(long + short) / 2``; RECIST
    measurability by long axis (not for lymph nodes, measured by short axis).

    Example:
        >>> [n.label for n in near_size_thresholds(8.3, 7.5, lung=True)]
        ['Lung-RADS v2022 8 mm']
        >>> [n.label for n in near_size_thresholds(10.2, 9.0, lung=True)]
        ['RECIST 1.1 10 mm']
    """
    out: list[NearThreshold] = []
    if lung and short_mm is not None:
        mean = (long_mm + short_mm) / 2.0
        band = noise_band_mm(mean)
        out.extend(
            NearThreshold("Lung-RADS v2022", t, "mm", mean, band)
            for t in LUNG_RADS_SOLID_MM
            if abs(mean - t) <= band
        )
    if not node:
        band = noise_band_mm(long_mm)
        if abs(long_mm - RECIST_MEASURABLE_MM) <= band:
            out.append(NearThreshold("RECIST 1.1", RECIST_MEASURABLE_MM, "mm", long_mm, band))
    return out


def near_change_thresholds(
    change_pct: float, baseline: Sequence[float], current: Sequence[float]
) -> list[NearThreshold]:
    """RECIST 1.1 response thresholds (+20 %, -30 %) a sum's change sits within its noise of.

    Example:
        >>> [n.label for n in near_change_thresholds(18.0, [30.0, 20.0], [35.4, 23.6])]
        ['RECIST 1.1 +20%']
    """
    band = change_band_pct(baseline, current)
    return [
        NearThreshold("RECIST 1.1", t, "%", change_pct, band)
        for t in RECIST_RESPONSE_PCT
        if abs(change_pct - t) <= band
    ]
