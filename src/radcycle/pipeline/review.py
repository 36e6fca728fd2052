"""What the review service asks of the pipeline: a reviewed analysis, its slices, evidence.

The service computes nothing itself; everything it shows comes from here:

* :func:`reviewed` -- the analysis again as the radiologist's decisions leave it:
  rejected lesions left out, new lesions counted only once confirmed
  (:func:`~radcycle.pipeline.follow.review_new_lesions`); the guideline engines
  re-run, so the RECIST response, Lung-RADS, Fleischner and the facts and draft
  built from them follow the decisions;
* :func:`new_lesion_uids` -- lesions first seen after the baseline;
* :func:`slice_png` -- one axial slice of one time point in a named window, with
  every lesion's outline on it;
* :func:`lesion_slices` -- where each lesion is on each time point (for the
  same lesion side by side across time points);
* :func:`evidence_png` -- the key image of a lesion at a time point (slice,
  outline, long and short axes);
* :func:`save_analysis` / :func:`load_analysis` -- an analysis kept between
  requests in the case folder, checked by SHA-256 before it is read back.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import json
import pickle
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from PIL import Image
from pydicom.dataset import Dataset

from radcycle.domain import Fact, Geometry
from radcycle.errors import DataFormatError, InputError
from radcycle.pipeline.analysis import AnalysisInputs, PatientAnalysis, analyze_patient
from radcycle.pipeline.exports import write_exports
from radcycle.pipeline.follow import review_new_lesions
from radcycle.pipeline.publish import deterministic_outputs, write_outputs
from radcycle.reporting.claims import split_sentences
from radcycle.reporting.export.codes import DRAFT_NOTICE
from radcycle.reporting.export.keyimage import key_image_for
from radcycle.reporting.report import SECTIONS, Report, Section, Sentence
from radcycle.reporting.verifier import verify_sentence

__all__ = [
    "ANALYSIS_FILE",
    "WINDOWS",
    "draft",
    "edited_document",
    "evidence_png",
    "lesion_slices",
    "load_analysis",
    "new_lesion_uids",
    "reviewed",
    "run_analysis",
    "save_analysis",
    "slice_png",
    "write_signed",
]

#: The file of a case folder holding its analysis between requests.
ANALYSIS_FILE = "analysis.pkl"
#: Display windows (width, level) in HU, as the reading room names them.
WINDOWS: dict[str, tuple[float, float]] = {
    "lung": (1500.0, -600.0),
    "mediastinum": (350.0, 50.0),
    "bone": (2000.0, 300.0),
}
_COLOURS = ((255, 204, 0), (0, 229, 255), (255, 64, 129), (118, 255, 3), (255, 145, 0))


def new_lesion_uids(analysis: PatientAnalysis) -> set[str]:
    """TrackingUniqueIdentifiers of the new lesions (first seen after the baseline).

    A new lesion decides progression, so it counts only once a radiologist confirms
    it (:mod:`radcycle.pipeline.follow_new`).
    """
    new = {r.tracking_identifier for r in analysis.follow.new_lesions}
    return {t.tracking_uid for t in analysis.follow.tracks if t.tracking_identifier in new}


def reviewed(analysis: PatientAnalysis, decisions: Mapping[str, str]) -> PatientAnalysis:
    """The analysis as the radiologist's decisions leave it.

    ``decisions`` maps TrackingUniqueIdentifiers to ``confirmed`` or ``rejected``
    (others: undecided). A rejected lesion seen on the baseline is left out of
    the course; new lesions are settled by
    :func:`~radcycle.pipeline.follow.review_new_lesions` (confirmed ones count,
    rejected ones are left out, undecided ones stay unconfirmed and do not count).
    The guideline engines run again on what is kept, with the first run's context.
    """
    follow = analysis.follow
    new = new_lesion_uids(analysis)
    drop = {uid for uid, d in decisions.items() if d == "rejected" and uid not in new}
    keep = [i for i, t in enumerate(follow.tracks) if t.tracking_uid not in drop]
    kept = replace(
        follow,
        tracks=tuple(follow.tracks[i] for i in keep),
        trajectories=tuple(t for t in follow.trajectories if t.tracking_uid not in drop),
    )
    names = {t.tracking_uid: t.tracking_identifier for t in follow.tracks}
    confirmed = sorted(names[u] for u, d in decisions.items() if d == "confirmed" and u in new)
    rejected = sorted(names[u] for u, d in decisions.items() if d == "rejected" and u in new)
    course = review_new_lesions(kept, confirmed, rejected)
    lesions = tuple(les for les in analysis.lesions if les.tracking_uid not in drop)
    return replace(analysis, follow=course, lesions=lesions)


def save_analysis(analysis: PatientAnalysis, path: Path) -> str:
    """Write the analysis to ``path`` (a file only the service writes); its SHA-256."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    # Read-only metadata mappings are kept read-only when read back.
    pickler.dispatch_table = {
        **copyreg.dispatch_table,
        MappingProxyType: _proxy,
        Geometry: _geometry,
    }
    pickler.dump(analysis)
    data = buffer.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _geometry(g: Geometry) -> tuple[Any, tuple[Any, ...]]:
    # Geometry refuses attribute setting, so it is rebuilt through its constructor.
    return Geometry, (g.origin.copy(), g.spacing.copy(), g.direction.copy())


def _read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _proxy(mapping: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _read_only, (dict(mapping),)


def load_analysis(path: Path, sha256: str) -> PatientAnalysis:
    """Read back what :func:`save_analysis` wrote, refusing any other content.

    Raises:
        DataFormatError: the file is missing or not the one that was written.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"cannot read the analysis: {exc.strerror}", path=path) from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DataFormatError("the analysis file changed since it was written", path=path)
    analysis = pickle.loads(data)
    if not isinstance(analysis, PatientAnalysis):
        raise DataFormatError("not an analysis", path=path)
    return analysis


def _outline(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _check_point(analysis: PatientAnalysis, t: int) -> Any:
    scans = analysis.follow.scans
    if not 0 <= t < len(scans):
        raise InputError(f"no time point {t} (the case has {len(scans)})", value=t)
    return scans[t]


def slice_png(
    analysis: PatientAnalysis, t: int, k: int, window: str = "lung", outlines: bool = True
) -> bytes:
    """Axial slice ``k`` of time point ``t`` in a named window, lesion outlines drawn.

    Raises:
        InputError: no such time point, slice or window.
    """
    scan = _check_point(analysis, t)
    if window not in WINDOWS:
        raise InputError(f"unknown window {window!r} (one of {', '.join(WINDOWS)})", value=window)
    array = scan.volume.array
    if not 0 <= k < array.shape[0]:
        raise InputError(f"no slice {k} (time point {t} has {array.shape[0]})", value=k)
    width, level = WINDOWS[window]
    plane = np.asarray(array[k], dtype=np.float64)
    grey = np.clip((plane - (level - width / 2)) / width * 255.0, 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    if outlines:
        follow = analysis.follow
        for n, track in enumerate(follow.tracks):
            mask = follow.mask_of(track, t)
            if mask is None or not mask[k].any():
                continue
            rgb[_outline(mask[k])] = _COLOURS[n % len(_COLOURS)]
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def lesion_slices(analysis: PatientAnalysis) -> dict[str, dict[int, int]]:
    """For each lesion (TrackingUniqueIdentifier), the slice of its largest area per time point."""
    follow = analysis.follow
    out: dict[str, dict[int, int]] = {}
    for track in follow.tracks:
        where: dict[int, int] = {}
        for t in range(len(follow.scans)):
            mask = follow.mask_of(track, t)
            if mask is not None and mask.any():
                where[t] = int(np.argmax(mask.sum(axis=(1, 2))))
        out[track.tracking_uid] = where
    return out


def evidence_png(analysis: PatientAnalysis, tracking_uid: str, t: int) -> bytes:
    """The key image of one lesion at time point ``t``: slice, outline, long and short axes.

    Raises:
        InputError: no such lesion, or the lesion has no outline on that time point.
    """
    scan = _check_point(analysis, t)
    follow = analysis.follow
    for track, lesion in zip(follow.tracks, analysis.lesions, strict=True):
        if track.tracking_uid != tracking_uid:
            continue
        mask = follow.mask_of(track, t)
        if mask is None or not mask.any():
            raise InputError(f"{lesion.tracking_identifier} has no outline on time point {t}")
        return key_image_for(lesion, scan.volume, mask, scan.exam_date.isoformat()).png
    raise InputError("no such lesion in the case", value=tracking_uid)


def draft(analysis: PatientAnalysis, decisions: Mapping[str, str], generated: str) -> Report:
    """The deterministic draft of the analysis as the radiologist's decisions leave it."""
    report, _ = deterministic_outputs(reviewed(analysis, decisions), generated)
    return report


def run_analysis(
    inputs: AnalysisInputs, folder: Path, progress: Callable[[str], None]
) -> tuple[PatientAnalysis, str]:
    """Analyze a patient and write what ``radcycle analyze`` writes into ``folder``
    (the AI's own draft, kept for the feedback export), plus ``analysis.pkl``.

    Returns:
        The analysis and the SHA-256 of ``analysis.pkl``.
    """
    analysis = analyze_patient(inputs, progress)
    progress("report")
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    report, findings = deterministic_outputs(analysis, generated)
    progress("write")
    write_outputs(analysis, report, findings, folder)
    return analysis, save_analysis(analysis, folder / ANALYSIS_FILE)


def edited_document(text: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """The report document of an edited text: its sections and sentences as written,
    each sentence checked by the verifier against the draft's facts.

    Section titles are the lines the plain-text report uses (``FINDINGS`` ...); a
    sentence before any title goes to the findings. Each sentence keeps the facts
    the verifier matched (its evidence) and ``verified`` says whether every claim
    was supported; ``verdicts`` lists the verifier's answers.
    """
    facts = tuple(Fact.from_dict(f) for f in document.get("facts") or ())
    titles = {title.upper(): name for name, title in SECTIONS.items()}
    sentences: dict[str, list[Sentence]] = {name: [] for name in SECTIONS}
    verdicts: list[dict[str, Any]] = []
    current, n = "findings", 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("RADIOLOGY REPORT", "Patient:")):
            continue
        if stripped.upper() in titles and stripped.isupper():
            current = titles[stripped.upper()]
            continue
        for sentence in split_sentences(stripped):
            n += 1
            verdict = verify_sentence(sentence, facts)
            verdicts.append(verdict.to_dict())
            sentences[current].append(
                Sentence(f"s{n}", sentence, verdict.fact_ids, "radiologist", verdict.supported)
            )
    out = dict(document)
    out["sections"] = [Section(name, tuple(items)).to_dict() for name, items in sentences.items()]
    out["verdicts"] = verdicts
    return out


def write_signed(
    analysis: PatientAnalysis,
    document: dict[str, Any],
    text: str,
    folder: Path,
    signature: dict[str, str],
) -> list[str]:
    """The signed report's files in ``folder``: report.txt and report.json as signed,
    SEG and SR per time point (SR marked VERIFIED by the signer), fhir.json with the
    DiagnosticReport ``final``, and report.html / report.pdf of the signed text.

    Returns:
        Warnings for exports left out.
    """
    signed = dict(document)
    signed["status"] = f"final - signed by {signature['name']} at {signature['at']}"
    signed["signature"] = dict(signature)
    signed["signed_text"] = text
    (folder / "report.txt").write_text(text)
    facts = tuple(Fact.from_dict(f) for f in signed.get("facts") or ())
    warnings = write_exports(analysis, signed, text, facts, folder)
    _finalise_sr(folder, signature)
    _finalise_seg(folder, signed["status"])
    _finalise_fhir(folder, signed["status"])
    (folder / "report.json").write_text(json.dumps(signed, indent=2))
    return warnings


def _finalise_sr(folder: Path, signature: dict[str, str]) -> None:
    # DICOM PS3.3 C.17.2: a verified SR names its verifying observer and time.
    stamp = datetime.fromisoformat(signature["at"]).strftime("%Y%m%d%H%M%S")
    for path in sorted(folder.glob("sr_*.dcm")):
        ds = pydicom.dcmread(path)
        observer = Dataset()
        observer.VerifyingObserverName = signature["name"]
        observer.VerifyingOrganization = signature.get("organization", "radcycle site")
        observer.VerificationDateTime = stamp
        observer.VerifyingObserverIdentificationCodeSequence = []
        ds.VerificationFlag = "VERIFIED"
        ds.CompletionFlag = "COMPLETE"
        ds.VerifyingObserverSequence = [observer]
        ds.SeriesDescription = "final - signed report"
        ds.save_as(path, enforce_file_format=True)


def _finalise_seg(folder: Path, status: str) -> None:
    # The draft notice in the SEG's descriptions gives way to the signature (LO: 64 chars).
    for path in sorted(folder.glob("seg_*.dcm")):
        ds = pydicom.dcmread(path)
        ds.SeriesDescription = "final - signed report"
        ds.ContentDescription = status[:64]
        ds.save_as(path, enforce_file_format=True)


def _undraft(resource: dict[str, Any]) -> None:
    """Drop the draft tag from a FHIR resource's meta (and an emptied meta)."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return
    tags = [t for t in meta.get("tag") or () if t.get("code") != "draft"]
    if tags:
        meta["tag"] = tags
    else:
        meta.pop("tag", None)
    if not meta:
        del resource["meta"]


def _finalise_fhir(folder: Path, status: str) -> None:
    path = folder / "fhir.json"
    if not path.is_file():
        return
    bundle = json.loads(path.read_text())
    _undraft(bundle)
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") or {}
        _undraft(resource)
        if resource.get("resourceType") in {"DiagnosticReport", "Observation"}:
            resource["status"] = "final"
        if resource.get("resourceType") == "DiagnosticReport":
            conclusion = str(resource.get("conclusion") or "")
            resource["conclusion"] = conclusion.replace(DRAFT_NOTICE, status, 1)
            for form in resource.get("presentedForm") or ():
                form["title"] = str(form.get("title") or "").replace(DRAFT_NOTICE, status)
    path.write_text(json.dumps(bundle, indent=2))
