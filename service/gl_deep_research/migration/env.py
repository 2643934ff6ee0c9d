"""Alembic environment: migrates the connection given by `gl_deep_research.db.migrate`.

Run through `gldr migrate` (or the container entrypoint), which takes a
PostgreSQL advisory lock first. Plain `alembic upgrade head` with the
repository's alembic.ini also works and builds the URL from the environment.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from gl_deep_research.db.models import Base
from gl_deep_research.settings import load_settings

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(load_settings().database_url)
    with engine.connect() as owned:
        _migrate(owned)
    engine.dispose()


def _migrate(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `gldr migrate`.")
run_migrations_online()
