"""Image quality control per series: is this image fit for each analysis, and why.

:func:`assess` reads a :class:`~radcycle.domain.Volume` (as ``radcycle.io`` gives
it, with its header facts and series problems) and returns a
:class:`QualityReport`: modality and contrast (header, and on CT the phase the
aorta's HU says, :mod:`radcycle.imaging.qc.anatomy`), slice thickness and
spacing, what the field of view covers (lungs, cut off or not; liver, pelvis,
brain; a truncated body), noise (HU SD in fat and in air), metal, slice
discontinuities (motion or stitching), breathing steps, low dose, and a verdict per
analysis (:mod:`radcycle.imaging.qc.verdicts`) with the reasons.

Measures run on a grid of about 2 mm (QC needs no finer detail), so a 512 x 512
x 300 CT is assessed in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.domain import Volume
from radcycle.imaging.inputs import modality_of, nominal_geometry
from radcycle.imaging.qc import anatomy, measures
from radcycle.imaging.qc.verdicts import ANALYSES, RULES, Finding, verdicts

__all__ = ["ANALYSES", "RULES", "Finding", "QualityReport", "assess"]

# QC grid: about this voxel size (mm) in every direction.
_QC_MM = 2.0
# Thresholds of the findings (see verdicts.RULES for what each limits).
_THIN_MM = 2.5
_THICK_MM = 5.0
_NOISY_FAT_SD_HU = 30.0
_LOW_DOSE_CTDI_MGY = 3.0
_METAL_ML = 0.5
_TRUNCATED_FRACTION = 0.2
_ENHANCED_GAP_HU = 80.0  # blood pool this much above muscle: contrast in the vessels
_ENHANCED_POOL_ML = 5.0
# Organs: seen on this many QC slices (about 2 mm each); liver core volume (mL).
_ORGAN_SLICES = 3
_LIVER_CORE_ML = 60.0


@dataclass(frozen=True)
class QualityReport:
    """Quality facts of one series and the verdict per analysis."""

    series_instance_uid: str
    modality: str
    facts: dict[str, Any]
    findings: tuple[Finding, ...]
    verdicts: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: facts, findings (code and sentence) and verdicts."""
        return {
            "series_instance_uid": self.series_instance_uid,
            "modality": self.modality,
            "facts": self.facts,
            "findings": [{"code": f.code, "message": f.message} for f in self.findings],
            "verdicts": self.verdicts,
        }

    def verdict(self, analysis: str) -> str:
        return str(self.verdicts[analysis]["verdict"])


def _steps(spacing_kji: tuple[float, float, float]) -> tuple[int, int, int]:
    k, j, i = (max(1, round(_QC_MM / s)) for s in spacing_kji)
    return (k, j, i)


def _geometry_facts(volume: Volume) -> tuple[dict[str, Any], list[Finding]]:
    meta: Any = volume.metadata
    di, dj, dk = (float(v) for v in volume.spacing)
    thickness = meta.get("slice_thickness")
    facts: dict[str, Any] = {
        "spacing_mm": [round(di, 3), round(dj, 3), round(dk, 3)],
        "slice_thickness_mm": thickness,
        "extent_mm": [round(float(v), 1) for v in volume.extent_mm],
    }
    findings = []
    nominal = nominal_geometry(volume)
    if nominal:
        findings.append(Finding("nominal-geometry", "; ".join(nominal)))
    for p in meta.get("problems") or []:
        if isinstance(p, dict) and p.get("code") not in ("unknown-pixel-spacing", "no-orientation"):
            findings.append(Finding("series-problem", f"{p.get('code')}: {p.get('message')}"))
    thick = max(dk, float(thickness or 0.0))
    if thick > _THICK_MM:
        findings.append(Finding("very-thick-slices", f"slices {thick:g} mm (over {_THICK_MM:g})"))
    elif thick > _THIN_MM:
        findings.append(Finding("thick-slices", f"slices {thick:g} mm (over {_THIN_MM:g})"))
    return facts, findings


def _header_facts(volume: Volume) -> dict[str, Any]:
    series: Any = volume.metadata.get("series") or {}
    keys = ("contrast_agent", "kvp", "exposure_mas", "ctdi_vol", "kernel", "body_part")
    return {k: series.get(k) for k in keys if series.get(k) not in (None, "")}


def _ct_findings(volume: Volume, header: dict[str, Any]) -> tuple[dict[str, Any], list[Finding]]:
    steps = _steps(tuple(float(v) for v in volume.spacing[::-1]))  # type: ignore[arg-type]
    hu = np.asarray(volume.array[:: steps[0], :: steps[1], :: steps[2]], dtype=np.float32)
    voxel_ml = float(np.prod(volume.spacing * np.array(steps[::-1]))) / 1000.0
    mm = tuple(float(s) * n for s, n in zip(volume.spacing[::-1], steps, strict=True))
    body = measures.body_mask(hu)
    lungs = measures.lung_mask(hu, voxel_ml)
    cov = measures.coverage(hu, body, voxel_ml, _posterior_row(volume), lungs)
    facts: dict[str, Any] = {
        "lung_ml": cov.lung_ml,
        "lungs_cut_off": _cut(volume, cov),
        "truncated_fraction": cov.truncated_fraction,
        **measures.noise(hu, body),
        **measures.metal(hu, voxel_ml),
        **measures.enhancement(hu, body, voxel_ml),
    }
    pixel_mm = float(volume.spacing[0]) * steps[2]
    body_jumps = measures.discontinuities(body, pixel_mm)
    facts["discontinuity_slices"] = [k * steps[0] for k in body_jumps]
    facts["contrast_from_image"] = _contrast(facts)
    facts.update(_anatomy(volume, hu, body, lungs, mm, cov.lung_ml))  # type: ignore[arg-type]
    facts["breathing_slices"] = [
        k * steps[0]
        for k in anatomy.breathing(lungs, body, mm, body_jumps)  # type: ignore[arg-type]
    ]
    return facts, _ct_rules(facts, header)


def _anatomy(
    volume: Volume,
    hu: npt.NDArray[np.float32],
    body: npt.NDArray[np.bool_],
    lungs: npt.NDArray[np.bool_],
    mm: tuple[float, float, float],
    lung_ml: float,
) -> dict[str, Any]:
    """What the field of view covers, and the contrast phase the aorta shows.

    ``None`` where it cannot be judged: oblique axes, or (liver, aorta) no spine
    in view to say where the patient's right and front are.
    """
    covers: dict[str, bool | None] = {"lungs": lung_ml > 0, "liver": None}
    covers["brain"] = anatomy.brain(hu, mm) >= _ORGAN_SLICES
    orient = anatomy.Orientation.of(volume.direction)
    out: dict[str, Any] = {"covers": covers, "aorta_hu": None, "aorta_slices": 0}
    if orient is None:
        covers["pelvis"] = None
        out["contrast_phase_from_image"] = None
        return out
    pelvis, judged = anatomy.pelvis(hu, body, lungs, mm, orient)
    covers["pelvis"] = pelvis >= _ORGAN_SLICES if judged >= _ORGAN_SLICES else None
    canal = anatomy.spine_front(hu, body, mm, orient)
    if canal is not None:
        liver_ml = anatomy.liver(hu, body, canal, mm, orient)
        out["liver_core_ml"] = liver_ml
        covers["liver"] = liver_ml >= _LIVER_CORE_ML
        out.update(anatomy.aorta(hu, body, canal, mm, orient))
    out["contrast_phase_from_image"] = anatomy.contrast_phase(out["aorta_hu"])
    return out


def _posterior_row(volume: Volume) -> int | None:
    """The array row (0 or -1) on the patient's back, where the table lies; None if oblique."""
    toward_back = float(volume.direction[1, 1])  # LPS y of the j axis
    if abs(toward_back) < 0.7:
        return None
    return -1 if toward_back > 0 else 0


def _cut(volume: Volume, cov: measures.Coverage) -> list[str]:
    """Which ends of the lungs the field of view cuts: "top" (apex) or "bottom" (base)."""
    upward = float(volume.direction[2, 2]) >= 0  # k grows toward the head (LPS z)
    ends = []
    if cov.lungs_cut_at_first:
        ends.append("bottom" if upward else "top")
    if cov.lungs_cut_at_last:
        ends.append("top" if upward else "bottom")
    return sorted(ends)


def _contrast(facts: dict[str, Any]) -> str:
    """Blood pool against muscle: a heuristic, not validated (header facts come first)."""
    pool, muscle = facts.get("blood_pool_hu"), facts.get("muscle_hu")
    if pool is None or muscle is None or facts.get("blood_pool_ml", 0.0) < _ENHANCED_POOL_ML:
        return "no enhanced blood pool seen"
    if float(pool) - float(muscle) < _ENHANCED_GAP_HU:
        return "no enhanced blood pool seen"
    return "enhanced blood pool seen"


def _ct_rules(facts: dict[str, Any], header: dict[str, Any]) -> list[Finding]:
    out = []
    if facts["lung_ml"] <= 0:
        out.append(Finding("no-lungs", "no lungs in the field of view"))
    elif facts["lungs_cut_off"]:
        ends = " and ".join(facts["lungs_cut_off"])
        out.append(Finding("lungs-cut-off", f"the field of view cuts the lungs at the {ends}"))
    if facts["truncated_fraction"] > _TRUNCATED_FRACTION:
        share = round(100 * facts["truncated_fraction"])
        out.append(
            Finding(
                "truncated-body", f"the body touches the field of view's edge on {share}% of slices"
            )
        )
    fat = facts.get("fat_sd_hu")
    if fat is not None and fat > _NOISY_FAT_SD_HU:
        out.append(Finding("noisy", f"noise {fat:g} HU SD in fat (over {_NOISY_FAT_SD_HU:g})"))
    ctdi = header.get("ctdi_vol")
    if ctdi is not None and float(ctdi) < _LOW_DOSE_CTDI_MGY:
        out.append(Finding("low-dose", f"CTDIvol {ctdi:g} mGy (under {_LOW_DOSE_CTDI_MGY:g})"))
    if facts["metal_ml"] > _METAL_ML:
        k0, k1 = facts["metal_slices"]
        out.append(
            Finding("metal", f"{facts['metal_ml']:g} mL of metal on slices {k0}-{k1}: streaks")
        )
    if facts["discontinuity_slices"]:
        out.append(
            Finding(
                "discontinuities",
                f"slices jump from their neighbours at {facts['discontinuity_slices'][:10]} "
                "(motion or stitching)",
            )
        )
    if facts.get("breathing_slices"):
        out.append(
            Finding(
                "breathing",
                f"the lungs step against their shape at slices {facts['breathing_slices'][:10]} "
                "(breathing between slices)",
            )
        )
    phase = facts.get("contrast_phase_from_image")
    if header.get("contrast_agent") and phase == "non-contrast":
        out.append(
            Finding(
                "contrast-mismatch",
                f"the header names a contrast agent ({header['contrast_agent']}) but the aorta "
                f"is unenhanced ({facts['aorta_hu']:g} HU)",
            )
        )
    return out


def assess(volume: Volume) -> QualityReport:
    """Quality facts, findings and verdicts of one series.

    Example:
        >>> from radcycle.domain import Geometry
        >>> g = Geometry((0, 0, 0), (1, 1, 6))
        >>> report = assess(Volume(np.full((4, 8, 8), 300.0), g, {"modality": "MR"}))
        >>> report.verdict("lung-nodules"), report.verdict("radiomics")
        ('unfit', 'fit with caveats')
    """
    modality = modality_of(volume)
    facts, findings = _geometry_facts(volume)
    header = _header_facts(volume)
    facts["header"] = header
    if modality == "CT":
        measured, ct = _ct_findings(volume, header)
        facts.update(measured)
        findings.extend(ct)
    else:
        findings.append(Finding("not-ct", f"{modality}: the lung detector needs CT in HU"))
        if modality != "PT":  # PET in SUV is quantitative
            findings.append(
                Finding("arbitrary-units", f"{modality} values are not in absolute units")
            )
    uid = str(volume.metadata.get("series_instance_uid") or volume.metadata.get("source") or "")
    return QualityReport(uid, modality, facts, tuple(findings), verdicts(findings))
