"""int8 quantisation of the shipped learned models: Dice, size and time against float32.

Each registry model (``click-unet``, ``click-unet-mm``) is quantised by ONNX
Runtime's tools in two ways: static (QDQ, int8 weights per output channel and
uint8 activations calibrated on the model's own input patches) and dynamic
(uint8 weights, activations quantised at run time). The calibration patches
are the network inputs at the centre clicks of every fourth sarcoma patient
(:data:`CALIBRATION_EVERY`); the other patients' series are outlined by the
float32 model and by each int8 one at the centre click and
``RADCYCLE_QUANT_CLICKS`` (default 2) clicks well inside the reference
(:func:`radcycle.imaging.masks.points_inside`, seed 0), the model with other
series given the patient's other two. Reported per model and variant: the mean
Dice per modality, the mean and largest change of Dice against float32 on the
same click, the median seconds per click (ONNX Runtime, one thread) with its
ratio to float32's, and the file size.

A variant would be shipped (:func:`kept`) where every modality's mean Dice
stays within :data:`MAX_DICE_CHANGE` of float32's and a click is faster.
The shipped models were trained on these series, so the Dice is not a
measure of accuracy here (the cross-validated Dice is
:mod:`benchmarks.bench_learned`'s): it measures what quantisation changes.

Run: ``python -m benchmarks.run quantise``, or
``python -m benchmarks.bench_quantise --out benchmarks/results/quantise.json
[--registry] [--reuse FILE]`` (``--registry`` writes the finding into each
model's registry entry, from which its card is generated; ``--reuse`` takes the
measurements of an earlier run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.table import Table

from benchmarks.bench_learned import _dice, companion_series, sarcoma_root
from benchmarks.bench_lung import _seed_in
from radcycle.domain import Volume
from radcycle.errors import RadcycleError
from radcycle.imaging.masks import array_spacing, points_inside
from radcycle.io import read_image
from radcycle.models.interactive import LearnedSegmenter, OnnxModel
from radcycle.models.protocol import ModelSpec, ProbabilityModel
from radcycle.models.registry import REGISTRY, find_spec, verified_weights
from radcycle.models.training import SARCOMA_SERIES

__all__ = ["MAX_DICE_CHANGE", "kept", "measure", "quantised"]

FloatArray = npt.NDArray[np.float32]

MODELS = ("click-unet", "click-unet-mm")
CLICKS = int(os.environ.get("RADCYCLE_QUANT_CLICKS", "2"))
#: Every this many-th patient (sorted) gives the calibration patches and is not scored.
CALIBRATION_EVERY = 4
#: The issue's bound: int8 is kept only where Dice moves by at most this.
MAX_DICE_CHANGE = 0.01
VARIANTS = ("float32", "int8 static", "int8 dynamic")


class _Recorder:
    """A model that keeps every batch it is asked to predict (the calibration inputs)."""

    def __init__(self, model: ProbabilityModel) -> None:
        self.model = model
        self.batches: list[FloatArray] = []

    @property
    def spec(self) -> ModelSpec:
        return self.model.spec

    def predict(self, batch: FloatArray) -> FloatArray:
        self.batches.append(np.array(batch, np.float32))
        return self.model.predict(batch)


class _Reader:
    """ONNX Runtime's calibration reader over single patches."""

    def __init__(self, tiles: list[FloatArray]) -> None:
        self._tiles: Iterator[FloatArray] = iter(tiles)

    def get_next(self) -> dict[str, FloatArray] | None:
        tile = next(self._tiles, None)
        return None if tile is None else {"input": tile}


Series = tuple[str, str, Volume, npt.NDArray[np.bool_], dict[str, Volume]]


def _series(root: Path, companions: bool) -> list[Series]:
    out = []
    for folder in sorted(p for p in root.glob("STS_*") if p.is_dir()):
        for name, modality in SARCOMA_SERIES:
            image = folder / f"{name}_image.nii.gz"
            mask = folder / f"{name}_mask.nii.gz"
            if not (image.exists() and mask.exists()):
                continue
            volume = read_image(image)
            volume = volume.with_array(volume.array, modality=modality)
            ref = np.asarray(read_image(mask).array > 0)
            others = companion_series(image, modality) if companions else {}
            out.append((folder.name, modality, volume, ref, others))
    return out


def quantised(source: Path, tiles: list[FloatArray], workdir: Path) -> dict[str, Path]:
    """The static and dynamic int8 versions of the ONNX model ``source``, written to
    ``workdir`` (static: calibrated on ``tiles``, single input patches)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = workdir / f"{source.stem}-prepared.onnx"
    quant_pre_process(str(source), str(prepared))
    static = workdir / f"{source.stem}-int8-static.onnx"
    quantize_static(
        str(prepared),
        str(static),
        _Reader(tiles),  # type: ignore[arg-type]
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    dynamic = workdir / f"{source.stem}-int8-dynamic.onnx"
    quantize_dynamic(str(prepared), str(dynamic), weight_type=QuantType.QUInt8)
    return {"int8 static": static, "int8 dynamic": dynamic}


def _runner(spec: ModelSpec, path: Path) -> OnnxModel:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return OnnxModel(replace(spec, file=path.name, sha256=digest), path)


def measure(name: str, workdir: Path, root: Path | None = None) -> dict[str, Any]:
    """Per variant of model ``name``: Dice per click and modality, seconds per
    click, file bytes (see the module's docstring)."""
    spec = find_spec(name)
    series = _series(root or sarcoma_root(), spec.contract.companions)
    patients = sorted({s[0] for s in series})
    calibration = set(patients[::CALIBRATION_EVERY])
    recorder = _Recorder(OnnxModel(spec))
    for patient, modality, volume, ref, others in series:
        if patient in calibration:
            segmenter = LearnedSegmenter(recorder, companions=others)
            segmenter.segment(volume, [_seed_in(ref)], [], modality)
    tiles = [b[i : i + 1] for b in recorder.batches for i in range(len(b))]
    source = verified_weights(spec)
    files = {"float32": source, **quantised(source, tiles, workdir)}
    runners: dict[str, ProbabilityModel] = {"float32": recorder.model}
    runners.update({k: _runner(spec, p) for k, p in files.items() if k != "float32"})
    rows: dict[str, dict[str, list[float]]] = {k: {} for k in runners}
    seconds: dict[str, list[float]] = {k: [] for k in runners}
    for patient, modality, volume, ref, others in series:
        if patient in calibration:
            continue
        clicks = [_seed_in(ref), *points_inside(ref, array_spacing(volume), CLICKS)]
        for variant, runner in runners.items():
            segmenter = LearnedSegmenter(runner, companions=others)
            for kji in clicks:
                start = time.perf_counter()
                try:
                    outline = segmenter.segment(volume, [kji], [], modality).outline
                    dice = _dice(outline.full(ref.shape), ref)
                except RadcycleError:
                    dice = 0.0
                seconds[variant].append(time.perf_counter() - start)
                rows[variant].setdefault(modality, []).append(round(dice, 4))
    return {
        "model": name,
        "sha256": spec.sha256,
        "calibration_patients": sorted(calibration),
        "calibration_patches": len(tiles),
        "clicks_per_series": 1 + CLICKS,
        "with_other_series": spec.contract.companions,
        "variants": {
            k: {
                "dice": rows[k],
                "seconds": [round(s, 4) for s in seconds[k]],
                "bytes": files[k].stat().st_size,
            }
            for k in runners
        },
    }


def _summary(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per variant: mean Dice by modality, mean and largest change against
    float32 by modality, median seconds, bytes."""
    base = result["variants"]["float32"]
    out = {}
    for variant, v in result["variants"].items():
        change = {
            m: np.asarray(d, np.float64) - np.asarray(base["dice"][m], np.float64)
            for m, d in v["dice"].items()
        }
        out[variant] = {
            "dice": {m: round(float(np.mean(d)), 4) for m, d in v["dice"].items()},
            "mean_change": {m: round(float(np.mean(c)), 4) for m, c in change.items()},
            "largest_change": {m: round(float(np.max(np.abs(c))), 4) for m, c in change.items()},
            "median_s": round(float(np.median(v["seconds"])), 4),
            "bytes": v["bytes"],
        }
    return out


def kept(summary: dict[str, dict[str, Any]], variant: str) -> tuple[bool, str]:
    """Whether ``variant`` would be shipped instead of float32, and why."""
    s, base = summary[variant], summary["float32"]
    worst = max(abs(x) for x in s["mean_change"].values())
    faster = s["median_s"] < base["median_s"]
    if worst > MAX_DICE_CHANGE:
        return False, f"mean Dice moves by up to {worst:.3f} (> {MAX_DICE_CHANGE})"
    if not faster:
        return False, (
            f"Dice kept (mean change at most {worst:.3f}) but a click is not faster "
            f"({s['median_s']:.3f} s against {base['median_s']:.3f} s)"
        )
    return True, f"Dice kept (mean change at most {worst:.3f}) and a click is faster"


def finding(result: dict[str, Any]) -> str:
    """One paragraph for the model card: what int8 does to this model and why it is
    (not) shipped."""
    summary = _summary(result)
    base = summary["float32"]
    parts = []
    for variant in VARIANTS[1:]:
        s = summary[variant]
        ok, why = kept(summary, variant)
        changes = ", ".join(f"{m} {s['mean_change'][m]:+.3f}" for m in sorted(s["mean_change"]))
        parts.append(
            f"{variant}: {s['bytes'] / 1e6:.1f} MB against {base['bytes'] / 1e6:.1f} MB, "
            f"mean Dice change {changes} (largest on one click "
            f"{max(s['largest_change'].values()):.3f}), median "
            f"{s['median_s']:.3f} s a click against {base['median_s']:.3f} s: "
            + ("shipped" if ok else "not shipped")
            + f" ({why})"
        )
    n = sum(len(d) for d in result["variants"]["float32"]["dice"].values())
    shipped = any(kept(summary, v)[0] for v in VARIANTS[1:])
    return (
        f"int8 quantisation (ONNX Runtime, measured on {n} clicks of the sarcoma patients "
        "not used for calibration, "
        + ("with the patient's other two series, " if result["with_other_series"] else "")
        + "benchmarks/bench_quantise.py): "
        + "; ".join(parts)
        + ("." if shipped else ". The float32 weights are shipped.")
    )


def _table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="int8 quantisation against float32 (sarcoma series, ONNX Runtime, CPU)")
    columns = ("model", "variant", "MB", "Dice CT", "Dice MR", "Dice PET")
    columns += ("largest |dDice|", "median s/click", "s ratio", "size ratio", "shipped")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "variant") else "right")
    for result in results:
        summary = _summary(result)
        base = summary["float32"]
        for variant in VARIANTS:
            s = summary[variant]
            ok = variant == "float32" or kept(summary, variant)[0]
            table.add_row(
                result["model"],
                variant,
                f"{s['bytes'] / 1e6:.1f}",
                *(f"{s['dice'][m]:.3f} ({s['mean_change'][m]:+.3f})" for m in ("CT", "MR", "PT")),
                f"{max(s['largest_change'].values()):.3f}",
                f"{s['median_s']:.3f}",
                f"{s['median_s'] / base['median_s']:.2f}",
                f"{s['bytes'] / base['bytes']:.2f}",
                "yes" if ok else "no",
            )
    return table


def _with_finding(registry: Path, results: list[dict[str, Any]]) -> None:
    data = json.loads(registry.read_text())
    found = {r["model"]: r for r in results}
    for model in data["models"]:
        if model["name"] in found and model["sha256"] == found[model["name"]]["sha256"]:
            model["metrics"]["quantisation"] = finding(found[model["name"]])
    registry.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def run(workdir: Path) -> Table:
    """``python -m benchmarks.run quantise``."""
    return _table([measure(name, workdir) for name in MODELS])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="result JSON")
    parser.add_argument("--workdir", type=Path, default=Path("quantised"))
    parser.add_argument("--registry", action="store_true", help="write the finding to it")
    parser.add_argument("--reuse", type=Path, help="an earlier result JSON instead of measuring")
    args = parser.parse_args(argv)
    if args.reuse is not None:
        results = json.loads(args.reuse.read_text())
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = [measure(name, args.workdir) for name in MODELS]
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    if args.registry:
        _with_finding(REGISTRY, results)
    from rich.console import Console

    Console().print(_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
