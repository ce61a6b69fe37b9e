"""A read-only SELECT compiled once by SQLAlchemy and run on a pooled driver connection.

For the one query on the hot path (the quieting lookup runs on every call that could show a
quietable card). Through SQLAlchemy's Connection (transaction bookkeeping, events, result
objects) it cost about 100 µs on SQLite, of which the driver needed 10. The statement is still
built and compiled by SQLAlchemy for the engine's dialect, and its values still go through
the column types' bind processors, so the SQL and the values are those the Connection would
send. A single SELECT needs no explicit transaction: SQLite in autocommit mode (see
`_sqlite_pragmas`) reads one consistent snapshot and takes no lock; PostgreSQL runs it in
the transaction psycopg opens, which the pool rolls back when the connection returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select


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

    def rows(self, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        values = {
            name: convert(params[name]) if convert else params[name]
            for name, convert in self._convert.items()
        }
        args: Any = tuple(values[name] for name in self._order) if self._order else values
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql, args)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back what is open
