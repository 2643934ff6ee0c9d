"""Bring the database schema to the newest Alembic revision, once at a time.

On PostgreSQL the upgrade runs under a session-level advisory lock, so
several API replicas may start together: the first migrates, the others wait
for the lock and then find the schema already at head.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from gl_deep_research.db.database import Database
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

MIGRATION_DIR = Path(__file__).resolve().parent.parent / "migration"
# Any constant shared by all replicas; it only has to differ from other
# applications' advisory locks in the same database.
ADVISORY_LOCK_KEY = 0x676C6472  # "gldr"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATION_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migration folder has no revisions"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(settings: Settings) -> bool:
    """Upgrade to head; return True when this call applied at least one migration."""
    database = Database(settings)
    try:
        with database.engine.connect() as connection:
            if not database.is_sqlite:
                logger.info("Waiting for the migration advisory lock")
                connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
                connection.commit()
            try:
                return _upgrade(connection)
            finally:
                if not database.is_sqlite:
                    connection.rollback()
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                    connection.commit()
    finally:
        database.dispose()


def _upgrade(connection: Connection) -> bool:
    before = current_revision(connection)
    connection.commit()
    head = head_revision()
    if before == head:
        logger.info("Database schema is already at revision %s", head)
        return False
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    connection.commit()
    logger.info("Migrated database schema from revision %s to %s", before, head)
    return True
