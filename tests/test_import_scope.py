"""Paper-form import within a scope: rows for units outside it are refused like unknown
units, nothing is stored, and every import (or refusal) is audited."""

from __future__ import annotations

import json

import pytest
from sqlmodel import func, select

from survey import admin
from survey.auth import AccessDenied, create_user, scope_of
from survey.importer import ImportFailed, import_responses
from survey.models import ImportBatch, Organisation, Response
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths
from survey.storage.audit import read_audit
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import register_questionnaire
from survey.storage.users import get_user

PASSWORD = "correct horse battery"


@pytest.fixture
def db(session):
    """Province HG (HG01 with HG01a, HG02), the shipped questionnaire sipas@2024 (no
    respondent groups), users so (province HG) and cuc (unit HG01)."""
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(session=session, code="HG01", name="Cục A", parent_code="HG")
    add_organisation(session=session, code="HG01a", name="Chi cục A1", parent_code="HG01")
    add_organisation(session=session, code="HG02", name="Cục B", parent_code="HG")
    sipas = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml")
    register_questionnaire(session=session, questionnaire=load_questionnaire(sipas))
    create_user(session=session, username="so", role="province", organisation_code="HG",
                password=PASSWORD)
    create_user(session=session, username="cuc", role="unit", organisation_code="HG01",
                password=PASSWORD)
    session.commit()
    return session


def scope(session, username):
    return scope_of(session=session, user=get_user(session=session, username=username))


def version(session):
    from survey.storage.questionnaires import get_questionnaire_version

    return get_questionnaire_version(session=session, reference="sipas@2024")


def stored(session):
    responses = session.exec(select(func.count()).select_from(Response)).one()
    batches = session.exec(select(func.count()).select_from(ImportBatch)).one()
    return responses, batches


MIXED = b"unit,period,TC1,TC2\nHG01,2024-Q3,5,4\nHG01a,2024-Q3,3,\nHG02,2024-Q3,4,0\n"


def test_a_unit_user_importing_a_row_of_another_unit_is_refused_with_row_and_column(db):
    with pytest.raises(ImportFailed) as refused:
        admin.import_paper_forms(session=db, scope=scope(db, "cuc"), content=MIXED,
                                 filename="giay.csv", version=version(db))
    assert [(p.row, p.column) for p in refused.value.problems] == [(4, "unit")]
    assert stored(db) == (0, 0)
    entry = read_audit(session=db, limit=1).iloc[0]
    assert (entry["username"], entry["action"], entry["target"]) == ("cuc", "import_refused", "giay.csv")


def test_another_units_row_reads_exactly_like_an_unknown_unit(db):
    other = MIXED.replace(b"HG02,", b"NOPE,")
    messages = []
    for content in (MIXED, other):
        with pytest.raises(ImportFailed) as refused:
            import_responses(content, "giay.csv", session=db, version=version(db),
                             scope=scope(db, "cuc"))
        messages.append(refused.value.problems[0].message)
    assert messages[0].replace("HG02", "?") == messages[1].replace("NOPE", "?")
    assert "unknown unit" in messages[0]


def test_rows_inside_the_scope_import_and_are_audited(db):
    content = MIXED.replace(b"HG02,", b"HG01,")
    result = admin.import_paper_forms(session=db, scope=scope(db, "cuc"), content=content,
                                      filename="giay.csv", version=version(db))
    assert result.rows == 3 and stored(db) == (3, 1)
    entry = read_audit(session=db, limit=1).iloc[0]
    assert (entry["username"], entry["action"], entry["target"]) == ("cuc", "import", "giay.csv")
    assert json.loads(entry["detail"]) == {"rows": 3, "questionnaire": "sipas@2024",
                                           "batch": result.batch_id, "created_units": []}


def test_the_province_imports_every_unit_of_its_province(db):
    result = admin.import_paper_forms(session=db, scope=scope(db, "so"), content=MIXED,
                                      filename="giay.csv", version=version(db))
    assert result.rows == 3 and stored(db) == (3, 1)


def test_without_a_scope_the_command_line_imports_everything(db):
    assert import_responses(MIXED, "giay.csv", session=db, version=version(db)).rows == 3


def test_only_admin_and_province_may_create_units(db):
    content = MIXED.replace(b"HG02,", b"HG01b,")
    with pytest.raises(AccessDenied, match="create units"):
        admin.import_paper_forms(session=db, scope=scope(db, "cuc"), content=content,
                                 filename="giay.csv", version=version(db), create_units=True,
                                 parent_code="HG01")
    assert stored(db) == (0, 0) and get_organisation(session=db, code="HG01b") is None
    assert read_audit(session=db, limit=1).iloc[0]["action"] == "import_refused"


def test_a_province_creates_units_only_under_a_parent_in_its_scope(db):
    add_organisation(session=db, code="CT", name="TP Cần Thơ")
    db.commit()
    content = MIXED.replace(b"HG02,", b"HG03,")
    so = scope(db, "so")
    for parent, message in [(None, "need a parent"), ("CT", "outside your scope")]:
        with pytest.raises(ImportFailed, match=message):
            admin.import_paper_forms(session=db, scope=so, content=content, filename="giay.csv",
                                     version=version(db), create_units=True, parent_code=parent)
    assert get_organisation(session=db, code="HG03") is None and stored(db) == (0, 0)
    result = admin.import_paper_forms(session=db, scope=so, content=content, filename="giay.csv",
                                      version=version(db), create_units=True, parent_code="HG")
    assert result.created_units == ["HG03"] and stored(db) == (3, 1)
    created = get_organisation(session=db, code="HG03")
    assert db.get(Organisation, created.parent_id).code == "HG"


def test_a_deactivated_unit_takes_no_import(db):
    admin.deactivate_unit(session=db, scope=admin.CLI_SCOPE, code="HG02")
    with pytest.raises(ImportFailed) as refused:
        import_responses(MIXED, "giay.csv", session=db, version=version(db))
    assert [(p.row, p.column, p.message) for p in refused.value.problems] == [
        (4, "unit", "unit 'HG02' is deactivated")]


def test_preview_lists_problems_and_stores_nothing(db):
    inspection = admin.preview_paper_forms(
        session=db, scope=scope(db, "cuc"), content=MIXED, filename="giay.csv", version=version(db))
    assert len(inspection.table) == 3
    assert [(p.row, p.column) for p in inspection.problems] == [(4, "unit")]
    assert inspection.to_create == set() and stored(db) == (0, 0)


def test_a_file_imported_twice_is_refused_the_second_time(db):
    so = scope(db, "so")
    admin.import_paper_forms(session=db, scope=so, content=MIXED, filename="a.csv",
                             version=version(db))
    with pytest.raises(ImportFailed, match="already imported"):
        admin.import_paper_forms(session=db, scope=so, content=MIXED, filename="b.csv",
                                 version=version(db))
    assert stored(db) == (3, 1)


def test_importing_only_the_new_rows_is_audited_with_the_rows_left_out(db):
    so = scope(db, "so")
    admin.import_paper_forms(session=db, scope=so, content=MIXED, filename="a.csv",
                             version=version(db))
    again = MIXED.replace(b"TC1,TC2\n", b"TC1,TC2\nHG02,2024-Q4,1,1\n")  # one new row first
    with pytest.raises(ImportFailed, match=r"3 row\(s\) were already imported .* row 3, 4, 5\."):
        admin.import_paper_forms(session=db, scope=so, content=again, filename="b.csv",
                                 version=version(db))
    assert read_audit(session=db, limit=1).iloc[0]["action"] == "import_refused"
    result = admin.import_paper_forms(session=db, scope=so, content=again, filename="b.csv",
                                      version=version(db), only_new_rows=True)
    assert (result.rows, result.skipped_rows) == (1, [3, 4, 5]) and stored(db) == (4, 2)
    entry = read_audit(session=db, limit=1).iloc[0]
    assert (entry["action"], entry["target"]) == ("import", "b.csv")
    assert json.loads(entry["detail"]) == {
        "rows": 1, "questionnaire": "sipas@2024", "batch": result.batch_id, "created_units": [],
        "only_new_rows": True, "skipped_rows": 3, "skipped_first": [3, 4, 5]}
