"""Backup and restore of the whole database: SQLite online backup, PostgreSQL pg_dump/pg_restore.

SQLite: `backup_database` copies the live database with SQLite's online backup API (one read
transaction, so the copy is consistent while the app keeps writing; WAL contents included) into a
single self-contained file (rollback journal, no ``-wal`` beside it). `restore_database` first
checks a private copy of the backup (a SQLite file, intact, holding the core tables, every table
it holds having the columns of `survey.models`), then copies it into the live database with the
same API, in one transaction: connections the app holds open see the restored data on their next
query. Tables added to the schema after the backup was made are created empty.

PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner
--single-transaction` with the connection details of the URL passed in the environment (the
password in PGPASSWORD, never on the command line).

Both refuse to overwrite: a backup file that exists, or a database that holds data (see
`data_in_database`), unless `force` is given. Nothing here imports Streamlit.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from survey import models  # noqa: F401  (registers the tables)
from survey.filemodes import restrict_sqlite_files

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
# A backup must hold these tables; tables added to the schema later are created empty on restore,
# so a backup made before an upgrade still restores. A backup of the first release (no Alembic
# revision table) also holds its answers table; it is migrated after the restore.
REQUIRED_TABLES = ("organisation", "questionnaire_version", "campaign", "import_batch", "response")
FIRST_RELEASE_TABLES = (*REQUIRED_TABLES, "answer")


def required_tables(tables: set[str]) -> tuple[str, ...]:
    """The tables a backup holding `tables` must have (more for a first-release backup)."""
    return REQUIRED_TABLES if "alembic_version" in tables else FIRST_RELEASE_TABLES
PG_LOCK_TIMEOUT = "60s"  # a restore waits this long for the app's locks, then fails cleanly

# libpq URL query parameters passed on as environment variables.
_LIBPQ_QUERY_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
}


class BackupError(ValueError):
    """A backup or restore was refused or failed; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    backend: str  # "sqlite" or "postgresql"


def schema_tables() -> dict[str, set[str]]:
    """The tables of `survey.models` and their column names."""
    return {
        table.name: {column.name for column in table.columns}
        for table in SQLModel.metadata.sorted_tables
    }


def describe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _backend(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return "sqlite"
    if url.get_backend_name() in ("postgresql", "postgres"):
        return "postgresql"
    raise BackupError(f"backup supports SQLite and PostgreSQL databases, not {url.drivername!r}")


def backup_database(url: str, path: str | Path, *, force: bool = False) -> BackupResult:
    """Write a backup of the database at `url` to `path`; refuses an existing `path` unless `force`.

    The file is written beside `path` under a temporary name and renamed when complete, so `path`
    never holds a partial backup. It is created readable by its owner only.
    """
    parsed = make_url(url)
    backend = _backend(parsed)
    target = Path(path)
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the backup file's name")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists: choose another name, or use --force to replace it")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    if backend == "sqlite":
        source = _sqlite_path(parsed)
        if not source.is_file():
            raise BackupError(f"there is no database at {source}")
        if target.exists() and target.resolve() == source.resolve():
            raise BackupError(f"{target} is the database itself: write the backup elsewhere")
    with _temporary_file(target.parent, target.name) as temporary:
        if backend == "sqlite":
            _sqlite_backup(source, temporary)
        else:
            _pg_dump(parsed, temporary)
        os.replace(temporary, target)
    return BackupResult(target, target.stat().st_size, backend)


def restore_database(url: str, path: str | Path, *, force: bool = False) -> BackupResult:
    """Replace the database at `url` with the backup `path`.

    The backup is checked before anything is touched. A database that holds data is only
    overwritten with `force`. The restore is all or nothing.
    """
    parsed = make_url(url)
    backend = _backend(parsed)
    source = Path(path)
    header = _read_header(source)
    if backend == "sqlite":
        target = _sqlite_path(parsed)
        if header.startswith(PG_CUSTOM_MAGIC):
            raise BackupError(
                f"{source} is a PostgreSQL backup (pg_dump) but the database is SQLite: "
                "restore it into PostgreSQL"
            )
        if not header.startswith(SQLITE_MAGIC):
            raise BackupError(f"{source} is not a SQLite database: it cannot be a backup of survey")
        if target.exists() and source.resolve() == target.resolve():
            raise BackupError(f"{source} is the database itself")
        restrict_sqlite_files(url)  # a database the restore creates is created 0600
        with _temporary_file(target.parent, target.name) as checked:
            shutil.copyfile(source, checked)
            _check_sqlite_backup(checked, source)
            _refuse_if_holds_data(url, force)
            _sqlite_restore(checked, target)
    else:
        if header.startswith(SQLITE_MAGIC):
            raise BackupError(
                f"{source} is a SQLite backup but the database is PostgreSQL: "
                "restore it into SQLite"
            )
        if not header.startswith(PG_CUSTOM_MAGIC):
            raise BackupError(
                f"{source} is not a PostgreSQL custom-format backup (pg_dump --format=custom)"
            )
        tables_in_backup = _check_pg_backup(parsed, source)
        _refuse_if_holds_data(url, force)
        _drop_tables_newer_than(url, tables_in_backup)
        _pg_restore(parsed, source)
    _create_missing_tables(url)
    if backend == "sqlite":
        restrict_sqlite_files(url)  # the restored database and its WAL: owner only
    return BackupResult(source, source.stat().st_size, backend)


def data_in_database(engine: Engine) -> list[str]:
    """What the database holds that a restore would lose, e.g. ['units: 2', 'responses: 50'].

    Empty for a new database, and for one holding only the shipped questionnaires exactly as
    shipped (`survey init`), since those come back from questionnaires/ at any time.
    """
    from survey.questionnaire import (
        QuestionnaireError,
        load_questionnaire,
        shipped_questionnaire_paths,
    )

    present = set(inspect(engine).get_table_names())
    found: list[str] = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in present:
                continue
            if table.name == "questionnaire_version":
                shipped = set()
                for shipped_path in shipped_questionnaire_paths():
                    with suppress(QuestionnaireError):
                        questionnaire = load_questionnaire(shipped_path)
                        shipped.add((questionnaire.id, questionnaire.version, questionnaire.content_hash))
                rows = connection.execute(
                    select(table.c.family, table.c.version, table.c.content_hash)
                ).all()
                count = sum(1 for row in rows if tuple(row) not in shipped)
                label = "questionnaire versions not shipped as they are"
            else:
                count = connection.execute(select(func.count()).select_from(table)).scalar_one()
                label = {"organisation": "units", "response": "responses", "answer": "answers",
                         "campaign": "campaigns", "import_batch": "import batches",
                         "app_user": "user accounts"}.get(
                             table.name, f"rows in {table.name}")
            if count:
                found.append(f"{label}: {count}")
    return found


def _create_missing_tables(url: str) -> None:
    """Tables added to the schema after the backup was made, created empty."""
    from survey.db import create_schema, make_engine

    engine = make_engine(url)
    try:
        create_schema(engine)
    finally:
        engine.dispose()


def _refuse_if_holds_data(url: str, force: bool) -> None:
    if force:
        return
    from survey.db import make_engine

    engine = make_engine(url)
    try:
        found = data_in_database(engine)
    except DBAPIError as exc:
        advice = " (use --force to replace it)" if engine.dialect.name == "sqlite" else ""
        raise BackupError(
            f"cannot read the database {describe_url(url)}: {exc.orig}{advice}"
        ) from None
    finally:
        engine.dispose()
    if found:
        raise BackupError(
            f"the database {describe_url(url)} is not empty ({', '.join(found)}): restoring would "
            "replace all of it. Back it up first, then use --force"
        )


def _read_header(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC))
    except IsADirectoryError:
        raise BackupError(f"{path} is a folder, not a backup file") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None


@contextmanager
def _temporary_file(folder: Path, name: str) -> Iterator[Path]:
    """A new empty file (mode 0600) in `folder`, removed afterwards unless it was renamed away."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
    finally:
        for leftover in (temporary, Path(f"{temporary}-journal"), Path(f"{temporary}-wal"),
                         Path(f"{temporary}-shm")):
            with suppress(FileNotFoundError):
                leftover.unlink()


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection; without `create`, a missing file is an error (not made empty)."""
    mode = "rwc" if create else "rw"
    connection = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=30, isolation_level=None
    )
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _sqlite_backup(source: Path, destination: Path) -> None:
    try:
        live = _sqlite_connect(source)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the database {source}: {exc}") from None
    try:
        copy = _sqlite_connect(destination)
        try:
            live.backup(copy)  # all pages in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _check_integrity(copy, destination)
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {source} failed: {exc}") from None
    finally:
        live.close()


def _check_integrity(connection: sqlite3.Connection, shown: Path) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA integrity_check(20)")]
    if problems != ["ok"]:
        raise BackupError(f"{shown} is damaged: {'; '.join(problems)}")


def _check_sqlite_backup(copy: Path, shown: Path) -> None:
    """Check a private copy of a backup: intact, and holding every table and column of the schema."""
    try:
        connection = _sqlite_connect(copy)
        try:
            connection.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(connection, shown)
            tables = {
                name for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
            problems = [f"table {table} is missing" for table in required_tables(tables)
                        if table not in tables]
            for table, columns in schema_tables().items():
                if table not in tables or "alembic_version" not in tables:  # migrated later
                    continue
                present = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
                missing = sorted(columns - present)
                if missing:
                    problems.append(f"table {table} lacks column(s) {', '.join(missing)}")
            if problems:
                raise BackupError(
                    f"{shown} is not a backup of this version of survey: {'; '.join(problems)}"
                )
            violations = connection.execute("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise BackupError(
                    f"{shown} is damaged: {len(violations)} row(s) refer to rows that do not exist"
                )
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{shown} is not a readable SQLite database: {exc}") from None


def _sqlite_restore(checked: Path, target: Path) -> None:
    """Copy the checked backup into the live target, in one transaction of the backup API.

    A target in WAL mode (the app's) needs the same page size: the copy is rebuilt to it first.
    A target that is not a SQLite database at all (only reached with --force) is replaced by the
    checked copy as a file.
    """
    try:
        with closing(_sqlite_connect(target, create=True)) as live:
            try:
                live.execute("SELECT count(*) FROM sqlite_master").fetchone()
                page_size = live.execute("PRAGMA page_size").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
                    raise
                unreadable = True
            else:
                unreadable = False
                with closing(_sqlite_connect(checked)) as copy:
                    if copy.execute("PRAGMA page_size").fetchone()[0] != page_size:
                        copy.execute(f"PRAGMA page_size={int(page_size)}")
                        copy.execute("VACUUM")
                    copy.backup(live)
    except sqlite3.Error as exc:
        raise BackupError(f"the restore into {target} failed, the database is unchanged: {exc}") from None
    if unreadable:
        _replace_unreadable(checked, target)


def _replace_unreadable(checked: Path, target: Path) -> None:
    # The stale WAL of the unreadable file must not be replayed onto the restored one: remove
    # it before the new file takes the name.
    for suffix in ("-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            Path(f"{target}{suffix}").unlink()
    os.replace(checked, target)


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_environment(url: URL) -> dict[str, str]:
    """libpq environment variables for `url`: the password travels here, not on a command line."""
    environment = dict(os.environ)
    for key, value in url.query.items():
        variable = _LIBPQ_QUERY_ENV.get(key)
        if variable:
            environment[variable] = value if isinstance(value, str) else value[-1]
    if url.host:
        environment["PGHOST"] = url.host
    if url.port:
        environment["PGPORT"] = str(url.port)
    if url.username:
        environment["PGUSER"] = url.username
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    if not url.database:
        raise BackupError(f"the database URL {url.render_as_string(hide_password=True)} names no database")
    environment["PGDATABASE"] = url.database
    return environment


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client tools of your server's major "
            "version (Debian/Ubuntu: apt-get install postgresql-client)"
        )
    return found


def _run_pg_tool(
    arguments: list[str], environment: dict[str, str], what: str, note: str = ""
) -> str:
    try:
        completed = subprocess.run(
            arguments, env=environment, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise BackupError(f"{what}: cannot run {arguments[0]}: {exc}") from None
    if completed.returncode != 0:
        detail = completed.stderr.strip() or f"exit code {completed.returncode}"
        raise BackupError(f"{what} failed{note}:\n{detail}")
    return completed.stdout


def _pg_dump(url: URL, destination: Path) -> None:
    arguments = [_pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={destination}"]
    _run_pg_tool(arguments, _pg_environment(url), "pg_dump")


def _check_pg_backup(url: URL, source: Path) -> set[str]:
    """The tables of an archive pg_restore can read, holding the core tables of the schema."""
    listing = _run_pg_tool(
        [_pg_tool("pg_restore"), "--list", str(source)], _pg_environment(url), f"reading {source}"
    )
    tables = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing, flags=re.MULTILINE))
    missing = [table for table in required_tables(tables) if table not in tables]
    if missing:
        raise BackupError(
            f"{source} is not a backup of survey: table(s) {', '.join(missing)} are missing"
        )
    return tables


def _drop_tables_newer_than(url: str, tables_in_backup: set[str]) -> None:
    """Drop the schema's tables that the backup predates, when they are empty.

    pg_restore --clean cannot drop the backup's tables while a newer table's foreign keys point
    at them, and the restore leaves such a table empty anyway (it is created again after). Rows in
    one would be lost outside pg_restore's transaction, so that is refused, even with --force.
    """
    from survey.db import make_engine

    engine = make_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        if "alembic_version" in present and "alembic_version" not in tables_in_backup:
            with engine.begin() as connection:  # a first-release backup: migrated after restore
                connection.exec_driver_sql("DROP TABLE alembic_version")
        newer = [table for table in SQLModel.metadata.sorted_tables
                 if table.name in present and table.name not in tables_in_backup]
        if not newer:
            return
        with engine.connect() as connection:
            holding = [
                f"{table.name}: {rows}" for table in newer
                if (rows := connection.execute(select(func.count()).select_from(table)).scalar_one())
            ]
        if holding:
            raise BackupError(
                "the backup was made before table(s) that hold data in this database existed "
                f"({', '.join(holding)}); a restore cannot keep them in one transaction. Restore "
                "into a new empty database, or empty those tables first"
            )
        SQLModel.metadata.drop_all(engine, tables=newer)
    finally:
        engine.dispose()


def _pg_restore(url: URL, source: Path) -> None:
    environment = _pg_environment(url)
    # Do not wait forever for a running app's locks: fail (and roll back) after a while.
    options = environment.get("PGOPTIONS", "")
    environment["PGOPTIONS"] = f"{options} -c lock_timeout={PG_LOCK_TIMEOUT}".strip()
    arguments = [
        _pg_tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",  # all or nothing (implies --exit-on-error)
        "--no-password",
        f"--dbname={environment['PGDATABASE']}",
        str(source),
    ]
    _run_pg_tool(arguments, environment, "pg_restore", " (the database is unchanged)")
