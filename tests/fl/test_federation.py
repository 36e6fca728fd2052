"""Flower plumbing: strategies, what a client sends, DP, on a small least-squares
learner per site (the segmenter's learner is tested in test_segmenter.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from radcycle.errors import InputError
from radcycle.fl.federation import (
    CLIENT_METRICS,
    FederationSettings,
    SiteClient,
)
from radcycle.fl.privacy import DPSettings, epsilon, noise_for_epsilon
from radcycle.fl.simulation import run_in_process

ROOT = Path(__file__).resolve().parents[2]
TRUE_W = np.array([1.0, -2.0, 0.5], np.float32)


class LeastSquares:
    """A linear model fitted by gradient steps on one site's points."""

    def __init__(self, site: int) -> None:
        rng = np.random.default_rng(site)
        self.x = rng.normal(site, 1.0, (20 + 10 * site, 3)).astype(np.float32)
        self.y = self.x @ TRUE_W
        self.w = np.zeros(3, np.float32)
        self.b = np.zeros(1, np.float32)

    def get_weights(self) -> list[npt.NDArray[np.float32]]:
        return [self.w.copy(), self.b.copy()]

    def set_weights(self, weights: Sequence[npt.NDArray[np.float32]]) -> None:
        self.w, self.b = (np.array(a, np.float32) for a in weights)

    def fit(
        self, steps: int, proximal_mu: float, first_step: int = 0, total_steps: int = 0
    ) -> tuple[int, float]:
        self.placed = (first_step, total_steps)
        w0 = self.w.copy()
        losses = []
        for _ in range(steps):
            err = self.x @ self.w + self.b - self.y
            losses.append(float(np.mean(err**2)))
            grad = self.x.T @ err / len(err) + proximal_mu * (self.w - w0)
            self.w = (self.w - 0.02 * grad).astype(np.float32)
            self.b = (self.b - 0.02 * np.mean(err)).astype(np.float32)
        return len(self.x) * steps, float(np.mean(losses))


def test_client_sends_its_arrays_count_and_loss_only() -> None:
    client = SiteClient(LeastSquares(0))
    start = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
    arrays, n, metrics = client.fit(start, {"local_steps": 3})
    assert [a.shape for a in arrays] == [(3,), (1,)]
    assert all(a.dtype == np.float32 for a in arrays)
    assert n == 60
    assert set(metrics) <= CLIENT_METRICS
    assert all(isinstance(v, float) for v in metrics.values())
    # the round's place in the run, for the learning-rate schedule
    client.fit(start, {"local_steps": 3, "server_round": 3, "rounds": 5})
    assert client.learner.placed == (6, 15)  # type: ignore[attr-defined]


def test_dp_clips_and_noises_the_update_on_the_client() -> None:
    start = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
    _, _, m = SiteClient(LeastSquares(1)).fit(start, {"local_steps": 5})
    assert m["update_norm"] > 0.1
    tight = DPSettings(clip_norm=0.01, noise_multiplier=1e-6)
    clipped, _, _ = SiteClient(LeastSquares(1), dp=tight).fit(start, {"local_steps": 5})
    norm = float(np.sqrt(sum(np.sum(a**2) for a in clipped)))
    assert norm == pytest.approx(0.01, rel=1e-3)
    noisy = DPSettings(clip_norm=0.01, noise_multiplier=100.0)
    a, _, _ = SiteClient(LeastSquares(1), dp=noisy, random_seed=1).fit(start, {"local_steps": 5})
    b, _, _ = SiteClient(LeastSquares(1), dp=noisy, random_seed=2).fit(start, {"local_steps": 5})
    assert not np.allclose(a[0], b[0])
    assert np.std(np.concatenate([a[0], a[1]])) > 0.1


def test_accountant_spends_more_with_rounds_and_less_with_noise() -> None:
    assert epsilon(2.0, 20, 1e-5) > epsilon(2.0, 10, 1e-5) > epsilon(4.0, 10, 1e-5)
    z = noise_for_epsilon(3.0, 10, 1e-5)
    assert epsilon(z, 10, 1e-5) <= 3.0 < epsilon(z * 0.95, 10, 1e-5)
    with pytest.raises(InputError):
        DPSettings(clip_norm=0.0, noise_multiplier=1.0)
    with pytest.raises(InputError):
        FederationSettings(strategy="fedsgd")


def _make(index: int) -> Any:
    return LeastSquares(index)


def _simulate(*argv: str) -> dict[str, Any]:
    # Ray is started in a process of its own (as `radcycle fl simulate` does)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SIMULATION, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


SIMULATION = """
import json, sys
import numpy as np
from radcycle.fl.federation import FederationSettings
from radcycle.fl.simulation import simulate
from radcycle.fl.privacy import DPSettings
from tests.fl.test_federation import _make
central = DPSettings(float(sys.argv[3]), 1e-6) if len(sys.argv) > 3 else None
settings = FederationSettings(
    strategy=sys.argv[1], rounds=4, local_steps=10, proximal_mu=0.01, secagg=sys.argv[2] == "1",
    central_dp=central,
)
initial = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
result = simulate(["a", "b", "c"], _make, initial, settings)
print(json.dumps({**result.to_json(), "w": result.weights[0].tolist()}))
"""


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "secagg"), [("fedavg", 0), ("fedprox", 0), ("fedavg", 1)])
def test_simulation_converges_and_counts_bytes(strategy: str, secagg: int) -> None:
    result = _simulate(strategy, str(secagg))
    assert result["strategy"] == strategy
    assert result["secagg"] == bool(secagg)
    loss = result["loss_per_round"]
    assert len(loss) == 4
    if not secagg:  # with SecAgg+ the server sees the sum of the weights alone
        assert loss[-1] < loss[0]
        # each round: the global arrays to 3 sites and 3 updates back, float32 plus headers
        assert all(b >= 6 * 4 * 4 for b in result["bytes_per_round"])
    error = np.abs(np.array(result["w"]) - TRUE_W).max()
    assert error < np.abs(TRUE_W).max()


@pytest.mark.slow
def test_central_dp_clips_on_the_server_or_under_secagg_on_the_sites() -> None:
    # central DP (Flower's wrappers): without SecAgg+ the server clips each update;
    # under SecAgg+ it cannot see one, and the sites clip (fixedclipping_mod). With
    # next to no noise both give the same model, each round moved at most the clip
    clip = 0.05
    server = _simulate("fedavg", "0", str(clip))
    sites = _simulate("fedavg", "1", str(clip))
    for record in (server, sites):
        assert record["dp"]["mode"] == "central"
        assert record["dp"]["clip_norm"] == clip
        assert clip < np.linalg.norm(record["w"]) <= 4 * clip + 1e-3
    assert "by the server" in server["dp"]["unit"]
    assert "on the sites" in sites["dp"]["unit"]
    # SecAgg+ quantises the weights (2^22 levels over +-16)
    np.testing.assert_allclose(server["w"], sites["w"], atol=1e-4)


def test_central_and_local_dp_exclude_each_other() -> None:
    dp = DPSettings(clip_norm=1.0, noise_multiplier=1.0)
    with pytest.raises(InputError, match="not both"):
        FederationSettings(dp=dp, central_dp=dp)
    record = FederationSettings(rounds=4, central_dp=dp).to_json()["dp"]
    assert record["mode"] == "central"
    assert record["epsilon"] == pytest.approx(epsilon(1.0, 4, 1e-5))


@pytest.mark.parametrize("strategy", ["fedavg", "fedprox"])
def test_in_process_federation_converges_without_ray(strategy: str) -> None:
    # Flower's server loop with the sites' clients called directly
    initial = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
    rounds: list[int] = []
    result = run_in_process(
        ["a", "b", "c"],
        _make,
        initial,
        FederationSettings(strategy, rounds=4, local_steps=10),
        on_round=lambda r, _: rounds.append(r),
    )
    assert rounds == [1, 2, 3, 4]
    assert result.loss_per_round[-1] < result.loss_per_round[0]
    assert all(b >= 6 * 4 * 4 for b in result.bytes_per_round)
    error = np.abs(result.weights[0] - TRUE_W).max()
    assert error < np.abs(TRUE_W).max()
    clipped = run_in_process(
        ["a", "b", "c"],
        _make,
        initial,
        FederationSettings(strategy, rounds=4, local_steps=10, central_dp=DPSettings(0.05, 1e-6)),
    )
    assert np.linalg.norm(clipped.weights[0]) <= 4 * 0.05 + 1e-3
    with pytest.raises(InputError, match="SecAgg"):
        run_in_process(["a"], _make, initial, FederationSettings(secagg=True))


class Failing(LeastSquares):
    """A site whose training breaks."""

    def fit(
        self, steps: int, proximal_mu: float, first_step: int = 0, total_steps: int = 0
    ) -> tuple[int, float]:
        raise RuntimeError("disk gone")


def test_a_failed_site_stops_the_federation() -> None:
    # Flower would aggregate the others and go on; a lost round must not pass silently
    initial = [np.zeros(3, np.float32), np.zeros(1, np.float32)]

    def make(index: int) -> Any:
        return Failing(index) if index == 1 else LeastSquares(index)

    for settings in (
        FederationSettings(rounds=2, local_steps=2),
        FederationSettings(rounds=2, local_steps=2, central_dp=DPSettings(1.0, 1.0)),
    ):
        with pytest.raises(InputError, match=r"1 site\(s\) failed in round 1.*disk gone"):
            run_in_process(["a", "b", "c"], make, initial, settings)


def test_a_round_lost_to_the_simulation_is_run_again_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray now and then loses a site's result on a loaded machine: the seeded run
    is started again, once; a second loss, or any other crash, is the error."""
    import flwr.simulation

    from radcycle.fl import simulation

    calls: list[Any] = []

    def crashing(cause: BaseException, times: int) -> Any:
        def start(**kwargs: Any) -> None:
            calls.append(kwargs["strategy"])
            if len(calls) <= times:
                raise RuntimeError("Simulation crashed.") from cause

        return start

    lost = InputError("1 site(s) failed in round 2: ValueError('object refs')")
    settings = FederationSettings(rounds=1, local_steps=1)
    start = [np.zeros(3, np.float32), np.zeros(1, np.float32)]
    monkeypatch.setattr(flwr.simulation, "start_simulation", crashing(lost, 1))
    # the second run ends normally here, without rounds: the check after it speaks
    with pytest.raises(InputError, match="stopped after 0 of 1 rounds"):
        simulation.simulate(["a", "b"], _make, start, settings)
    assert len(calls) == 2
    assert calls[0] is not calls[1]  # a new run, its own record of the rounds
    for cause, runs in ((lost, 2), (ValueError("a bug"), 1)):
        calls.clear()
        monkeypatch.setattr(flwr.simulation, "start_simulation", crashing(cause, 9))
        with pytest.raises(RuntimeError):
            simulation.simulate(["a", "b"], _make, start, settings)
        assert len(calls) == runs
