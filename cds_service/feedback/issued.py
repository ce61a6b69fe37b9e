"""Issued-card records written in batches, off the request path, when the server asks for it
(`cds-service serve` on SQLite; on PostgreSQL, shared by several instances, every call writes
its records before it answers, so feedback sent at once to another instance finds them).

Every hook call records the cards it returns. Written one transaction per call, that write sits
on the hot path, and on SQLite every worker's call queues for the one write lock. In
background mode (`cds-service serve` turns it on) a call hands its rows to this writer and
answers; a thread of the worker (a greenlet under gevent) writes what has gathered every
`delay` seconds in one transaction. The rows are written before the worker exits (gunicorn's
worker_exit, and atexit), and feedback on a card not yet written finds it: the feedback store
flushes this worker's rows first and waits one more `delay` for the other workers' (see
`FeedbackStore.submit`). A worker killed outright (SIGKILL, a crash) loses at most its last
`delay` of records; the cards were delivered, and feedback on those few is refused as unknown.
Feedback itself is never deferred: it is acknowledged only once committed.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
Rows = list[dict[str, Any]]


class IssuedCardWriter:
    def __init__(self, write: Callable[[Rows], None], delay: float = 0.02) -> None:
        self._write = write
        self.delay = delay
        self.background = False
        self._pending: Rows = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._owner: int | None = None  # pid whose thread runs: a forked worker starts its own

    def add(self, rows: Rows) -> None:
        if not self.background:
            self._write_logged(rows)
            return
        with self._lock:
            self._pending.extend(rows)
            if self._owner != os.getpid():
                self._owner = os.getpid()
                threading.Thread(target=self._run, name="issued-cards", daemon=True).start()
                atexit.register(self.flush)
        self._wake.set()

    def flush(self) -> None:
        """Writes every pending row now (this worker's)."""
        with self._lock:
            rows, self._pending = self._pending, []
        if rows:
            self._write_logged(rows)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            threading.Event().wait(self.delay)  # let a batch gather
            self.flush()

    def _write_logged(self, rows: Rows) -> None:
        try:
            self._write(rows)
        except SQLAlchemyError as exc:
            # The clinician still got the cards; feedback on them will be refused as unknown.
            log.error("could not record %d issued card(s): %s", len(rows), type(exc).__name__)
