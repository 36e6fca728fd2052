"""A whole federation on this machine: Flower's simulation engine on Ray
(:func:`simulate`, as ``radcycle fl simulate`` runs it) or Flower's server loop
calling each site's client in this process (:func:`run_in_process`, no Ray).

Both run the clients and strategies of :mod:`radcycle.fl.federation`; the
deployment across processes is :func:`~radcycle.fl.federation.serve` and
:func:`~radcycle.fl.federation.connect` (and :mod:`radcycle.fl.deployment`
under SecAgg+).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from radcycle.errors import InputError
from radcycle.fl.federation import (
    Arrays,
    FederationResult,
    FederationSettings,
    Learner,
    SiteClient,
    build_strategy,
    clip_when_asked,
    secagg_workflow,
)

__all__ = ["RAY_INIT", "SIMULATION_ATTEMPTS", "run_in_process", "simulate"]

log = logging.getLogger(__name__)


def _site_clients(
    run: str, make_learner: Callable[[int], Learner], settings: FederationSettings
) -> Callable[[Any], Any]:
    """Flower's ``client_fn`` for one run of :func:`simulate`."""
    from flwr.common import Context

    def client_fn(context: Context) -> Any:
        # Flower asks for a client each round; a site's client (its data read once,
        # its noise generator going on) is kept for the run in the worker holding it
        index = int(context.node_config["partition-id"])
        key = (run, index)
        if key not in _CLIENTS:
            learner = make_learner(index)
            _CLIENTS[key] = SiteClient(learner, index, settings.dp, settings.random_seed)
        return _CLIENTS[key].to_client()

    return client_fn


#: Runs of :func:`simulate` before a lost round is an error (see there).
SIMULATION_ATTEMPTS = 2

#: The clients of a simulation, by run and site, in the worker process holding them.
_CLIENTS: dict[tuple[str, int], SiteClient] = {}


def simulate(
    site_names: Sequence[str],
    make_learner: Callable[[int], Learner],
    initial: Arrays,
    settings: FederationSettings,
    on_round: Callable[[int, Arrays], None] | None = None,
) -> FederationResult:
    """The whole federation on this machine (Flower's simulation engine, on Ray).

    ``make_learner(i)`` builds site ``i``'s learner inside the simulation's worker.
    A round lost to a failed site stops the run; the seeded run is then started
    again from round 1, up to :data:`SIMULATION_ATTEMPTS` runs in all (Ray's
    transport now and then fails to hand back a site's result on a loaded
    machine; a site that fails again is the error, raised as Flower raises it).
    """
    from flwr.server import ServerConfig
    from flwr.simulation import start_simulation

    # the behaviour Ray announces for its next releases, taken now (and its notice silenced)
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    for attempt in range(1, SIMULATION_ATTEMPTS + 1):
        result = FederationResult(list(initial), settings, list(site_names))
        run = uuid.uuid4().hex

        client_fn = _site_clients(run, make_learner, settings)
        strategy = build_strategy(settings, initial, len(site_names), result, on_round)
        start = time.perf_counter()
        try:
            if settings.secagg:
                _simulate_secagg(client_fn, strategy, len(site_names), settings.rounds)
                result.bytes_per_round = []  # the strategy sees the unmasked sum only
            else:
                start_simulation(
                    client_fn=client_fn,
                    num_clients=len(site_names),
                    config=ServerConfig(num_rounds=settings.rounds),
                    strategy=strategy,
                    client_resources={"num_cpus": 1},
                    ray_init_args=RAY_INIT,
                )
        except RuntimeError as exc:
            lost = exc.__cause__ if isinstance(exc.__cause__, InputError) else None
            if lost is None or attempt == SIMULATION_ATTEMPTS:
                raise
            # a round lost to the simulation's transport (Ray now and then fails to
            # hand back a site's result on a loaded machine): the run is seeded, so it
            # is run again from the start; a site that fails again is the error
            log.warning("federation run again from round 1: %s", lost)
            continue
        finally:
            for key in [k for k in _CLIENTS if k[0] == run]:
                del _CLIENTS[key]
        break
    result.seconds = time.perf_counter() - start
    return result.complete("a site failed; see the log")


def run_in_process(
    site_names: Sequence[str],
    make_learner: Callable[[int], Learner],
    initial: Arrays,
    settings: FederationSettings,
    on_round: Callable[[int, Arrays], None] | None = None,
) -> FederationResult:
    """The federation in this process, without Ray: Flower's own server loop
    (``flwr.server.Server``) calling each site's client directly, no transport.
    The same strategies, clients and DP as :func:`simulate` (the sites train one
    after the other); SecAgg+ needs Flower's message API and is refused.

    Raises:
        InputError: SecAgg+ asked for, or a site failed.
    """
    from flwr.common import DisconnectRes
    from flwr.server import Server
    from flwr.server.client_manager import SimpleClientManager
    from flwr.server.client_proxy import ClientProxy

    if settings.secagg:
        raise InputError("SecAgg+ runs in the simulation or the deployment, not in process")

    class LocalProxy(ClientProxy):
        """A site's client called directly."""

        def __init__(self, cid: str, client: Any) -> None:
            super().__init__(cid)
            self.client = client

        def get_properties(self, ins: Any, timeout: Any, group_id: Any) -> Any:
            return self.client.get_properties(ins)

        def get_parameters(self, ins: Any, timeout: Any, group_id: Any) -> Any:
            return self.client.get_parameters(ins)

        def fit(self, ins: Any, timeout: Any, group_id: Any) -> Any:
            return self.client.fit(ins)

        def evaluate(self, ins: Any, timeout: Any, group_id: Any) -> Any:
            return self.client.evaluate(ins)

        def reconnect(self, ins: Any, timeout: Any, group_id: Any) -> Any:
            return DisconnectRes(reason="")

    result = FederationResult(list(initial), settings, list(site_names))
    manager = SimpleClientManager()
    for index, name in enumerate(site_names):
        client = SiteClient(make_learner(index), index, settings.dp, settings.random_seed)
        manager.register(LocalProxy(name, client.to_client()))
    server = Server(
        client_manager=manager,
        strategy=build_strategy(settings, initial, len(site_names), result, on_round),
    )
    server.set_max_workers(1)  # one site after the other, as the simulation on one core
    start = time.perf_counter()
    server.fit(num_rounds=settings.rounds, timeout=None)
    result.seconds = time.perf_counter() - start
    return result.complete("a site failed; see the log")


#: Ray on one of the machine's cores, quietly, without its dashboard.
RAY_INIT: dict[str, Any] = {
    "num_cpus": 1,
    "include_dashboard": False,
    "log_to_driver": False,
    "configure_logging": False,
}


def _simulate_secagg(
    client_fn: Callable[[Any], Any], strategy: Any, sites: int, rounds: int
) -> None:
    """The federation with Flower's SecAgg+: the server sees only the sum of the
    sites' (masked, quantised) weights, never one site's."""
    from flwr.client import ClientApp
    from flwr.client.mod import secaggplus_mod
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.workflow import DefaultWorkflow
    from flwr.simulation import run_simulation

    client_app = ClientApp(client_fn=client_fn, mods=[secaggplus_mod, clip_when_asked])
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Any, context: Any) -> None:
        legacy = LegacyContext(
            context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy
        )
        DefaultWorkflow(fit_workflow=secagg_workflow(sites))(grid, legacy)

    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=sites,
        backend_config={"client_resources": {"num_cpus": 1}, "init_args": RAY_INIT},
    )
