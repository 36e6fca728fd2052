"""The learned click-to-segment model against the classical methods, cross-validated by patient.

The 23 sarcoma patients of ``ibsi/ibsi_validation/nifti`` are split into 5
folds (generator seed 0); for each fold one model is trained on the other
patients' CT, T1 MR and PET (:func:`radcycle.models.training.train`, capped
at ``RADCYCLE_CV_SECONDS`` seconds, default 240, under the fixed seed) and
tested on the fold's patients, at the click of the lesion benchmark's centre
(the reference's centroid voxel, or its deepest) and at
``RADCYCLE_CV_CLICKS`` (default 8) clicks well inside the reference
(:func:`radcycle.imaging.masks.points_inside`, seed 0). The classical method
(:func:`radcycle.imaging.segmentation.segment_at_seed`) is run on the same
series at the centre click and the first ``RADCYCLE_CV_CLASSICAL_CLICKS``
(default 2) of those clicks. With ``--tta`` the learned model is also scored
with its eight-mirroring test-time ensemble at the centre click and the first
``RADCYCLE_CV_TTA_CLICKS`` (default 2) off-centre clicks. With
``RADCYCLE_CV_CORRECTIONS=N`` each learned model is also scored after N
corrective clicks following the centre click (:func:`_corrected`). With
``--companions`` the model takes the patient's co-registered series of the
other modalities (:data:`radcycle.models.training.COMPANION_CONTRACT`); it is
scored on each series alone (``learned``) and with the patient's other two
series beside it (``learned_with``), and with them read from every series in
turn (``learned_views``: the probabilities of the model run with each series
as the outlined one, averaged). ``--methods`` scores only the learned variants
named. ``--models DIR``
keeps each fold's weights, and ``--reuse-models`` scores them again without
training (for inference-side changes on the same folds).

Reported per modality: the mean and SD over patients of the centre-click
Dice, and the mean of the off-centre Dice, for both methods; the training
seconds per fold and the process's peak memory.

Run: ``python -m benchmarks.bench_learned --out cv.json`` (or
``python -m benchmarks.run learned``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from benchmarks.bench_lung import _seed_in
from benchmarks.bench_mining import shared_root
from radcycle.domain import Volume
from radcycle.errors import RadcycleError
from radcycle.imaging.masks import array_spacing, points_inside
from radcycle.imaging.segmentation import segment_at_seed
from radcycle.io import read_image
from radcycle.models.interactive import FLIP_ENSEMBLE, LearnedSegmenter
from radcycle.models.protocol import InputContract, ModelSpec
from radcycle.models.training import (
    COMPANION_CONTRACT,
    DEFAULT_CONTRACT,
    SARCOMA_SERIES,
    TorchModel,
    TrainingSettings,
    build_network,
    corrective_click,
    ensemble,
    load_sarcoma_cases,
    train,
)

__all__ = [
    "companion_series",
    "cross_validate",
    "folds",
    "merge_folds",
    "summary",
    "with_classical",
]

FOLDS = 5
SECONDS = float(os.environ.get("RADCYCLE_CV_SECONDS", "0"))
STEPS = int(os.environ.get("RADCYCLE_CV_STEPS", str(TrainingSettings().steps)))
CLICKS = int(os.environ.get("RADCYCLE_CV_CLICKS", "8"))
CLASSICAL_CLICKS = int(os.environ.get("RADCYCLE_CV_CLASSICAL_CLICKS", "2"))
TTA_CLICKS = int(os.environ.get("RADCYCLE_CV_TTA_CLICKS", "2"))
CORRECTIONS = int(os.environ.get("RADCYCLE_CV_CORRECTIONS", "0"))

#: The methods a result may hold, each scored per series.
METHODS = ("learned", "learned_with", "learned_views", "learned_tta", "classical")

#: The learned variants that run with the patient's other series.
WITH_OTHERS = ("_with", "_views")


def sarcoma_root() -> Path:
    return shared_root() / "data" / "ibsi" / "ibsi_validation" / "nifti"


def folds(patients: list[str], n: int = FOLDS, seed: int = 0) -> list[list[str]]:
    """``patients`` split into ``n`` folds by a seeded permutation."""
    order = [patients[i] for i in np.random.default_rng(seed).permutation(len(patients))]
    return [sorted(order[k::n]) for k in range(n)]


def _dice(got: npt.NDArray[np.bool_], ref: npt.NDArray[np.bool_]) -> float:
    total = float(got.sum() + ref.sum())
    return 2.0 * float((got & ref).sum()) / total if total else 0.0


def companion_series(image: Path, modality: str) -> dict[str, Volume]:
    """The patient's other series, by modality, beside ``image``."""
    out = {}
    for name, other in SARCOMA_SERIES:
        path = image.parent / f"{name}_image.nii.gz"
        if other != modality and path.exists():
            volume = read_image(path)
            out[other] = volume.with_array(volume.array, modality=other)
    return out


def _corrected(
    segmenter: LearnedSegmenter,
    volume: Volume,
    ref: npt.NDArray[np.bool_],
    centre: tuple[int, int, int],
    modality: str,
) -> list[float]:
    """Dice after each of :data:`CORRECTIONS` corrective clicks after the centre
    click, each on the largest error of the outline before it, at its deepest
    voxel (a positive click in a missed part, a negative one in a leak), as a
    reader corrects."""
    positive, negative = [centre], []
    got = segmenter.segment(volume, positive, [], modality).outline.full(volume.array.shape)
    out = []
    for _ in range(CORRECTIONS):
        click = corrective_click(got, ref)
        if click is None:
            out.append(round(_dice(got, ref), 4))
            continue
        (positive if click[1] else negative).append(click[0])
        try:
            outline = segmenter.segment(volume, positive, negative, modality).outline
            got = outline.full(volume.array.shape)
        except RadcycleError:
            got = np.zeros_like(ref)
        out.append(round(_dice(got, ref), 4))
    return out


def _evaluate_series(
    segmenters: dict[str, LearnedSegmenter],
    image: Path,
    mask: Path,
    modality: str,
    classical: bool,
) -> dict[str, Any]:
    volume = read_image(image)
    volume = volume.with_array(volume.array, modality=modality)
    if any(name.endswith(WITH_OTHERS) for name in segmenters):
        others = companion_series(image, modality)
        segmenters = {
            name: replace(s, companions=others) if name.endswith(WITH_OTHERS) else s
            for name, s in segmenters.items()
        }
    ref = np.asarray(read_image(mask).array > 0)
    clicks = [_seed_in(ref), *points_inside(ref, array_spacing(volume), CLICKS)]
    row: dict[str, Any] = {"classical": [], "classical_s": []}
    for name in segmenters:
        row[name], row[f"{name}_s"] = [], []
        if CORRECTIONS and not name.endswith("_tta"):
            try:
                row[f"{name}_corrected"] = _corrected(
                    segmenters[name], volume, ref, clicks[0], modality
                )
            except RadcycleError:
                row[f"{name}_corrected"] = [0.0] * CORRECTIONS
    for n, kji in enumerate(clicks):
        for name, segmenter in segmenters.items():
            if name.endswith("_tta") and n > TTA_CLICKS:
                continue
            start = time.perf_counter()
            try:
                out = segmenter.segment(volume, [kji], [], modality).outline
                got = out.full(volume.array.shape)
                row[name].append(round(_dice(got, ref), 4))
                if n == 0:
                    row[f"{name}_quality"] = out.quality.value
            except RadcycleError:
                row[name].append(0.0)
            row[f"{name}_s"].append(round(time.perf_counter() - start, 3))
        if classical and n <= CLASSICAL_CLICKS:
            p = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
            start = time.perf_counter()
            try:
                res = segment_at_seed(volume, (float(p[0]), float(p[1]), float(p[2])))
                row["classical"].append(round(_dice(np.asarray(res.mask.array, bool), ref), 4))
            except RadcycleError:
                row["classical"].append(0.0)
            row["classical_s"].append(round(time.perf_counter() - start, 3))
    return row


def cross_validate(
    root: Path,
    seconds: float = SECONDS,
    steps: int = STEPS,
    classical: bool = True,
    log: Any = print,
    partial: Path | None = None,
    only: list[int] | None = None,
    learned: bool = True,
    models: Path | None = None,
    reuse: bool = False,
    flips: bool = False,
    seed_offset: int = 0,
    members: list[Path] | None = None,
    contract: InputContract = DEFAULT_CONTRACT,
    methods: list[str] | None = None,
    partners: list[tuple[Path, float]] | None = None,
) -> dict[str, Any]:
    """Per fold: the training log and, per held-out series, the Dice of each click.

    ``learned=False`` runs the classical method alone (no training): its Dice
    does not depend on the fold, so it can run apart and be merged (``--merge``).
    ``models``: each fold's trained weights are kept there (``fold{k}.pt``),
    or, with ``reuse``, read from there instead of training. ``flips``: the
    learned model is also scored with its eight-mirroring test-time ensemble
    (``learned_tta``). ``seed_offset``: fold ``k`` trains with seed ``k +
    seed_offset``. ``members``: more folders of kept weights; the fold's model is
    then the ensemble (:func:`~radcycle.models.training.ensemble`) of the weights
    kept for it in ``models`` and in each of these. ``contract``: the grid and
    patch to train and score at (the shipped model's by default). ``methods``:
    only these learned variants are scored (all by default). ``partners``:
    folders of fold weights kept from runs on other grids (``--spacing-mm``),
    with their grid: each fold's model is scored with them as its
    ``partners`` (the mean of every grid's reading).
    """
    import torch

    patients = sorted(p.name for p in root.glob("STS_*") if p.is_dir())
    cases = load_sarcoma_cases(root, read_image, contract)
    out: dict[str, Any] = {
        "contract": contract.to_dict(),
        "folds": [],
        "seconds_cap": seconds,
        "steps": steps,
        "patients": len(patients),
    }
    if partners:
        out["partner_grids_mm"] = [mm for _, mm in partners]
    for k, held in enumerate(folds(patients)):
        if only is not None and k not in only:
            continue
        settings = TrainingSettings(
            steps=steps,
            time_limit_s=seconds if seconds > 0 else float("inf"),
            random_seed=k + seed_offset,
        )
        start = time.perf_counter()
        segmenters: dict[str, LearnedSegmenter] = {}
        if learned:
            saved = None if models is None else models / f"fold{k}.pt"
            if reuse and saved is not None:
                nets = []
                for folder in [models, *(members or [])]:
                    one = build_network(contract, settings.channels)
                    one.load_state_dict(torch.load(folder / f"fold{k}.pt", weights_only=True))
                    one.eval()
                    nets.append(one)
                net = ensemble(nets)
            else:
                train_cases = [c for c in cases if c.patient not in held]
                net = train(train_cases, contract, settings)
                if saved is not None:
                    saved.parent.mkdir(parents=True, exist_ok=True)
                    torch.save(net.state_dict(), saved)
            spec = ModelSpec("click-unet-cv", f"fold{k}", "", "", ("lesion",), contract)
            grids = tuple(
                _kept_model(folder, k, replace(contract, spacing_mm=mm), settings.channels)
                for folder, mm in (partners or [])
            )
            one = LearnedSegmenter(TorchModel(net, spec), partners=grids)
            segmenters["learned"] = one
            if contract.companions:
                segmenters["learned_with"] = one
                segmenters["learned_views"] = replace(one, views=True)
            if flips:
                segmenters["learned_tta"] = replace(one, flips=FLIP_ENSEMBLE)
        if methods is not None:
            segmenters = {name: s for name, s in segmenters.items() if name in methods}
        trained = time.perf_counter() - start
        series: dict[str, Any] = {}
        for patient in held:
            for name, modality in SARCOMA_SERIES:
                image = root / patient / f"{name}_image.nii.gz"
                mask = root / patient / f"{name}_mask.nii.gz"
                if image.exists() and mask.exists():
                    series[f"{patient} {modality}"] = _evaluate_series(
                        segmenters, image, mask, modality, classical
                    )
        fold = {
            "fold": k,
            "held_out": held,
            "train_seconds": round(trained, 1),
            "steps": len(settings.log),
            "final_loss": round(float(np.mean([x["loss"] for x in settings.log[-20:]])), 4)
            if settings.log
            else None,
            "series": series,
        }
        out["folds"].append(fold)
        log(f"fold {k}: {fold['steps']} steps in {trained:.0f} s, held out {held}")
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
        if partial is not None:
            partial.write_text(json.dumps(out, indent=1) + "\n")
    return out


def _kept_model(
    folder: Path, fold: int, contract: InputContract, channels: tuple[int, ...]
) -> TorchModel:
    """The weights a run kept for ``fold`` in ``folder``, on ``contract``'s grid."""
    import torch

    net = build_network(contract, channels)
    net.load_state_dict(torch.load(folder / f"fold{fold}.pt", weights_only=True))
    net.eval()
    name = f"click-unet-cv-{contract.spacing_mm:g}mm"
    return TorchModel(net, ModelSpec(name, f"fold{fold}", "", "", ("lesion",), contract))


def merge_folds(folds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Folds of several runs joined by fold number; a series' clicks measured in
    one run (the learned model) and another (the classical method) are joined."""
    out: dict[int, dict[str, Any]] = {}
    for fold in folds:
        have = out.get(fold["fold"])
        if have is None:
            out[fold["fold"]] = {**fold, "series": {k: dict(v) for k, v in fold["series"].items()}}
            continue
        if fold.get("steps") and not have.get("steps"):
            have.update({k: v for k, v in fold.items() if k != "series"})
        for key, row in fold["series"].items():
            mine = have["series"].setdefault(key, {})
            for name, values in row.items():
                if values and not mine.get(name):
                    mine[name] = values
    return [out[k] for k in sorted(out)]


def with_classical(result: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``result`` with the classical method's clicks of ``other`` on the same series
    (the classical method does not depend on the fold: measured once, reused)."""
    rows = {key: row for fold in other["folds"] for key, row in fold["series"].items()}
    for fold in result["folds"]:
        for key, row in fold["series"].items():
            if not row.get("classical") and rows.get(key, {}).get("classical"):
                row["classical"] = rows[key]["classical"]
                row["classical_s"] = rows[key]["classical_s"]
    return result


def summary(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per modality: centre-click Dice mean and SD over patients, off-centre mean,
    for the learned and the classical method."""
    rows: dict[str, dict[str, list[float]]] = {}
    for fold in result["folds"]:
        for key, row in fold["series"].items():
            modality = key.split()[-1]
            acc = rows.setdefault(modality, {})
            for method in METHODS:
                values = row.get(method)
                if values:
                    acc.setdefault(f"{method} centre", []).append(values[0])
                    if values[1:]:
                        acc.setdefault(f"{method} off", []).extend(values[1:])
                    acc.setdefault(f"{method} s", []).extend(row[f"{method}_s"])
                for n, value in enumerate(row.get(f"{method}_corrected", []), start=1):
                    acc.setdefault(f"{method} corrected {n}", []).append(value)
    out: dict[str, dict[str, float]] = {}
    for modality, acc in sorted(rows.items()):
        out[modality] = {}
        for key, values in acc.items():
            v = np.asarray(values, dtype=np.float64)
            out[modality][f"{key} mean"] = round(float(v.mean()), 3)
            if key.endswith(("centre", "off")) or " corrected " in key:
                out[modality][f"{key} sd"] = round(float(v.std(ddof=1)) if v.size > 1 else 0.0, 3)
                out[modality][f"{key} n"] = int(v.size)
    return out


def _cell(s: dict[str, float], key: str) -> str:
    if f"{key} mean" not in s:
        return "-"
    return f"{s[f'{key} mean']:.3f} ± {s[f'{key} sd']:.3f} (n={int(s[f'{key} n'])})"


def table(result: dict[str, Any]) -> Table:
    out = Table(
        title="Click-to-segment, 5-fold cross-validation by patient over the sarcoma series: "
        "learned (ONNX-equivalent torch net) vs classical, Dice mean ± SD over patients"
    )
    for column in (
        "modality",
        "learned centre",
        "learned + other series centre",
        "learned + other series, every view centre",
        "learned 8-flip centre",
        "classical centre",
        "learned off",
        "learned + other series off",
        "classical off",
        "learned s/click",
        "classical s/click",
    ):
        out.add_column(column, justify="right")
    for modality, s in summary(result).items():
        out.add_row(
            modality,
            _cell(s, "learned centre"),
            _cell(s, "learned_with centre"),
            _cell(s, "learned_views centre"),
            _cell(s, "learned_tta centre"),
            _cell(s, "classical centre"),
            _cell(s, "learned off"),
            _cell(s, "learned_with off"),
            _cell(s, "classical off"),
            f"{s.get('learned s mean', float('nan')):.2f}",
            f"{s.get('classical s mean', float('nan')):.2f}",
        )
    return out


def run(workdir: Path) -> Table:
    """``python -m benchmarks.run learned``."""
    return table(cross_validate(sarcoma_root()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_learned")
    parser.add_argument("--out", type=Path, required=True, help="results (JSON)")
    parser.add_argument("--no-classical", action="store_true")
    parser.add_argument("--no-learned", action="store_true", help="the classical method alone")
    parser.add_argument("--folds", help="only these folds, e.g. 2,3,4")
    parser.add_argument("--merge", type=Path, nargs="+", help="merge these results instead")
    parser.add_argument(
        "--classical-from",
        type=Path,
        help="with --merge: the classical method's clicks taken from this earlier result",
    )
    parser.add_argument("--models", type=Path, help="keep each fold's weights here (fold{k}.pt)")
    parser.add_argument(
        "--reuse-models", action="store_true", help="score the weights kept in --models"
    )
    parser.add_argument(
        "--tta", action="store_true", help="also score the eight-mirroring ensemble"
    )
    parser.add_argument("--seed-offset", type=int, default=0, help="fold k trains with seed k+N")
    parser.add_argument("--spacing-mm", type=float, help="model grid (default: the shipped one)")
    parser.add_argument("--patch", type=int, help="patch edge in voxels (default: the shipped one)")
    parser.add_argument(
        "--companions",
        action="store_true",
        help="the model with the patient's other series (scored alone and with them)",
    )
    parser.add_argument(
        "--methods", help="only these learned variants, e.g. learned_views (default: all)"
    )
    parser.add_argument(
        "--partners",
        nargs="+",
        metavar="DIR:MM",
        help="kept fold weights of runs on other grids (DIR:MM), read with each fold's model",
    )
    parser.add_argument(
        "--members",
        type=Path,
        nargs="+",
        help="with --reuse-models: more folders of kept weights, scored as one ensemble",
    )
    args = parser.parse_args(argv)
    if args.merge:
        parts = [json.loads(p.read_text()) for p in args.merge]
        for part in parts:  # results written before folds were numbered: in order
            for n, fold in enumerate(part["folds"]):
                fold.setdefault("fold", n)
        merged = {**parts[0], "folds": merge_folds([f for p in parts for f in p["folds"]])}
        merged["peak_rss_mb"] = max(p.get("peak_rss_mb", 0.0) for p in parts)
        if args.classical_from:
            with_classical(merged, json.loads(args.classical_from.read_text()))
        merged["summary"] = summary(merged)
        args.out.write_text(json.dumps(merged, indent=1) + "\n")
        Console(width=200).print(table(merged))
        return 0
    partial = args.out.with_suffix(".partial.json")
    result = cross_validate(
        sarcoma_root(),
        classical=not args.no_classical,
        log=lambda text: print(text, flush=True),
        partial=partial,
        only=[int(k) for k in args.folds.split(",")] if args.folds else None,
        learned=not args.no_learned,
        models=args.models,
        reuse=args.reuse_models,
        flips=args.tta,
        seed_offset=args.seed_offset,
        members=args.members,
        methods=args.methods.split(",") if args.methods else None,
        partners=[(Path(x.rsplit(":", 1)[0]), float(x.rsplit(":", 1)[1])) for x in args.partners]
        if args.partners
        else None,
        contract=replace(
            COMPANION_CONTRACT if args.companions else DEFAULT_CONTRACT,
            spacing_mm=args.spacing_mm or DEFAULT_CONTRACT.spacing_mm,
            patch=args.patch or DEFAULT_CONTRACT.patch,
        ),
    )
    result["summary"] = summary(result)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    Console(width=200).print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
