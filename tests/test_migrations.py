"""Schema migrations (Alembic): the revisions build the models' schema, and a database made by
the first release (answers one row per question, no revision table) is migrated without losing
or changing a response, an answer or a score. On SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect, text
from sqlmodel import SQLModel, select

from survey.db import (
    _alembic_config,
    create_schema,
    drop_schema,
    make_engine,
    new_session,
    schema_revision,
)
from survey.models import Response
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths
from survey.scoring import score_domains
from survey.storage.organisations import add_organisation
from survey.storage.questionnaires import (
    list_questionnaire_versions,
    questionnaire_of,
    register_questionnaire,
)
from survey.storage.responses import answers_by_response, load_responses
from tests.conftest import BACKENDS, POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    """An empty database (no table at all)."""
    url = f"sqlite:///{tmp_path / 'old.db'}" if request.param == "sqlite" else POSTGRES_URL
    engine = make_engine(url)
    drop_schema(engine)
    engine.dispose()
    return url


def upgrade(engine, revision: str) -> None:
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def test_the_revisions_build_exactly_the_models_schema(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "head")  # revision by revision, not the empty-database shortcut
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_an_empty_database_is_created_at_the_newest_revision(empty_url):
    engine = make_engine(empty_url)
    assert create_schema(engine) == "created"
    assert schema_revision(engine) is not None
    assert create_schema(engine) == "current"
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def first_release_database(url: str, seed: int = 7):
    """A database as the first release made it: its schema (the baseline revision, without
    the revision table it never had), questionnaires, units, and responses whose answers are
    rows of the `answer` table, written with plain SQL as that release wrote them.

    Returns the engine and the answer rows written: {response id: {question: option}}.
    """
    engine = make_engine(url)
    upgrade(engine, "0001_baseline")
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")
    rng = np.random.default_rng(seed)
    with new_session(engine) as session:
        versions = [register_questionnaire(session=session, questionnaire=load_questionnaire(p))[0]
                    for p in shipped_questionnaire_paths()]
        add_organisation(session=session, code="HG", name="Tỉnh", kind="province")
        units = [add_organisation(session=session, code=f"HG0{i}", name=f"Đơn vị {i}",
                                  parent_code="HG") for i in (1, 2, 3)]
        session.commit()
        tables = MetaData()
        response = Table("response", tables, autoload_with=session.connection())
        answer = Table("answer", tables, autoload_with=session.connection())
        written: dict[int, dict[str, str]] = {}
        next_id = 1
        for version in versions:
            questionnaire = questionnaire_of(version)
            groups = [g.code for g in questionnaire.groups] or [None]
            for unit in units:
                for quarter in ("2024-Q1", "2024-Q2"):
                    for _ in range(int(rng.integers(1, 40))):
                        answers = {}
                        for question in questionnaire.questions:
                            options = questionnaire.scale_of(question.code).options
                            pick = int(rng.integers(0, len(options) + 1))
                            if pick < len(options):  # else: left unanswered
                                answers[question.code] = options[pick].code
                        session.execute(response.insert().values(
                            id=next_id, unit_id=unit.id, period=quarter,
                            questionnaire_version_id=version.id,
                            group_code=groups[int(rng.integers(0, len(groups)))],
                            channel="qr", idempotency_key=f"old-{next_id}", flagged=False,
                            submitted_at=pd.Timestamp("2024-05-01 10:00").to_pydatetime()))
                        if answers:
                            session.execute(answer.insert(), [
                                {"response_id": next_id, "question_code": q, "option_code": o}
                                for q, o in answers.items()])
                        written[next_id] = answers
                        next_id += 1
        session.commit()
    return engine, written


def old_read_path(engine, family: str) -> pd.DataFrame:
    """The first release's wide table, read from its `answer` rows and pivoted by pandas."""
    with engine.connect() as connection:
        heads = pd.read_sql(text(
            "SELECT r.id AS response_id, o.code AS unit, o.name AS unit_name, r.period, "
            "v.version, r.group_code AS \"group\", r.channel, r.flagged FROM response r "
            "JOIN organisation o ON o.id = r.unit_id JOIN questionnaire_version v "
            "ON v.id = r.questionnaire_version_id WHERE v.family = :family"),
            connection, params={"family": family})
        answers = pd.read_sql(text(
            "SELECT a.response_id, a.question_code, a.option_code FROM answer a "
            "JOIN response r ON r.id = a.response_id JOIN questionnaire_version v "
            "ON v.id = r.questionnaire_version_id WHERE v.family = :family"),
            connection, params={"family": family})
    wide = answers.pivot(index="response_id", columns="question_code", values="option_code")
    return heads.merge(wide, left_on="response_id", right_index=True, how="left")


def scores_of(responses: pd.DataFrame, engine, family: str) -> list[dict]:
    with new_session(engine) as session:
        by_version = {row.version: questionnaire_of(row) for row in
                      list_questionnaire_versions(session=session, family=family)}
    return [score.to_dict() for score in score_domains(responses, by_version)]


@pytest.mark.parametrize("family", ["dtxhh-haugiang", "sipas"])
def test_a_first_release_database_is_migrated_without_loss(empty_url, family):
    engine, written = first_release_database(empty_url)
    before_rows = {row["id"]: row for row in _response_rows(engine)}
    before_scores = scores_of(old_read_path(engine, family), engine, family)
    assert len(before_scores) > 5

    assert create_schema(engine) == "migrated"

    assert "answer" not in inspect(engine).get_table_names()
    after_rows = {row["id"]: row for row in _response_rows(engine)}
    assert after_rows == before_rows  # every response, every column but the answers as it was
    with new_session(engine) as session:
        assert answers_by_response(session=session) == written  # every answer, no more
        migrated = load_responses(session=session, family=family)
    assert scores_of(migrated, engine, family) == before_scores  # to the last bit
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()


def test_a_database_with_an_answer_off_its_scale_is_not_migrated_and_keeps_everything(empty_url):
    engine, _written = first_release_database(empty_url)
    with engine.begin() as connection:
        response_id = connection.execute(text("SELECT min(response_id) FROM answer")).scalar()
        connection.execute(text("UPDATE answer SET option_code = 'ZZ' WHERE response_id = :r"),
                           {"r": response_id})
        answers_before = connection.execute(text("SELECT count(*) FROM answer")).scalar()
    with pytest.raises(RuntimeError, match=f"response #{response_id}: option 'ZZ'"):
        create_schema(engine)
    with engine.connect() as connection:  # rolled back: still the first release's database
        assert connection.execute(text("SELECT count(*) FROM answer")).scalar() == answers_before
        assert "answers" not in {c["name"] for c in inspect(connection).get_columns("response")}
    engine.dispose()


def _response_rows(engine) -> list[dict]:
    columns = [c.name for c in Response.__table__.columns if c.name != "answers"]
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(
            text(f"SELECT {', '.join(columns)} FROM response ORDER BY id"))]


def test_periods_in_other_spellings_are_rewritten_canonically(empty_url):
    engine, written = first_release_database(empty_url)
    with engine.begin() as connection:
        ids = connection.execute(text(
            "SELECT id FROM response WHERE period = '2024-Q2' ORDER BY id")).scalars().all()
        for response_id, spelling in zip(ids, ["2024-q2", " Q2/2024", "Quý 2/2024"], strict=False):
            connection.execute(text("UPDATE response SET period = :p WHERE id = :i"),
                               {"p": spelling, "i": response_id})
        connection.execute(text("UPDATE response SET period = 'n/a' WHERE id = :i"),
                           {"i": ids[3]})
        unit = connection.execute(text("SELECT min(unit_id) FROM response")).scalar()
        connection.execute(text(
            "INSERT INTO transaction_count (id, unit_id, period, transactions) VALUES "
            "(1, :u, '2024-Q1', 100), (2, :u, '2024-q1', 120), (3, :u, 'Quý 2/2024', 50)"),
            {"u": unit})
    create_schema(engine)
    with engine.connect() as connection:
        periods = dict(connection.execute(text(
            "SELECT period, count(*) FROM response GROUP BY period")).all())
        counts = connection.execute(text(
            "SELECT id, period, transactions FROM transaction_count ORDER BY id")).all()
    engine.dispose()
    assert periods == {"2024-Q1": sum(1 for _ in written) - periods["2024-Q2"] - 1,
                       "2024-Q2": periods["2024-Q2"], "n/a": 1}
    assert periods["2024-Q2"] == len(ids) - 1  # the three other spellings counted in
    assert [tuple(row) for row in counts] == [(2, "2024-Q1", 120), (3, "2024-Q2", 50)]


def test_the_head_revision_named_in_the_code_is_alembics_newest():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from survey.db import HEAD_REVISION

    config = Config()
    config.set_main_option("script_location", "survey:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_rows_of_imports_made_before_row_fingerprints_are_recognised_after_the_upgrade(
        empty_url, monkeypatch):
    """Revision 0005 back-fills `import_row` from the responses of earlier imports: a file
    repeating some of their rows is then refused, naming them, as if imported today."""
    import survey.importer as importer
    from survey.importer import ImportFailed, import_responses
    from survey.models import ImportRow

    engine = make_engine(empty_url)
    upgrade(engine, "0004_single_use_links")
    header = "unit,period,TC1,TC2,TC3\n"
    earlier = header + "HG01,2024-Q3,5,4,0\nHG01,2024-Q3,5,4,0\nHG02,2024-q3,1,,3\n"
    with new_session(engine) as session:
        add_organisation(session=session, code="HG01", name="Cục A")
        add_organisation(session=session, code="HG02", name="Cục B")
        sipas = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml")
        version, _ = register_questionnaire(session=session,
                                            questionnaire=load_questionnaire(sipas))
        session.commit()
        with monkeypatch.context() as before:  # the release before kept no row fingerprints
            before.setattr(importer, "imported_rows", lambda **_: pd.DataFrame(
                columns=["row_hash", "import_batch_id", "copies"]))
            before.setattr(importer, "store_import_rows", lambda **_: None)
            import_responses(earlier.encode(), "cu.csv", session=session, version=version)
    assert "import_row" not in inspect(engine).get_table_names()
    assert create_schema(engine) == "migrated"
    with new_session(engine) as session:
        kept = session.exec(select(ImportRow)).all()
        assert sorted(row.copies for row in kept) == [1, 2]
        again = (header + "HG03,2024-Q3,1,1,1\nHG02,Q3/2024,1,,3\nHG01,2024-Q3,5,4,0\n"
                 "HG01,2024-Q3,5,4,0\nHG01,2024-Q3,5,4,0\n")
        with pytest.raises(ImportFailed) as refused:
            import_responses(again.encode(), "moi.csv", session=session, version=version,
                             create_units=True)
        assert "3 row(s) were already imported" in str(refused.value)
        assert "row 3, 4, 5." in str(refused.value) and "'cu.csv'" in str(refused.value)
    engine.dispose()


def test_a_database_upgraded_by_a_newer_release_is_refused_plainly_and_left_alone(
        empty_url, monkeypatch, capsys):
    from survey.cli import main
    from survey.storage import StorageError

    engine = make_engine(empty_url)
    create_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(StorageError) as refused:
        create_schema(engine)
    assert "phiên bản mới hơn" in refused.value.render("vi")
    assert "0099_from_the_future" in refused.value.render("vi")
    monkeypatch.setenv("SURVEY_DATABASE_URL", empty_url)
    assert main(["score", "--questionnaire", "dtxhh-haugiang", "--json"]) == 2
    error = capsys.readouterr().err
    assert "newer version" in error and "Traceback" not in error and "unexpected" not in error
    with engine.connect() as connection:  # nothing was changed
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0099_from_the_future")
    engine.dispose()
