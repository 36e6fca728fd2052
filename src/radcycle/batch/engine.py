"""Run every item of a batch once: resumable, back-pressured, every failure recorded.

:func:`run_batch` adopts the items into the run folder's manifest, skips what is
done, sends the rest to an executor (never more in flight than its capacity), and
records each outcome as it comes back. A worker that dies is replaced and its
items are sent again, up to ``max_attempts`` times each.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radcycle.batch.executors import Executor, Outcome, Task, WorkerLostError, peak_rss_mb
from radcycle.batch.manifest import Item, ItemState, Manifest, open_manifest
from radcycle.batch.outputs import remove_orphan_parts

__all__ = ["BatchReport", "BatchSpec", "Progress", "run_batch"]

WORKER_LOST = "WorkerLost"


@dataclass(frozen=True)
class BatchSpec:
    """What to run: the task, its items, its parameters and where outputs go.

    Attributes:
        task: a module-level function ``(payload, params) -> TaskResult``.
        items: the items, in input order (keys unique).
        params: the run's parameters, recorded in the manifest and given to every task.
        run_dir: the run folder (manifest and lock).
        output_root: the folder the tasks' outputs are relative to.
        max_attempts: how many times an item whose worker died is sent again.
    """

    task: Task
    items: Sequence[Item]
    params: dict[str, str]
    run_dir: Path
    output_root: Path
    max_attempts: int = 3


@dataclass(frozen=True)
class Progress:
    """Where a run stands, after each finished item."""

    finished: int
    total: int
    failed: int
    last: Outcome | None = None


@dataclass
class BatchReport:
    """The end of a run: counts, failures by reason, speed and memory.

    ``skipped`` items were done by an earlier run of the same run folder.
    """

    executor: str
    capacity: int
    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    max_in_flight: int = 0
    worker_lost: int = 0
    peak_worker_rss_mb: float = 0.0
    driver_rss_mb: float = 0.0

    @property
    def items_per_second(self) -> float:
        """Items finished (done or failed) per second of this run."""
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def failed_by_reason(self) -> dict[str, int]:
        """How many items failed with each reason."""
        return dict(Counter(f["reason"] for f in self.failures).most_common())

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        return {
            "executor": self.executor,
            "capacity": self.capacity,
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "failed_by_reason": self.failed_by_reason(),
            "failures": self.failures,
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.items_per_second, 3),
            "max_in_flight": self.max_in_flight,
            "worker_lost": self.worker_lost,
            "peak_worker_rss_mb": round(self.peak_worker_rss_mb, 1),
            "driver_rss_mb": round(self.driver_rss_mb, 1),
        }


class _Run:
    """The driver's loop over one manifest and one executor."""

    def __init__(
        self,
        spec: BatchSpec,
        manifest: Manifest,
        executor: Executor,
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.spec, self.manifest, self.executor, self.progress = spec, manifest, executor, progress
        self.report = BatchReport(executor.name, executor.capacity, len(spec.items))
        self.in_flight: dict[object, ItemState] = {}
        self.attempts: dict[int, int] = {}
        self.lost_error = ""  # the last word of a dead worker, for the items it took along

    def run(self, queue: deque[ItemState]) -> None:
        while queue or self.in_flight:
            while queue and len(self.in_flight) < self.executor.capacity:
                self._submit(queue.popleft())
            self.report.max_in_flight = max(self.report.max_in_flight, len(self.in_flight))
            lost: list[ItemState] = []
            for handle in self.executor.wait(list(self.in_flight), timeout=1.0):
                state = self.in_flight.pop(handle)
                try:
                    self._record(self.executor.result(handle))
                except WorkerLostError as exc:
                    lost.append(state)
                    self.lost_error = str(exc)
            if lost:
                queue.extendleft(reversed(self._retry(lost)))

    def _submit(self, state: ItemState) -> None:
        self.attempts[state.seq] = self.manifest.start(state.seq)
        spec = self.spec
        handle = self.executor.submit(
            spec.task, state.seq, state.payload, spec.params, str(spec.output_root)
        )
        self.in_flight[handle] = state

    def _record(self, outcome: Outcome) -> None:
        report = self.report
        report.peak_worker_rss_mb = max(report.peak_worker_rss_mb, outcome.peak_rss_mb)
        if outcome.ok:
            self.manifest.finish(outcome.seq, outcome.outputs, outcome.checksum, outcome.summary)
            report.done += 1
        else:
            self._fail(outcome.seq, outcome.reason, outcome.error)
        self._tell(outcome)

    def _fail(self, seq: int, reason: str, error: str) -> None:
        self.manifest.fail(seq, reason, error)
        key = self.spec.items[seq].key
        self.report.failed += 1
        self.report.failures.append({"key": key, "reason": reason, "error": error})

    def _retry(self, lost: list[ItemState]) -> list[ItemState]:
        """Items whose worker died: sent again, or failed after ``max_attempts``."""
        self.report.worker_lost += 1
        self.executor.recover()
        # Every item still in flight on a broken local pool is lost with it.
        for handle in self.executor.wait(list(self.in_flight), timeout=0):
            try:
                self._record(self.executor.result(handle))
                del self.in_flight[handle]
            except WorkerLostError:
                lost.append(self.in_flight.pop(handle))
        again = [s for s in lost if self.attempts[s.seq] < self.spec.max_attempts]
        for state in lost:
            if state not in again:
                self._fail(state.seq, WORKER_LOST, f"worker died: {self.lost_error}")
                self._tell(None)
        self.manifest.requeue(s.seq for s in again)
        return sorted(again, key=lambda s: s.seq)

    def _tell(self, outcome: Outcome | None) -> None:
        if self.progress:
            report = self.report
            finished = report.done + report.failed
            self.progress(Progress(finished, report.total - report.skipped, report.failed, outcome))


def run_batch(
    spec: BatchSpec,
    executor: Executor,
    progress: Callable[[Progress], None] | None = None,
) -> BatchReport:
    """Run every item of ``spec`` not yet done in its run folder.

    Re-running the same spec skips the done items and retries the failed ones; a
    run killed at any point resumes where it stopped. ``progress`` is called after
    every finished item.

    Raises:
        InputError: the run folder is in use, or holds a run of other items or parameters.
    """
    start = time.perf_counter()
    with open_manifest(spec.run_dir) as manifest:
        manifest.adopt(spec.params, spec.items)
        manifest.recover(spec.output_root)
        run = _Run(spec, manifest, executor, progress)
        run.report.skipped = manifest.counts()["done"]
        queue = deque(manifest.states("pending", "failed"))
        try:
            run.run(queue)
        finally:
            executor.close()
            remove_orphan_parts(spec.output_root)  # from workers killed mid-write
    report = run.report
    report.seconds = time.perf_counter() - start
    report.driver_rss_mb = peak_rss_mb()
    return report
