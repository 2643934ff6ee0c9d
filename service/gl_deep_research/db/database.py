"""The SQLAlchemy engine and session factory for PostgreSQL or embedded SQLite."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gl_deep_research.errors import InvalidInput
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Database:
    """Owns one engine per process; `session()` opens a unit of work."""

    def __init__(self, settings: Settings, pre_ping: bool = True) -> None:
        self.url = settings.database_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = _create_engine(settings, self.url, self.is_sqlite, pre_ping)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Autocommit sends each statement on its own, without the BEGIN and COMMIT
        # round trips. This engine shares the pool of `self.engine`.
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except (DataError, UnicodeEncodeError) as err:
                session.rollback()
                # PostgreSQL rejects some values that Python accepts, such as a NUL
                # character in text, and both drivers raise UnicodeEncodeError for a
                # lone surrogate. That is the client's input, not a server fault. The
                # request parsers reject surrogates first, so this is a safety net.
                raise InvalidInput(
                    "The request contains a value the database cannot store, such as a NUL "
                    "character or a lone surrogate in a text field; remove it and retry."
                ) from err
            except BaseException:
                session.rollback()
                raise

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run read-only `work` on an autocommit connection and return its result.

        `work` runs a second time when the first attempt lost its connection,
        as after a database restart. SQLAlchemy has then invalidated the pool's
        connections, so the second attempt runs on a new one.
        """
        try:
            with self._autocommit_engine.connect() as connection:
                return work(connection)
        except DBAPIError as err:
            if not err.connection_invalidated:
                raise
            logger.warning("Database connection lost during a read, retrying once: %s", err)
        with self._autocommit_engine.connect() as connection:
            return work(connection)

    def execute_alone(self, statement: Executable) -> None:
        """Run one write statement on an autocommit connection, where it commits on its own.

        Unlike `read`, it does not retry, because a lost connection leaves
        unknown whether the statement committed.
        """
        with self._autocommit_engine.connect() as connection:
            connection.execute(statement)

    def read_objects(self, work: Callable[[Session], T]) -> T:
        """Run read-only ORM `work` in a session on an autocommit connection, as `read` does."""

        def in_session(connection: Connection) -> T:
            with Session(connection, expire_on_commit=False) as session:
                return work(session)

        return self.read(in_session)

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(settings: Settings, url: str, is_sqlite: bool, pre_ping: bool) -> Engine:
    if not is_sqlite:
        # pool_pre_ping checks each pooled connection with a round trip before use,
        # so the service recovers from a database restart without a restart of its
        # own. Without it, the first statement on a broken connection fails, and
        # SQLAlchemy then replaces every connection the pool opened before it.
        return create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_pre_ping=pre_ping,
            pool_recycle=1800,
        )
    settings.gldr_data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(connection: Any, _record: Any) -> None:
    # WAL lets the in-process workers write while API threads read.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
