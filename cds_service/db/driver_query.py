"""A read-only SELECT compiled once by SQLAlchemy and run on a driver connection.

For the one query on the hot path (the quieting lookup runs on every call that could show a
quietable card). Through SQLAlchemy's Connection (transaction bookkeeping, events, result
objects) it cost about 100 µs on SQLite, of which the driver needed 10. The statement is still
built and compiled by SQLAlchemy for the engine's dialect, and its values still go through
the column types' bind processors, so the SQL and the values are those the Connection would
send. A single SELECT needs no explicit transaction: SQLite in autocommit mode (see
`_sqlite_pragmas`) reads one consistent snapshot and takes no lock; PostgreSQL runs it in
the transaction psycopg opens, which the pool rolls back when the connection returns.

On SQLite the query keeps one connection of its own per process instead of taking one from
the pool for each call: checking a connection out and back in cost more than the query. A
SQLite call never yields to another greenlet, so a lock that is never contended under gevent
keeps threads apart elsewhere. The connection is opened by the pool (same pragmas), closed
when the engine is disposed (the server disposes it before forking its workers), and one
opened by another process is never used or closed here: SQLite forbids carrying a connection
across a fork.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select, event
from sqlalchemy.pool import QueuePool

_INHERITED: list[Any] = []  # connections opened before a fork: kept open, never used


class DriverQuery:
    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        self._engine = engine
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None
        self._convert: dict[str, Callable[[Any], Any] | None] = {
            bind.key: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind in compiled.binds.values()
        }
        # What the driver raises; SQLAlchemy wraps it only on its own Connection.
        self.driver_error: type[Exception] = dialect.loaded_dbapi.Error
        # A file (an in-memory database has a connection per thread, each its own database).
        self._keeps_connection = dialect.name == "sqlite" and isinstance(engine.pool, QueuePool)
        self._kept: Any = None  # the pool's record of the connection, detached from the pool
        self._kept_pid = 0
        self._lock = threading.Lock()
        if self._keeps_connection:
            event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def rows(self, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        values = {
            name: convert(params[name]) if convert else params[name]
            for name, convert in self._convert.items()
        }
        args: Any = tuple(values[name] for name in self._order) if self._order else values
        if self._keeps_connection:
            with self._lock:
                return self._run(self._connection(), args)
        connection = self._engine.raw_connection()
        try:
            return self._run(connection, args)
        finally:
            connection.close()  # back to the pool, which rolls back what is open

    def _run(self, connection: Any, args: Any) -> list[tuple[Any, ...]]:
        cursor = connection.cursor()
        try:
            cursor.execute(self._sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _connection(self) -> Any:
        if self._kept is None or self._kept_pid != os.getpid():
            if self._kept is not None:
                _INHERITED.append(self._kept)  # closing it here would be SQLite's fork hazard
            kept = self._engine.raw_connection()
            kept.detach()  # ours until close(); the pool opens others as it needs
            self._kept, self._kept_pid = kept, os.getpid()
        return self._kept

    def close(self) -> None:
        """Closes this process's connection (an inherited one is left alone)."""
        kept, self._kept = self._kept, None
        if kept is not None and self._kept_pid == os.getpid():
            kept.close()
