"""Federated training of the click model against centralised and single-site training.

The sarcoma patients are split by ``radcycle fl make-sites`` (seed 0): 5 held out,
sites north (9, every modality), east (6, no MR), south (3, shifted calibration).
Every model has the same network, augmentation and seed, and the same number of
optimiser steps in all (``rounds x local steps x 3``), and is scored on the same
held-out series:

* centralised: the three sites' series pooled;
* FedAvg and FedProx (Flower's simulation engine): ``rounds`` rounds of
  ``local steps`` on each site;
* each site alone, on its own series;
* FedAvg under Flower's SecAgg+ (the server sees only the sum of the weights);
* FedAvg with client-side DP at two budgets (epsilon over all rounds, delta 1e-5);
* the untrained network (its initial weights), the floor every model must beat.

Score: Dice on the model grid (4 mm) of the outline from one click at the
lesion's deepest voxel, within the model's patch around the click (96 mm), per
modality of the held-out series. Also: rounds until the held-out Dice reaches
95 % of its best, bytes sent per round (both ways), wall time.

Small settings come from the environment (the defaults fit a shared 2-core
machine in about a quarter of an hour): ``FL_ROUNDS`` (3), ``FL_LOCAL_STEPS``
(5), ``FL_BATCH`` (2), ``FL_EPSILONS`` ("50,10"). Run under ``nice``:
``nice python -m benchmarks.run federated``; ``python -m benchmarks.bench_federated
--json FILE`` keeps every number.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from radcycle.fl.federation import FederationResult, FederationSettings
from radcycle.fl.privacy import DPSettings, noise_for_epsilon
from radcycle.fl.segmenter import SegmenterLearner, initial_weights, network_from
from radcycle.fl.simulation import simulate
from radcycle.fl.sites import HELD_OUT, make_sites
from radcycle.io import read_image
from radcycle.models.encoding import encode
from radcycle.models.training import (
    DEFAULT_CONTRACT,
    Case,
    TrainingSettings,
    load_sarcoma_cases,
    train,
)

SITES = ("north", "east", "south")
MODALITIES = ("CT", "MR", "PT")


def sarcoma_root() -> Path:
    shared = Path(os.environ.get("RADCYCLE_SHARED", Path(__file__).parents[2] / "shared"))
    return shared / "data" / "ibsi" / "ibsi_validation" / "nifti"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _crop(array: np.ndarray, centre: Sequence[int], size: int, fill: float) -> np.ndarray:
    out = np.full((size,) * 3, fill, dtype=array.dtype)
    lo = [int(c) - size // 2 for c in centre]
    src = tuple(slice(max(a, 0), min(a + size, n)) for a, n in zip(lo, array.shape, strict=True))
    dst = tuple(slice(s.start - a, s.stop - a) for s, a in zip(src, lo, strict=True))
    out[dst] = array[src]
    return out


def held_out_dice(net: Any, cases: Sequence[Case]) -> dict[str, list[float]]:
    """Per modality, the Dice of each held-out series from one deepest-voxel click."""
    import torch
    from scipy import ndimage as ndi

    size = DEFAULT_CONTRACT.patch
    found: dict[str, list[float]] = {}
    for case in cases:
        if not case.mask.any():
            continue
        depth = ndi.distance_transform_edt(case.mask)
        centre = [int(x) for x in np.unravel_index(int(np.argmax(depth)), depth.shape)]
        image = _crop(case.image, centre, size, float(case.image.min()))
        ref = _crop(case.mask, centre, size, False)
        x = encode(image, [(size // 2,) * 3], [], case.modality, DEFAULT_CONTRACT)
        with torch.no_grad():
            got = torch.sigmoid(net(torch.from_numpy(x[None]))).numpy()[0, 0] >= 0.5
        total = float(got.sum() + ref.sum())
        dice = 2.0 * float((got & ref).sum()) / total if total else 0.0
        found.setdefault(case.modality, []).append(round(dice, 4))
    return found


def _mean(scores: dict[str, list[float]]) -> float:
    every = [d for v in scores.values() for d in v]
    return float(np.mean(every)) if every else float("nan")


def _federate(
    sites: Path,
    site_cases: dict[str, list[Case]],
    settings: FederationSettings,
    training: TrainingSettings,
    held: Sequence[Case],
) -> tuple[FederationResult, dict[str, list[float]], list[float]]:
    per_round: list[float] = []

    def make_learner(index: int) -> Any:
        name = SITES[index]
        return SegmenterLearner(sites / name, settings=training, cases=site_cases[name])

    def on_round(_: int, weights: list[np.ndarray]) -> None:
        per_round.append(
            round(_mean(held_out_dice(network_from(weights, settings=training), held)), 4)
        )

    result = simulate(
        list(SITES), make_learner, initial_weights(settings=training), settings, on_round
    )
    scores = held_out_dice(network_from(result.weights, settings=training), held)
    return result, scores, per_round


def _converged(per_round: Sequence[float]) -> int | None:
    if not per_round or not np.isfinite(max(per_round)) or max(per_round) <= 0:
        return None
    best = max(per_round)
    return next(i + 1 for i, d in enumerate(per_round) if d >= 0.95 * best)


def measure(workdir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    rounds = int(_env("FL_ROUNDS", "3"))
    local = int(_env("FL_LOCAL_STEPS", "5"))
    batch = int(_env("FL_BATCH", "2"))
    epsilons = [float(e) for e in _env("FL_EPSILONS", "50,10").split(",") if e]
    training = TrainingSettings(batch=batch, random_seed=0, threads=1)
    steps = rounds * local * len(SITES)
    sites = workdir / "sites"
    split = make_sites(sarcoma_root(), sites, random_seed=0)
    start = time.perf_counter()
    site_cases = {n: load_sarcoma_cases(sites / n, read_image) for n in SITES}
    held = load_sarcoma_cases(sites / HELD_OUT, read_image)
    log(f"read {sum(map(len, site_cases.values()))} site series, {len(held)} held out "
        f"in {time.perf_counter() - start:.0f} s")  # fmt: skip
    rows: dict[str, Any] = {
        "untrained (the floor)": {
            "dice": held_out_dice(network_from(initial_weights(settings=training)), held),
            "seconds": 0.0,
            "steps": 0,
        }
    }

    def central(name: str, cases: list[Case]) -> None:
        t = time.perf_counter()
        s = TrainingSettings(steps=steps, batch=batch, random_seed=0, threads=1)
        net = train(cases, DEFAULT_CONTRACT, s)
        rows[name] = {
            "dice": held_out_dice(net, held),
            "seconds": round(time.perf_counter() - t, 1),
            "steps": steps,
        }
        log(f"{name}: {_mean(rows[name]['dice']):.3f} in {rows[name]['seconds']} s")

    central("centralised", [c for n in SITES for c in site_cases[n]])
    for name in SITES:
        central(f"{name} alone", site_cases[name])
    runs: list[tuple[str, FederationSettings]] = [
        ("FedAvg", FederationSettings("fedavg", rounds, local)),
        ("FedProx", FederationSettings("fedprox", rounds, local, proximal_mu=0.01)),
        ("FedAvg SecAgg+", FederationSettings("fedavg", rounds, local, secagg=True)),
    ]
    for eps in epsilons:
        z = noise_for_epsilon(eps, rounds, 1e-5)
        runs.append(
            (
                f"FedAvg DP eps={eps:g}",
                FederationSettings("fedavg", rounds, local, dp=DPSettings(1.0, z)),
            )
        )
    for name, settings in runs:
        result, scores, per_round = _federate(sites, site_cases, settings, training, held)
        rows[name] = {
            "dice": scores,
            "seconds": round(result.seconds, 1),
            "steps": steps,
            "dice_per_round": per_round,
            "rounds_to_95pc": _converged(per_round),
            "bytes_per_round": result.bytes_per_round,
            "loss_per_round": result.loss_per_round,
            "dp": result.to_json()["dp"],
        }
        log(f"{name}: {_mean(scores):.3f} in {result.seconds:.0f} s, per round {per_round}")
    return {
        "rounds": rounds,
        "local_steps": local,
        "batch": batch,
        "split": split.sites,
        "held_out_series": len(held),
        "rows": rows,
    }


def _cell(scores: dict[str, list[float]], modality: str) -> str:
    values = scores.get(modality, [])
    return f"{np.mean(values):.3f} (n={len(values)})" if values else "-"


def table(result: dict[str, Any]) -> Table:
    central = _mean(result["rows"]["centralised"]["dice"])
    t = Table(
        title=f"Federated vs centralised click model: {result['rounds']} rounds x "
        f"{result['local_steps']} local steps x 3 sites (batch {result['batch']}); "
        f"Dice on {result['held_out_series']} held-out series; ratio = mean Dice / centralised"
    )
    for column in ("training", "CT", "T1 MR", "PET", "mean", "ratio", "rounds to 95%",
                   "bytes/round", "DP (eps, delta)", "wall s"):  # fmt: skip
        t.add_column(column)
    for name, row in result["rows"].items():
        mean = _mean(row["dice"])
        dp = row.get("dp")
        t.add_row(
            name,
            *(_cell(row["dice"], m) for m in MODALITIES),
            f"{mean:.3f}",
            f"{mean / central:.2f}" if central > 0 else "-",
            str(row.get("rounds_to_95pc", "-")),
            f"{row['bytes_per_round'][0] / 1e6:.2f} MB" if row.get("bytes_per_round") else "-",
            f"{dp['epsilon']:.1f}, {dp['delta']:g}" if dp else "-",
            str(row["seconds"]),
        )
    return t


def run(workdir: Path) -> Table:
    return table(measure(workdir))


def main(argv: list[str]) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="radcycle-bench-federated-") as tmp:
        result = measure(Path(tmp))
    if len(argv) == 2 and argv[0] == "--json":
        Path(argv[1]).write_text(json.dumps(result, indent=1) + "\n")
    from rich.console import Console

    Console().print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
