"""Alembic migrations, run from code: at start-up (`create_app`) or by `cds-service db upgrade`.

Several workers or hosts may start at once: the upgrade runs under a lock (a PostgreSQL
advisory lock; a file lock beside a SQLite database), so only one of them migrates and the
others find the schema at head.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_KEY = 0x4C53_4244_4201  # arbitrary, fixed: "LSB DB" + 1


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Brings the schema to `revision`; returns the revision the database is at afterwards."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            # Held until this transaction ends; PostgreSQL runs the DDL in the same transaction.
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            command.upgrade(alembic_config(connection), revision)
    else:
        with _sqlite_file_lock(engine), engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    return current_revision(engine)
