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
from survey.filemodes import restrict_sqlite_files
from survey.storage import StorageError


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
            restrict_sqlite_files(url)  # the file, its WAL and journal: owner only
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


BASELINE_REVISION = "0001_baseline"
# The newest revision in survey/migrations/versions (a test keeps them equal): a database already
# there is recognised without importing Alembic, which costs a command a third of a second.
HEAD_REVISION = "0006_flagged_index"


def _at_head(engine: Engine) -> bool:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no revision table yet
        return False
    return [row[0] for row in found] == [HEAD_REVISION]


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "survey:migrations")
    config.attributes["connection"] = connection
    return config


def schema_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None: no schema, or made before migrations)."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def create_schema(engine: Engine) -> str:
    """Bring the database to the current schema; what was done: 'created', 'migrated' or
    'current'. Safe to run on every start and from several processes.

    * An empty database gets every table at once (the models' metadata, which a test keeps
      equal to the migrations' result) and is stamped at the newest revision.
    * A database made by Alembic is upgraded to the newest revision.
    * A database made by the first release (tables, no revision) is stamped at the baseline
      revision, then upgraded: its data are migrated, nothing is lost.
    """
    if _at_head(engine):
        with engine.begin() as connection:  # tables a restored backup may lack, created empty
            SQLModel.metadata.create_all(connection)
        return "current"
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    with engine.begin() as connection:
        # One process migrates at a time, and a failed migration leaves nothing behind: on
        # SQLite the driver would run DDL outside any transaction, so begin one explicitly.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(726017)")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config = _alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head()
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" in tables:
            from alembic.migration import MigrationContext

            revision = MigrationContext.configure(connection).get_current_revision()
            known = {script.revision
                     for script in ScriptDirectory.from_config(config).walk_revisions()}
            if revision is not None and revision not in known:
                raise StorageError("database.newer", revision=revision)
            if revision == head:
                outcome = "current"
            else:
                command.upgrade(config, "head")
                outcome = "migrated"
            # A restored backup may lack tables its revision has: they are created empty.
            SQLModel.metadata.create_all(connection)
            return outcome
        if "response" in tables:
            # Made before migrations: the first release's schema (its answers in rows). A
            # database whose revision table alone was lost already has the compact column.
            columns = {column["name"] for column in inspect(connection).get_columns("response")}
            command.stamp(config, "head" if "answers" in columns else BASELINE_REVISION)
            command.upgrade(config, "head")
            return "migrated"
        SQLModel.metadata.create_all(connection)
        command.stamp(config, "head")
        return "created"


def drop_schema(engine: Engine) -> None:
    """Drop every table of the schema and the revision mark (tests and empty restores)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS answer")  # the first release's
        SQLModel.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def new_session(engine: Engine) -> Session:
    """One session per unit of work; `expire_on_commit` off so rows stay readable."""
    return Session(engine, expire_on_commit=False)


@cache
def shared_engine(url: str | None = None) -> Engine:
    """The one engine of this process for `url` (the app's pages and form routes share it)."""
    return make_engine(url)
