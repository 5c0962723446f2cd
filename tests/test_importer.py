"""Import of paper forms: all rows or nothing, problems by row and column, never twice."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func
from sqlmodel import select

from survey.importer import ImportFailed, import_responses
from survey.models import ImportBatch, Organisation, Response
from survey.questionnaire import load_questionnaire
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import get_questionnaire_version, register_questionnaire
from survey.storage.responses import answers_by_response, load_responses

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS_2024 = load_questionnaire(ROOT / "questionnaires" / "dtxhh-haugiang-2024.yaml")
CODES = list(QUESTIONS_2024.question_codes)
HEADER = ["unit", "period", "group", *CODES]
OPTIONS = "ABCDX"


def good_rows(n: int = 6) -> list[list[str]]:
    """n complete forms over two units, two quarters and the three groups; a few blanks."""
    rows = []
    for i in range(n):
        answers = [OPTIONS[(i + j) % len(OPTIONS)] for j in range(len(CODES))]
        if i % 3 == 0:
            answers[-1] = ""  # not answered
        rows.append([("HG01", "HG02")[i % 2], ("2024-Q3", "2024-q4")[i % 2],
                     ("DAN", "DN", "CB")[i % 3], *answers])
    return rows


def csv_bytes(rows, header=HEADER, *, encoding="utf-8", sep=",") -> bytes:
    lines = [sep.join(header)] + [sep.join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_cell(rows, index, column, value):
    rows = [list(r) for r in rows]
    rows[index][HEADER.index(column)] = value
    return rows


@pytest.fixture
def version(session):
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(session=session, code="HG01", name="Cục Thi hành án", parent_code="HG")
    add_organisation(session=session, code="HG02", name="Cục Thuế", parent_code="HG")
    row, _ = register_questionnaire(session=session, questionnaire=QUESTIONS_2024)
    session.commit()
    return row


def counts(session) -> dict[str, int]:
    found = {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Response, Organisation, ImportBatch)
    }
    found["Answer"] = sum(map(len, answers_by_response(session=session).values()))
    return found


def refused(session, version, content, filename, **options) -> str:
    """Import that must fail: the database is exactly unchanged; returns the message."""
    before = counts(session)
    with pytest.raises(ImportFailed) as caught:
        import_responses(content, filename, session=session, version=version, **options)
    session.rollback()
    assert counts(session) == before
    message = str(caught.value)
    assert message.startswith(f"{filename}: ")
    assert "nothing was imported" in message
    return message


# --- good files ----------------------------------------------------------------------


@pytest.mark.parametrize(("make", "filename"), [(csv_bytes, "paper-2024-Q3.csv"),
                                               (xlsx_bytes, "paper-2024-Q3.xlsx")],
                         ids=["csv", "xlsx"])
def test_a_good_file_imports_every_row_as_paper(session, version, make, filename):
    rows = good_rows()
    result = import_responses(make(rows), filename, session=session, version=version)
    assert result.rows == len(rows)
    assert result.created_units == []
    responses = load_responses(session=session, family="dtxhh-haugiang")
    assert len(responses) == len(rows)
    assert set(responses["channel"]) == {"paper"}
    for row, (_, stored) in zip(rows, responses.iterrows(), strict=True):
        assert stored["unit"] == row[0]
        assert stored["period"] == row[1].upper()
        assert stored["group"] == row[2]
        assert [None if pd.isna(stored[c]) else stored[c] for c in CODES] == [
            cell or None for cell in row[3:]]
    batch = session.exec(select(ImportBatch)).one()
    assert (batch.rows, batch.id) == (len(rows), result.batch_id)
    assert set(session.exec(select(Response.import_batch_id))) == {batch.id}


def test_a_csv_saved_by_excel_with_bom_and_semicolons_imports(session, version):
    content = b"\xef\xbb\xbf" + csv_bytes(good_rows(3), sep=";")
    assert import_responses(content, "excel.csv", session=session, version=version).rows == 3
    assert counts(session)["Response"] == 3


def test_cells_are_trimmed(session, version):
    rows = with_cell(good_rows(1), 0, "1.1", "  B ")
    rows = with_cell(rows, 0, "unit", " HG01")
    import_responses(csv_bytes(rows), "spaces.csv", session=session, version=version)
    stored = load_responses(session=session, family="dtxhh-haugiang").iloc[0]
    assert (stored["unit"], stored["1.1"]) == ("HG01", "B")


def test_numeric_option_codes_typed_in_excel_import(session, version):
    sipas = load_questionnaire(ROOT / "questionnaires" / "sipas-2024.yaml")
    sipas_row, _ = register_questionnaire(session=session, questionnaire=sipas)
    session.commit()
    header = ["unit", "period", "TC1", "TC2", "TC3"]
    content = xlsx_bytes([["HG01", "2024-Q2", 5, 4, 0], ["HG02", "2024-Q2", 1, None, 3]],
                         header=header)
    import_responses(content, "sipas.xlsx", session=session, version=sipas_row)
    stored = load_responses(session=session, family="sipas")
    table = stored[["unit", "TC1", "TC2", "TC3"]].astype(object)
    assert table.where(table.notna(), None).values.tolist() == [
        ["HG01", "5", "4", "0"], ["HG02", "1", None, "3"]]


def test_the_same_file_twice_is_refused(session, version):
    content = csv_bytes(good_rows())
    import_responses(content, "q3.csv", session=session, version=version)
    message = refused(session, version, content, "q3-again.csv")
    assert "already imported" in message
    assert counts(session)["Response"] == len(good_rows())


def test_create_units_creates_the_unknown_units(session, version):
    rows = with_cell(good_rows(4), 1, "unit", "HG03")
    rows = with_cell(rows, 3, "unit", "HG03")
    result = import_responses(csv_bytes(rows), "new-units.csv", session=session, version=version,
                              create_units=True, parent_code="HG")
    assert result.created_units == ["HG03"]
    created = get_organisation(session=session, code="HG03")
    assert (created.kind, created.parent_id) == ("unit",
                                                 get_organisation(session=session, code="HG").id)
    stored = load_responses(session=session, family="dtxhh-haugiang")
    assert (stored["unit"] == "HG03").sum() == 2


# --- bad files: the database is unchanged, the problems are named ------------------------


BAD_CSV = [
    ("unknown-unit", lambda: csv_bytes(with_cell(good_rows(), 1, "unit", "HG99")),
     ["row 3, column 'unit'", "'HG99'"]),
    ("quarter-5", lambda: csv_bytes(with_cell(good_rows(), 0, "period", "2024-Q5")),
     ["row 2, column 'period'", "2024-Q5"]),
    ("half-year", lambda: csv_bytes(with_cell(good_rows(), 2, "period", "2024-H1")),
     ["row 4, column 'period'", "not a quarter"]),
    ("empty-period", lambda: csv_bytes(with_cell(good_rows(), 2, "period", "")),
     ["row 4, column 'period'"]),
    ("unknown-group", lambda: csv_bytes(with_cell(good_rows(), 4, "group", "NGUOIDAN")),
     ["row 6, column 'group'", "'NGUOIDAN'"]),
    ("unknown-option", lambda: csv_bytes(with_cell(good_rows(), 5, "3.2", "E")),
     ["row 7, column '3.2'", "'E'"]),
    ("unknown-column", lambda: csv_bytes([[*r, "A"] for r in good_rows()], [*HEADER, "9.9"]),
     ["row 1, column '9.9'", "unknown column"]),
    ("missing-period-column",
     lambda: csv_bytes([r[:1] + r[2:] for r in good_rows()], HEADER[:1] + HEADER[2:]),
     ["row 1, column 'period'", "missing"]),
    ("missing-group-column",
     lambda: csv_bytes([r[:2] + r[3:] for r in good_rows()], HEADER[:2] + HEADER[3:]),
     ["row 1, column 'group'", "missing"]),
    ("empty-row", lambda: csv_bytes([*good_rows(2), [""] * len(HEADER), *good_rows(2)]),
     ["row 4: empty row"]),
    ("header-only", lambda: csv_bytes([]), ["no data rows"]),
    ("windows-1258", lambda: csv_bytes(with_cell(good_rows(), 0, "unit", "Hà Giang"),
                                       encoding="cp1258"), ["UTF-8"]),
    ("utf-16", lambda: csv_bytes(good_rows(), encoding="utf-16"), ["UTF-8"]),
]


@pytest.mark.parametrize(("make", "fragments"), [c[1:] for c in BAD_CSV],
                         ids=[c[0] for c in BAD_CSV])
def test_a_bad_csv_changes_nothing_and_names_the_problem(session, version, make, fragments):
    message = refused(session, version, make(), "bad.csv")
    for fragment in fragments:
        assert fragment in message


def test_a_bad_xlsx_changes_nothing_and_names_the_row_and_column(session, version):
    rows = with_cell(good_rows(), 3, "7.4", "Z")
    rows.insert(1, [""] * len(HEADER))
    message = refused(session, version, xlsx_bytes(rows), "bad.xlsx")
    assert "row 3: empty row" in message
    assert "row 6, column '7.4'" in message


@pytest.mark.parametrize("filename", ["forms.ods", "forms.json", "forms.xls.zip"])
def test_an_unsupported_extension_is_refused(session, version, filename):
    message = refused(session, version, csv_bytes(good_rows()), filename)
    assert ".csv or .xlsx" in message


def test_a_file_that_is_not_really_xlsx_is_refused(session, version):
    message = refused(session, version, csv_bytes(good_rows()), "forms.xlsx")
    assert "cannot read" in message


def test_several_problems_in_one_file_are_all_listed(session, version):
    rows = with_cell(good_rows(), 0, "unit", "HG99")
    rows = with_cell(rows, 1, "period", "2024-H2")
    rows = with_cell(rows, 2, "group", "X")
    rows = with_cell(rows, 3, "1.1", "Q")
    rows = with_cell(rows, 3, "1.2", "R")
    message = refused(session, version, csv_bytes(rows), "many.csv")
    assert "5 problem(s)" in message
    for where in ["row 2, column 'unit'", "row 3, column 'period'", "row 4, column 'group'",
                  "row 5, column '1.1'", "row 5, column '1.2'"]:
        assert where in message


def test_a_bad_row_at_the_very_end_stores_nothing(session, version):
    rows = good_rows(60)
    rows[-1] = with_cell(rows, 59, "2.4", "Z")[-1]
    message = refused(session, version, csv_bytes(rows), "long.csv")
    assert "row 61, column '2.4'" in message
    assert "1 problem(s)" in message


def test_a_failure_while_storing_rolls_everything_back(session, version):
    # Passes the row checks, then creating the unit fails (no such parent).
    rows = with_cell(good_rows(), 5, "unit", "HG03")
    message = refused(session, version, csv_bytes(rows), "late-failure.csv", create_units=True,
                      parent_code="NOPE")
    assert "NOPE" in message
    assert get_organisation(session=session, code="HG03") is None


def test_a_refused_file_can_be_imported_once_fixed(session, version):
    bad = csv_bytes(with_cell(good_rows(), 0, "1.1", "E"))
    refused(session, version, bad, "draft.csv")
    good = csv_bytes(good_rows())
    assert import_responses(good, "draft.csv", session=session, version=version).rows == 6


def test_unknown_unit_without_create_units_suggests_it(session, version):
    message = refused(session, version, csv_bytes(with_cell(good_rows(), 0, "unit", "HG03")),
                      "new.csv")
    assert "let the import create unknown units" in message


def test_problems_for_the_other_version_questions_are_unknown_columns(session, version):
    register_questionnaire(session=session, questionnaire=load_questionnaire(
        ROOT / "questionnaires" / "dtxhh-haugiang-2023.yaml"))
    session.commit()
    old = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2023")
    message = refused(session, old, csv_bytes(good_rows()), "wrong-version.csv")
    assert "row 1, column '2.4'" in message  # a 2024-only question


# --- known defects -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [csv_bytes, xlsx_bytes], ids=["csv", "xlsx"])
def test_a_duplicate_column_is_named(session, version, make):
    header = [*HEADER, "1.1"]
    rows = [[*r, "A"] for r in good_rows()]
    message = refused(session, version, make(rows, header), "dup" + (
        ".csv" if make is csv_bytes else ".xlsx"))
    assert "row 1, column '1.1': column appears twice" in message


def test_a_blank_line_in_a_csv_keeps_the_row_numbers(session, version):
    header, first, second = csv_bytes(good_rows(2)).splitlines()
    bad = csv_bytes(with_cell(good_rows(1), 0, "period", "2024-Q9")).splitlines()[1]
    # file rows: 1 header, 2 form, 3 blank, 4 form, 5 form with a bad period
    content = b"\n".join([header, first, b"", second, bad]) + b"\n"
    message = refused(session, version, content, "blank-line.csv")
    assert "row 5, column 'period'" in message


def test_a_short_row_is_not_read_as_nan(session, version):
    rows = good_rows(2)
    rows[1] = rows[1][:-2]  # the last two cells left out
    try:
        import_responses(csv_bytes(rows), "short.csv", session=session, version=version)
    except ImportFailed as failed:
        assert "nan" not in str(failed)
    else:
        stored = load_responses(session=session, family="dtxhh-haugiang")
        assert "nan" not in set(stored[CODES[-2:]].stack().tolist())


def test_the_same_file_for_another_version_is_stored_or_refused(session, version):
    register_questionnaire(session=session, questionnaire=load_questionnaire(
        ROOT / "questionnaires" / "dtxhh-haugiang-2023.yaml"))
    session.commit()
    old = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2023")
    header = ["unit", "period", "group", "1.1", "1.2"]  # questions of both versions
    content = csv_bytes([["HG01", "2023-Q4", "DAN", "A", "B"], ["HG02", "2023-Q4", "DN", "C", ""]],
                        header=header)
    import_responses(content, "both.csv", session=session, version=version)
    try:
        result = import_responses(content, "both.csv", session=session, version=old)
    except ImportFailed:
        session.rollback()
        assert counts(session)["Response"] == 2
    else:
        stored_for_2023 = session.exec(
            select(func.count()).select_from(Response)
            .where(Response.questionnaire_version_id == old.id)).one()
        assert stored_for_2023 == result.rows == 2


def test_a_unit_created_without_a_parent_is_a_unit(session, version):
    rows = with_cell(good_rows(1), 0, "unit", "HG05")
    import_responses(csv_bytes(rows), "no-parent.csv", session=session, version=version,
                     create_units=True)
    assert get_organisation(session=session, code="HG05").kind != "province"


# --- files that repeat some rows of earlier imports (issue 12) ------------------------------


def resaved_xlsx(rows) -> bytes:
    """The rows saved again as XLSX with the columns in another order (other bytes)."""
    order = [*reversed(range(len(HEADER)))]
    return xlsx_bytes([[row[i] for i in order] for row in rows], [HEADER[i] for i in order])


def test_a_file_repeating_some_rows_of_an_earlier_import_is_refused_naming_them(session, version):
    rows = good_rows(8)
    import_responses(csv_bytes(rows[:5]), "tuan-1.csv", session=session, version=version)
    # shuffled, re-saved as XLSX: new, old 3, new, old 0, old 4, new (rows 2..7 of the sheet)
    second = [rows[5], rows[3], rows[6], rows[0], rows[4], rows[7]]
    message = refused(session, version, resaved_xlsx(second), "tuan-2.xlsx")
    assert "3 row(s) were already imported" in message
    assert "row 3, 5, 6." in message and "'tuan-1.csv' imported on" in message
    with pytest.raises(ImportFailed) as caught:
        import_responses(resaved_xlsx(second), "tuan-2.xlsx", session=session, version=version)
    session.rollback()
    vietnamese = caught.value.problems[0].text("vi")
    assert vietnamese.startswith("3 dòng đã được nhập trước đây cho phiếu này (“tuan-1.csv”")
    assert "dòng 3, 5, 6." in vietnamese and "chỉ nhập các dòng mới" in vietnamese


def test_only_the_new_rows_may_be_imported_and_the_others_are_named(session, version):
    rows = good_rows(8)
    import_responses(csv_bytes(rows[:5]), "tuan-1.csv", session=session, version=version)
    second = [rows[5], rows[3], rows[6], rows[0], rows[4], rows[7]]
    result = import_responses(resaved_xlsx(second), "tuan-2.xlsx", session=session,
                              version=version, only_new_rows=True)
    assert (result.rows, result.skipped_rows) == (3, [3, 5, 6])
    assert counts(session)["Response"] == 8
    # the whole of both files, saved again: nothing new is left
    message = refused(session, version, csv_bytes(rows), "tat-ca.csv", only_new_rows=True)
    assert "Every row of the file was already imported" in message
    assert "'tuan-1.csv'" in message and "'tuan-2.xlsx'" in message


def test_identical_rows_in_one_file_are_distinct_forms_counted_with_their_copies(session, version):
    same = good_rows(1)[0]
    result = import_responses(csv_bytes([same] * 3), "ba-phieu.csv", session=session,
                              version=version)
    assert result.rows == 3 and counts(session)["Response"] == 3
    # two of the three stored copies again: both already imported
    message = refused(session, version, csv_bytes([same] * 2), "hai-phieu.csv")
    assert "2 row(s) were already imported" in message and "row 2, 3." in message
    # four copies: the first three are the stored ones, the fourth is a new form
    other = good_rows(2)[1]
    four = [other, same, same, same, same]
    message = refused(session, version, csv_bytes(four), "bon-phieu.csv")
    assert "3 row(s) were already imported" in message and "row 3, 4, 5." in message
    result = import_responses(csv_bytes(four), "bon-phieu.csv", session=session, version=version,
                              only_new_rows=True)
    assert (result.rows, result.skipped_rows) == (2, [3, 4, 5])
    assert counts(session)["Response"] == 5


def test_many_repeated_rows_are_listed_up_to_twenty_then_counted(session, version):
    rows = good_rows(26)
    import_responses(csv_bytes(rows[:25]), "quy-3.csv", session=session, version=version)
    message = refused(session, version, csv_bytes([rows[25], *rows[:25]]), "quy-3-them.csv")
    listed = ", ".join(str(n) for n in range(3, 23))
    assert "25 row(s) were already imported" in message
    assert f"row {listed} … and 5 more." in message


def test_rows_of_a_unit_created_by_the_import_are_recognised_later(session, version):
    rows = with_cell(with_cell(good_rows(4), 0, "unit", "HG03"), 2, "unit", "HG03")
    import_responses(csv_bytes(rows[:3]), "moi.csv", session=session, version=version,
                     create_units=True, parent_code="HG")
    message = refused(session, version, resaved_xlsx([rows[3], rows[2], rows[0]]), "moi.xlsx")
    assert "2 row(s) were already imported" in message and "row 3, 4." in message
