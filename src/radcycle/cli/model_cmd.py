"""``radcycle train-segmenter | model-card``: train the learned click model, write its card.

* ``radcycle train-segmenter DATA --out DIR``: trains the interactive lesion
  model on the sarcoma series under DATA (``STS_xxx/{CT,MR_T1,PET}_{image,mask}.nii.gz``)
  with fixed seeds, and writes ``DIR/<name>.onnx`` and ``DIR/training.json``
  (steps, loss, seconds, peak memory, the weights' sha256, the registry entry);
  with ``--companions`` the model that also reads the patient's other series,
  with ``--spacing-mm`` on another grid (a partner of the shipped model);
* ``radcycle model-card NAME --out FILE``: the model card from the registry.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import force_option, json_option, out_option, random_seed_option
from radcycle.errors import InputError
from radcycle.io import read_image
from radcycle.io.output import OutputRules, atomic_output
from radcycle.models.card import model_card
from radcycle.models.registry import find_spec, sha256_of

console = Console(stderr=True)

#: The shipped model's recipe (:class:`radcycle.models.training.TrainingSettings`),
#: repeated here so the CLI imports torch only when it trains.
TRAINING_STEPS = 2500
TRAINING_BATCH = 2
TRAINING_MEMBERS = 1


@friendly_errors
def train_segmenter(
    data: Path = typer.Argument(..., help="Folder of STS_xxx patient folders."),
    out: Path = out_option("Folder for the weights and the training record.", required=True),
    name: str | None = typer.Option(
        None,
        "--name",
        help="The model's name (default click-unet, or click-unet-mm with --companions).",
    ),
    companions: bool = typer.Option(
        False,
        "--companions",
        help="Train the model that also reads the patient's co-registered series of "
        "the other modalities (any of them possibly absent).",
    ),
    steps: int = typer.Option(
        TRAINING_STEPS, "--steps", min=1, help="Optimiser steps (the shipped model's by default)."
    ),
    seconds: float = typer.Option(
        0.0, "--seconds", min=0.0, help="Stop after this many seconds (0: no limit)."
    ),
    batch: int = typer.Option(TRAINING_BATCH, "--batch", min=1, help="Patches per step."),
    members: int = typer.Option(
        TRAINING_MEMBERS,
        "--members",
        min=1,
        help="Networks trained alike under seeds SEED, SEED+1, ... and shipped as one "
        "ensemble (their mean probability) in one ONNX file.",
    ),
    patients: list[str] = typer.Option(
        [], "--patient", help="Train on this patient only (repeatable; default: all)."
    ),
    spacing_mm: float | None = typer.Option(
        None,
        "--spacing-mm",
        min=1.0,
        max=32.0,
        help="The model grid in mm (default: the shipped model's, 8); a partner model "
        "is trained alike on another grid.",
    ),
    random_seed: int = random_seed_option(),
    as_json: bool = json_option(),
    force: bool = force_option(),
) -> None:
    """Train the learned click-to-segment model (CPU, MONAI on torch)."""
    try:
        from radcycle.models.training import (
            COMPANION_CONTRACT,
            DEFAULT_CONTRACT,
            TrainingSettings,
            ensemble,
            export_onnx,
            load_sarcoma_cases,
            train,
        )
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise InputError("training needs the models extra: pip install 'radcycle[models]'") from exc
    contract = COMPANION_CONTRACT if companions else DEFAULT_CONTRACT
    if spacing_mm is not None:
        contract = replace(contract, spacing_mm=spacing_mm)
    name = name or ("click-unet-mm" if companions else "click-unet")
    rules = OutputRules.of([data], force=force)
    weights = out / f"{name}.onnx"
    record_path = out / "training.json"
    for target in (weights, record_path):
        rules.check(target)
    cases = load_sarcoma_cases(data, read_image, contract, patients or None)
    runs = [
        TrainingSettings(
            steps=steps,
            batch=batch,
            random_seed=random_seed + m,
            time_limit_s=seconds if seconds > 0 else float("inf"),
        )
        for m in range(members)
    ]
    start = time.perf_counter()
    net = ensemble([train(cases, contract, settings) for settings in runs])
    elapsed = time.perf_counter() - start
    first = runs[0]
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(weights, rules) as temp:
        export_onnx(net, contract, temp)
    digest = sha256_of(weights)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record = {
        "name": name,
        "weights": str(weights),
        "sha256": digest,
        "bytes": weights.stat().st_size,
        "series": len(cases),
        "patients": sorted({c.patient for c in cases}),
        "steps": len(first.log),
        "members": members,
        "member_steps": [len(r.log) for r in runs],
        "member_seeds": [r.random_seed for r in runs],
        "batch": batch,
        "channels": list(first.channels),
        "learning_rate": first.learning_rate,
        "time_limit_s": seconds if seconds > 0 else None,
        "random_seed": random_seed,
        "train_seconds": round(elapsed, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1),
        "final_loss": round(
            sum(x["loss"] for r in runs for x in r.log[-20:])
            / sum(min(len(r.log), 20) for r in runs),
            4,
        ),
        "contract": contract.to_dict(),
    }
    with atomic_output(record_path, rules) as temp:
        temp.write_text(json.dumps(record, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    console.print(
        f"wrote {weights} ({record['bytes']} bytes, sha256 {digest[:12]}...) after "
        f"{record['steps']} steps in {elapsed:.0f} s"
    )


@friendly_errors
def model_card_cmd(
    name: str = typer.Argument("click-unet", help="A model of the registry."),
    out: Path = out_option("Markdown file to write (docs/models/<name>.md).", required=True),
    as_json: bool = json_option(),
    force: bool = force_option(),
) -> None:
    """Write a model's card from the registry (training data, metrics, use, limits)."""
    rules = OutputRules.of([], force=force)
    rules.check(out)
    text = model_card(find_spec(name))
    with atomic_output(out, rules) as temp:
        temp.write_text(text)
    if as_json:
        typer.echo(json.dumps({"card": str(out), "model": name, "lines": len(text.splitlines())}))
        return
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("train-segmenter")(train_segmenter)
    app.command("model-card")(model_card_cmd)
