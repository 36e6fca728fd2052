"""Short database reads of the request path: on the event loop for SQLite, else a thread.

Every request authenticates against the database, and the worklist and case reads
are the most frequent requests. Against the SQLite file such a read is an in-process
call of well under a millisecond (one prepared statement on an index; WAL mode, so a
reader never waits for a writer), cheaper than the hop to a worker thread, and a
hop per request to a pool of 40 threads makes them contend for the GIL with the
event loop, which under load showed as tail latency. Against a database server
(PostgreSQL) a read waits on the network, so it runs in the thread pool as before.

Only short, read-only work belongs here: nothing that writes, waits on a lock,
renders images or reads files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from radcycle.store.db import Store

__all__ = ["read"]

P = ParamSpec("P")
T = TypeVar("T")


async def read(store: Store, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``: inline for a SQLite store, in the thread pool otherwise."""
    if store.local:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)
