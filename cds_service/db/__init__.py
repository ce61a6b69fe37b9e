"""The service's own database: issued cards, clinicians' feedback and seen token ids.

SQLite in the instance folder by default (one process or one host); PostgreSQL by URL
(`CDS_DATABASE_URL`) for several workers or hosts. Tables are created by Alembic migrations
(`cds_service/db/migrations`), never by `create_all`, so every deployment has the same schema.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

DEFAULT_SQLITE_NAME = "cds_service.sqlite3"
SQLITE_LOCK_WAIT_S = 30.0  # how long a writer waits for another process's write lock


class Base(DeclarativeBase):
    """Declarative base of every table the service owns."""


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores it naive; we add UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store UTC-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def default_database_url(instance_path: str | None = None) -> str:
    """SQLite in Flask's instance folder of this package (gitignored `instance/`)."""
    folder = Path(instance_path or Flask("cds_service").instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / DEFAULT_SQLITE_NAME}"


def normalise_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` mean psycopg 3, the driver this package installs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL for a log line: never the password."""
    return normalise_url(url).render_as_string(hide_password=True)


def database_problem(exc: BaseException, url: str | URL) -> str:
    """One line saying why the database cannot be used: its URL without the password and the
    driver's first line (a refused connection, a failed login), never a traceback. The
    password is removed should the driver have echoed it."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    reason = lines[0].strip() if lines else type(cause).__name__
    password = normalise_url(url).password
    if password:
        reason = reason.replace(str(password), "***")
    return f"database {safe_url(url)} cannot be used: {reason[:300]}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, begins transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer work at once; busy_timeout makes a second writer wait
    # for the lock instead of failing, so several processes on one host lose nothing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads, then writes after another process committed, fails
    # at once in WAL mode (SQLITE_BUSY_SNAPSHOT, no waiting). Taking the write lock at BEGIN
    # makes concurrent writers queue (busy_timeout) instead, so no feedback is lost. A
    # transaction that only reads (`reader`) takes no lock: it must not queue behind writers.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        _take_write_lock(connection.connection.driver_connection)


def _take_write_lock(driver: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock in `time.sleep`, not in
    SQLite's busy handler: that one sleeps inside C, and under gevent it stalled every
    connection of the worker (retries of up to 100 ms). `time.sleep` lets them run."""
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_S
    pause = 0.001
    driver.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT_S * 1000)}")


READ_ONLY = "cds_read_only"


def reader(engine: Engine) -> Engine:
    """The engine for transactions that only read (a lookup on every hook call, a health
    probe): on SQLite they take no write lock. Never write through it."""
    return engine.execution_options(**{READ_ONLY: True})


def make_engine(url: str | URL) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
