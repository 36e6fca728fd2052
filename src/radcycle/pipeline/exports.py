"""An analysis' exports: DICOM SEG and SR per time point, FHIR R4, HTML and PDF.

The exporters (:mod:`radcycle.reporting.export`) take domain objects; this module
gathers them from a :class:`~radcycle.pipeline.analysis.PatientAnalysis`: the
lesions' masks on each study's grid, the source DICOM datasets, the key images
and the charts. Files per time point are named by study date
(``seg_2024-01-10.dcm``, ``sr_2024-01-10.dcm``). An export that cannot be made
(a study not read from DICOM, a lesion without a mask) is left out with a warning;
the others are still written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset

from radcycle.domain import Fact, ImageReference
from radcycle.errors import RadcycleError
from radcycle.longitudinal.plots import trajectory_chart, waterfall_chart
from radcycle.pipeline.analysis import PatientAnalysis
from radcycle.pipeline.scans import Scan, image_reference
from radcycle.reporting.export.codes import notice_for
from radcycle.reporting.export.fhir import build_fhir_bundle, write_fhir
from radcycle.reporting.export.html import render_html
from radcycle.reporting.export.keyimage import KeyImage, key_image_for
from radcycle.reporting.export.pdf import render_pdf
from radcycle.reporting.export.seg import LesionSegment, write_seg
from radcycle.reporting.export.sr import write_sr

__all__ = ["charts", "write_exports"]

log = logging.getLogger(__name__)


def charts(analysis: PatientAnalysis) -> dict[str, bytes]:
    """The trajectory chart and the waterfall, as PNG."""
    follow = analysis.follow
    changes = [
        tp["change_from_baseline_pct"]
        for tp in follow.recist.get("timepoints") or ()
        if tp.get("change_from_baseline_pct") is not None
    ]
    return {
        "Lesion trajectories": trajectory_chart(follow.trajectories),
        "Waterfall": waterfall_chart(follow.trajectories, sum_best_pct=min(changes, default=None)),
    }


def _datasets(scan: Scan) -> list[Dataset]:
    acq = scan.volume.acquisition
    files = acq.source_files if acq is not None else ()
    if not files:
        raise _SkipError(f"{scan.exam_date}: not read from DICOM files")
    return [pydicom.dcmread(path) for path in files]


class _SkipError(Exception):
    """An export that cannot be made from what was read (a warning, not an error)."""


def _segments(analysis: PatientAnalysis, t: int) -> list[LesionSegment]:
    follow = analysis.follow
    out = []
    for track, lesion in zip(follow.tracks, analysis.lesions, strict=True):
        mask = follow.mask_of(track, t)
        if mask is not None and mask.any():
            out.append(LesionSegment(lesion, mask))
    return out


def _key_images(analysis: PatientAnalysis, notice: str) -> dict[str, KeyImage]:
    follow = analysis.follow
    out: dict[str, KeyImage] = {}
    for track, lesion in zip(follow.tracks, analysis.lesions, strict=True):
        for t in range(len(follow.scans) - 1, -1, -1):
            mask = follow.mask_of(track, t)
            if mask is not None and mask.any():
                when = follow.scans[t].exam_date.isoformat()
                out[lesion.tracking_uid] = key_image_for(
                    lesion, follow.scans[t].volume, mask, when, notice
                )
                break
    return out


def _per_time_point(analysis: PatientAnalysis, facts: Sequence[Fact], folder: Path) -> list[str]:
    written = []
    for t, scan in enumerate(analysis.follow.scans):
        when = scan.exam_date.isoformat()
        segments = _segments(analysis, t)
        present = [
            les for les in analysis.lesions if any(m.value is not None for m in les.at(when))
        ]
        if not present:
            continue
        sources = _datasets(scan)
        seg = None
        if segments:
            seg = write_seg(folder / f"seg_{when}.dcm", segments, sources)
            written.append(f"seg_{when}.dcm")
        write_sr(
            folder / f"sr_{when}.dcm",
            present,
            sources,
            time_point=when,
            seg=seg,
            evaluations=facts,
        )
        written.append(f"sr_{when}.dcm")
    return written


def _attempt(name: str, step: Callable[[], Any], warnings: list[str]) -> Any:
    try:
        return step()
    except (RadcycleError, _SkipError) as exc:
        warnings.append(f"{name} not written: {exc}")
        log.warning("%s not written: %s", name, exc)
        return None


def write_exports(
    analysis: PatientAnalysis,
    report: dict[str, Any],
    report_text: str,
    facts: Sequence[Fact],
    folder: Path,
) -> list[str]:
    """Write SEG and SR per time point, fhir.json, report.html and report.pdf.

    Returns:
        Warnings for the exports left out (the rest are written).
    """
    warnings: list[str] = []
    _attempt("SEG/SR", lambda: _per_time_point(analysis, facts, folder), warnings)
    images: list[ImageReference] = [
        ref for ref in (image_reference(s) for s in analysis.follow.scans) if ref is not None
    ]

    def fhir() -> None:
        bundle = build_fhir_bundle(report, analysis.lesions, images, text=report_text)
        write_fhir(folder / "fhir.json", bundle)

    _attempt("fhir.json", fhir, warnings)
    notice = notice_for(report.get("status"))
    keys = _attempt("key images", lambda: _key_images(analysis, notice), warnings) or {}
    pngs = charts(analysis)
    _attempt(
        "report.html",
        lambda: render_html(report, folder / "report.html", key_images=keys, charts=pngs),
        warnings,
    )
    _attempt(
        "report.pdf",
        lambda: render_pdf(report, folder / "report.pdf", key_images=keys, charts=pngs),
        warnings,
    )
    return warnings
