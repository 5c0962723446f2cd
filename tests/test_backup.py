"""Backup and restore (survey.backup, `survey backup` / `survey restore`), SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import threading
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import delete, select, update
from sqlmodel import SQLModel

from survey import backup as backup_module
from survey.backup import BackupError, backup_database, data_in_database, restore_database
from survey.bootstrap import register_shipped_questionnaires
from survey.cli import main
from survey.db import create_schema, drop_schema, make_engine, new_session
from survey.models import LoginAttempt, Organisation, Response
from survey.scoring import score_domains
from survey.storage.organisations import add_organisation
from survey.storage.questionnaires import (
    get_questionnaire_version,
    list_questionnaire_versions,
    questionnaire_of,
)
from survey.storage.responses import load_responses, store_response

FAMILY = "dtxhh-haugiang"
UNIT_NAMES = {"HG01": "Cục Thi hành án dân sự tỉnh Hậu Giang", "HG02": "Sở Tư pháp <b>&</b> 'x'"}


def fill(engine, responses: int = 50) -> None:
    """Shipped questionnaires, a province with 2 units, `responses` responses over two quarters."""
    register_shipped_questionnaires(engine)
    rng = random.Random(20240701)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        units = [
            add_organisation(session=session, code=code, name=name, parent_code="HG")
            for code, name in UNIT_NAMES.items()
        ]
        session.commit()
        version = get_questionnaire_version(session=session, reference=f"{FAMILY}@2024")
        questionnaire = questionnaire_of(version)
        groups = [g.code for g in questionnaire.groups]
        for i in range(responses):
            answers = {
                code: rng.choice([o.code for o in questionnaire.scale_of(code).options] + [None])
                for code in questionnaire.question_codes
            }
            store_response(
                session=session,
                questionnaire_row=version,
                unit_id=units[i % 2].id,
                period=("2024-Q1", "2024-Q2")[i * 2 // responses],
                group_code=groups[i % len(groups)],
                answers=answers,
                idempotency_key=f"test-{i}",
                flagged=i % 17 == 0,
                flag_reason="quá nhanh" if i % 17 == 0 else None,
            )


def table_dump(engine) -> dict[str, list[tuple]]:
    """Every row of every table, sorted."""
    with engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }


def responses_and_scores(engine) -> tuple[pd.DataFrame, str]:
    with new_session(engine) as session:
        responses = load_responses(session=session, family=FAMILY)
        versions = {
            row.version: questionnaire_of(row)
            for row in list_questionnaire_versions(session=session, family=FAMILY)
        }
    scores = score_domains(responses, versions)
    assert len(scores) == 4  # 2 units × 2 quarters
    return responses, repr(scores)  # repr: NaN compares equal to NaN


def assert_same(engine, dump, responses, scores) -> None:
    assert table_dump(engine) == dump
    after_responses, after_scores = responses_and_scores(engine)
    pd.testing.assert_frame_equal(after_responses, responses)
    assert after_scores == scores


def drop_everything(engine) -> None:
    drop_schema(engine)


@pytest.fixture
def filled(engine):
    """The engine of a database holding data, and its dump, responses and scores."""
    fill(engine)
    dump = table_dump(engine)
    assert len(dump["response"]) == 50
    assert sum(sum(1 for b in row[-1] if b) for row in dump["response"]) > 50 * 10  # answers
    assert len(dump["organisation"]) == 3
    responses, scores = responses_and_scores(engine)
    assert len(responses) == 50
    return engine, dump, responses, scores


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def leftovers(folder: Path) -> list[str]:
    """Temporary files (hidden, beside the target) that were not cleaned up."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- round trips -------------------------------------------------------------------------------


def test_round_trip_into_a_database_without_tables(db_url, filled, tmp_path):
    engine, dump, responses, scores = filled
    result = backup_database(db_url, tmp_path / "backup.bin")
    assert result.path.stat().st_size == result.bytes > 0
    assert result.backend == ("sqlite" if is_sqlite(db_url) else "postgresql")
    assert (result.path.stat().st_mode & 0o777) == 0o600  # the backup is private

    drop_everything(engine)
    assert data_in_database(engine) == []
    restore_database(db_url, tmp_path / "backup.bin")

    assert_same(engine, dump, responses, scores)
    assert leftovers(tmp_path) == []
    with new_session(engine) as session:  # ids continue after the restored ones
        added = add_organisation(session=session, code="HG03", name="Đơn vị mới", parent_code="HG")
        session.commit()
        assert added.id == max(row[0] for row in dump["organisation"]) + 1


def test_restore_with_force_undoes_changes(db_url, filled, tmp_path):
    engine, dump, responses, scores = filled
    backup_database(db_url, tmp_path / "backup.bin")
    with new_session(engine) as session:
        doomed = session.execute(
            select(Response.id).where(Response.period == "2024-Q2")
        ).scalars().all()
        session.execute(delete(Response).where(Response.id.in_(doomed)))
        session.execute(update(Organisation).where(Organisation.code == "HG01").values(name="Đổi tên"))
        add_organisation(session=session, code="HG03", name="Đơn vị mới", parent_code="HG")
        session.commit()
    altered = table_dump(engine)
    assert len(altered["response"]) == 25

    with pytest.raises(BackupError, match=r"not empty \(units: 4, responses: 25\).*--force"):
        restore_database(db_url, tmp_path / "backup.bin")
    assert table_dump(engine) == altered  # refused: nothing changed

    restore_database(db_url, tmp_path / "backup.bin", force=True)
    assert_same(engine, dump, responses, scores)


def test_restore_is_seen_by_a_connection_the_app_holds_open(db_url, filled, tmp_path):
    engine, dump, responses, scores = filled
    backup_database(db_url, tmp_path / "backup.bin")
    with engine.connect() as held:
        held.execute(delete(Response))
        held.commit()
        assert held.execute(select(Response.id)).all() == []
        held.commit()  # idle, not in a transaction, but still open: like the app's pool
        restore_database(db_url, tmp_path / "backup.bin", force=True)
        assert len(held.execute(select(Response.id)).all()) == 50
    assert_same(engine, dump, responses, scores)


def test_backup_is_consistent_while_responses_are_written(db_url, filled, tmp_path):
    engine, *_ = filled
    with new_session(engine) as session:
        version = get_questionnaire_version(session=session, reference="sipas@2024")
        unit_id = session.execute(
            select(Organisation.id).where(Organisation.code == "HG01")
        ).scalar_one()
    questionnaire = questionnaire_of(version)
    full = {code: "4" for code in questionnaire.question_codes}
    stop = threading.Event()
    written = []

    def write() -> None:
        with new_session(engine) as session:
            while not stop.is_set() and len(written) < 2000:
                store_response(session=session, questionnaire_row=version, unit_id=unit_id,
                               period="2024-Q3", group_code=None, answers=full,
                               idempotency_key=f"busy-{len(written)}")
                written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for i in range(3):
            backup_database(db_url, tmp_path / f"busy-{i}.bin")
    finally:
        stop.set()
        writer.join()
    assert written

    for i in range(3):
        restore_database(db_url, tmp_path / f"busy-{i}.bin", force=True)
        with engine.connect() as connection:
            stored = connection.execute(
                select(Response.answers).where(Response.questionnaire_version_id == version.id)
            ).scalars().all()
        # every response in the snapshot has all its answers: no half-written response
        assert all(len(a) == len(full) and all(a) for a in stored)


def test_a_database_with_only_the_shipped_questionnaires_counts_as_empty(engine):
    assert data_in_database(engine) == []
    register_shipped_questionnaires(engine)
    assert data_in_database(engine) == []
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        session.commit()
    assert data_in_database(engine) == ["units: 1"]


def test_a_changed_questionnaire_counts_as_data(engine):
    register_shipped_questionnaires(engine)
    with new_session(engine) as session:
        row = get_questionnaire_version(session=session, reference="sipas@2024")
        row.content = row.content + "\n# edited\n"
        row.content_hash = "0" * 64
        session.add(row)
        session.commit()
    assert data_in_database(engine) == ["questionnaire versions not shipped as they are: 1"]


def test_restore_after_init_needs_no_force(db_url, filled, tmp_path):
    engine, dump, responses, scores = filled
    backup_database(db_url, tmp_path / "backup.bin")
    drop_everything(engine)
    create_schema(engine)
    register_shipped_questionnaires(engine)  # `survey init` on the new server
    restore_database(db_url, tmp_path / "backup.bin")
    assert_same(engine, dump, responses, scores)


# --- refusals ----------------------------------------------------------------------------------


def test_backup_refuses_to_overwrite_a_file_without_force(db_url, filled, tmp_path):
    target = tmp_path / "backup.bin"
    target.write_bytes(b"an older backup")
    with pytest.raises(BackupError, match="already exists.*--force"):
        backup_database(db_url, target)
    assert target.read_bytes() == b"an older backup"
    backup_database(db_url, target, force=True)
    assert target.read_bytes() != b"an older backup"
    assert leftovers(tmp_path) == []


def test_backup_refuses_a_folder_or_a_missing_folder(db_url, filled, tmp_path):
    with pytest.raises(BackupError, match="is a folder"):
        backup_database(db_url, tmp_path)
    with pytest.raises(BackupError, match="does not exist"):
        backup_database(db_url, tmp_path / "missing" / "backup.bin")


def test_sqlite_backup_of_a_missing_database_creates_nothing(tmp_path):
    database = tmp_path / "nothing.db"
    with pytest.raises(BackupError, match="there is no database"):
        backup_database(f"sqlite:///{database}", tmp_path / "backup.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_in_memory_sqlite_is_refused(tmp_path):
    with pytest.raises(BackupError, match="in-memory"):
        backup_database("sqlite://", tmp_path / "backup.db")


def _sqlite_file_with(path: Path, sql: str) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(sql)
    connection.close()
    return path


def _truncated(source: Path, path: Path) -> Path:
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    return path


def _without_column(source: Path, path: Path) -> Path:
    shutil.copyfile(source, path)
    return _sqlite_file_with(path, "ALTER TABLE response DROP COLUMN flag_reason;")


def _without_table(source: Path, path: Path) -> Path:
    shutil.copyfile(source, path)
    return _sqlite_file_with(path, "PRAGMA foreign_keys=OFF; DROP TABLE campaign;")


def _corrupted_page(source: Path, path: Path) -> Path:
    content = bytearray(source.read_bytes())
    content[5000:9000] = b"\xff" * 4000  # inside the second and third pages
    path.write_bytes(bytes(content))
    return path


def _content(content: bytes):
    def make(source: Path, path: Path) -> Path:
        path.write_bytes(content)
        return path
    return make


BAD_SQLITE_BACKUPS = {
    "text": (_content(b"id,unit\n1,HG01\n"), "not a SQLite database"),
    "empty": (_content(b""), "not a SQLite database"),
    "header then junk": (_content(b"SQLite format 3\x00" + b"\x07" * 5000),
                         "not a readable SQLite database|damaged"),
    "truncated": (_truncated, "damaged|not a readable"),
    "corrupted page": (_corrupted_page, "damaged|not a readable"),
    "other schema": (lambda source, path: _sqlite_file_with(path, "CREATE TABLE t(x);"),
                     "not a backup of this version of survey: table organisation is missing"),
    "missing column": (_without_column, "table response lacks column\\(s\\) flag_reason"),
    "missing table": (_without_table, "table campaign is missing"),
}


@pytest.mark.parametrize("kind", BAD_SQLITE_BACKUPS)
def test_sqlite_restore_of_a_bad_file_changes_nothing(kind, tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'survey.db'}"
    engine = make_engine(url)
    create_schema(engine)
    fill(engine, responses=10)
    good = backup_database(url, tmp_path / "good.db").path
    before = table_dump(engine)
    make, message = BAD_SQLITE_BACKUPS[kind]
    bad = make(good, tmp_path / "bad.db")
    bad_bytes = bad.read_bytes()

    with pytest.raises(BackupError, match=message):
        restore_database(url, bad, force=True)

    assert table_dump(engine) == before
    assert bad.read_bytes() == bad_bytes  # the file given is never written to
    assert leftovers(tmp_path / "data") == []
    engine.dispose()


def test_sqlite_restore_of_a_missing_file(tmp_path):
    with pytest.raises(BackupError, match="cannot read"):
        restore_database(f"sqlite:///{tmp_path / 'survey.db'}", tmp_path / "nope.db")
    with pytest.raises(BackupError, match="is a folder"):
        restore_database(f"sqlite:///{tmp_path / 'survey.db'}", tmp_path)


def test_sqlite_backup_is_one_self_contained_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    engine = make_engine(url)
    create_schema(engine)
    with engine.connect() as held:  # an open connection: the last writes are still in the WAL
        fill(engine, responses=10)
        assert (tmp_path / "survey.db-wal").stat().st_size > 0
        backup = backup_database(url, tmp_path / "backup.db").path
        expected = table_dump(engine)
        held.execute(select(1))
    assert not Path(f"{backup}-wal").exists()
    copy = sqlite3.connect(backup)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert copy.execute("SELECT count(*) FROM response").fetchone() == (10,)
    copy.close()
    restored_url = f"sqlite:///{tmp_path / 'elsewhere' / 'restored.db'}"
    restore_database(restored_url, backup)
    restored = make_engine(restored_url)
    assert table_dump(restored) == expected
    restored.dispose()
    engine.dispose()


def test_sqlite_restore_of_a_backup_with_another_page_size(tmp_path):
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    engine = make_engine(url)
    create_schema(engine)
    fill(engine, responses=10)
    expected = table_dump(engine)
    backup = backup_database(url, tmp_path / "backup.db").path
    _sqlite_file_with(backup, "PRAGMA page_size=1024; VACUUM;")
    with engine.connect() as connection:  # the live database is in WAL mode, page size 4096
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        connection.execute(update(Response).values(answers=b""))
        connection.commit()
    restore_database(url, backup, force=True)
    assert table_dump(engine) == expected
    engine.dispose()


@pytest.mark.parametrize("damage", ["garbage", "stale wal"])
def test_sqlite_restore_over_a_database_that_cannot_be_read(damage, tmp_path):
    """Disaster recovery: a database file that is not SQLite any more is replaced with --force."""
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    engine = make_engine(url)
    create_schema(engine)
    fill(engine, responses=10)
    expected = table_dump(engine)
    backup = backup_database(url, tmp_path / "backup.db").path
    engine.dispose()
    (tmp_path / "survey.db").write_bytes(bytes(range(256)) * 64)
    if damage == "stale wal":
        (tmp_path / "survey.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 60)

    with pytest.raises(BackupError, match="cannot read the database .*--force"):
        restore_database(url, backup)
    restore_database(url, backup, force=True)

    assert not (tmp_path / "survey.db-wal").exists()  # the stale WAL was not replayed
    restored = make_engine(url)
    assert table_dump(restored) == expected
    restored.dispose()
    assert leftovers(tmp_path) == []


def test_sqlite_restore_refuses_the_database_itself(tmp_path):
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    with pytest.raises(BackupError, match="the database itself"):
        restore_database(url, tmp_path / "survey.db", force=True)
    with pytest.raises(BackupError, match="already exists"):
        backup_database(url, tmp_path / "survey.db")
    with pytest.raises(BackupError, match="the database itself"):
        backup_database(url, tmp_path / "survey.db", force=True)


def test_sqlite_restore_adds_tables_newer_than_the_backup(tmp_path):
    """A backup made before an upgrade (without app_user, say) still restores."""
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    engine = make_engine(url)
    create_schema(engine)
    fill(engine, responses=5)
    expected = table_dump(engine)
    backup = backup_database(url, tmp_path / "backup.db").path
    newer = [t.name for t in SQLModel.metadata.sorted_tables
             if t.name not in backup_module.REQUIRED_TABLES]
    _sqlite_file_with(backup, "".join(f'DROP TABLE "{name}";' for name in newer))
    restore_database(url, backup, force=True)
    assert table_dump(engine) == expected
    engine.dispose()


def test_cross_backend_backups_are_refused(db_url, filled, tmp_path):
    if is_sqlite(db_url):
        (tmp_path / "pg.dump").write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)
        with pytest.raises(BackupError, match="PostgreSQL backup.*SQLite"):
            restore_database(db_url, tmp_path / "pg.dump", force=True)
    else:
        url = f"sqlite:///{tmp_path / 'lite.db'}"
        lite = make_engine(url)
        create_schema(lite)
        lite.dispose()
        backup_database(url, tmp_path / "lite-backup.db")
        with pytest.raises(BackupError, match="SQLite backup.*PostgreSQL"):
            restore_database(db_url, tmp_path / "lite-backup.db", force=True)


# --- PostgreSQL specifics ----------------------------------------------------------------------


def _postgres(db_url: str) -> None:
    assert not is_sqlite(db_url), "mark the test postgres_only"
    if shutil.which("pg_dump") is None and not os.environ.get("CI"):
        pytest.skip("pg_dump is not installed")


@pytest.mark.postgres_only
def test_postgres_restore_of_a_bad_file_changes_nothing(db_url, filled, tmp_path):
    _postgres(db_url)
    engine, dump, *_ = filled
    good = backup_database(db_url, tmp_path / "good.dump").path
    (tmp_path / "junk.dump").write_bytes(b"PGDMP" + bytes(range(256)) * 4)
    (tmp_path / "short.dump").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "text.dump").write_text("SELECT 1;")
    with pytest.raises(BackupError, match="pg_restore|reading"):
        restore_database(db_url, tmp_path / "junk.dump", force=True)
    with pytest.raises(BackupError, match="failed"):
        restore_database(db_url, tmp_path / "short.dump", force=True)
    with pytest.raises(BackupError, match="not a PostgreSQL custom-format backup"):
        restore_database(db_url, tmp_path / "text.dump", force=True)
    assert table_dump(engine) == dump


@pytest.mark.postgres_only
def test_postgres_restore_of_another_database_dump_is_refused(db_url, filled, tmp_path):
    _postgres(db_url)
    engine, dump, *_ = filled
    environment = backup_module._pg_environment(backup_module.make_url(db_url))
    partial = tmp_path / "partial.dump"
    backup_module._run_pg_tool(
        ["pg_dump", "--format=custom", "--table=organisation", f"--file={partial}"],
        environment, "pg_dump",
    )
    with pytest.raises(BackupError, match="not a backup of survey: table\\(s\\) questionnaire_version"):
        restore_database(db_url, partial, force=True)
    assert table_dump(engine) == dump


@pytest.mark.postgres_only
def test_postgres_restore_of_a_backup_older_than_some_tables(db_url, filled, tmp_path):
    """A backup made before an upgrade: the tables it predates come back empty."""
    _postgres(db_url)
    engine, dump, responses, scores = filled
    newer = [t.name for t in SQLModel.metadata.sorted_tables
             if t.name not in backup_module.REQUIRED_TABLES]
    assert "login_attempt" in newer
    old = tmp_path / "old.dump"
    backup_module._run_pg_tool(
        ["pg_dump", "--format=custom", f"--file={old}"] + [f"--exclude-table={t}" for t in newer],
        backup_module._pg_environment(backup_module.make_url(db_url)), "pg_dump",
    )
    with engine.connect() as connection:
        connection.execute(LoginAttempt.__table__.insert().values(username="x", succeeded=False))
        connection.execute(update(Response).values(answers=b""))
        connection.commit()
    altered = table_dump(engine)
    with pytest.raises(BackupError, match="login_attempt: 1.*new empty database"):
        restore_database(db_url, old, force=True)
    assert table_dump(engine) == altered

    with engine.connect() as connection:
        connection.execute(delete(LoginAttempt))
        connection.commit()
    restore_database(db_url, old, force=True)
    assert_same(engine, dump, responses, scores)


def test_postgres_restore_into_an_unreachable_server_is_a_clear_error(tmp_path):
    (tmp_path / "b.dump").write_bytes(b"PGDMP" + b"\x00" * 100)
    url = "postgresql://survey:secret@127.0.0.1:1/cchc"
    with pytest.raises(BackupError) as refused:
        backup_module._refuse_if_holds_data(url, force=False)
    assert "cannot read the database postgresql://survey:***@127.0.0.1:1/cchc" in str(refused.value)
    assert "secret" not in str(refused.value)


def test_pg_password_goes_in_the_environment_never_on_the_command_line(monkeypatch, tmp_path):
    calls = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    def fake_run(arguments, env, **_):
        calls.append((arguments, env))
        return Done()

    monkeypatch.setattr(backup_module.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup_module.subprocess, "run", fake_run)
    url = "postgresql://survey:p%40ss%20w0rd@db.example:6543/cchc?sslmode=require"
    backup_database(url, tmp_path / "backup.dump")
    (arguments, env), = calls
    assert arguments[:2] == ["/usr/bin/pg_dump", "--format=custom"]
    assert "--no-password" in arguments
    assert not any("w0rd" in a or "db.example" in a or "6543" in a for a in arguments)
    assert env["PGPASSWORD"] == "p@ss w0rd"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"], env["PGSSLMODE"]) == (
        "db.example", "6543", "survey", "cchc", "require")


def test_pg_restore_runs_clean_if_exists_no_owner_in_one_transaction(monkeypatch, tmp_path):
    calls = []

    class Done:
        returncode, stderr = 0, ""
        stdout = "".join(f"{i}; 1259 {i} TABLE public {name} survey\n"
                         for i, name in enumerate((*backup_module.REQUIRED_TABLES,
                                                   "alembic_version")))

    def fake_run(arguments, env, **_):
        calls.append((arguments, env))
        return Done()

    monkeypatch.setattr(backup_module.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup_module.subprocess, "run", fake_run)
    monkeypatch.setattr(backup_module, "_create_missing_tables", lambda url: None)
    monkeypatch.setattr(backup_module, "_drop_tables_newer_than", lambda url, tables: None)
    (tmp_path / "b.dump").write_bytes(b"PGDMP" + b"\x00" * 100)
    restore_database("postgresql://survey:secret@db/cchc", tmp_path / "b.dump", force=True)
    (listing, _), (restoring, env) = calls
    assert listing[1] == "--list"
    assert restoring[1:] == ["--clean", "--if-exists", "--no-owner", "--single-transaction",
                             "--no-password", "--dbname=cchc", str(tmp_path / "b.dump")]
    assert env["PGPASSWORD"] == "secret"
    assert "lock_timeout" in env["PGOPTIONS"]


# --- command line ------------------------------------------------------------------------------


def test_cli_backup_and_restore(cli_env, filled, tmp_path, capsys):
    engine, dump, responses, scores = filled
    backup = tmp_path / "backup.bin"
    assert main(["backup", str(backup)]) == 0
    assert "backed up to" in capsys.readouterr().out
    assert main(["backup", str(backup)]) == 2
    assert "already exists" in capsys.readouterr().err

    assert main(["restore", str(backup)]) == 2
    assert "not empty" in capsys.readouterr().err

    with new_session(engine) as session:
        session.execute(delete(Response))
        session.commit()
    assert main(["restore", str(backup), "--force"]) == 0
    assert "restored into" in capsys.readouterr().out
    assert_same(engine, dump, responses, scores)


def test_cli_restore_of_a_corrupt_file(cli_env, filled, tmp_path, capsys):
    engine, dump, *_ = filled
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    assert main(["restore", str(junk), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "junk.bin is not a" in err
    assert "Traceback" not in err
    assert table_dump(engine) == dump


def test_cli_without_pg_dump(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SURVEY_DATABASE_URL", "postgresql://survey:secret@127.0.0.1:1/cchc")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["backup", str(tmp_path / "b.dump")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump is not installed" in err
    assert "secret" not in err
    assert not (tmp_path / "b.dump").exists()


def test_cli_when_pg_dump_fails(monkeypatch, tmp_path, capsys):
    if shutil.which("pg_dump") is None and not os.environ.get("CI"):
        pytest.skip("pg_dump is not installed")
    monkeypatch.setenv("SURVEY_DATABASE_URL", "postgresql://survey:secret@127.0.0.1:1/cchc")
    assert main(["backup", str(tmp_path / "b.dump")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump failed" in err and "127.0.0.1" in err  # pg_dump's own stderr
    assert "secret" not in err
    assert list(tmp_path.iterdir()) == []  # no partial file left


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_cli_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--force" in capsys.readouterr().out
