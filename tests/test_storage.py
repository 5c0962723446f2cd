"""Storage: organisations, questionnaire versions, responses (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import func, text
from sqlmodel import select

from survey.db import new_session
from survey.models import Response
from survey.periods import PeriodError
from survey.questionnaire import load_questionnaire, parse_questionnaire
from survey.storage import StorageError
from survey.storage import responses as response_storage
from survey.storage.organisations import (
    add_organisation,
    descendant_ids,
    get_organisation,
    list_units,
)
from survey.storage.questionnaires import (
    get_questionnaire_version,
    list_questionnaire_versions,
    questionnaire_of,
    register_questionnaire,
)
from survey.storage.responses import (
    answers_by_response,
    load_responses,
    response_counts,
    store_response,
)

ROOT = Path(__file__).resolve().parent.parent
DTXHH_2023 = ROOT / "questionnaires" / "dtxhh-haugiang-2023.yaml"
DTXHH_2024 = ROOT / "questionnaires" / "dtxhh-haugiang-2024.yaml"
SIPAS_2024 = ROOT / "questionnaires" / "sipas-2024.yaml"
HEAD_COLUMNS = ["response_id", "unit", "unit_name", "period", "version", "group", "channel",
                "flagged"]


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def register(session, path):
    row, _ = register_questionnaire(session=session, questionnaire=load_questionnaire(path))
    session.commit()
    return row


@pytest.fixture
def tree(session):
    """HG (province) > HG01 (unit) > HG10 (sub-unit); HG02 (unit)."""
    units = {
        "HG": add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang"),
        "HG01": add_organisation(session=session, code="HG01", name="Cục Thi hành án",
                                 parent_code="HG"),
        "HG02": add_organisation(session=session, code="HG02", name="Cục Thuế", parent_code="HG"),
    }
    units["HG10"] = add_organisation(session=session, code="HG10", name="Chi cục Vị Thanh",
                                     parent_code="HG01")
    session.commit()
    return units


@pytest.fixture
def v2024(session, tree):
    return register(session, DTXHH_2024)


def store(session, version, unit, key, answers=None, *, period="2024-Q1", group="DAN", **extra):
    return store_response(
        session=session,
        questionnaire_row=version,
        unit_id=unit.id,
        period=period,
        group_code=group,
        answers={"1.1": "A", "1.2": "B"} if answers is None else answers,
        idempotency_key=key,
        **extra,
    )


# --- organisations ---------------------------------------------------------------------


def test_kind_follows_the_parents_depth(tree):
    assert [tree[c].kind for c in ("HG", "HG01", "HG02", "HG10")] == [
        "province", "unit", "unit", "subunit"]
    assert tree["HG10"].parent_id == tree["HG01"].id


def test_below_a_subunit_is_still_a_subunit(session, tree):
    deep = add_organisation(session=session, code="HG10a", name="Tổ", parent_code="HG10")
    assert deep.kind == "subunit"


def test_explicit_kind_wins(session):
    assert add_organisation(session=session, code="X", name="X", kind="unit").kind == "unit"


def test_duplicate_code_is_refused(session, tree):
    with pytest.raises(StorageError, match="HG01"):
        add_organisation(session=session, code="HG01", name="again", parent_code="HG")
    session.rollback()
    assert get_organisation(session=session, code="HG01").name == "Cục Thi hành án"


def test_unknown_parent_is_refused(session, tree):
    with pytest.raises(StorageError, match="NOPE"):
        add_organisation(session=session, code="HG03", name="x", parent_code="NOPE")
    session.rollback()
    assert get_organisation(session=session, code="HG03") is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # checked before any query
@pytest.mark.parametrize(("code", "name"), [("HG 03", "x"), ("", "x"), ("H" * 41, "x"),
                                            ("HG03", "  ")])
def test_bad_code_or_empty_name_is_refused(session, code, name):
    with pytest.raises(StorageError):
        add_organisation(session=session, code=code, name=name)


def test_descendant_ids(session, tree):
    ids = {code: unit.id for code, unit in tree.items()}
    assert descendant_ids(session=session, organisation_id=ids["HG"]) == set(ids.values())
    assert descendant_ids(session=session, organisation_id=ids["HG01"]) == {ids["HG01"],
                                                                            ids["HG10"]}
    assert descendant_ids(session=session, organisation_id=ids["HG10"]) == {ids["HG10"]}


def test_list_units_leaves_out_the_province(session, tree):
    assert [u.code for u in list_units(session=session)] == ["HG01", "HG02", "HG10"]


# --- questionnaire versions ------------------------------------------------------------


def _revised_2024_text() -> str:
    return DTXHH_2024.read_text(encoding="utf-8").replace(
        "tỉnh Hậu Giang\"\n", "tỉnh Hậu Giang (sửa)\"\n", 1)


def test_register_added_unchanged_updated(session):
    first, outcome = register_questionnaire(
        session=session, questionnaire=load_questionnaire(DTXHH_2024))
    assert outcome == "added"
    again, outcome = register_questionnaire(
        session=session, questionnaire=load_questionnaire(DTXHH_2024))
    assert (outcome, again.id) == ("unchanged", first.id)
    revised = parse_questionnaire(_revised_2024_text())
    assert revised.content_hash != first.content_hash
    updated, outcome = register_questionnaire(session=session, questionnaire=revised)
    session.commit()
    assert (outcome, updated.id) == ("updated", first.id)
    assert updated.title.endswith("(sửa)")
    assert len(list_questionnaire_versions(session=session)) == 1


def test_register_refuses_a_change_once_the_version_has_responses(session, tree, v2024):
    store(session, v2024, tree["HG01"], "k1")
    original_hash = v2024.content_hash
    with pytest.raises(StorageError, match="already has responses"):
        register_questionnaire(session=session,
                               questionnaire=parse_questionnaire(_revised_2024_text()))
    session.rollback()
    row = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
    assert row.content_hash == original_hash
    # the very same content is still fine
    _, outcome = register_questionnaire(session=session,
                                        questionnaire=load_questionnaire(DTXHH_2024))
    assert outcome == "unchanged"


def test_get_version_by_id_gives_the_newest(session):
    for path in (DTXHH_2024, DTXHH_2023, SIPAS_2024):
        register(session, path)
    assert get_questionnaire_version(session=session, reference="dtxhh-haugiang").version == "2024"
    assert get_questionnaire_version(session=session,
                                     reference="dtxhh-haugiang@2023").version == "2023"
    assert get_questionnaire_version(session=session, reference="sipas@2024").family == "sipas"


def _mini(version: str) -> str:
    return yaml.safe_dump({
        "id": "mini", "version": version, "title": f"Mini {version}", "max_points": 1,
        "scales": {"s": [{"code": "A", "label": "A", "score": 1.0}]},
        "criteria": [{"code": "1", "title": "Một", "points": 1,
                      "questions": [{"code": "1.1", "text": "?", "scale": "s", "points": 1}]}],
    })


def test_newest_version_compares_numbers_as_numbers(session):
    for version in ("9", "10", "2"):
        register_questionnaire(session=session, questionnaire=parse_questionnaire(_mini(version)))
    session.commit()
    assert get_questionnaire_version(session=session, reference="mini").version == "10"
    assert [r.version for r in list_questionnaire_versions(session=session, family="mini")] == [
        "2", "9", "10"]


def test_unknown_id_lists_the_registered_ones(session):
    register(session, DTXHH_2024)
    register(session, SIPAS_2024)
    with pytest.raises(StorageError) as caught:
        get_questionnaire_version(session=session, reference="dtxhh@2024")
    assert "'dtxhh'" in str(caught.value)
    assert "dtxhh-haugiang" in str(caught.value)
    assert "sipas" in str(caught.value)


def test_unknown_version_lists_the_versions(session):
    register(session, DTXHH_2023)
    register(session, DTXHH_2024)
    with pytest.raises(StorageError) as caught:
        get_questionnaire_version(session=session, reference="dtxhh-haugiang@2025")
    assert "'2025'" in str(caught.value)
    assert "2023, 2024" in str(caught.value)


def test_registered_content_is_the_file_exactly(session):
    row = register(session, SIPAS_2024)
    assert row.content == SIPAS_2024.read_text(encoding="utf-8")
    assert questionnaire_of(row).key == "sipas@2024"


# --- responses -------------------------------------------------------------------------


def test_store_response_stores_the_answers(session, tree, v2024):
    response, created = store(session, v2024, tree["HG01"], "k1",
                              {"1.1": "A", "1.2": "X", "1.3": None}, channel="paper")
    assert created
    stored = session.exec(select(Response)).one()
    assert (stored.id, stored.unit_id, stored.period, stored.group_code, stored.channel) == (
        response.id, tree["HG01"].id, "2024-Q1", "DAN", "paper")
    answers = answers_by_response(session=session)[stored.id]
    assert answers == {"1.1": "A", "1.2": "X"}  # None = unanswered: no row


def test_store_response_is_idempotent(session, tree, v2024):
    first, created_first = store(session, v2024, tree["HG01"], "same-key")
    second, created_second = store(session, v2024, tree["HG01"], "same-key",
                                   {"1.1": "D", "2.1": "C"})
    assert (created_first, created_second) == (True, False)
    assert second.id == first.id
    assert count(session, Response) == 1
    answers = answers_by_response(session=session)[first.id]
    assert len(answers) == 2
    assert answers == {"1.1": "A", "1.2": "B"}


@pytest.mark.parametrize(
    ("answers", "group", "period", "error", "fragment"),
    [
        ({"1.1": "E"}, "DAN", "2024-Q1", StorageError, "'E'"),
        ({"1.1": "A", "9.9": "A"}, "DAN", "2024-Q1", StorageError, "'9.9'"),
        ({"1.1": "A"}, "NGUOI", "2024-Q1", StorageError, "'NGUOI'"),
        ({"1.1": "A"}, None, "2024-Q1", StorageError, "group"),
        ({"1.1": "A"}, "DAN", "2024-H1", PeriodError, "2024-H1"),
    ],
    ids=["unknown-option", "unknown-question", "unknown-group", "missing-group", "not-a-quarter"],
)
def test_bad_response_is_refused_and_nothing_stored(session, tree, v2024, answers, group, period,
                                                    error, fragment):
    with pytest.raises(error) as caught:
        store(session, v2024, tree["HG01"], "bad", answers, group=group, period=period)
    assert fragment in str(caught.value)
    session.rollback()
    assert count(session, Response) == 0
    assert answers_by_response(session=session) == {}


def test_unknown_channel_is_refused(session, tree, v2024):
    with pytest.raises(StorageError, match="channel"):
        store(session, v2024, tree["HG01"], "k", channel="fax")
    session.rollback()
    assert count(session, Response) == 0


def test_group_on_a_questionnaire_without_groups_is_refused(session, tree):
    sipas = register(session, SIPAS_2024)
    with pytest.raises(StorageError, match="no respondent groups"):
        store(session, sipas, tree["HG01"], "k", {"TC1": "5"}, group="DAN")
    session.rollback()
    response, created = store(session, sipas, tree["HG01"], "k", {"TC1": "5"}, group=None)
    assert created and response.group_code is None


def test_two_sessions_racing_with_the_same_key_store_one(engine, session, tree, v2024,
                                                         monkeypatch):
    """B inserts while A's row with the same key is not committed yet: B waits for A, then
    its insert hits the unique key and it answers with A's response."""
    session_a, session_b = new_session(engine), new_session(engine)
    b_looked = threading.Event()
    real_insert = response_storage.insert_new_responses

    def insert_and_signal(*, session, responses):
        if session is session_b:
            b_looked.set()
        return real_insert(session=session, responses=responses)

    monkeypatch.setattr(response_storage, "insert_new_responses", insert_and_signal)
    results = {}

    def b_stores():
        try:
            results["b"] = store(session_b, v2024, tree["HG01"], "race", {"1.1": "C"})
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results["b"] = exc

    try:
        results["a"] = store(session_a, v2024, tree["HG01"], "race", {"1.1": "A"}, commit=False)
        thread = threading.Thread(target=b_stores)
        thread.start()
        assert b_looked.wait(30), "session B never tried to insert"
        session_a.commit()
        thread.join(60)
        assert not thread.is_alive()
    finally:
        session_a.close()
        session_b.close()
    (a_response, a_created), b_result = results["a"], results["b"]
    assert not isinstance(b_result, Exception), repr(b_result)
    b_response, b_created = b_result
    assert (a_created, b_created) == (True, False)
    assert b_response.id == a_response.id
    with new_session(engine) as check:
        assert count(check, Response) == 1
        assert list(answers_by_response(session=check).values()) == [{"1.1": "A"}]


def test_many_threads_with_the_same_key_store_one(engine, tree, v2024):
    barrier = threading.Barrier(4)
    results = []

    def submit():
        with new_session(engine) as own:
            barrier.wait(30)
            try:
                response, created = store(own, v2024, tree["HG02"], "burst", {"1.1": "B"})
                results.append((response.id, created))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(not isinstance(r, Exception) for r in results), results
    assert len(results) == 4
    assert len({response_id for response_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with new_session(engine) as check:
        assert count(check, Response) == 1
        assert [len(a) for a in answers_by_response(session=check).values()] == [1]


# --- reading responses -----------------------------------------------------------------


@pytest.fixture
def responses_stored(session, tree, v2024):
    v2023 = register(session, DTXHH_2023)
    store(session, v2023, tree["HG01"], "r1", {"1.1": "A", "1.2": "B"}, period="2023-Q4")
    store(session, v2024, tree["HG01"], "r2", {"1.1": "C", "2.4": "D"}, period="2024-Q1")
    store(session, v2024, tree["HG10"], "r3", {"1.1": "X", "1.2": None}, period="2024-Q1",
          group="CB", flagged=True, flag_reason="burst")
    store(session, v2024, tree["HG02"], "r4", {"1.2": "A"}, period="2024-Q2", group="DN",
          channel="paper")
    return tree


def test_load_responses_wide_frame(session, responses_stored):
    responses = load_responses(session=session, family="dtxhh-haugiang")
    assert list(responses.columns[: len(HEAD_COLUMNS)]) == HEAD_COLUMNS
    assert set(responses.columns[len(HEAD_COLUMNS):]) >= {"1.1", "1.2", "2.4"}
    assert responses["response_id"].is_monotonic_increasing
    by_unit_period = responses.set_index(["unit", "period"])
    r1 = by_unit_period.loc[("HG01", "2023-Q4")]
    assert (r1["version"], r1["group"], r1["1.1"], r1["1.2"], r1["channel"]) == (
        "2023", "DAN", "A", "B", "qr")
    assert pd.isna(r1["2.4"])  # unanswered (and a 2024-only question)
    r3 = by_unit_period.loc[("HG10", "2024-Q1")]
    assert (r3["unit_name"], r3["group"], bool(r3["flagged"]), r3["1.1"]) == (
        "Chi cục Vị Thanh", "CB", True, "X")
    assert pd.isna(r3["1.2"])
    r4 = by_unit_period.loc[("HG02", "2024-Q2")]
    assert (r4["channel"], r4["1.2"]) == ("paper", "A")
    assert pd.isna(r4["1.1"])
    # about one byte per answer: the answer columns are categorical codes
    assert all(isinstance(responses[c].dtype, pd.CategoricalDtype) for c in ("1.1", "2.4"))


def test_load_responses_filters(session, responses_stored):
    tree = responses_stored

    def keys(**filters):
        frame = load_responses(session=session, family="dtxhh-haugiang", **filters)
        return sorted(zip(frame["unit"], frame["period"], strict=True))

    assert len(keys()) == 4
    assert keys(include_flagged=False) == [("HG01", "2023-Q4"), ("HG01", "2024-Q1"),
                                           ("HG02", "2024-Q2")]
    assert keys(quarters=["2024-Q1"]) == [("HG01", "2024-Q1"), ("HG10", "2024-Q1")]
    assert keys(quarters=["2024-Q1", "2024-Q2"], unit_ids=[tree["HG02"].id]) == [
        ("HG02", "2024-Q2")]
    below_hg01 = descendant_ids(session=session, organisation_id=tree["HG01"].id)
    assert keys(unit_ids=below_hg01) == [("HG01", "2023-Q4"), ("HG01", "2024-Q1"),
                                         ("HG10", "2024-Q1")]
    assert keys(quarters=[]) == []
    assert load_responses(session=session, family="sipas").empty


def test_load_responses_of_a_family_without_responses_has_the_head_columns(session, tree):
    register(session, SIPAS_2024)
    responses = load_responses(session=session, family="sipas")
    assert responses.empty
    assert list(responses.columns[: len(HEAD_COLUMNS)]) == HEAD_COLUMNS


def test_a_response_with_no_answers_reads_as_none(session, tree, v2024):
    store(session, v2024, tree["HG01"], "answered", {"1.1": "A"})
    store(session, v2024, tree["HG01"], "blank", {})
    responses = load_responses(session=session, family="dtxhh-haugiang")
    assert pd.isna(responses.loc[responses["response_id"].idxmax(), "1.1"])
    assert responses.loc[responses["response_id"].idxmin(), "1.1"] == "A"


def test_every_question_of_the_family_is_a_column(session, tree, v2024):
    register(session, DTXHH_2023)
    store(session, v2024, tree["HG01"], "one", {"1.1": "A"})
    responses = load_responses(session=session, family="dtxhh-haugiang")
    expected = set(load_questionnaire(DTXHH_2024).question_codes)
    expected |= set(load_questionnaire(DTXHH_2023).question_codes)
    assert expected <= set(responses.columns)


def test_response_counts(session, responses_stored):
    counts = response_counts(session=session)
    assert list(counts.columns) == ["unit", "name", "period", "family", "version", "responses"]
    assert [tuple(row) for row in counts[["unit", "period", "version", "responses"]].itertuples(
        index=False)] == [("HG01", "2023-Q4", "2023", 1), ("HG01", "2024-Q1", "2024", 1),
                          ("HG02", "2024-Q2", "2024", 1), ("HG10", "2024-Q1", "2024", 1)]
    tree = responses_stored
    v2024 = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
    store(session, v2024, tree["HG01"], "r5", period="2024-Q1")
    only_hg01 = response_counts(session=session, unit_ids=[tree["HG01"].id])
    assert only_hg01[["period", "responses"]].values.tolist() == [["2023-Q4", 1], ["2024-Q1", 2]]
    assert response_counts(session=session, unit_ids=[]).empty


# --- SQLite settings ---------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_has_wal_and_foreign_keys_on(engine):
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() > 0


def test_foreign_keys_are_enforced(session, tree, v2024):
    session.add(Response(unit_id=999_999, period="2024-Q1", questionnaire_version_id=v2024.id,
                         idempotency_key="orphan"))
    with pytest.raises(Exception, match="(?i)foreign key"):
        session.commit()
    session.rollback()
    assert count(session, Response) == 0


@pytest.mark.parametrize(("name", "message"), [
    ("Cục\x00A", "NUL"), ("x" * 301, "longer than 300"), ("   ", "must not be empty")])
def test_unit_names_postgresql_cannot_store_are_refused_everywhere(session, name, message):
    from survey.storage import StorageError
    from survey.storage.organisations import add_organisation, get_organisation

    with pytest.raises(StorageError, match=message):
        add_organisation(session=session, code="HGX", name=name)
    assert get_organisation(session=session, code="HGX") is None
    assert get_organisation(session=session, code="HG\x00X") is None


def test_a_table_read_in_two_parts_equals_one_read(session, tree, v2024, monkeypatch):
    """Large tables are read on two connections in two id ranges: the table is the same."""
    for i in range(30):
        store(session, v2024, tree["HG01" if i % 3 else "HG02"], f"part-{i}",
              {"1.1": "ABCDX"[i % 5], "2.1": "ABCD"[i % 4]}, group=["DAN", "DN", "CB"][i % 3])
    whole = load_responses(session=session, family="dtxhh-haugiang")
    monkeypatch.setattr(response_storage, "PARALLEL_SPAN", 5)
    parts = load_responses(session=session, family="dtxhh-haugiang")
    pd.testing.assert_frame_equal(parts, whole)
    assert len(whole) == 30 and list(whole["1.1"].astype(str)[:5]) == ["A", "B", "C", "D", "X"]


def test_a_small_family_and_the_newest_responses_read_the_rows_stored(session, tree, v2024):
    """The reader takes the indexes for a small share of the table and id order for most of it
    or for the responses after an id: each way reads exactly the rows stored."""
    sipas = register(session, SIPAS_2024)
    for i in range(24):  # the large family: most of the table
        store(session, v2024, tree["HG01"], f"big-{i}", {"1.1": "ABCD"[i % 4]},
              period=["2024-Q1", "2024-Q2"][i % 2])
    group = questionnaire_of(sipas).groups[0].code if questionnaire_of(sipas).groups else None
    small = [("HG02", "2024-Q2", "5"), ("HG10", "2024-Q3", "0"), ("HG02", "2024-Q3", None)]
    for i, (unit, period, answer) in enumerate(small):
        store(session, sipas, tree[unit], f"small-{i}", {"TC1": answer}, period=period,
              group=group)
    read = load_responses(session=session, family="sipas")
    assert [(r.unit, r.period) for r in read.itertuples()] == [(u, p) for u, p, _ in small]
    assert read["TC1"].tolist()[:2] == ["5", "0"] and pd.isna(read["TC1"].iloc[2])
    assert read["period"].cat.categories.tolist() == ["2024-Q2", "2024-Q3"]

    big = load_responses(session=session, family="dtxhh-haugiang")
    assert big["1.1"].tolist() == ["ABCD"[i % 4] for i in range(24)]
    cut = int(big["response_id"].iloc[20])
    newest = load_responses(session=session, family="dtxhh-haugiang", after_id=cut)
    assert newest["response_id"].tolist() == big["response_id"].tolist()[21:]
    assert newest["1.1"].tolist() == ["ABCD"[i % 4] for i in range(21, 24)]
    assert newest["period"].tolist() == [["2024-Q1", "2024-Q2"][i % 2] for i in range(21, 24)]


def test_the_cache_fingerprint_counts_responses_and_flagged_ones(session, tree, v2024):
    from survey.dashboard import data_version

    assert data_version(session=session) == (0, 0, 0)
    first, _ = store(session, v2024, tree["HG01"], "plain", {"1.1": "A"})
    assert data_version(session=session) == (1, first.id, 0)
    second, _ = store(session, v2024, tree["HG02"], "burst", {"1.1": "B"}, flagged=True,
                   flag_reason="burst")
    third, _ = store(session, v2024, tree["HG02"], "burst-2", {"1.1": "B"}, flagged=True,
                  flag_reason="burst")
    assert data_version(session=session) == (3, third.id, 2)
    assert second.id < third.id
