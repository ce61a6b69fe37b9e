"""Alembic environment. The connection comes from `cds_service.db.migrate` (config attribute
"connection"); models are imported so that autogenerate sees every table."""

from __future__ import annotations

from alembic import context

from cds_service.db import Base
from cds_service.feedback import models as _feedback_models  # noqa: F401  (registers tables)
from cds_service.quieting import models as _quieting_models  # noqa: F401  (registers tables)
from cds_service.security import replay as _replay_models  # noqa: F401  (registers tables)

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through cds_service.db.migrate (cds-service db upgrade)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
