"""The segmenter federated: its learner, and the deployment as separate processes
(a server and three site clients on loopback), each client watched by an audit
hook on every file it opens."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("monai")

from radcycle.errors import InputError
from radcycle.fl.segmenter import SegmenterLearner, cv_metrics, initial_weights, write_model
from radcycle.fl.sites import make_sites
from radcycle.models.training import TrainingSettings

SETTINGS = TrainingSettings(batch=1, channels=(4, 8), threads=1, corrective_share=0.0)


def _norm(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(np.sum((x - y) ** 2) for x, y in zip(a, b, strict=True))))


def test_learner_round_trips_weights_and_fedprox_pulls_back(patients: Path, tmp_path: Path) -> None:
    make_sites(patients, tmp_path / "sites")
    site = tmp_path / "sites" / "north"
    start = initial_weights(settings=SETTINGS)
    free = SegmenterLearner(site, settings=SETTINGS)
    free.set_weights(start)
    assert _norm(free.get_weights(), start) == 0.0
    n, loss = free.fit(3, 0.0)
    assert n == 3
    assert np.isfinite(loss)
    moved = _norm(free.get_weights(), start)
    assert moved > 0
    held = SegmenterLearner(site, settings=SETTINGS)
    held.set_weights(start)
    held.fit(3, 1e4)
    assert _norm(held.get_weights(), start) < moved


def _arm(mean: float) -> dict[str, object]:
    stats = {"mean": mean, "sd": 0.02, "n": 5}
    return {"CT": stats, "MR": stats, "PT": {**stats, "mean": mean + 0.1}, "overall": stats}


CV = {
    "folds": 5,
    "rounds": 8,
    "local_steps": 6,
    "steps": 144,
    "fold_results": [{}] * 5,
    "summary": {
        "centralised": _arm(0.6),
        "FedAvg": {**_arm(0.59), "minus_centralised": {"mean": -0.01, "sd": 0.01, "n": 5}},
        "FedAvg central DP eps=10": _arm(0.3),
    },
}


def test_model_card_carries_the_cross_validation_of_its_arm(tmp_path: Path) -> None:
    record = {
        "strategy": "fedavg", "rounds": 2, "local_steps": 1, "sites": ["north", "east"],
        "dp": None, "secagg": False, "bytes_per_round": [10, 10], "seconds": 1.0,
    }  # fmt: skip
    metrics = cv_metrics(CV, record, tmp_path / "cv.json")
    assert metrics["cv"]["PT"]["learned centre mean"] == pytest.approx(0.69)
    assert "centralised training 0.600 ± 0.020" in metrics["protocol"]
    entry = write_model(
        initial_weights(settings=SETTINGS), tmp_path / "m", record, metrics=metrics,
        settings=SETTINGS,
    )  # fmt: skip
    assert entry["metrics"]["cv"]["CT"]["learned centre n"] == 5
    card = (tmp_path / "m" / "click-unet-fl.md").read_text()
    assert "| CT | 0.590 ± 0.020 (n=5) |" in card
    dp = {"mode": "central", "epsilon": 9.9999, "delta": 1e-5}
    assert "eps=10" in cv_metrics(CV, {**record, "dp": dp}, tmp_path)["protocol"]
    with pytest.raises(InputError, match="no arm trained as this model"):
        cv_metrics(CV, {**record, "strategy": "fedprox"}, tmp_path)
    with pytest.raises(InputError, match="local DP"):
        cv_metrics(CV, {**record, "dp": {**dp, "mode": "local"}}, tmp_path)


AUDITED = """
import json, os, sys
log = open(sys.argv[1], "w")
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        log.write(os.fsdecode(args[0]) + "\\n")
        log.flush()
sys.addaudithook(hook)
sys.argv = ["radcycle", *sys.argv[2:]]
from radcycle.cli.main import main
main()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _federation_setup(
    patients: Path, tmp_path: Path
) -> tuple[Path, list[str], str, dict[str, str]]:
    """The three sites made from ``patients``, their names, a free loopback address
    for the server, and the processes' environment."""
    sites = tmp_path / "sites"
    make_sites(patients, sites)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return sites, ["north", "east", "south"], f"127.0.0.1:{_free_port()}", env


def _run_federation(
    server_argv: list[str],
    clients: list[tuple[list[str], dict[str, str]]],
    *,
    env: dict[str, str],
    server_timeout: float,
    client_timeout: float,
    settle_s: float = 0.0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The server and each site's client as processes on loopback; the server's
    JSON record and each client's, every process killed if any of them fails."""
    server = subprocess.Popen(
        server_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    started: list[subprocess.Popen[str]] = []
    try:
        time.sleep(settle_s)
        for argv, client_env in clients:
            started.append(
                subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env
                )
            )
        out, err = server.communicate(timeout=server_timeout)
        assert server.returncode == 0, err[-3000:]
        reports = []
        for client in started:
            c_out, c_err = client.communicate(timeout=client_timeout)
            assert client.returncode == 0, c_err[-3000:]
            reports.append(json.loads(c_out))
    finally:
        for process in (server, *started):
            if process.poll() is None:
                process.kill()
                process.wait()
    return json.loads(out), reports


def _assert_only_own_site_opened(
    sites: Path, patients: Path, names: list[str], opened: dict[str, list[Path]]
) -> None:
    """Every data file a site's processes opened is its own site's (or what its
    links lead to), and each opened some."""
    for name in names:
        own = {p.resolve() for p in (sites / name).rglob("*")} | {
            p.absolute() for p in (sites / name).rglob("*")
        }
        data = opened[name]
        assert any(p.name.endswith("_image.nii.gz") for p in data), name  # its own images
        strays = [p for p in data if p.absolute() not in own and p.resolve() not in own]
        assert not strays, (name, strays[:5])


def _under(paths: list[str], roots: list[Path]) -> list[Path]:
    return [Path(p) for p in paths if any(str(Path(p).resolve()).startswith(str(r)) for r in roots)]


@pytest.mark.slow
def test_server_and_site_clients_as_processes(patients: Path, tmp_path: Path) -> None:
    sites, names, address, env = _federation_setup(patients, tmp_path)
    common = ["--batch", "1", "--random-seed", "1"]
    server_argv = [
        sys.executable, "-m", "radcycle.cli.main", "fl", "server", "--address", address,
        "--clients", "3", "--rounds", "2", "--local-steps", "2", "--strategy", "fedprox",
        "--out", str(tmp_path / "model"), "--json", *common,
    ]  # fmt: skip
    clients = []
    for i, name in enumerate(names):
        extra = ["--dp-noise", "0.5"] if name == "south" else []
        argv = [
            sys.executable, "-c", AUDITED, str(tmp_path / f"{name}.opened"), "fl", "client",
            "--site", str(sites / name), "--server", address, "--site-index", str(i),
            "--json", *common, *extra,
        ]  # fmt: skip
        clients.append((argv, env))
    record, reports = _run_federation(
        server_argv, clients, env=env, server_timeout=480, client_timeout=60, settle_s=3.0
    )
    assert record["strategy"] == "fedprox"
    assert len(record["loss_per_round"]) == 2
    assert all(b > 6 * 4 * record["parameters"] for b in record["bytes_per_round"])
    assert [r["rounds"] for r in reports] == [2, 2, 2]
    assert reports[2]["dp"]["epsilon"] > 0
    assert reports[0]["dp"] is None
    entry = json.loads((tmp_path / "model" / "click-unet-fl.json").read_text())
    assert entry["training"]["procedure"].startswith("trained federated: sites")
    assert "trained federated" in (tmp_path / "model" / "click-unet-fl.md").read_text()
    assert (tmp_path / "model" / "click-unet-fl.onnx").stat().st_size > 4 * record["parameters"]
    # every file a client opened under the data is its own site's (or what its links lead to)
    roots = [sites.resolve(), patients.resolve()]
    opened = {
        name: _under((tmp_path / f"{name}.opened").read_text().splitlines(), roots)
        for name in names
    }
    _assert_only_own_site_opened(sites, patients, names, opened)


@pytest.mark.slow
def test_simulate_writes_the_model_its_entry_and_card(patients: Path, tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    make_sites(patients, sites)
    out = tmp_path / "model"
    argv = [
        sys.executable, "-m", "radcycle.cli.main", "fl", "simulate",
        "--sites", str(sites / "north"), "--sites", str(sites / "east"),
        "--sites", str(sites / "south"), "--rounds", "2", "--local-steps", "1",
        "--batch", "1", "--dp-epsilon", "30", "--out", str(out), "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=480, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(done.stdout)
    assert record["sites"] == ["north", "east", "south"]
    assert record["dp"]["epsilon"] == pytest.approx(30.0, rel=1e-3)
    assert len(record["bytes_per_round"]) == 2
    entry = json.loads((out / "click-unet-fl.json").read_text())
    assert "DP (epsilon 30.00" in entry["training"]["procedure"]
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert again.returncode == 2
    assert "error:" in again.stderr


SITECUSTOMIZE = """
import os, sys
_dir = os.environ.get("RADCYCLE_AUDIT_DIR")
if _dir:
    _log = open(os.path.join(_dir, f"{os.getpid()}.opened"), "w")
    def _hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            _log.write(os.fsdecode(args[0]) + "\\n")
            _log.flush()
    sys.addaudithook(_hook)
"""


def _opened_data(audit: Path, roots: list[Path]) -> list[Path]:
    return _under(
        [line for f in audit.glob("*.opened") for line in f.read_text().splitlines()], roots
    )


@pytest.mark.slow
def test_secagg_server_and_site_supernodes_as_processes(patients: Path, tmp_path: Path) -> None:
    # Flower's deployment runtime: the server starts a SuperLink and submits the
    # ServerApp (SecAgg+, central DP with clipping on the sites); each site runs a
    # SuperNode whose ClientApp processes train on the site's folder. Every Python
    # process a site starts is audited (a sitecustomize on its path).
    sites, names, address, env = _federation_setup(patients, tmp_path)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    common = ["--batch", "1", "--random-seed", "1", "--json"]
    server_argv = [
        sys.executable, "-m", "radcycle.cli.main", "fl", "server", "--address", address,
        "--clients", "3", "--rounds", "2", "--local-steps", "1", "--secagg",
        "--dp-noise", "0.5", "--dp-clip", "2.0", "--out", str(tmp_path / "model"), *common,
    ]  # fmt: skip
    clients = []
    for i, name in enumerate(names):
        audit = tmp_path / f"{name}.audit"
        audit.mkdir()
        client_env = {
            **env,
            "PYTHONPATH": os.pathsep.join([str(hook), env.get("PYTHONPATH", "")]),
            "RADCYCLE_AUDIT_DIR": str(audit),
        }
        argv = [
            sys.executable, "-m", "radcycle.cli.main", "fl", "client", "--site",
            str(sites / name), "--server", address, "--site-index", str(i), "--secagg",
            *common,
        ]  # fmt: skip
        clients.append((argv, client_env))
    record, reports = _run_federation(
        server_argv, clients, env=env, server_timeout=540, client_timeout=120
    )
    assert record["secagg"] is True
    assert len(record["loss_per_round"]) == 2
    assert record["dp"]["mode"] == "central"
    assert record["dp"]["epsilon"] > 0
    assert [r["rounds"] for r in reports] == [2, 2, 2]
    entry = json.loads((tmp_path / "model" / "click-unet-fl.json").read_text())
    procedure = entry["training"]["procedure"]
    assert "SecAgg+" in procedure
    assert "central" in procedure
    assert (tmp_path / "model" / "click-unet-fl.onnx").stat().st_size > 4 * record["parameters"]
    roots = [sites.resolve(), patients.resolve()]
    opened = {name: _opened_data(tmp_path / f"{name}.audit", roots) for name in names}
    _assert_only_own_site_opened(sites, patients, names, opened)
