"""Write the shipped model's registry entry from its training record and the cross-validation.

``python -m benchmarks.model_registry --update-cv NAME CV.json [--partners P ...]``
replaces the cross-validated metrics of the registry's model NAME (same
weights), keeping the rest of its entry; with ``--partners``, the registry
models it is read with (the CV measured so).

``python -m benchmarks.model_registry TRAINING.json CV.json [VERSION]`` copies the weights
named in TRAINING.json (from ``radcycle train-segmenter``) beside the registry,
and writes the entry: sha256, contract, training data, cost, the per-modality
cross-validated metrics of :mod:`benchmarks.bench_learned` and the modalities
on which the learned model is the default (:func:`default_modalities`); the
registry's other models are kept.
Then ``radcycle model-card click-unet --out docs/models/click-unet.md --force``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from radcycle.models.registry import REGISTRY, sha256_of

__all__ = ["by_fold", "default_modalities", "entry", "update_cv", "views_modalities"]

#: The learned model is the default on a modality where its centre-click Dice beats the
#: classical method's on the same series by at least this much on average ...
MIN_GAIN = 0.02
#: ... and on at least this share of the series.
MIN_WINS = 0.5


#: Modalities kept on the classical method whatever the sarcoma cross-validation says,
#: and why: ``auto`` on CT also serves chest lesions the model never saw, and the
#: lung gate of the router (lung around the click) does not see a large lung tumour
#: from inside it. Measured with the shipped model and the classical method on the
#: lung benchmark's cases, centre click and 8 clicks inside the reference (seed 0).
KEPT_CLASSICAL = {
    "CT": "the IBSI lung CT's GTV (a lung tumour: 7 of its 9 clicks are not taken for "
    "a lung lesion by the router's lung gate) is outlined at Dice 0.52 by the learned "
    "model against 0.77 by the classical method, pyradiomics lung1 at 0.13 against 0.92 "
    "and lung2 at 0.28 against 0.88 (mean of the centre and 8 inside clicks): CT stays "
    "classical so that lung lesions are no worse than before",
}


#: The same for the model with the other series: the lung cases have no other series, so
#: it was measured on them alone (centre and 8 inside clicks, seed 0).
KEPT_CLASSICAL_WITH_COMPANIONS = {
    "CT": "the lung cases have no other series to measure the model with, and alone (read "
    "with its partners, as it is used) it outlines the IBSI lung CT's GTV at Dice 0.51 against "
    "the classical method's 0.77, pyradiomics lung1 at 0.02 against 0.92 and lung2 at 0.23 "
    "against 0.88 (mean of the centre and 8 inside clicks): CT stays classical so that lung "
    "lesions are no worse than before",
}


def paired(cv: dict[str, Any], method: str = "learned") -> dict[str, list[tuple[float, float]]]:
    """Per modality: (learned, classical) centre-click Dice of each series
    (``method``: ``learned_with`` for the model with the other series)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for fold in cv["folds"]:
        for key, row in fold["series"].items():
            if row.get(method) and row.get("classical"):
                out.setdefault(key.split()[-1], []).append((row[method][0], row["classical"][0]))
    return out


def _verdict(diffs: list[float]) -> tuple[float, float, bool]:
    """Mean gain, share of series gained, and whether that clears
    :data:`MIN_GAIN` and :data:`MIN_WINS` (the one rule of every choice here)."""
    diff = np.asarray(diffs, dtype=np.float64)
    gain, wins = float(diff.mean()), float(np.mean(diff > 0))
    return gain, wins, gain >= MIN_GAIN and wins > MIN_WINS


def default_modalities(
    cv: dict[str, Any], method: str = "learned", kept_classical: dict[str, str] | None = None
) -> tuple[list[str], str]:
    """The modalities where the learned model is the default, and why."""
    kept_by = KEPT_CLASSICAL if kept_classical is None else kept_classical
    chosen, reasons = [], []
    for modality, pairs in sorted(paired(cv, method).items()):
        gain, wins, keep = _verdict([a - b for a, b in pairs])
        kept = kept_by.get(modality)
        if keep and kept is None:
            chosen.append(modality)
        verdict = "learned" if keep and kept is None else "classical"
        if keep and kept is not None:
            verdict += f", although the sarcoma series favour the learned model: {kept}"
        reasons.append(
            f"{modality}: learned - classical centre-click Dice {gain:+.3f} on average, "
            f"better on {wins:.0%} of {len(pairs)} series: {verdict}"
        )
    rule = (
        f"The learned model is the default where it beats the classical method's centre-click "
        f"Dice by {MIN_GAIN} or more on average and on more than {MIN_WINS:.0%} of the series "
        "of the same folds. " + "; ".join(reasons) + "."
    )
    return chosen, rule


def views_modalities(cv: dict[str, Any]) -> tuple[list[str], str]:
    """The modalities where the model with the other series reads the tumour
    from every series in turn (``learned_views``), and why: where that beats
    reading the clicked series with the others beside it (``learned_with``) by
    :data:`MIN_GAIN` or more on average and on more than :data:`MIN_WINS` of
    the series of the same folds."""
    pairs: dict[str, list[float]] = {}
    for fold in cv["folds"]:
        for key, row in fold["series"].items():
            if row.get("learned_views") and row.get("learned_with"):
                diff = row["learned_views"][0] - row["learned_with"][0]
                pairs.setdefault(key.split()[-1], []).append(diff)
    chosen, reasons = [], []
    for modality, diffs in sorted(pairs.items()):
        gain, wins, keep = _verdict(diffs)
        if keep:
            chosen.append(modality)
        reasons.append(
            f"{modality}: every view - the clicked series' centre-click Dice {gain:+.3f} on "
            f"average, better on {wins:.0%} of {len(diffs)} series: "
            + ("every view" if keep else "the clicked series")
        )
    rule = (
        "With the other series, the model reads the tumour from every series in turn (the "
        f"probabilities averaged) where that beats its reading of the clicked series by "
        f"{MIN_GAIN} or more on average and on more than {MIN_WINS:.0%} of the series of the "
        "same folds. " + "; ".join(reasons) + "."
    )
    return chosen, rule


def update_cv(
    spec: dict[str, Any], cv: dict[str, Any], partners: list[str] | None = None
) -> dict[str, Any]:
    """A registry entry with the cross-validated metrics of ``cv`` (its summary,
    spread by fold, the modalities it is the default for and, with the other
    series, those read from every view,
    and its ``protocol`` and ``failure_modes`` where it has them), the rest of
    the entry (weights, training, other measurements) kept;
    ``partners``: the registry models it is now read with (``cv`` measured so),
    its version raised by one where they change."""
    spec = dict(spec)
    if partners is not None and list(spec.get("partners", [])) != partners:
        spec["partners"] = partners
        spec["version"] = str(int(spec["version"]) + 1)
    metrics = dict(spec["metrics"])
    metrics["cv"] = cv["summary"]
    metrics["cv_by_fold"] = by_fold(cv)
    if spec["contract"].get("companions"):
        metrics["views_for"], metrics["views_decision"] = views_modalities(cv)
        metrics["default_for"], metrics["decision"] = default_modalities(
            cv, "learned_with", KEPT_CLASSICAL_WITH_COMPANIONS
        )
    else:
        metrics["default_for"], metrics["decision"] = default_modalities(cv)
    for key in ("protocol", "failure_modes"):
        if cv.get(key):
            metrics[key] = cv[key]
    return {**spec, "metrics": metrics}


def by_fold(cv: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per fold and modality: the mean centre-click Dice of each method (the spread
    between folds)."""
    out: dict[str, dict[str, float]] = {}
    for fold in cv["folds"]:
        acc: dict[str, list[float]] = {}
        for key, row in fold["series"].items():
            for method in ("learned", "learned_with", "learned_views", "classical"):
                if row.get(method):
                    acc.setdefault(f"{method} {key.split()[-1]}", []).append(row[method][0])
        out[str(fold["fold"])] = {k: round(float(np.mean(v)), 3) for k, v in sorted(acc.items())}
    return out


def entry(training: dict[str, Any], cv: dict[str, Any], weights_name: str) -> dict[str, Any]:
    """The registry entry; ``cv`` may carry ``protocol_note`` (how it was run, to
    reproduce it) and ``failure_modes`` (measured limits), else the defaults."""
    companions = bool(training["contract"].get("companions"))
    default, rule = (
        default_modalities(cv, "learned_with", KEPT_CLASSICAL_WITH_COMPANIONS)
        if companions
        else default_modalities(cv)
    )
    members = int(training.get("members", 1))
    seeds = training.get("member_seeds", [training["random_seed"]])
    each = (
        f"{members} networks trained alike under random seeds "
        f"{', '.join(str(x) for x in seeds)} and shipped as one ONNX graph whose output is "
        "their mean probability (a seed ensemble), each"
        if members > 1
        else f"random seed {training['random_seed']}, one network"
    )
    folds = cv["folds"]
    contract = training["contract"]
    grid, patch = contract["spacing_mm"], contract["patch"]
    lr = training.get("learning_rate", 3e-3)
    channels = ", ".join(str(c) for c in training.get("channels", (8, 16, 32, 64)))
    cap = cv.get("seconds_cap") or 0
    budget = f"{cv.get('steps', '?')} steps" + (
        f" or {cap:.0f} s, whichever came first" if cap else ""
    )
    out: dict[str, Any] = {
        "name": training["name"],
        "version": str(training.get("version", "2")),
        "file": weights_name,
        "sha256": training["sha256"],
        "labels": ["lesion"],
        "contract": contract,
        "training": {
            "network": f"MONAI 3D U-Net, channels ({channels}), strides 2, one residual unit "
            "per level, instance norm; input "
            + (
                "an image and a field-of-view channel per modality (the clicked series and "
                "the patient's other series sampled at the same points)"
                if companions
                else "image"
            )
            + " + positive and negative click maps"
            + ("" if companions else " + modality one-hot")
            + "; one logit",
            "data": f"{len(training['patients'])} soft-tissue sarcoma patients "
            f"({', '.join(training['patients'])}), {training['series']} series: CT, T1 MR "
            "(N4-corrected, normalised) and FDG PET (SUV), cropped 5 cm around the tumour, "
            "with the reference outline on each (IBSI validation data set, from TCIA "
            "Soft-tissue-Sarcoma)",
            "licence": "the TCIA collection's (CC BY 3.0); the IBSI validation crops as "
            "published by the IBSI",
            "procedure": f"{each} {training['steps']} AdamW steps of {training['batch']} "
            f"patches of {patch}³ voxels at {grid:g} mm (Dice + cross-entropy loss, cosine "
            f"learning rate {lr:g} to {lr / 10:g}), one model for the three modalities; "
            "images smoothed (Gaussian anti-aliasing) before resampling to "
            "the model grid; clicks simulated at the centre, inside and at the edge, the "
            "patch centred on the click within 2 voxels as at inference; corrective clicks on "
            "the network's own errors on 30 % of steps, negative clicks outside on 15 %; "
            "flips, transposition, rotation and scaling (0.8-1.25, on 50 %), intensity shift "
            "and scale, noise, blur"
            + (
                "; each series of a patient a training case with the others sampled on its "
                "grid, all of them kept on 50 % of patches and each other one by a coin toss "
                "on the rest, so the model learns every combination"
                if companions
                else ""
            ),
            "cost": f"{training['train_seconds']} s wall on a 2-core CPU shared with other "
            f"jobs, {training.get('cpu_seconds', '?')} s of CPU (one torch thread: the "
            "whole command, data loading and export included), peak memory "
            f"{training['peak_rss_mb']} MB (resident set of the process); weights "
            f"{training['bytes']} bytes",
            "command": f"radcycle train-segmenter DATA --out DIR --steps {training['steps']} "
            f"--batch {training['batch']} --random-seed {training['random_seed']}"
            + (f" --members {members}" if members > 1 else "")
            + (" --companions" if companions else "")
            + (f" --spacing-mm {grid:g}" if grid != 8.0 else "")
            + (
                f" --name {training['name']}"
                if training["name"] not in ("click-unet", "click-unet-mm")
                else ""
            ),
        },
        "metrics": {
            "protocol": "5-fold cross-validation by patient over the 23 sarcoma patients "
            "(folds by a permutation of seed 0), one model per fold trained on the other "
            f"patients with the shipped recipe for {budget} "
            f"({', '.join(str(f['steps']) for f in folds)} steps); Dice against the reference "
            "on the image grid, mean ± SD over patients; the centre click is the lesion "
            "benchmark's (the reference's centroid voxel or its deepest), the off-centre "
            "clicks 8 points well inside the reference (seed 0); the classical method on the "
            "same clicks of the same series. Seconds per click were measured on the 2-core "
            "machine shared with other heavy jobs (see benchmarks/bench_onnx_click.py for the "
            "ONNX time). Reproduce: RADCYCLE_CV_STEPS=2500 RADCYCLE_CV_SECONDS=1100 "
            "RADCYCLE_CV_CLASSICAL_CLICKS=8 python -m benchmarks.bench_learned --out cv.json "
            "(run here as folds 0-2 and 3-4 in two processes, one torch thread each, and the "
            "classical method apart with --no-learned, joined with --merge).",
            "cv": cv["summary"],
            "cv_by_fold": by_fold(cv),
            "cv_peak_rss_mb": cv.get("peak_rss_mb"),
            "default_for": default,
            "decision": rule,
            "failure_modes": [
                "The goal of 0.80 centre-click Dice is not met, and the model underfits: on "
                "its own training series it reaches only 0.67 (CT), 0.68 (MR) and 0.71 (PET) "
                "at the centre click. Training took about 190 s of CPU but half an hour of "
                "wall time on the shared machine. More steps alone did not close the gap: on "
                "folds 0 and 3 of the cross-validation, 8,000 steps gave a centre-click Dice "
                "of 0.65 (CT), 0.60 (MR) and 0.64 (PET) against 0.61, 0.62 and 0.67 at about "
                "1,650 steps (means over their 9 patients).",
                f"Resampled to {grid:g} mm: outlines of lesions under about 3 cm are coarse, "
                "and thin extensions of a tumour are lost.",
                f"Lesions wider than the {patch * grid:.0f} mm patch rely on the sliding "
                "window over a region twice as wide; wider ones are cut and flagged leak.",
                "Trained on 23 patients' series cropped 5 cm around the tumour: a click on "
                "an uncropped series, or a lesion unlike a soft-tissue sarcoma, is outside "
                "what was measured.",
                "Never trained on lung lesions: on the IBSI lung CT's GTV it reaches Dice "
                "0.52 against the classical method's 0.77, on pyradiomics lung1 0.13 against "
                "0.92 and on lung2 0.28 against 0.88 (mean of the centre and 8 inside "
                "clicks): the classical methods keep them.",
                "An outline whose mean probability is under 0.75 is flagged uncertain.",
            ],
        },
    }
    metrics = out["metrics"]
    if companions:
        metrics["views_for"], metrics["views_decision"] = views_modalities(cv)
    if cv.get("protocol"):
        metrics["protocol"] = cv["protocol"]
    if cv.get("failure_modes"):
        metrics["failure_modes"] = cv["failure_modes"]
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--update-cv":
        # --update-cv NAME CV.json [--partners NAME ...]: new cross-validated metrics
        # for the same weights (read with these partners)
        name, cv = argv[1], json.loads(Path(argv[2]).read_text())
        partners = argv[4:] if len(argv) > 3 and argv[3] == "--partners" else None
        models = json.loads(REGISTRY.read_text())["models"]
        names = {m["name"] for m in models}
        if name not in names or not set(partners or []) <= names:
            raise SystemExit(f"no model {name!r} or a partner of it in {REGISTRY}")
        models = [update_cv(m, cv, partners) if m["name"] == name else m for m in models]
        REGISTRY.write_text(json.dumps({"models": models}, indent=2, ensure_ascii=False) + "\n")
        print(f"updated the metrics of {name} in {REGISTRY}")
        return 0
    training = json.loads(Path(argv[0]).read_text())
    if len(argv) > 2:
        training["version"] = argv[2]
    cv = json.loads(Path(argv[1]).read_text())
    weights = Path(training["weights"])
    name = f"{training['name']}.onnx"
    target = REGISTRY.parent / name
    shutil.copyfile(weights, target)
    if sha256_of(target) != training["sha256"]:
        raise SystemExit("the copied weights do not match their training record")
    new = entry(training, cv, name)
    models = json.loads(REGISTRY.read_text())["models"] if REGISTRY.exists() else []
    models = [new if m["name"] == new["name"] else m for m in models]
    if new not in models:
        models.append(new)
    REGISTRY.write_text(json.dumps({"models": models}, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {REGISTRY} and {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
