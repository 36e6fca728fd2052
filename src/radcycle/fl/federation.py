"""Flower client and server around a site's learner: FedAvg, FedProx, DP, SecAgg+.

A :class:`Learner` is a model that trains on *one* site's data: it takes the
global weights, trains a few local steps (with FedProx's proximal term when
asked) and gives its weights back. :class:`SiteClient` is Flower's client around
one; what it sends back is the model's arrays (the global ones plus its update,
clipped and noised on the site when DP is on), the number of training samples
and its mean training loss: nothing else leaves a site.

The same client runs three ways: on one machine (:mod:`radcycle.fl.simulation`:
Flower's simulation engine on Ray, or in this process), or :func:`serve` and
:func:`connect` as separate processes talking gRPC (the deployment; with SecAgg+
the deployment runs on Flower's SuperLink and SuperNodes,
:mod:`radcycle.fl.deployment`). Strategies are
Flower's own FedAvg and FedProx, wrapped for central DP in Flower's
``DifferentialPrivacyServerSideFixedClipping`` (the server clips each update and
noises the average) or, under SecAgg+ where the server never sees one update,
``DifferentialPrivacyClientSideFixedClipping`` with ``fixedclipping_mod`` on the
sites (:func:`clip_when_asked`); :class:`Recorder` wraps the whole to record the
global weights, the bytes sent each round and the loss per round.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from flwr.client import NumPyClient
from flwr.common import Scalar

from radcycle.errors import InputError
from radcycle.fl.privacy import DPSettings, add_noise, clip

__all__ = [
    "STRATEGIES",
    "FederationResult",
    "FederationSettings",
    "Learner",
    "SiteClient",
    "build_strategy",
    "clip_when_asked",
    "connect",
    "secagg_workflow",
    "serve",
    "site_paths",
]

Arrays = list[npt.NDArray[np.float32]]

#: The aggregation strategies offered.
STRATEGIES = ("fedavg", "fedprox")

#: The only metrics a client reports besides its arrays and sample count.
CLIENT_METRICS = frozenset({"loss", "update_norm"})


class Learner(Protocol):
    """A model trained on one site's data only."""

    def get_weights(self) -> Arrays:
        """The model's arrays, in a fixed order."""
        ...

    def set_weights(self, weights: Sequence[npt.NDArray[np.float32]]) -> None:
        """Load arrays given by :meth:`get_weights`' order."""
        ...

    def fit(
        self, steps: int, proximal_mu: float, first_step: int = 0, total_steps: int = 0
    ) -> tuple[int, float]:
        """Train ``steps`` local steps from the current weights, with FedProx's term
        ``mu / 2 * ||w - w_start||^2`` when ``proximal_mu`` > 0; the number of
        training samples seen and the mean loss. ``first_step`` of ``total_steps``
        (this site's steps over the whole run; 0: unknown) place the round in the
        run, for a learning-rate schedule over the run."""
        ...


@dataclass(frozen=True)
class FederationSettings:
    """How a federation trains.

    Args:
        strategy: ``fedavg`` or ``fedprox``.
        rounds: federated rounds.
        local_steps: optimiser steps each site trains per round.
        proximal_mu: FedProx's ``mu`` (ignored by FedAvg).
        dp: local differential privacy (each site noises its own update), or None.
        random_seed: the seed of the DP noise (each site adds its index; the
            server's central noise uses the seed itself).
        secagg: aggregate with Flower's SecAgg+: the server sees the sum of the
            sites' weights, not one site's.
        central_dp: central differential privacy (updates clipped, the server
            noises their average once), or None.
    """

    strategy: str = "fedavg"
    rounds: int = 5
    local_steps: int = 20
    proximal_mu: float = 0.01
    dp: DPSettings | None = None
    random_seed: int = 0
    secagg: bool = False
    central_dp: DPSettings | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InputError(f"unknown strategy {self.strategy!r}; one of {', '.join(STRATEGIES)}")
        if self.rounds < 1 or self.local_steps < 1:
            raise InputError("rounds and local steps must be at least 1")
        if not (math.isfinite(self.proximal_mu) and self.proximal_mu >= 0):
            raise InputError(f"proximal mu must be >= 0, not {self.proximal_mu}")
        if self.dp is not None and self.central_dp is not None:
            raise InputError("choose local or central DP, not both")

    def to_json(self) -> dict[str, Any]:
        dp = None
        chosen = self.dp or self.central_dp
        if chosen is not None:
            central = self.central_dp is not None
            dp = {
                "mode": "central" if central else "local",
                "clip_norm": chosen.clip_norm,
                "noise_multiplier": chosen.noise_multiplier,
                "delta": chosen.delta,
                "epsilon": chosen.epsilon(self.rounds),
                "unit": "a site's whole data set "
                + (
                    "(central DP: updates clipped "
                    + ("on the sites" if self.secagg else "by the server")
                    + ", the server noises their average once a round)"
                    if central
                    else "(local DP: each update noised on its site)"
                ),
            }
        return {
            "strategy": self.strategy,
            "rounds": self.rounds,
            "local_steps": self.local_steps,
            "proximal_mu": self.proximal_mu if self.strategy == "fedprox" else None,
            "dp": dp,
            "secagg": self.secagg,
            "random_seed": self.random_seed,
        }


@dataclass
class FederationResult:
    """The global model and what the federation cost."""

    weights: Arrays
    settings: FederationSettings
    sites: list[str]
    loss_per_round: list[float] = field(default_factory=list)
    bytes_per_round: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def complete(self, why: str) -> FederationResult:
        """This result, once every round of the settings is done.

        Raises:
            InputError: fewer rounds were done (``why``: the likely reason).
        """
        if len(self.loss_per_round) != self.settings.rounds:
            raise InputError(
                f"the federation stopped after {len(self.loss_per_round)} of "
                f"{self.settings.rounds} rounds ({why})"
            )
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            **self.settings.to_json(),
            "sites": self.sites,
            "loss_per_round": [x if math.isfinite(x) else None for x in self.loss_per_round],
            "bytes_per_round": self.bytes_per_round,
            "parameters": int(sum(w.size for w in self.weights)),
            "seconds": round(self.seconds, 2),
        }


class SiteClient(NumPyClient):
    """Flower's client for one site: trains its learner, returns the model update alone.

    Args:
        learner: the site's model and data.
        site_index: the site's number (its DP noise seed is ``random_seed + index``).
        dp: client-side DP, or None.
        random_seed: see ``site_index``.
    """

    def __init__(
        self,
        learner: Learner,
        site_index: int = 0,
        dp: DPSettings | None = None,
        random_seed: int = 0,
    ) -> None:
        self.learner = learner
        self.dp = dp
        self.rng = np.random.default_rng(random_seed + 1000 * site_index)
        self.rounds = 0

    def get_parameters(self, config: dict[str, Any]) -> Arrays:
        return self.learner.get_weights()

    def fit(
        self, parameters: list[npt.NDArray[Any]], config: dict[str, Any]
    ) -> tuple[list[npt.NDArray[Any]], int, dict[str, Scalar]]:
        start = [np.asarray(p, dtype=np.float32) for p in parameters]
        self.learner.set_weights(start)
        steps = int(config.get("local_steps", 1))
        mu = float(config.get("proximal_mu", 0.0))
        server_round = int(config.get("server_round", 1))
        rounds = int(config.get("rounds", 0))
        samples, loss = self.learner.fit(
            steps, mu, first_step=(server_round - 1) * steps, total_steps=rounds * steps
        )
        self.rounds += 1
        update = [w - s for w, s in zip(self.learner.get_weights(), start, strict=True)]
        norm = math.sqrt(sum(float(np.sum(np.square(u, dtype=np.float64))) for u in update))
        if self.dp is not None:
            update, norm = clip(update, self.dp.clip_norm)
            update = add_noise(update, self.dp.noise_multiplier * self.dp.clip_norm, self.rng)
        weights = [np.asarray(s + u, dtype=np.float32) for s, u in zip(start, update, strict=True)]
        return weights, int(samples), {"loss": float(loss), "update_norm": float(norm)}

    def evaluate(
        self, parameters: list[npt.NDArray[Any]], config: dict[str, Any]
    ) -> tuple[float, int, dict[str, Scalar]]:
        return 0.0, 0, {}


def _tensor_bytes(parameters: Any) -> int:
    return int(sum(len(t) for t in parameters.tensors))


def clip_when_asked(msg: Any, context: Any, call_next: Any) -> Any:
    """Flower's ``fixedclipping_mod`` where the server asks for clipping (central DP
    with client-side clipping), else the message passes unchanged."""
    from flwr.client.mod import fixedclipping_mod
    from flwr.common import MessageType
    from flwr.compat.common.recorddict_compat import recorddict_to_fitins

    if msg.metadata.message_type == MessageType.TRAIN:
        try:
            config = recorddict_to_fitins(msg.content, keep_input=True).config
        except (KeyError, TypeError):  # a SecAgg+ stage, not the training itself
            config = {}
        if "clipping_norm" in config:
            return fixedclipping_mod(msg, context, call_next)
    return call_next(msg, context)


def build_strategy(
    settings: FederationSettings,
    initial: Arrays,
    sites: int,
    result: FederationResult,
    on_round: Callable[[int, Arrays], None] | None = None,
) -> Any:
    """Flower's FedAvg or FedProx for ``sites`` clients (within Flower's central-DP
    wrapper when asked), recording into ``result``."""
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import (
        DifferentialPrivacyClientSideFixedClipping,
        DifferentialPrivacyServerSideFixedClipping,
        FedAvg,
        FedProx,
        Strategy,
    )

    def fit_config(server_round: int) -> dict[str, Any]:
        return {
            "local_steps": settings.local_steps,
            "server_round": server_round,
            "rounds": settings.rounds,
        }

    def aggregate_metrics(metrics: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
        total = sum(n for n, _ in metrics) or 1
        return {"loss": sum(n * float(m.get("loss", 0.0)) for n, m in metrics) / total}

    kwargs: dict[str, Any] = {
        "fraction_fit": 1.0,
        "fraction_evaluate": 0.0,
        "min_fit_clients": sites,
        "min_available_clients": sites,
        "min_evaluate_clients": 0,
        "initial_parameters": ndarrays_to_parameters(initial),
        "on_fit_config_fn": fit_config,
        "fit_metrics_aggregation_fn": aggregate_metrics,
        "accept_failures": False,
    }
    if settings.strategy == "fedprox":
        inner: Any = FedProx(**kwargs, proximal_mu=settings.proximal_mu)
    else:
        inner = FedAvg(**kwargs)
    dp = settings.central_dp
    if dp is not None:
        # the noise is Flower's (numpy's global generator): seeded for a repeatable run
        np.random.seed(settings.random_seed)
        # under SecAgg+ the server sees no single update to clip: the sites clip
        wrapper = (
            DifferentialPrivacyClientSideFixedClipping
            if settings.secagg
            else DifferentialPrivacyServerSideFixedClipping
        )
        inner = wrapper(inner, dp.noise_multiplier, dp.clip_norm, sites)

    class Recorder(Strategy):
        """The strategy, recording bytes, loss and the global weights each round."""

        def initialize_parameters(self, client_manager: Any) -> Any:
            return inner.initialize_parameters(client_manager)

        def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            chosen = inner.configure_fit(server_round, parameters, client_manager)
            result.bytes_per_round.append(_tensor_bytes(parameters) * len(chosen))
            return chosen

        def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
            if failures:
                # Flower would go on with the last weights: a lost round is an error here
                first = failures[0]
                raise InputError(
                    f"{len(failures)} site(s) failed in round {server_round}: "
                    + (repr(first) if isinstance(first, BaseException) else "no result")
                )
            result.bytes_per_round[-1] += sum(_tensor_bytes(r.parameters) for _, r in results)
            for _, r in results:
                unexpected = set(r.metrics) - CLIENT_METRICS
                if unexpected:
                    raise InputError(f"a client sent more than its update: {sorted(unexpected)}")
            parameters, metrics = inner.aggregate_fit(server_round, results, failures)
            if parameters is not None:
                result.weights = [
                    np.asarray(a, dtype=np.float32) for a in parameters_to_ndarrays(parameters)
                ]
                if on_round is not None:
                    on_round(server_round, result.weights)
            result.loss_per_round.append(float(metrics.get("loss", float("nan"))))
            return parameters, metrics

        def configure_evaluate(
            self, server_round: int, parameters: Any, client_manager: Any
        ) -> Any:
            return inner.configure_evaluate(server_round, parameters, client_manager)

        def aggregate_evaluate(self, server_round: int, results: Any, failures: Any) -> Any:
            return inner.aggregate_evaluate(server_round, results, failures)

        def evaluate(self, server_round: int, parameters: Any) -> Any:
            return inner.evaluate(server_round, parameters)

    return Recorder()


#: SecAgg+ masks quantised weights: the range they are clipped to, and the levels.
SECAGG_CLIP = 16.0
SECAGG_LEVELS = 2**22


def secagg_workflow(sites: int) -> Any:
    """Flower's SecAgg+ fit workflow for ``sites`` sites: every site shares its mask
    with all others, and any ``sites - 1`` of them (at least 2) can rebuild a dropped
    site's; updates are clipped to :data:`SECAGG_CLIP` and quantised to
    :data:`SECAGG_LEVELS` levels. One definition for the simulation and the deployed
    processes."""
    from flwr.server.workflow import SecAggPlusWorkflow

    return SecAggPlusWorkflow(
        num_shares=sites,
        reconstruction_threshold=max(2, sites - 1),
        clipping_range=SECAGG_CLIP,
        quantization_range=SECAGG_LEVELS,
    )


def serve(
    address: str,
    site_names: Sequence[str],
    initial: Arrays,
    settings: FederationSettings,
) -> FederationResult:
    """Run the server at ``address`` (host:port) until ``settings.rounds`` rounds of
    ``len(site_names)`` clients are done; the global weights."""
    from flwr.server import ServerConfig, start_server

    if settings.secagg:
        raise InputError(
            "secure aggregation runs on Flower's SuperLink (radcycle.fl.deployment), "
            "not on the gRPC server"
        )
    result = FederationResult(list(initial), settings, list(site_names))
    strategy = build_strategy(settings, initial, len(site_names), result)
    start = time.perf_counter()
    start_server(
        server_address=address,
        config=ServerConfig(num_rounds=settings.rounds),
        strategy=strategy,
    )
    result.seconds = time.perf_counter() - start
    return result.complete("a site failed or left")


def connect(
    address: str,
    learner: Learner,
    site_index: int = 0,
    dp: DPSettings | None = None,
    random_seed: int = 0,
) -> int:
    """Run one site's client against the server at ``address`` until it is done;
    the number of rounds it trained."""
    from flwr.client import start_client

    client = SiteClient(learner, site_index, dp, random_seed)
    start_client(server_address=address, client=client.to_client(), insecure=True)
    return client.rounds


def site_paths(folders: Sequence[Path]) -> list[str]:
    """Site names from their folders (the folder name), refusing duplicates."""
    names = [Path(f).name for f in folders]
    if len(set(names)) != len(names):
        raise InputError(f"two sites share a name: {names}")
    return names
