"""Engine creation: SQLite (embedded default, WAL and foreign keys on) or PostgreSQL."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from survey import models  # noqa: F401  (registers the tables)
from survey.config import settings


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: SURVEY_DATABASE_URL or the SQLite file under ./data)."""
    url = url or settings().database_url
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        if not in_memory:
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if in_memory else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # Times are stored as UTC whatever the server's own time zone is.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args={"options": "-c timezone=UTC"})


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet (safe to run twice)."""
    SQLModel.metadata.create_all(engine)


def new_session(engine: Engine) -> Session:
    """One session per unit of work; `expire_on_commit` off so rows stay readable."""
    return Session(engine, expire_on_commit=False)


@cache
def shared_engine(url: str | None = None) -> Engine:
    """The one engine of this process for `url` (the app's pages and form routes share it)."""
    return make_engine(url)
