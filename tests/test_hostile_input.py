"""Hostile input: questionnaire files, import files and stored text (property-based, hypothesis).

The promises tested: a questionnaire file gives a valid `Questionnaire` or a `QuestionnaireError`,
never another exception; an import file is refused with `ImportFailed` and nothing stored, or stored
exactly as written; text with SQL or HTML in it is stored and read back verbatim.

Each hypothesis example builds its own in-memory SQLite database (function fixtures do not mix
with @given); the plain tests at the end use the `session` / `cli_env` fixtures and so run on
PostgreSQL too.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import tempfile
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import SQLModel

from survey.cli import main
from survey.db import create_schema, make_engine, new_session
from survey.importer import ImportFailed, ImportProblem, import_responses
from survey.models import ImportBatch, Organisation, QuestionnaireVersion, Response
from survey.periods import parse_quarter
from survey.questionnaire import (
    Questionnaire,
    QuestionnaireError,
    load_questionnaire,
    shipped_questionnaire_paths,
)
from survey.storage import StorageError
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import questionnaire_of, register_questionnaire
from survey.storage.responses import (
    answers_by_response,
    find_response_by_key,
    load_responses,
    store_response,
)

SOME = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INJECTION = "'; DROP TABLE response; --"
HTML = "<script>alert('x')</script>"
HOSTILE = [
    INJECTION,
    HTML,
    "<b>x</b>'; DROP TABLE response; --",
    "Robert'); DROP TABLE organisation;--",
    '" OR "1"="1',
    "1; DELETE FROM answer WHERE 1=1",
    "\\",
    "%s %d {0} {{x}}",
    "${jndi:ldap://example.invalid/a}",
    "=HYPERLINK(\"http://x\")",
    "\u202egnp.exe",
    "Tỉnh Hậu Giang — “ngoặc kép” ‘đơn’",
    "😀🇻🇳",
    "NULL",
    "nan",
    "None",
    "true",
    "0x00",
    "a,b;c\td",
    "line\nbreak",
    '"',
    "x" * 5000,
]

PATHS = {path.stem: path for path in shipped_questionnaire_paths()}
SIPAS_TEXT = PATHS["sipas-2024"].read_text(encoding="utf-8")
SIPAS_DOC = yaml.safe_load(SIPAS_TEXT)
DTXHH = load_questionnaire(PATHS["dtxhh-haugiang-2024"])
UNITS = {"HG01": "Cục Thi hành án dân sự tỉnh Hậu Giang", "HG02": "Sở Tư pháp"}


@cache
def _template():
    """The engine of an in-memory database with the schema, DTXHH 2024 and a province of 2 units."""
    engine = make_engine("sqlite://")
    create_schema(engine)
    with new_session(engine) as session:
        register_questionnaire(session=session, questionnaire=DTXHH)
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        for code, name in UNITS.items():
            add_organisation(session=session, code=code, name=name, parent_code="HG")
        session.commit()
    return engine


def fresh_database():
    """A new in-memory database holding a copy of the template (SQLite's backup API: fast)."""
    engine = make_engine("sqlite://")
    with _template().connect() as source, engine.connect() as target:
        source.connection.driver_connection.backup(target.connection.driver_connection)
    return engine


def row_counts(session) -> dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in SQLModel.metadata.sorted_tables
    }


# --- questionnaire files -----------------------------------------------------------------------


def load_file(content: bytes) -> Questionnaire | None:
    """Load `content` as a questionnaire file: the questionnaire, or None when refused.

    Any exception other than QuestionnaireError fails the test. A refusal names the file and
    lists at least one problem; a valid questionnaire can be registered and read back unchanged.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.yaml"
        path.write_bytes(content)
        try:
            questionnaire = load_questionnaire(path)
        except QuestionnaireError as exc:
            assert exc.problems
            assert str(path) in str(exc)
            return None
    assert isinstance(questionnaire, Questionnaire)
    engine = make_engine("sqlite://")
    create_schema(engine)
    try:
        with new_session(engine) as session:
            row, outcome = register_questionnaire(session=session, questionnaire=questionnaire)
            session.commit()
            assert outcome == "added"
            stored = session.get(QuestionnaireVersion, row.id)
            assert stored.content == questionnaire.source_text
            assert questionnaire_of(stored) == questionnaire
    finally:
        engine.dispose()
    return questionnaire


YAML_KEYS = ["id", "version", "title", "description", "max_points", "scales", "groups", "criteria",
             "code", "label", "score", "points", "questions", "text", "scale", "help", "weight",
             "vi", "en"]
yaml_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(YAML_KEYS) | st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)


def _dump(document) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


def _places(node, found=None) -> list[tuple[object, object]]:
    """Every (container, key or index) in a YAML document."""
    found = [] if found is None else found
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        found.append((node, key))
        _places(value, found)
    return found


@st.composite
def mutated_questionnaires(draw) -> bytes:
    """The shipped SIPAS file with 1–3 keys replaced, removed or added."""
    document = copy.deepcopy(SIPAS_DOC)
    for _ in range(draw(st.integers(1, 3))):
        places = _places(document)
        container, key = places[draw(st.integers(0, len(places) - 1))]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            container[key] = draw(yaml_values)
        elif action == "remove":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.sampled_from(YAML_KEYS) | st.text(max_size=8))] = draw(yaml_values)
        else:
            container.append(draw(yaml_values))
    return _dump(document)


@st.composite
def spliced_text(draw) -> bytes:
    """The shipped SIPAS file with a slice of its text replaced by random or hostile text."""
    start = draw(st.integers(0, len(SIPAS_TEXT)))
    end = draw(st.integers(start, min(len(SIPAS_TEXT), start + 200)))
    insert = draw(st.text(max_size=40) | st.sampled_from(HOSTILE))
    return (SIPAS_TEXT[:start] + insert + SIPAS_TEXT[end:]).encode("utf-8")


@SOME
@given(st.text(max_size=400))
def test_random_text_is_not_a_questionnaire(text):
    assert load_file(text.encode("utf-8")) is None  # random text is never a whole questionnaire


@SOME
@given(st.binary(max_size=600))
def test_random_bytes_are_not_a_questionnaire(content):
    assert load_file(content) is None


@SOME
@given(yaml_values)
def test_random_yaml_structures_are_refused(document):
    assert load_file(_dump(document)) is None


@SOME
@given(mutated_questionnaires())
def test_mutated_questionnaires_are_refused_or_valid(content):
    event("valid" if load_file(content) is not None else "refused")


@SOME
@given(spliced_text())
def test_spliced_questionnaire_text_is_refused_or_valid(content):
    event("valid" if load_file(content) is not None else "refused")


@FEWER
@given(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "cp1258", "latin-1", "shift_jis",
                        "utf-8", "utf-8-sig"]),
       st.text(max_size=30))
def test_questionnaire_in_another_encoding(encoding, comment):
    content = f"# {comment}\n{SIPAS_TEXT}".encode(encoding, errors="replace")
    questionnaire = load_file(content)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        assert questionnaire is None  # not UTF-8: refused, never misread


@pytest.mark.parametrize(
    ("encoding", "valid"),
    [("utf-8", True), ("utf-8-sig", True), ("utf-16", False), ("utf-16-le", False),
     ("utf-32", False), ("cp1258", False)],
)
def test_the_shipped_questionnaire_in_encodings(encoding, valid):
    content = f"# Bản lưu: café\n{SIPAS_TEXT}".encode(encoding, errors="replace")
    questionnaire = load_file(content)
    assert (questionnaire is not None) == valid
    if valid:
        assert questionnaire.key == "sipas@2024"
        assert questionnaire.title.vi.startswith("Phiếu khảo sát mức độ hài lòng")


@pytest.mark.parametrize(
    ("where", "replacement", "valid"),
    [
        # the title is stored in a 300-character column: longer is refused with its key path
        ('vi: "Phiếu khảo sát mức', 'vi: "' + "Rất dài " * 25_000 + 'Phiếu khảo sát mức', False),
        ("code: \"TC1\"", "code: \"" + "T" * 100_000 + "\"", False),
        ("id: sipas", "id: " + "s" * 41, False),
        ("scales:", "unknown_" + "k" * 50_000 + ": 1\nscales:", False),
    ],
    ids=["long title", "long question code", "code of 41", "long unknown key"],
)
def test_very_long_strings(where, replacement, valid):
    assert where in SIPAS_TEXT
    questionnaire = load_file(SIPAS_TEXT.replace(where, replacement, 1).encode("utf-8"))
    assert (questionnaire is not None) == valid


@pytest.mark.parametrize("text", ["[" * 1000 + "]" * 1000, "a: " + "{b: " * 1000 + "1" + "}" * 1000],
                         ids=["lists", "mappings"])
def test_deeply_nested_yaml_is_refused(text):
    assert load_file(text.encode("utf-8")) is None


@pytest.mark.parametrize("text", [
    "!!python/object/apply:os.system ['echo owned']",
    "id: !!python/name:os.system\n",
    "a: &a [1, 2]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n",
    "\x00\x01\x02",
    "id: sipas\nid: other\n",
])
def test_yaml_tricks_are_refused(text):
    assert load_file(text.encode("utf-8")) is None


# --- import files ------------------------------------------------------------------------------

QUESTIONS = list(DTXHH.question_codes)
VALID_CELLS = {
    "unit": list(UNITS) + [" HG01 "],
    "period": ["2024-Q1", "2024-q2", " 2024-Q3 "],
    "group": [g.code for g in DTXHH.groups],
} | {code: [o.code for o in DTXHH.scale_of(code).options] + [""] for code in QUESTIONS}
cell_text = st.text(max_size=15) | st.sampled_from(HOSTILE)


@st.composite
def paper_tables(draw):
    """(columns, rows) of a paper-form table; sometimes clean, sometimes with hostile cells."""
    questions = draw(st.lists(st.sampled_from(QUESTIONS), unique=True, max_size=5))
    required = draw(st.lists(st.sampled_from(["unit", "period", "group"]), unique=True, min_size=2)
                    if draw(st.booleans()) else st.just(["unit", "period", "group"]))
    extra = draw(st.lists(cell_text.filter(lambda c: c.strip() not in VALID_CELLS), max_size=2,
                          unique=True)) if draw(st.booleans()) else []
    columns = draw(st.permutations(required + questions + extra))
    hostile = draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        row = {}
        for column in columns:
            valid = st.sampled_from(VALID_CELLS.get(column, [""]))
            row[column] = draw(valid | cell_text if hostile else valid)
        rows.append(row)
    return columns, rows


def write_csv(columns, rows, delimiter=",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row[c] for c in columns] for row in rows])
    return out.getvalue()


def stored_import(session, batch_id: int) -> list[dict]:
    """The responses of an import batch as rows like the file's, in file order."""
    codes = dict(session.execute(select(Organisation.id, Organisation.code)).all())
    responses = session.execute(
        select(Response).where(Response.import_batch_id == batch_id)
    ).scalars().all()
    rows = []
    for response in sorted(responses, key=lambda r: r.id):  # stored in the file's order
        answers = answers_by_response(session=session, response_ids=[response.id])[response.id]
        rows.append({"unit": codes[response.unit_id], "period": response.period,
                     "group": response.group_code, "channel": response.channel,
                     "answers": dict(answers)})
    return rows


def expected_import(rows) -> list[dict]:
    return [
        {
            "unit": row["unit"].strip(),
            "period": str(parse_quarter(row["period"])),
            "group": row.get("group", "").strip() or None,
            "channel": "paper",
            "answers": {c: v.strip() for c, v in row.items() if c in QUESTIONS and v.strip()},
        }
        for row in rows
    ]


def import_or_refuse(content: bytes, filename: str, *, create_units: bool = False):
    """Import into a fresh database: the stored rows, or None when refused with nothing stored."""
    engine = fresh_database()
    try:
        with new_session(engine) as session:
            version = session.execute(select(QuestionnaireVersion)).scalar_one()
            before = row_counts(session)
            try:
                result = import_responses(content, filename, session=session, version=version,
                                          create_units=create_units)
            except ImportFailed as exc:
                assert exc.problems and all(isinstance(p, ImportProblem) for p in exc.problems)
                assert str(exc).startswith(f"{filename}: ")
                assert row_counts(session) == before  # nothing pending either
                session.commit()  # as the CLI's session scope does after a refusal
                assert row_counts(session) == before
                return None
            after = row_counts(session)
            assert after["response"] == before["response"] + result.rows
            assert after["import_batch"] == before["import_batch"] + 1
            assert after["organisation"] == before["organisation"] + len(result.created_units)
            batch = session.get(ImportBatch, result.batch_id)
            assert batch.filename == Path(filename).name[:300]
            return stored_import(session, result.batch_id)
    finally:
        engine.dispose()


@SOME
@given(paper_tables(), st.sampled_from([",", ";", "\t"]), st.booleans(), st.booleans())
def test_paper_tables_are_refused_or_stored_exactly(table, delimiter, bom, create_units):
    columns, rows = table
    text = write_csv(columns, rows, delimiter)
    content = ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")
    stored = import_or_refuse(content, "giay.csv", create_units=create_units)
    event("stored" if stored is not None else "refused")
    if stored is not None:
        assert stored == expected_import(rows)


@FEWER
@given(paper_tables(), st.sampled_from(["utf-16", "cp1258", "latin-1", "utf-32"]))
def test_paper_tables_in_another_encoding(table, encoding):
    columns, rows = table
    content = write_csv(columns, rows).encode(encoding, errors="replace")
    stored = import_or_refuse(content, "giay.csv")
    if stored is not None:  # the bytes happened to be UTF-8 too (plain ASCII, say): read as such
        assert encoding in ("cp1258", "latin-1")
        as_read = [{c: v.encode(encoding, errors="replace").decode("utf-8") for c, v in row.items()}
                   for row in rows]
        assert stored == expected_import(as_read)


@SOME
@given(st.binary(max_size=800), st.sampled_from(["x.csv", "x.xlsx", "x.txt", "x", "x.pdf"]))
def test_random_bytes_are_not_an_import_file(content, filename):
    assert import_or_refuse(content, filename) is None


@SOME
@given(st.text(max_size=400))
def test_random_text_files_are_refused_or_stored(text):
    import_or_refuse(text.encode("utf-8"), "x.csv", create_units=True)


@FEWER
@given(paper_tables(), st.integers(min_value=0), st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
def test_invalid_utf8_is_refused(table, where, bad):
    columns, rows = table
    content = write_csv(columns, rows).encode("utf-8")
    where %= len(content) + 1
    content = content[:where] + bad + content[where:]
    engine = fresh_database()
    try:
        with new_session(engine) as session:
            version = session.execute(select(QuestionnaireVersion)).scalar_one()
            with pytest.raises(ImportFailed, match="not UTF-8"):
                import_responses(content, "x.csv", session=session, version=version)
            assert row_counts(session)["response"] == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("filename", [f"{INJECTION}.csv", f"{HTML}.csv", "Phiếu giấy quý 3.csv"])
def test_a_file_name_is_stored_verbatim(filename):
    rows = [{"unit": "HG01", "period": "2024-Q3", "group": "DAN", "1.1": "A", "1.2": "X"}]
    stored = import_or_refuse(write_csv(list(rows[0]), rows).encode("utf-8"), filename)
    assert stored == expected_import(rows)


@pytest.mark.parametrize("cell", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
@pytest.mark.parametrize("column", ["unit", "period", "group", "1.1"])
def test_hostile_cells_are_refused_and_named(column, cell):
    row = {"unit": "HG01", "period": "2024-Q3", "group": "DAN", "1.1": "A"} | {column: cell}
    content = write_csv(list(row), [row]).encode("utf-8")
    engine = fresh_database()
    try:
        with new_session(engine) as session:
            version = session.execute(select(QuestionnaireVersion)).scalar_one()
            with pytest.raises(ImportFailed) as refused:
                import_responses(content, "x.csv", session=session, version=version)
            assert (2, column) in {(p.row, p.column) for p in refused.value.problems}
            if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", cell.strip()):
                with pytest.raises(ImportFailed):  # nor can it be created: not a unit code
                    import_responses(content, "x.csv", session=session, version=version,
                                     create_units=True)
            assert row_counts(session)["response"] == 0
    finally:
        engine.dispose()


def test_a_row_with_more_cells_than_the_header_is_refused():
    content = b"unit,period,group,1.1\nX,HG01,2024-Q3,DAN,A\n"
    assert import_or_refuse(content, "x.csv") is None


# --- text stored verbatim ----------------------------------------------------------------------

names = st.text(min_size=1, max_size=300).filter(lambda s: s.strip()) | st.sampled_from(HOSTILE[:-1])
NAME_REFUSED = re.compile(r"must not be empty|longer than|NUL")


@SOME
@given(names, st.from_regex(r"[A-Za-z0-9_.\-]{1,40}", fullmatch=True))
def test_unit_names_and_codes_round_trip(name, code):
    engine = fresh_database()
    try:
        with new_session(engine) as session:
            if get_organisation(session=session, code=code):
                return
            if "\x00" in name:  # PostgreSQL cannot store NUL in text: refused everywhere
                with pytest.raises(StorageError, match=NAME_REFUSED):
                    add_organisation(session=session, code=code, name=name, parent_code="HG")
                assert row_counts(session)["organisation"] == 3
                return
            add_organisation(session=session, code=code, name=name, parent_code="HG")
            session.commit()
        with new_session(engine) as session:
            assert get_organisation(session=session, code=code).name == name.strip()
            assert row_counts(session)["organisation"] == 4
    finally:
        engine.dispose()


@SOME
@given(st.text(min_size=1, max_size=100), st.text(max_size=200), st.text(max_size=20))
def test_free_text_of_a_response_round_trips(key, reason, receipt):
    engine = fresh_database()
    try:
        with new_session(engine) as session:
            version = session.execute(select(QuestionnaireVersion)).scalar_one()
            unit = get_organisation(session=session, code="HG01")
            store_response(session=session, questionnaire_row=version, unit_id=unit.id,
                           period="2024-Q3", group_code="DAN", answers={"1.1": "A"},
                           idempotency_key=key, flagged=True, flag_reason=reason,
                           receipt=receipt or None)
        with new_session(engine) as session:
            stored = find_response_by_key(session=session, idempotency_key=key)
            assert (stored.flag_reason, stored.receipt) == (reason, receipt or None)
    finally:
        engine.dispose()


HOSTILE_NAMES = [text for text in HOSTILE if len(text) <= 300]


@pytest.mark.parametrize("name", HOSTILE_NAMES,
                         ids=[f"hostile{i}" for i in range(len(HOSTILE_NAMES))])
def test_a_hostile_unit_name_round_trips(session, name):
    add_organisation(session=session, code="HG", name=name)
    session.commit()
    session.expunge_all()
    assert get_organisation(session=session, code="HG").name == name.strip()


def test_hostile_text_in_answers_is_refused_by_storage_and_verbatim_in_the_tables(session):
    register_questionnaire(session=session, questionnaire=DTXHH)
    unit = add_organisation(session=session, code="HG01", name=HTML)
    version = session.execute(select(QuestionnaireVersion)).scalar_one()
    for answers in ({"1.1": INJECTION}, {INJECTION: "A"}, {"1.1": HTML}):
        with pytest.raises(StorageError):
            store_response(session=session, questionnaire_row=version, unit_id=unit.id,
                           period="2024-Q3", group_code="DAN", answers=answers,
                           idempotency_key=INJECTION)
    with pytest.raises(StorageError):
        store_response(session=session, questionnaire_row=version, unit_id=unit.id,
                       period="2024-Q3", group_code=INJECTION, answers={"1.1": "A"},
                       idempotency_key=INJECTION)
    assert row_counts(session)["response"] == 0

    # Below the validation, the database layer binds every value: written and read verbatim.
    response, created = store_response(
        session=session, questionnaire_row=version, unit_id=unit.id, period="2024-Q3",
        group_code="DAN", answers={"1.1": "A"}, idempotency_key=INJECTION, flag_reason=HTML,
    )
    assert created
    responses = load_responses(session=session, family=DTXHH.id)
    assert responses.loc[0, "unit_name"] == HTML
    assert responses.loc[0, "1.1"] == "A"
    assert row_counts(session)["response"] == 1  # the tables are all still there


def test_cli_shows_a_hostile_unit_name_verbatim(cli_env, capsys):
    name = "<b>x</b>'; DROP TABLE response; --"
    assert main(["unit", "add", "HG", "--name", name]) == 0
    capsys.readouterr()
    assert main(["unit", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == name
