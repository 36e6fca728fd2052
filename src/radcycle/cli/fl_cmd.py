"""``radcycle fl make-sites|simulate|server|client``: federated training with Flower."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from radcycle.cli.errors import friendly_errors
from radcycle.cli.options import force_option, json_option, out_option, random_seed_option
from radcycle.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from radcycle.io.output import OutputRules
    from radcycle.models.training import TrainingSettings

console = Console()
err = Console(stderr=True)

fl_app = typer.Typer(
    help="Federated training of the learned segmenter (Flower): sites, simulation, "
    "server and client processes.",
    no_args_is_help=True,
)


@friendly_errors
def _make_sites(
    source: Path = typer.Argument(
        ..., help="Folder of sarcoma patients (STS_xxx/{CT,MR_T1,PET}_{image,mask}.nii.gz)."
    ),
    out: Path = out_option(
        "Folder to create: held-out/, one folder per site, sites.json.", required=True
    ),
    force: bool = force_option("Here: replace an earlier split (a folder holding sites.json)."),
    random_seed: int = random_seed_option(help="Seed of the draw of patients to sites."),
    folds: int = typer.Option(
        1, "--folds", min=1, help="Cross-validation: cut the patients into this many folds."
    ),
    fold: int = typer.Option(
        0, "--fold", min=0, help="Cross-validation: the fold held out (0 .. folds-1)."
    ),
    as_json: bool = json_option(),
) -> None:
    """Split patients into a held-out set and non-IID sites (sizes, modalities, calibration)."""
    from radcycle.fl.sites import make_sites

    report = make_sites(source, out, random_seed=random_seed, folds=folds, fold=fold, force=force)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    for name, patients in report.sites.items():
        calib = report.calibration[name]
        extra = f"  calibration {calib}" if calib else ""
        console.print(
            f"{name:9s} {len(patients):2d} patients  {'+'.join(report.modalities[name])}{extra}"
        )
    console.print(f"sites in {out}")


_STRATEGY = typer.Option("fedavg", "--strategy", help="fedavg or fedprox.")
_ROUNDS = typer.Option(5, "--rounds", min=1, help="Federated rounds.")
_LOCAL = typer.Option(
    20, "--local-steps", min=1, help="Optimiser steps each site trains per round."
)
_MU = typer.Option(0.01, "--mu", min=0.0, help="FedProx's proximal weight mu.")
_BATCH = typer.Option(2, "--batch", min=1, help="Patches per step (as centralised training).")
_CLIP = typer.Option(1.0, "--dp-clip", min=0.0, help="DP: L2 norm each site clips its update to.")
_DELTA = typer.Option(
    1e-5, "--dp-delta", min=0.0, max=1.0, help="DP: the delta of (epsilon, delta)."
)
_NAME = typer.Option("click-unet-fl", "--name", help="The federated model's name.")
_CV_RESULT = typer.Option(
    None,
    "--cv-result",
    help="The model card's metrics from this cross-validated result "
    "(benchmarks.bench_federated_cv --json), the arm trained as this model.",
)
_DP_MODE = typer.Option(
    "local",
    "--dp-mode",
    help="DP: local (each site noises its update) or central (updates clipped, the "
    "server noises their average).",
)
_DP_EPSILON = typer.Option(
    None, "--dp-epsilon", help="DP: each site's budget over all rounds (noise derived)."
)
_DP_NOISE = typer.Option(
    None, "--dp-noise", help="DP: noise multiplier (noise std = multiplier x clip)."
)
_SECAGG = typer.Option(
    False, "--secagg", help="Aggregate with SecAgg+: the server sees only the sum."
)
DP_MODES = ("local", "central")


def _dp(epsilon: float | None, noise: float | None, clip: float, delta: float, rounds: int) -> Any:
    from radcycle.fl.privacy import DPSettings, noise_for_epsilon

    if epsilon is not None and noise is not None:
        raise InputError("give --dp-epsilon or --dp-noise, not both")
    if epsilon is not None:
        noise = noise_for_epsilon(epsilon, rounds, delta)
    if noise is None:
        return None
    return DPSettings(clip_norm=clip, noise_multiplier=noise, delta=delta)


def _settings(batch: int, random_seed: int) -> Any:
    from radcycle.models.training import TrainingSettings

    return TrainingSettings(batch=batch, random_seed=random_seed, threads=1)


def _metrics(cv_result: Path | None, record: dict[str, Any]) -> dict[str, Any] | None:
    from radcycle.fl.segmenter import cv_metrics

    if cv_result is None:
        return None
    try:
        data = json.loads(cv_result.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no such file", path=cv_result) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable cross-validation result: {exc}", path=cv_result) from exc
    if not isinstance(data, dict):
        raise InputError("not a cross-validated benchmark result", path=cv_result)
    return cv_metrics(data, record, cv_result)


def _publish(
    weights: Sequence[npt.NDArray[np.float32]],
    record: dict[str, Any],
    out: Path,
    name: str,
    training: TrainingSettings,
    rules: OutputRules,
    cv_result: Path | None,
    as_json: bool,
) -> None:
    """Write the federated model (ONNX, registry entry, card metrics) and report it."""
    from radcycle.fl.segmenter import write_model

    metrics = _metrics(cv_result, record)
    write_model(weights, out, record, metrics=metrics, name=name, settings=training, rules=rules)
    _report({**record, "model": str(out / f"{name}.onnx")}, as_json)


def _report(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    dp = record.get("dp")
    budget = f", DP epsilon {dp['epsilon']:.2f} (delta {dp['delta']:g})" if dp else ""
    console.print(
        f"{record['strategy']}: {record['rounds']} rounds over {len(record['sites'])} sites in "
        f"{record['seconds']:.0f} s{budget}; loss per round "
        + ", ".join("-" if x is None else f"{x:.3f}" for x in record["loss_per_round"])
    )
    console.print(f"wrote {record['model']}")


@friendly_errors
def _simulate(
    sites: list[Path] = typer.Option(
        ..., "--sites", help="A site folder (repeat: --sites A --sites B ...)."
    ),
    rounds: int = _ROUNDS,
    strategy: str = _STRATEGY,
    local_steps: int = _LOCAL,
    mu: float = _MU,
    batch: int = _BATCH,
    dp_epsilon: float | None = _DP_EPSILON,
    dp_noise: float | None = _DP_NOISE,
    dp_clip: float = _CLIP,
    dp_delta: float = _DELTA,
    dp_mode: str = _DP_MODE,
    secagg: bool = _SECAGG,
    cv_result: Path | None = _CV_RESULT,
    name: str = _NAME,
    out: Path = out_option(
        "Folder for the model (.onnx), its registry entry and card.", required=True
    ),
    force: bool = force_option(),
    random_seed: int = random_seed_option(),
    as_json: bool = json_option(),
) -> None:
    """Run the whole federation on this machine (Flower's simulation engine)."""
    from radcycle.fl.federation import FederationSettings, site_paths
    from radcycle.fl.segmenter import SegmenterLearner, initial_weights
    from radcycle.fl.simulation import simulate
    from radcycle.fl.sites import read_site
    from radcycle.io.output import OutputRules

    rules = OutputRules.of(sites, force=force)
    for target in (out / f"{name}.onnx", out / f"{name}.json", out / f"{name}.md"):
        rules.check(target)
    for site in sites:
        read_site(site)
    names = site_paths(sites)
    if dp_mode not in DP_MODES:
        raise InputError(f"unknown DP mode {dp_mode!r}; one of {', '.join(DP_MODES)}")
    dp = _dp(dp_epsilon, dp_noise, dp_clip, dp_delta, rounds)
    config = FederationSettings(
        strategy=strategy,
        rounds=rounds,
        local_steps=local_steps,
        proximal_mu=mu,
        dp=dp if dp_mode == "local" else None,
        central_dp=dp if dp_mode == "central" else None,
        random_seed=random_seed,
        secagg=secagg,
    )
    training = _settings(batch, random_seed)
    folders = [s.resolve() for s in sites]

    def make_learner(index: int) -> Any:
        return SegmenterLearner(folders[index], settings=training)

    _metrics(cv_result, config.to_json() | {"sites": names})  # refuse a wrong file early
    result = simulate(names, make_learner, initial_weights(settings=training), config)
    record = {**result.to_json(), "command": "radcycle fl simulate"}
    _publish(result.weights, record, out, name, training, rules, cv_result, as_json)


@friendly_errors
def _server(
    address: str = typer.Option("127.0.0.1:8088", "--address", help="host:port to listen on."),
    clients: int = typer.Option(3, "--clients", min=1, help="Sites taking part (all, each round)."),
    rounds: int = _ROUNDS,
    strategy: str = _STRATEGY,
    local_steps: int = _LOCAL,
    mu: float = _MU,
    batch: int = _BATCH,
    dp_epsilon: float | None = typer.Option(
        None,
        "--dp-epsilon",
        help="Central DP: each site's budget over all rounds (the server noises the average).",
    ),
    dp_noise: float | None = typer.Option(
        None, "--dp-noise", help="Central DP: noise multiplier (std = multiplier x clip / sites)."
    ),
    dp_clip: float = typer.Option(
        1.0, "--dp-clip", min=0.0, help="Central DP: L2 norm each site's update is clipped to."
    ),
    dp_delta: float = _DELTA,
    secagg: bool = typer.Option(
        False,
        "--secagg",
        help="SecAgg+ on Flower's SuperLink (the sites run `fl client --secagg`): the "
        "server sees only the sum.",
    ),
    cv_result: Path | None = _CV_RESULT,
    name: str = _NAME,
    out: Path = out_option(
        "Folder for the model (.onnx), its registry entry and card.", required=True
    ),
    force: bool = force_option(),
    random_seed: int = random_seed_option(),
    as_json: bool = json_option(),
) -> None:
    """Run the federation's server: aggregate the sites' updates, write the model."""
    from radcycle.fl.federation import FederationSettings, serve
    from radcycle.fl.segmenter import initial_weights
    from radcycle.io.output import OutputRules

    rules = OutputRules.of([], force=force)
    for target in (out / f"{name}.onnx", out / f"{name}.json", out / f"{name}.md"):
        rules.check(target)
    config = FederationSettings(
        strategy=strategy,
        rounds=rounds,
        local_steps=local_steps,
        proximal_mu=mu,
        random_seed=random_seed,
        secagg=secagg,
        central_dp=_dp(dp_epsilon, dp_noise, dp_clip, dp_delta, rounds),
    )
    training = _settings(batch, random_seed)
    _metrics(cv_result, config.to_json())  # refuse a wrong file before the federation
    if secagg:
        from radcycle.fl.deployment import serve_superlink

        result = serve_superlink(address, clients, config, batch=batch)
        command = "radcycle fl server --secagg (Flower SuperLink, SecAgg+)"
    else:
        names = [f"site {i + 1}" for i in range(clients)]
        result = serve(address, names, initial_weights(settings=training), config)
        command = "radcycle fl server"
    # local DP is the sites' own: the server neither sets nor sees it
    record = {**result.to_json(), "command": command}
    _publish(result.weights, record, out, name, training, rules, cv_result, as_json)


@friendly_errors
def _client(
    site: Path = typer.Option(..., "--site", help="This site's folder (made by fl make-sites)."),
    server: str = typer.Option(..., "--server", help="The server's host:port."),
    batch: int = _BATCH,
    dp_noise: float | None = typer.Option(
        None, "--dp-noise", help="Local DP: noise multiplier (noise std = multiplier x clip)."
    ),
    dp_clip: float = _CLIP,
    dp_delta: float = _DELTA,
    site_index: int = typer.Option(
        0, "--site-index", min=0, help="This site's number (noise seed)."
    ),
    secagg: bool = typer.Option(
        False,
        "--secagg",
        help="Join a SecAgg+ server (`fl server --secagg`) as a Flower SuperNode; runs "
        "until the server has gone.",
    ),
    random_seed: int = random_seed_option(),
    as_json: bool = json_option(),
) -> None:
    """Run one site's client: train on this site's folder only, send model updates."""
    from radcycle.fl.federation import connect
    from radcycle.fl.segmenter import SegmenterLearner
    from radcycle.fl.sites import read_site

    described = read_site(site)
    dp = _dp(None, dp_noise, dp_clip, dp_delta, 1)
    if secagg:
        from radcycle.fl.deployment import run_supernode

        trained = run_supernode(
            site, server, site_index=site_index, batch=batch, dp=dp, random_seed=random_seed
        )
        rounds = len(trained)
        series = None
    else:
        learner = SegmenterLearner(site.resolve(), settings=_settings(batch, random_seed))
        rounds = connect(server, learner, site_index, dp, random_seed)
        series = learner.series
    record: dict[str, Any] = {
        "site": described["site"],
        "server": server,
        "rounds": rounds,
        "series": series,
        "secagg": secagg,
        "dp": None
        if dp is None
        else {
            "mode": "local",
            "noise_multiplier": dp.noise_multiplier,
            "clip_norm": dp.clip_norm,
            "delta": dp.delta,
            "epsilon": dp.epsilon(rounds) if rounds else 0.0,
        },
    }
    if as_json:
        typer.echo(json.dumps(record, indent=2))
    else:
        console.print(f"site {record['site']}: {rounds} rounds with {server}")


def register(app: typer.Typer) -> None:
    """Add ``radcycle fl ...`` to ``app``."""
    fl_app.command("make-sites")(_make_sites)
    fl_app.command("simulate")(_simulate)
    fl_app.command("server")(_server)
    fl_app.command("client")(_client)
    app.add_typer(fl_app, name="fl")
