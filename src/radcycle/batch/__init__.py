"""Whole archives: the same tasks over thousands of items, resumable, locally or on Ray.

A batch run is a run folder (a SQLite manifest of every item: pending, running,
done with its outputs' checksum, failed with the error) and an executor: a local
pool of processes, or a Ray cluster. Tasks receive paths, write their own outputs
(temporary name, then rename) and send back small summaries. :func:`run_batch`
skips what is done, retries what failed, and resumes a killed run without
duplicates or half-written outputs.

Tasks: :mod:`radcycle.batch.radiomics` (a cohort's features, one row per case),
:mod:`radcycle.batch.deid` and :mod:`radcycle.batch.analyze` (an archive, one
patient folder per item).
"""

from radcycle.batch.engine import BatchReport, BatchSpec, Progress, run_batch
from radcycle.batch.executors import LocalPool, Outcome, RayPool, TaskResult, WorkerLostError
from radcycle.batch.manifest import Item, ItemState, open_manifest

__all__ = [
    "BatchReport",
    "BatchSpec",
    "Item",
    "ItemState",
    "LocalPool",
    "Outcome",
    "Progress",
    "RayPool",
    "TaskResult",
    "WorkerLostError",
    "open_manifest",
    "run_batch",
]
