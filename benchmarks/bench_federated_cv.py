"""Cross-validated federated training of the click model against centralised and
single-site training, with central DP at two budgets.

Folds: the 23 sarcoma patients, drawn with seed 0, cut into ``FL_CV_FOLDS`` (5)
near-equal parts (5, 5, 5, 4, 4 patients); each part is held out once while the
other patients are split into the three non-IID sites by the documented rule
(``radcycle fl make-sites --folds 5 --fold K``: 9:6:3 of the training patients,
largest remainders; north every modality, east no MR, south recalibrated CT +30
HU, SUV x1.2, MR x0.85, its images written recalibrated). Every arm of a fold is
scored on that fold's held-out series:

* untrained: the initial weights (the floor);
* centralised: the three sites' series pooled, one optimiser;
* north, east, south alone: each site's own series;
* FedAvg and FedProx (mu 0.01): Flower's server loop and strategies with the
  sites' clients in this process (``run_in_process``; ``FL_CV_BACKEND=simulation``
  for Flower's simulation engine on Ray, the same computation, slower to start
  and liable to time out starting Ray on a crowded machine);
* FedAvg with central DP (updates clipped to ``FL_DP_CLIP``, the server adds
  Gaussian noise to their average once a round: Flower's
  ``DifferentialPrivacyServerSideFixedClipping``) at each budget of
  ``FL_EPSILONS`` (epsilon over all rounds, delta 1e-5, a site's whole data as
  the unit).

Every arm trains the same network, augmentation and recipe
(``radcycle.models.training``) for the same number of local optimiser steps:
``rounds x local steps x 3``: the centralised and single-site runs take all of
them in one run, each federated site takes ``rounds x local steps`` of them.
Score: Dice of the outline from one click at the lesion's deepest voxel, within
the model's patch (as ``bench_federated``). Reported per modality and overall:
the mean over the folds of each fold's mean Dice, +- the SD over the folds; and
per federated arm its paired difference to centralised and to the mean of the
three single sites, fold by fold. Also rounds until the held-out Dice reaches
95 % of its best, bytes per round, wall time.

Settings by environment: ``FL_CV_FOLDS`` (5), ``FL_CV_ONLY`` (folds to run,
e.g. "0" for a pilot; default all), ``FL_ROUNDS`` (10), ``FL_LOCAL_STEPS`` (10),
``FL_BATCH`` (2), ``FL_THREADS`` (2), ``FL_EPSILONS`` ("50,10"), ``FL_DP_CLIP``
(1.0). Run under ``nice``: ``nice -n 19 python -m benchmarks.bench_federated_cv
--json FILE`` (the file is rewritten after every fold). Folds may run in separate
processes (``FL_CV_ONLY=0,1`` ... each with its own ``--json``) and be joined by
``python -m benchmarks.bench_federated_cv --merge OUT PART...``.
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

from benchmarks.bench_federated import (
    MODALITIES,
    SITES,
    _converged,
    held_out_dice,
    sarcoma_root,
)
from radcycle.fl.federation import FederationSettings
from radcycle.fl.privacy import DPSettings, noise_for_epsilon
from radcycle.fl.segmenter import SegmenterLearner, initial_weights, network_from
from radcycle.fl.simulation import run_in_process, simulate
from radcycle.fl.sites import HELD_OUT, make_sites, read_site
from radcycle.io import read_image
from radcycle.models.training import (
    DEFAULT_CONTRACT,
    Case,
    TrainingSettings,
    load_sarcoma_cases,
    train,
)

FEDERATED = ("FedAvg", "FedProx")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _fold_mean(scores: dict[str, list[float]]) -> float:
    every = [d for v in scores.values() for d in v]
    return float(np.mean(every)) if every else float("nan")


def _site_cases(
    fold_dir: Path, by_patient: dict[str, list[Case]]
) -> tuple[dict[str, list[Case]], list[Case]]:
    """Each site's cases and the held-out ones. Sites without a calibration are
    links to the source: their series are taken from the source read once (only
    the modalities the site has); a recalibrated site is read from its folder."""
    cases: dict[str, list[Case]] = {}
    for name in (*SITES, HELD_OUT):
        described = read_site(fold_dir / name)
        if described["calibration"]:
            cases[name] = load_sarcoma_cases(fold_dir / name, read_image)
            continue
        cases[name] = [
            c
            for p in described["patients"]
            for c in by_patient[p]
            if c.modality in described["modalities"]
        ]
    held = cases.pop(HELD_OUT)
    return cases, held


def _federate(
    fold_dir: Path,
    site_cases: dict[str, list[Case]],
    settings: FederationSettings,
    training: TrainingSettings,
    held: Sequence[Case],
) -> dict[str, Any]:
    per_round: list[float] = []

    def make_learner(index: int) -> Any:
        name = SITES[index]
        return SegmenterLearner(fold_dir / name, settings=training, cases=site_cases[name])

    def on_round(_: int, weights: list[np.ndarray]) -> None:
        net = network_from(weights, settings=training)
        per_round.append(round(_fold_mean(held_out_dice(net, held)), 4))

    run = simulate if _env("FL_CV_BACKEND", "process") == "simulation" else run_in_process
    result = run(list(SITES), make_learner, initial_weights(settings=training), settings, on_round)
    record = result.to_json()
    return {
        "dice": held_out_dice(network_from(result.weights, settings=training), held),
        "seconds": round(result.seconds, 1),
        "dice_per_round": per_round,
        "rounds_to_95pc": _converged(per_round),
        "bytes_per_round": result.bytes_per_round,
        "dp": record["dp"],
    }


def measure(
    workdir: Path,
    log: Callable[[str], None] = print,
    keep: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every fold (or those of ``FL_CV_ONLY``); ``keep`` gets the result so far
    after each fold."""
    folds = int(_env("FL_CV_FOLDS", "5"))
    only = [int(k) for k in _env("FL_CV_ONLY", "").split(",") if k.strip()]
    rounds = int(_env("FL_ROUNDS", "10"))
    local = int(_env("FL_LOCAL_STEPS", "10"))
    batch = int(_env("FL_BATCH", "2"))
    threads = int(_env("FL_THREADS", "2"))
    clip = float(_env("FL_DP_CLIP", "1.0"))
    epsilons = [float(e) for e in _env("FL_EPSILONS", "50,10").split(",") if e]
    steps = rounds * local * len(SITES)
    training = TrainingSettings(batch=batch, random_seed=0, threads=threads)
    source = sarcoma_root()
    start = time.perf_counter()
    by_patient: dict[str, list[Case]] = {}
    for case in load_sarcoma_cases(source, read_image):
        by_patient.setdefault(case.patient, []).append(case)
    log(f"read {sum(map(len, by_patient.values()))} series of {len(by_patient)} patients "
        f"in {time.perf_counter() - start:.0f} s")  # fmt: skip
    runs: list[tuple[str, FederationSettings]] = [
        ("FedAvg", FederationSettings("fedavg", rounds, local)),
        ("FedProx", FederationSettings("fedprox", rounds, local, proximal_mu=0.01)),
    ]
    for eps in epsilons:
        z = noise_for_epsilon(eps, rounds, 1e-5)
        runs.append(
            (
                f"FedAvg central DP eps={eps:g}",
                FederationSettings("fedavg", rounds, local, central_dp=DPSettings(clip, z)),
            )
        )
    result: dict[str, Any] = {
        "folds": folds,
        "rounds": rounds,
        "local_steps": local,
        "batch": batch,
        "threads": threads,
        "steps": steps,
        "dp_clip": clip,
        "contract": {"spacing_mm": DEFAULT_CONTRACT.spacing_mm, "patch": DEFAULT_CONTRACT.patch},
        "training": {
            "learning_rate": training.learning_rate,
            "channels": list(training.channels),
            "corrective_share": training.corrective_share,
            "negative_share": training.negative_share,
        },
        "fold_results": [],
    }
    for k in only or range(folds):
        fold_start = time.perf_counter()
        fold_dir = workdir / f"fold-{k}"
        split = make_sites(source, fold_dir, random_seed=0, folds=folds, fold=k)
        site_cases, held = _site_cases(fold_dir, by_patient)
        log(f"fold {k}: held out {split.sites[HELD_OUT]} ({len(held)} series); "
            + ", ".join(f"{n} {len(split.sites[n])} patients {len(site_cases[n])} series"
                        for n in SITES))  # fmt: skip
        rows: dict[str, Any] = {
            "untrained": {
                "dice": held_out_dice(network_from(initial_weights(settings=training)), held),
                "seconds": 0.0,
            }
        }

        def central(
            name: str,
            cases: list[Case],
            rows: dict[str, Any] = rows,
            held: list[Case] = held,
        ) -> None:
            t = time.perf_counter()
            s = TrainingSettings(steps=steps, batch=batch, random_seed=0, threads=threads)
            net = train(cases, DEFAULT_CONTRACT, s)
            rows[name] = {
                "dice": held_out_dice(net, held),
                "seconds": round(time.perf_counter() - t, 1),
            }

        central("centralised", [c for n in SITES for c in site_cases[n]])
        for name in SITES:
            central(f"{name} alone", site_cases[name])
        for name, settings in runs:
            rows[name] = _federate(fold_dir, site_cases, settings, training, held)
        log(f"fold {k} in {time.perf_counter() - fold_start:.0f} s: "
            + ", ".join(f"{n} {_fold_mean(r['dice']):.3f}" for n, r in rows.items()))  # fmt: skip
        result["fold_results"].append(
            {
                "fold": k,
                "split": split.sites,
                "held_out_series": len(held),
                "federation": _env("FL_CV_BACKEND", "process"),
                "rows": rows,
            }
        )
        result["summary"] = summarise(result)
        if keep is not None:
            keep(result)
    return result


def merge(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs of disjoint folds (``FL_CV_ONLY``) with the same settings."""
    settings = [{k: v for k, v in p.items() if k not in ("fold_results", "summary")} for p in parts]
    if any(s != settings[0] for s in settings):
        raise ValueError("the runs differ in their settings")
    folds = sorted((f for p in parts for f in p["fold_results"]), key=lambda f: f["fold"])
    if len({f["fold"] for f in folds}) != len(folds):
        raise ValueError("a fold is in more than one run")
    result = {**settings[0], "fold_results": folds}
    result["summary"] = summarise(result)
    return result


def _stats(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if not a.size:
        return {"mean": float("nan"), "sd": float("nan"), "n": 0}
    return {
        "mean": round(float(a.mean()), 4),
        "sd": round(float(a.std(ddof=1)) if a.size > 1 else 0.0, 4),
        "n": int(a.size),
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Per arm, per modality and overall: mean +- SD over the folds of the fold's
    mean Dice; federated arms: paired differences to centralised and to the mean
    of the single sites."""
    folds = result["fold_results"]
    arms = list(folds[0]["rows"]) if folds else []
    summary: dict[str, Any] = {}
    for arm in arms:
        per_fold = [f["rows"][arm] for f in folds]
        row: dict[str, Any] = {
            m: _stats([float(np.mean(r["dice"][m])) for r in per_fold if r["dice"].get(m)])
            for m in MODALITIES
        }
        row["overall"] = _stats([_fold_mean(r["dice"]) for r in per_fold])
        row["seconds"] = _stats([float(r["seconds"]) for r in per_fold])
        if "rounds_to_95pc" in per_fold[0]:
            row["rounds_to_95pc"] = _stats([float(r["rounds_to_95pc"] or "nan") for r in per_fold])
            row["bytes_per_round"] = per_fold[0]["bytes_per_round"][:1]
            row["dp"] = per_fold[0]["dp"]
            central = [_fold_mean(f["rows"]["centralised"]["dice"]) for f in folds]
            single = [
                float(np.mean([_fold_mean(f["rows"][f"{n} alone"]["dice"]) for n in SITES]))
                for f in folds
            ]
            mine = [_fold_mean(r["dice"]) for r in per_fold]
            row["minus_centralised"] = _stats([a - b for a, b in zip(mine, central, strict=True)])
            row["minus_single_mean"] = _stats([a - b for a, b in zip(mine, single, strict=True)])
        summary[arm] = row
    if folds:
        summary["single sites (mean of 3)"] = {
            "overall": _stats(
                [
                    float(np.mean([_fold_mean(f["rows"][f"{n} alone"]["dice"]) for n in SITES]))
                    for f in folds
                ]
            )
        }
    return summary


def _pm(stats: dict[str, float] | None) -> str:
    if not stats or not stats.get("n"):
        return "-"
    return f"{stats['mean']:.3f} ± {stats['sd']:.3f}"


def table(result: dict[str, Any]) -> Table:
    summary = result["summary"]
    central = summary.get("centralised", {}).get("overall", {}).get("mean", float("nan"))
    t = Table(
        title=f"Cross-validated ({len(result['fold_results'])} of {result['folds']} folds by "
        f"patient) click model: {result['steps']} local optimiser steps per arm "
        f"({result['rounds']} rounds x {result['local_steps']} x 3 sites), batch "
        f"{result['batch']}; Dice mean ± SD over folds; ratio = overall / centralised"
    )
    for column in ("training", "CT", "T1 MR", "PET", "overall", "ratio", "- centralised",
                   "- single mean", "rounds to 95%", "bytes/round", "DP (eps, delta)",
                   "wall s"):  # fmt: skip
        t.add_column(column)
    for arm, row in summary.items():
        overall = row["overall"]
        dp = row.get("dp")
        t.add_row(
            arm,
            *(_pm(row.get(m)) for m in MODALITIES),
            _pm(overall),
            f"{overall['mean'] / central:.2f}" if central and central > 0 else "-",
            _pm(row.get("minus_centralised")),
            _pm(row.get("minus_single_mean")),
            _pm(row.get("rounds_to_95pc")),
            f"{row['bytes_per_round'][0] / 1e6:.2f} MB" if row.get("bytes_per_round") else "-",
            f"{dp['epsilon']:.1f}, {dp['delta']:g}" if dp else "-",
            _pm(row.get("seconds")) if "seconds" in row else "-",
        )
    return t


def run(workdir: Path) -> Table:
    return table(measure(workdir))


def main(argv: list[str]) -> int:
    """``[--json FILE]`` (written after every fold), or ``--merge OUT PART...``."""
    import tempfile

    if len(argv) >= 3 and argv[0] == "--merge":
        result = merge([json.loads(Path(p).read_text()) for p in argv[2:]])
        Path(argv[1]).write_text(json.dumps(result, indent=1) + "\n")
    else:
        out = Path(argv[1]) if len(argv) == 2 and argv[0] == "--json" else None

        def keep(so_far: dict[str, Any]) -> None:
            if out is not None:
                out.write_text(json.dumps(so_far, indent=1) + "\n")

        with tempfile.TemporaryDirectory(prefix="radcycle-bench-federated-cv-") as tmp:
            result = measure(Path(tmp), keep=keep)
    from rich.console import Console

    Console(width=250).print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
