"""Request-path reads run on the event loop for SQLite, in a worker thread otherwise."""

from __future__ import annotations

import asyncio
import threading

from radcycle.service.reads import read
from radcycle.store.db import Store


def test_reads_run_inline_for_sqlite_only(database_url: str) -> None:
    store = Store.open(database_url)
    try:

        async def where() -> tuple[str, str]:
            ran = await read(store, lambda: threading.current_thread().name)
            return threading.current_thread().name, ran

        loop_thread, ran_in = asyncio.run(where())
    finally:
        store.close()
    assert store.local == database_url.startswith("sqlite")
    assert (ran_in == loop_thread) == store.local
