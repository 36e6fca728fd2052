"""The federation on Flower's deployment runtime: SuperLink, SuperNodes, ServerApp
and ClientApp as separate processes, with SecAgg+.

Flower's secure aggregation runs on its message API, which the deployment runtime
carries: a SuperLink (the server's endpoint), one SuperNode per site, the
ServerApp (:data:`server_app`: the strategy of :mod:`radcycle.fl.federation`
under Flower's ``SecAggPlusWorkflow``) and the ClientApp (:data:`client_app`:
the site's learner behind ``secaggplus_mod``). :func:`serve_superlink` starts
the SuperLink, submits the run as ``flwr run`` does (a Flower app folder written
here, naming the apps of this module, so nothing is fetched or installed) and
waits for the global weights; :func:`run_supernode` runs one site's SuperNode
until the SuperLink has gone. Flower's own processes are started directly
(``flower-superlink``, ``flower-supernode``, ``flwr run``), with runtime
dependency installation off: everything runs offline on loopback.

The run's settings reach the ServerApp as the app's run config; a site's folder,
number, DP and seed reach its ClientApp as the SuperNode's node config (a TOML
file), so no site's path is ever sent to the server. Each ClientApp process
trains one round (Flower starts one per message) and appends what it did to the
site's own log file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radcycle.errors import InputError
from radcycle.fl.federation import (
    FederationResult,
    FederationSettings,
    SiteClient,
    build_strategy,
    clip_when_asked,
    secagg_workflow,
)
from radcycle.fl.privacy import DPSettings

__all__ = [
    "client_app",
    "run_supernode",
    "serve_superlink",
    "server_app",
]

Arrays = list[npt.NDArray[np.float32]]

#: The app's module, as the app folder names it.
APP_MODULE = "radcycle_fl_app"
#: Files the ServerApp leaves for :func:`serve_superlink`.
WEIGHTS_FILE = "weights.npz"
RECORD_FILE = "federation.json"


def _bin(name: str) -> str:
    """A Flower command of this interpreter's environment."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise InputError(f"Flower's {name} is not installed (the fl extra)")
    return found


def _env(home: Path) -> dict[str, str]:
    """The environment of Flower's processes: its home here, and this interpreter's
    commands first on the path (the SuperLink and SuperNode start Flower's
    ``flower-superexec`` by name)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "FLWR_HOME": str(home), "PATH": path}


def _split(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InputError(f"not a host:port address: {address!r}", value=address)
    return host, int(port)


def _wait_for_port(host: str, port: int, process: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InputError(f"the Flower process stopped at start (exit {process.returncode})")
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.3)
    raise InputError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _toml(values: dict[str, Any]) -> str:
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        else:
            text = json.dumps(str(value))  # a TOML basic string
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def _app_folder(folder: Path, run_config: dict[str, Any]) -> Path:
    """A Flower app folder naming this module's apps, with ``run_config``."""
    folder.mkdir(parents=True)
    (folder / f"{APP_MODULE}.py").write_text(
        '"""The radcycle federation\'s apps (radcycle.fl.deployment)."""\n\n'
        "from radcycle.fl.deployment import client_app, server_app\n\n"
        '__all__ = ["client_app", "server_app"]\n'
    )
    (folder / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        'name = "radcycle-fl"\n'
        'version = "1.0.0"\n'
        'description = "radcycle federated training of the click model"\n'
        'license = "Apache-2.0"\n'
        "dependencies = []\n\n"
        "[tool.hatch.build.targets.wheel]\n"
        'packages = ["."]\n\n'
        "[tool.flwr.app]\n"
        'publisher = "radcycle"\n\n'
        "[tool.flwr.app.components]\n"
        f'serverapp = "{APP_MODULE}:server_app"\n'
        f'clientapp = "{APP_MODULE}:client_app"\n\n'
        "[tool.flwr.app.config]\n" + _toml(run_config)
    )
    return folder


def _run_config(settings: FederationSettings, sites: int, batch: int, out: Path) -> dict[str, Any]:
    dp = settings.central_dp
    return {
        "strategy": settings.strategy,
        "rounds": settings.rounds,
        "local-steps": settings.local_steps,
        "mu": settings.proximal_mu,
        "seed": settings.random_seed,
        "secagg": settings.secagg,
        "sites": sites,
        "batch": batch,
        "dp-noise": dp.noise_multiplier if dp else 0.0,
        "dp-clip": dp.clip_norm if dp else 1.0,
        "dp-delta": dp.delta if dp else 1e-5,
        "out": str(out),
    }


def _settings_from(config: Any) -> tuple[FederationSettings, int, int, Path]:
    noise = float(config["dp-noise"])
    central = (
        DPSettings(float(config["dp-clip"]), noise, float(config["dp-delta"]))
        if noise > 0
        else None
    )
    settings = FederationSettings(
        strategy=str(config["strategy"]),
        rounds=int(config["rounds"]),
        local_steps=int(config["local-steps"]),
        proximal_mu=float(config["mu"]),
        random_seed=int(config["seed"]),
        secagg=bool(config["secagg"]),
        central_dp=central,
    )
    return settings, int(config["sites"]), int(config["batch"]), Path(str(config["out"]))


def _server_main(grid: Any, context: Any) -> None:
    """The ServerApp: the federation's strategy, with SecAgg+ when asked."""
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.workflow import DefaultWorkflow

    from radcycle.fl.segmenter import initial_weights
    from radcycle.models.training import TrainingSettings

    settings, sites, batch, out = _settings_from(context.run_config)
    training = TrainingSettings(batch=batch, random_seed=settings.random_seed, threads=1)
    initial = initial_weights(settings=training)
    result = FederationResult(list(initial), settings, [f"site {i + 1}" for i in range(sites)])
    strategy = build_strategy(settings, initial, sites, result)
    legacy = LegacyContext(
        context=context, config=ServerConfig(num_rounds=settings.rounds), strategy=strategy
    )
    start = time.perf_counter()
    if settings.secagg:
        DefaultWorkflow(fit_workflow=secagg_workflow(sites))(grid, legacy)
        result.bytes_per_round = []  # the strategy sees the unmasked sum only
    else:
        DefaultWorkflow()(grid, legacy)
    result.seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / WEIGHTS_FILE, *result.weights)
    (out / RECORD_FILE).write_text(json.dumps(result.to_json(), indent=2) + "\n")


class _RoundClient:
    """One round of one site in a ClientApp process: the site's learner seeded by
    the round (a fresh process each round must not repeat the last one's patches
    or noise), and what it did appended to the site's log."""

    def __init__(self, node_config: Any) -> None:
        self.site = Path(str(node_config["site"]))
        self.index = int(node_config["site-index"])
        self.batch = int(node_config["batch"])
        self.seed = int(node_config["seed"])
        noise = float(node_config["dp-noise"])
        self.dp = (
            DPSettings(float(node_config["dp-clip"]), noise, float(node_config["dp-delta"]))
            if noise > 0
            else None
        )
        self.log = Path(str(node_config["log"]))

    def fit(
        self, parameters: list[npt.NDArray[Any]], config: dict[str, Any]
    ) -> tuple[list[npt.NDArray[Any]], int, dict[str, Any]]:
        from radcycle.fl.segmenter import SegmenterLearner
        from radcycle.models.training import TrainingSettings

        server_round = int(config.get("server_round", 1))
        seed = self.seed + 7919 * server_round
        training = TrainingSettings(batch=self.batch, random_seed=seed, threads=1)
        learner = SegmenterLearner(self.site, settings=training)
        client = SiteClient(learner, self.index, self.dp, seed)
        weights, samples, metrics = client.fit(parameters, config)
        with self.log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"round": server_round, "samples": samples, **metrics}) + "\n")
        return weights, samples, metrics


def _client_fn(context: Any) -> Any:
    from flwr.client import NumPyClient

    round_client = _RoundClient(context.node_config)

    class Client(NumPyClient):
        def fit(self, parameters: Any, config: Any) -> Any:
            return round_client.fit(parameters, config)

        def evaluate(self, parameters: Any, config: Any) -> Any:
            return 0.0, 0, {}

    return Client().to_client()


def _apps() -> tuple[Any, Any]:
    from flwr.client import ClientApp
    from flwr.client.mod import secaggplus_mod
    from flwr.server import ServerApp

    server = ServerApp()
    server.main()(_server_main)
    # SecAgg+ outermost; inside it the clipping central DP asks for, before masking
    client = ClientApp(client_fn=_client_fn, mods=[secaggplus_mod, clip_when_asked])
    return server, client


server_app, client_app = _apps()


def serve_superlink(
    address: str,
    sites: int,
    settings: FederationSettings,
    *,
    batch: int = 2,
    timeout_s: float = 3600.0,
) -> FederationResult:
    """Start a SuperLink at ``address``, run the federation of ``sites`` SuperNodes
    (:func:`run_supernode`) on it and stop it; the global weights.

    Raises:
        InputError: a Flower process failed, or the run did not finish its rounds.
    """
    host, port = _split(address)
    with tempfile.TemporaryDirectory(prefix="radcycle-fl-") as tmp:
        work = Path(tmp)
        home = work / "flwr-home"
        home.mkdir()
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
            f'address = "{host}:{port}"\ninsecure = true\n'
        )
        out = work / "result"
        app = _app_folder(work / "app", _run_config(settings, sites, batch, out))
        env = _env(home)
        link_log = (work / "superlink.log").open("w")
        link = subprocess.Popen(
            [
                _bin("flower-superlink"), "--insecure", "--host", host, "--port", str(port),
                "--disable-runtime-dependency-installation",
            ],
            stdout=link_log, stderr=subprocess.STDOUT, env=env, cwd=work,
        )  # fmt: skip
        try:
            try:
                _wait_for_port(host, port, link, 60.0)
            except InputError as exc:
                tail = (work / "superlink.log").read_text()[-1500:]
                raise InputError(f"Flower's SuperLink did not start: {exc}\n{tail}") from exc
            done = subprocess.run(
                [_bin("flwr"), "run", str(app), "local", "--stream"],
                capture_output=True, text=True, env=env, cwd=work, timeout=timeout_s,
                check=False,
            )  # fmt: skip
            if done.returncode != 0 or not (out / RECORD_FILE).is_file():
                tail = (done.stdout + done.stderr)[-2000:]
                raise InputError(f"the federation's run failed (flwr run exit "
                                 f"{done.returncode}): {tail}")  # fmt: skip
        finally:
            _stop(link)
            link_log.close()
        record = json.loads((out / RECORD_FILE).read_text())
        with np.load(out / WEIGHTS_FILE) as npz:
            weights = [np.asarray(npz[f"arr_{i}"], np.float32) for i in range(len(npz.files))]
    result = FederationResult(weights, settings, list(record["sites"]))
    result.loss_per_round = [math.nan if x is None else float(x) for x in record["loss_per_round"]]
    result.bytes_per_round = [int(b) for b in record["bytes_per_round"]]
    result.seconds = float(record["seconds"])
    return result.complete("a site failed or left")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def run_supernode(
    site: Path,
    superlink: str,
    *,
    site_index: int = 0,
    batch: int = 2,
    dp: DPSettings | None = None,
    random_seed: int = 0,
    wait_s: float = 30.0,
    start_timeout_s: float = 600.0,
) -> list[dict[str, Any]]:
    """Run one site's SuperNode against ``superlink`` until the SuperLink has gone
    (unreachable for ``wait_s`` after it was reached); the rounds the site
    trained, as its log recorded them. (Flower's SuperNode keeps running when it
    gives up reconnecting, so the end is watched here.)

    Raises:
        InputError: the address is malformed, the SuperNode stopped with an error
            before training, or no SuperLink answered within ``start_timeout_s``.
    """
    host, port = _split(superlink)
    with tempfile.TemporaryDirectory(prefix="radcycle-fl-site-") as tmp:
        work = Path(tmp)
        home = work / "flwr-home"
        home.mkdir()
        log = work / "rounds.jsonl"
        log.touch()
        node_config = work / "node.toml"
        node_config.write_text(
            _toml(
                {
                    "site": str(Path(site).resolve()),
                    "site-index": site_index,
                    "batch": batch,
                    "seed": random_seed,
                    "dp-noise": dp.noise_multiplier if dp else 0.0,
                    "dp-clip": dp.clip_norm if dp else 1.0,
                    "dp-delta": dp.delta if dp else 1e-5,
                    "log": str(log),
                }
            )
        )
        env = _env(home)
        node_log = (work / "supernode.log").open("w")
        node = subprocess.Popen(
            [
                _bin("flower-supernode"), "--insecure", "--superlink", superlink,
                "--host", "127.0.0.1", "--port", str(_free_port("127.0.0.1")),
                "--node-config", str(node_config), "--max-wait-time", str(wait_s),
            ],
            stdout=node_log, stderr=subprocess.STDOUT, env=env, cwd=work,
        )  # fmt: skip
        started = time.monotonic()
        seen = False
        gone_since: float | None = None
        try:
            while node.poll() is None:
                time.sleep(1.0)
                now = time.monotonic()
                if _reachable(host, port):
                    seen, gone_since = True, None
                elif seen:
                    gone_since = gone_since or now
                    if now - gone_since > wait_s:
                        break
                elif now - started > start_timeout_s:
                    raise InputError(
                        f"no SuperLink answered at {superlink} in {start_timeout_s:.0f} s",
                        value=superlink,
                    )
        finally:
            _stop(node)
            node_log.close()
        rounds = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        if not rounds and not seen:
            tail = (work / "supernode.log").read_text()[-2000:]
            raise InputError(f"the site's SuperNode failed (exit {node.returncode}): {tail}")
    return rounds
