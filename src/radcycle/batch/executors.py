"""Where tasks run: a local pool of processes, or a Ray cluster, behind one interface.

Both run :func:`execute` in a worker process: it calls the task with the item's
paths, catches every error into an :class:`Outcome` (an item fails, the run goes
on), checksums what the task wrote and reports the worker's peak memory. Only that
small outcome travels back to the driver.

A worker that dies (``kill -9``, out of memory) raises :class:`WorkerLostError` when its
result is asked for; the engine sends the item again, up to a limit.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import resource
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, cast

from radcycle.batch.outputs import tree_checksum
from radcycle.errors import InputError, RadcycleError

__all__ = [
    "Executor",
    "LocalPool",
    "Outcome",
    "RayPool",
    "TaskResult",
    "WorkerLostError",
    "execute",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskResult:
    """What a task returns: the files it wrote (relative to the output root) and a summary.

    The summary is a small JSON-able dict (counts, seconds): never arrays.
    """

    outputs: list[str]
    summary: dict[str, Any] = field(default_factory=dict)


# A task: (payload, params) -> TaskResult. It must be a module-level function so that
# it travels to worker processes and Ray nodes by reference.
Task = Callable[[dict[str, Any], dict[str, str]], TaskResult]


@dataclass(frozen=True)
class Outcome:
    """The small answer of one item: done (outputs, checksum) or failed (reason, error)."""

    seq: int
    ok: bool
    outputs: list[str] = field(default_factory=list)
    checksum: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    error: str = ""
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    pid: int = 0


class WorkerLostError(Exception):
    """The worker process running an item died before answering."""


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def execute(
    task: Task, seq: int, payload: dict[str, Any], params: dict[str, str], root: str
) -> Outcome:
    """Run one item in this worker; never raises for a failing item."""
    start = time.perf_counter()
    pid = os.getpid()
    try:
        result = task(payload, params)
        checksum = tree_checksum(Path(root), result.outputs)
        outcome = Outcome(seq, True, result.outputs, checksum, result.summary, pid=pid)
    except RadcycleError as exc:
        outcome = Outcome(seq, False, reason=type(exc).__name__, error=str(exc), pid=pid)
    except Exception as exc:  # one item's bug must not stop a batch of thousands
        logger.warning("item %d failed: %s: %s", seq, type(exc).__name__, exc)
        outcome = Outcome(seq, False, reason=type(exc).__name__, error=str(exc), pid=pid)
    seconds = time.perf_counter() - start
    return replace(outcome, seconds=seconds, peak_rss_mb=peak_rss_mb())


class Executor(Protocol):
    """Runs :func:`execute` calls; ``capacity`` of them at once at most."""

    name: str
    capacity: int

    def submit(
        self, task: Task, seq: int, payload: dict[str, Any], params: dict[str, str], root: str
    ) -> object:
        """Start one item; returns a handle."""

    def wait(self, handles: Sequence[object], timeout: float) -> list[object]:
        """The handles whose items have finished (maybe none before ``timeout``)."""

    def result(self, handle: object) -> Outcome:
        """The outcome of a finished item; raises :class:`WorkerLostError` if its worker died."""

    def recover(self) -> None:
        """Replace what broke when a worker died (the local pool must be rebuilt)."""

    def close(self) -> None:
        """Stop the workers."""


def _exit_with_parent(parent: int) -> None:
    """Pool initializer: a worker whose driver was killed exits instead of lingering."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="radcycle-parent-watch").start()


class LocalPool:
    """``workers`` processes on this machine (started fresh, never forked from a busy driver).

    Example:
        >>> pool = LocalPool(2)
        >>> pool.capacity
        2
        >>> pool.close()
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise InputError("--workers must be at least 1", value=workers)
        self.capacity = workers
        self.name = f"local pool, {workers} process{'es' if workers > 1 else ''}"
        self._pool: cf.ProcessPoolExecutor | None = None

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                self.capacity,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(
        self, task: Task, seq: int, payload: dict[str, Any], params: dict[str, str], root: str
    ) -> object:
        try:
            return self._executor().submit(execute, task, seq, payload, params, root)
        except cf.process.BrokenProcessPool as exc:
            # A worker died since the last wait: this item is lost with the pool, and
            # the engine learns it from the handle, as for the items in flight.
            lost: cf.Future[Outcome] = cf.Future()
            lost.set_exception(exc)
            return lost

    def wait(self, handles: Sequence[object], timeout: float) -> list[object]:
        futures = [h for h in handles if isinstance(h, cf.Future)]
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def result(self, handle: object) -> Outcome:
        if not isinstance(handle, cf.Future):
            raise TypeError(f"not a handle of this pool: {handle!r}")
        try:
            outcome = handle.result()
        except (cf.process.BrokenProcessPool, cf.CancelledError) as exc:
            raise WorkerLostError(str(exc) or "the pool was stopped") from exc
        if not isinstance(outcome, Outcome):
            raise TypeError(f"unexpected result {outcome!r}")
        return outcome

    def recover(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        self.recover()


class RayPool:
    """The same tasks on a Ray cluster (``address``: ``host:port``, ``auto`` or ``local``).

    ``local`` starts a private Ray instance on this machine; any other address
    connects to a running cluster, whose workers must import the same radcycle.
    ``workers`` caps the items in flight (default: the cluster's CPUs).
    """

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise InputError("--ray needs Ray: pip install 'radcycle[batch]'") from exc
        self._ray = ray
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        with warnings.catch_warnings():
            # Ray's tip about a future default for accelerators: noise for CPU tasks.
            warnings.filterwarnings("ignore", "Tip: In future versions of Ray", FutureWarning)
            if address == "local":
                ray.init(num_cpus=workers, include_dashboard=False, **options)
            else:
                ray.init(address=address, **options)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = workers or max(1, cpus)
        self.name = f"ray {address}, {cpus} CPU(s) in the cluster"
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute)

    def submit(
        self, task: Task, seq: int, payload: dict[str, Any], params: dict[str, str], root: str
    ) -> object:
        return self._remote.remote(task, seq, payload, params, root)

    def wait(self, handles: Sequence[object], timeout: float) -> list[object]:
        if not handles:
            return []
        ready, _ = self._ray.wait(list(handles), num_returns=1, timeout=timeout)
        return list(ready)

    def result(self, handle: object) -> Outcome:
        try:
            outcome = self._ray.get(cast(Any, handle))
        except self._ray.exceptions.RayError as exc:  # worker or node died, task lost
            raise WorkerLostError(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(outcome, Outcome):
            raise TypeError(f"unexpected result {outcome!r}")
        return outcome

    def recover(self) -> None:
        """Nothing to rebuild: Ray starts new workers by itself."""

    def close(self) -> None:
        self._ray.shutdown()
