"""SQLite's write-ahead-log checkpoints, moved off the server workers' event loops.

SQLite copies its write-ahead log back into the database file (a checkpoint) inside whichever
commit takes the log past 1,000 pages, and syncs the file. On SQLite the issued-card batches
and token ids are committed on a worker's event loop, so that one commit (up to 35 ms measured
in the server) held every call in flight on the worker: it was the typical call's latency tail.

When `cds-service serve` runs on SQLite, its connections never checkpoint on commit
(`defer_checkpoints`), and each worker runs a `WalCheckpointer`: an operating-system thread,
not a greenlet, so the copy and the sync run while the loop serves calls. Every `interval` it
checkpoints in RESTART mode on its own connection: a writer that arrives meanwhile waits
cooperatively (`db._take_write_lock`) for at most `BUSY_WAIT_MS` and the copy, readers never
wait, and the log then starts again from its beginning, so the file holds about `interval`
seconds of writes. A checkpoint that cannot finish (a long read, a disk error) is tried again
at the next interval; meanwhile the log grows, and nothing is lost: SQLite reads committed
pages from the log until they are copied. The first failure after a success is logged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

INTERVAL_S = 1.0
# How long a checkpoint waits for a writer or a reader to finish. New writers wait while it is
# pending (cooperatively), so it gives up early and tries again at the next interval.
BUSY_WAIT_MS = 100
NO_AUTO_CHECKPOINT = "PRAGMA wal_autocheckpoint=0"
CHECKPOINT = "PRAGMA wal_checkpoint(RESTART)"


def serving_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """For a server on a SQLite file: from now on `engine`'s connections defer checkpoints, and
    each worker starts the checkpointer returned. None on PostgreSQL or an in-memory database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    defer_checkpoints(engine)
    return WalCheckpointer(database)


def defer_checkpoints(engine: Engine) -> None:
    """Connections `engine` opens from now on leave checkpoints to a WalCheckpointer."""
    event.listen(engine, "connect", _no_auto_checkpoint)


def _no_auto_checkpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(NO_AUTO_CHECKPOINT)


class WalCheckpointer:
    """Checkpoints the SQLite database at `path` every `interval` seconds from a native thread
    (`start`), or once (`checkpoint`)."""

    def __init__(self, path: str, interval: float = INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self.failing = False
        self._connection: sqlite3.Connection | None = None

    def checkpoint(self) -> tuple[int, int, int]:
        """SQLite's answer: (1 if it could not finish for a busy lock, else 0; pages in the
        log; pages copied back into the database)."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._connection.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
        # fetchall, not fetchone: the statement must end, or this connection keeps a read
        # lock on the log and the log can never start again.
        busy, log_pages, copied = self._connection.execute(CHECKPOINT).fetchall()[0]
        return busy, log_pages, copied

    def run_once(self) -> str | None:
        """One checkpoint; what kept it from running (the error's name) the first time after a
        success, else None. Never raises."""
        try:
            self.checkpoint()
        except sqlite3.Error as exc:
            self._connection = None  # a fresh connection next time
            first, self.failing = not self.failing, True
            return type(exc).__name__ if first else None
        self.failing = False
        return None

    def start(self) -> None:
        """Checkpoints every `interval` from now on, in a thread of the operating system (under
        gevent too), until the process exits. Call it from the worker's own thread: a failure
        is logged from its loop (the logging locks are the loop's, under gevent)."""
        from gevent import get_hub

        loop = get_hub().loop
        native_thread(lambda: self._run(loop))

    def _run(self, loop: Any) -> None:
        pause = native_sleep()
        while True:
            pause(self.interval)
            if error := self.run_once():
                loop.run_callback_threadsafe(
                    log.warning,
                    "SQLite checkpoint failed (%s): the -wal file grows until one succeeds",
                    error,
                )


def native_thread(target: Callable[[], None]) -> None:
    """Starts `target` in a thread of the operating system, even where gevent has patched
    `threading` (its threads are greenlets, on the loop's own thread)."""
    from gevent import monkey

    start_new_thread = monkey.get_original("_thread", "start_new_thread")
    start_new_thread(target, ())


def native_sleep() -> Callable[[float], None]:
    from gevent import monkey

    sleep: Callable[[float], None] = monkey.get_original("time", "sleep")
    return sleep
