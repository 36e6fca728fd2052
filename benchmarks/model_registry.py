"""Write the shipped model's registry entry from its training record and the cross-validation.

``python -m benchmarks.model_registry TRAINING.json CV.json`` copies the weights
named in TRAINING.json (from ``radcycle train-segmenter``) beside the registry,
and writes the entry: sha256, contract, training data, cost, the per-modality
cross-validated metrics of :mod:`benchmarks.bench_learned` and the modalities
on which the learned model is the default (:func:`default_modalities`).
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

__all__ = ["default_modalities", "entry"]

#: The learned model is the default on a modality where its centre-click Dice beats the
#: classical method's on the same series by at least this much on average ...
MIN_GAIN = 0.02
#: ... and on at least this share of the series.
MIN_WINS = 0.5


def paired(cv: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """Per modality: (learned, classical) centre-click Dice of each series."""
    out: dict[str, list[tuple[float, float]]] = {}
    for fold in cv["folds"]:
        for key, row in fold["series"].items():
            if row["learned"] and row["classical"]:
                out.setdefault(key.split()[-1], []).append((row["learned"][0], row["classical"][0]))
    return out


def default_modalities(cv: dict[str, Any]) -> tuple[list[str], str]:
    """The modalities where the learned model is the default, and why."""
    chosen, reasons = [], []
    for modality, pairs in sorted(paired(cv).items()):
        diff = np.array([a - b for a, b in pairs])
        gain, wins = float(diff.mean()), float(np.mean(diff > 0))
        keep = gain >= MIN_GAIN and wins > MIN_WINS
        if keep:
            chosen.append(modality)
        reasons.append(
            f"{modality}: learned - classical centre-click Dice {gain:+.3f} on average, "
            f"better on {wins:.0%} of {len(pairs)} series: "
            f"{'learned' if keep else 'classical'}"
        )
    rule = (
        f"The learned model is the default where it beats the classical method's centre-click "
        f"Dice by {MIN_GAIN} or more on average and on more than {MIN_WINS:.0%} of the series "
        "of the same folds. " + "; ".join(reasons) + "."
    )
    return chosen, rule


def entry(training: dict[str, Any], cv: dict[str, Any], weights_name: str) -> dict[str, Any]:
    default, rule = default_modalities(cv)
    folds = cv["folds"]
    return {
        "name": training["name"],
        "version": "1",
        "file": weights_name,
        "sha256": training["sha256"],
        "labels": ["lesion"],
        "contract": training["contract"],
        "training": {
            "network": "MONAI 3D U-Net, channels (8, 16, 32, 64), strides 2, one residual unit "
            "per level, instance norm; input image + positive and negative click maps + "
            "modality one-hot; one logit",
            "data": f"{len(training['patients'])} soft-tissue sarcoma patients "
            f"({', '.join(training['patients'])}), {training['series']} series: CT, T1 MR "
            "(N4-corrected, normalised) and FDG PET (SUV), cropped 5 cm around the tumour, "
            "with the reference outline on each (IBSI validation data set, from TCIA "
            "Soft-tissue-Sarcoma)",
            "licence": "the TCIA collection's (CC BY 3.0); the IBSI validation crops as "
            "published by the IBSI",
            "procedure": f"{training['steps']} AdamW steps of {training['batch']} patches "
            "(Dice + cross-entropy loss, cosine learning rate 3e-3 to 3e-4), random seed "
            f"{training['random_seed']}; clicks simulated at the centre, inside and at the "
            "edge, corrective clicks on the network's own errors on 30 % of steps, negative "
            "clicks outside on 15 %; flips, transposition, rotation and scaling (20 %), "
            "intensity shift and scale, noise, blur",
            "cost": f"{training['train_seconds']} s on a shared 2-core CPU, peak memory "
            f"{training['peak_rss_mb']} MB (resident set of the process); weights "
            f"{training['bytes']} bytes",
            "command": f"radcycle train-segmenter DATA --out DIR --steps 100000 --seconds "
            f"{round(training['train_seconds'])} --batch {training['batch']} "
            f"--random-seed {training['random_seed']}",
        },
        "metrics": {
            "protocol": "5-fold cross-validation by patient over the 23 sarcoma patients "
            "(folds by a permutation of seed 0), one model per fold trained on the other "
            f"patients for {cv['seconds_cap']:.0f} s ({', '.join(str(f['steps']) for f in folds)} "
            "steps); Dice against the reference on the image grid, mean ± SD over patients; "
            "the centre click is the lesion benchmark's (the reference's centroid voxel or its "
            "deepest), the off-centre clicks 8 points well inside the reference (seed 0). "
            "The classical method was run on the centre click of the same series. "
            "Seconds per click were measured while the 2-core machine ran other heavy jobs "
            "(load average 10-15): the classical method took 1.5-5 s a sarcoma click on the "
            "same machine less loaded (benchmarks/outline_snapshot.py). "
            "Reproduce: python -m benchmarks.bench_learned --out cv.json",
            "cv": cv["summary"],
            "cv_peak_rss_mb": cv.get("peak_rss_mb"),
            "default_for": default,
            "decision": rule,
            "failure_modes": [
                "Trained on CPU time a shared 2-core machine allowed: a few hundred steps, "
                "far from convergence; the goal of 0.80 centre-click Dice is not met.",
                "Lesions wider than the 96 mm patch rely on the sliding window over a region "
                "twice as wide; wider ones are cut and flagged leak.",
                "Resampled to 4 mm: outlines of lesions under about 2 cm are coarse.",
                "Never trained on lung nodules: keep the classical lung method for them.",
                "An outline whose mean probability is under 0.75 is flagged uncertain.",
            ],
        },
    }


def main(argv: list[str]) -> int:
    training = json.loads(Path(argv[0]).read_text())
    cv = json.loads(Path(argv[1]).read_text())
    weights = Path(training["weights"])
    name = f"{training['name']}.onnx"
    target = REGISTRY.parent / name
    shutil.copyfile(weights, target)
    if sha256_of(target) != training["sha256"]:
        raise SystemExit("the copied weights do not match their training record")
    REGISTRY.write_text(
        json.dumps({"models": [entry(training, cv, name)]}, indent=2, ensure_ascii=False) + "\n"
    )
    print(f"wrote {REGISTRY} and {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
