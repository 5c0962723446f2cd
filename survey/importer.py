"""Import of typed-in paper forms (CSV or XLSX, wide format), all or nothing.

Columns: ``unit``, ``period``, ``group``, then one column per question code; a cell
holds an option code, empty = not answered. Any bad row makes the whole file fail
with every problem listed by row number (as the spreadsheet shows it, header = row 1)
and column name; nothing is stored. The same file (same bytes) imported twice for the
same questionnaire version is refused: importing is not repeatable by design, so a
second run can never double-count.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlmodel import Session

from survey.models import ImportBatch, QuestionnaireVersion
from survey.periods import PeriodError, parse_quarter
from survey.storage import StorageError
from survey.storage.imports import find_import_batch
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import questionnaire_of
from survey.storage.responses import store_response

if TYPE_CHECKING:
    from survey.auth import Scope

REQUIRED_COLUMNS = ("unit", "period")
MAX_PROBLEMS_LISTED = 200


@dataclass(frozen=True)
class ImportProblem:
    row: int | None  # spreadsheet row number (header is row 1); None = the whole file
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where) or 'file'}: {self.message}"


class ImportFailed(ValueError):
    """The file was refused; nothing of it is stored."""

    def __init__(self, filename: str, problems: list[ImportProblem]):
        self.filename = filename
        self.problems = problems
        listed = problems[:MAX_PROBLEMS_LISTED]
        more = len(problems) - len(listed)
        lines = [f"{filename}: {len(problems)} problem(s), nothing was imported"]
        lines += [f"  {p}" for p in listed]
        if more:
            lines.append(f"  … and {more} more")
        super().__init__("\n".join(lines))


@dataclass
class ImportResult:
    filename: str
    rows: int
    created_units: list[str] = field(default_factory=list)
    batch_id: int | None = None


def read_table(content: bytes, filename: str) -> pd.DataFrame:
    """Read CSV (UTF-8, with or without BOM) or XLSX into strings; empty cells are ''.

    Headers are taken as written (a repeated header stays repeated, so it can be reported),
    and blank lines are kept as empty rows, so row numbers match what the spreadsheet shows.
    """
    suffix = Path(filename).suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            raw = pd.read_excel(io.BytesIO(content), dtype=str, header=None, keep_default_na=False)
        elif suffix in (".csv", ".txt", ""):
            text = content.decode("utf-8-sig")
            raw = pd.read_csv(io.StringIO(text), dtype=str, header=None, keep_default_na=False,
                              skip_blank_lines=False, sep=None, engine="python", index_col=False)
        else:
            raise ImportFailed(filename, [ImportProblem(None, None, "use a .csv or .xlsx file")])
    except UnicodeDecodeError:
        raise ImportFailed(
            filename, [ImportProblem(None, None, "the CSV file is not UTF-8 text (save it as CSV UTF-8)")]
        ) from None
    except ImportFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ImportFailed(filename, [ImportProblem(None, None, f"cannot read the file: {exc}")]) from None
    if raw.empty:
        raise ImportFailed(filename, [ImportProblem(None, None, "the file is empty")])
    raw = raw.fillna("").astype(str).apply(lambda column: column.str.strip())
    nul = raw.apply(lambda column: column.str.contains("\x00", regex=False))
    if nul.to_numpy().any():
        rows, columns = nul.to_numpy().nonzero()
        raise ImportFailed(filename, [
            ImportProblem(int(r) + 1, str(raw.iloc[0, c]) or f"#{c + 1}", "the cell contains a NUL character")
            for r, c in zip(rows, columns, strict=True)])
    header = [str(c) for c in raw.iloc[0]]
    while header and header[-1] == "" and (raw.iloc[:, len(header) - 1] == "").all():
        header.pop()  # trailing separators at the end of every line
    table = raw.iloc[1:, : len(header)].reset_index(drop=True)
    table.columns = header
    return table


def _unit_state(session: Session, code: str, scope: Scope | None) -> str:
    """'ok', 'missing', 'outside' (the scope may not see it) or 'inactive'."""
    organisation = get_organisation(session=session, code=code)
    if organisation is None:
        return "missing"
    if scope is not None and not scope.allows(organisation):
        return "outside"
    return "ok" if organisation.active else "inactive"


def check_table(
    table: pd.DataFrame,
    *,
    session: Session,
    version: QuestionnaireVersion,
    create_units: bool,
    scope: Scope | None = None,
) -> tuple[list[ImportProblem], set[str]]:
    """Every problem in the table, and the unit codes that would be created.

    With a `scope`, a row for a unit outside it is a problem with the very message
    of an unknown unit, so the file tells nothing about units the user may not see.
    """
    questionnaire = questionnaire_of(version)
    problems: list[ImportProblem] = []
    columns = list(table.columns)
    for dup in sorted({c for c in columns if columns.count(c) > 1}):
        problems.append(ImportProblem(1, dup, "column appears twice"))
    for required in REQUIRED_COLUMNS:
        if required not in columns:
            problems.append(ImportProblem(1, required, "required column is missing"))
    if questionnaire.groups and "group" not in columns:
        problems.append(ImportProblem(1, "group", "required column is missing (this questionnaire has respondent groups)"))
    known = set(REQUIRED_COLUMNS) | {"group"} | set(questionnaire.question_codes)
    for column in columns:
        if column not in known:
            problems.append(
                ImportProblem(1, column, f"unknown column: not a question of {questionnaire.key}")
            )
    if problems:
        return problems, set()
    if table.empty:
        return [ImportProblem(None, None, "the file has no data rows")], set()

    unit_cache: dict[str, bool] = {}
    to_create: set[str] = set()
    group_codes = {g.code for g in questionnaire.groups}
    question_columns = [c for c in columns if c in set(questionnaire.question_codes)]
    for index, row in enumerate(table.itertuples(index=False, name=None), start=2):
        values = dict(zip(columns, row, strict=True))
        if not any(values.values()):
            problems.append(ImportProblem(index, None, "empty row"))
            continue
        unit = values["unit"]
        if not unit:
            problems.append(ImportProblem(index, "unit", "unit code is empty"))
        else:
            if unit not in unit_cache:
                unit_cache[unit] = _unit_state(session, unit, scope)
            unknown = f"unknown unit {unit!r} (add it, or use --create-units)"
            if unit_cache[unit] == "missing":
                if create_units:
                    to_create.add(unit)
                else:
                    problems.append(ImportProblem(index, "unit", unknown))
            elif unit_cache[unit] == "outside":
                problems.append(ImportProblem(index, "unit", unknown))
            elif unit_cache[unit] == "inactive":
                problems.append(ImportProblem(index, "unit", f"unit {unit!r} is deactivated"))
        try:
            parse_quarter(values["period"])
        except PeriodError as exc:
            problems.append(ImportProblem(index, "period", str(exc)))
        group = values.get("group", "")
        if questionnaire.groups and group not in group_codes:
            problems.append(
                ImportProblem(index, "group", f"unknown group {group!r} (use {', '.join(sorted(group_codes))})")
            )
        elif not questionnaire.groups and group:
            problems.append(ImportProblem(index, "group", "this questionnaire has no respondent groups"))
        for code in question_columns:
            option = values[code]
            if option and questionnaire.scale_of(code).option(option) is None:
                allowed = ", ".join(o.code for o in questionnaire.scale_of(code).options)
                problems.append(
                    ImportProblem(index, code, f"unknown option {option!r} (use {allowed}, or leave empty)")
                )
    return problems, to_create


def _parent_problems(
    session: Session, parent_code: str | None, scope: Scope | None
) -> list[ImportProblem]:
    """Problems with the parent of units to be created (it must exist and be in the scope)."""
    if scope is not None and not scope.sees_everything and not parent_code:
        return [ImportProblem(None, None, "new units need a parent unit inside your scope (--parent)")]
    if not parent_code:
        return []
    parent = get_organisation(session=session, code=parent_code)
    if parent is None or (scope is not None and not scope.allows(parent)):
        outside = " or is outside your scope" if scope is not None else ""
        return [ImportProblem(None, None, f"parent unit {parent_code!r} does not exist{outside}")]
    if not parent.active:
        return [ImportProblem(None, None, f"parent unit {parent_code!r} is deactivated")]
    return []


def inspect_file(
    content: bytes,
    filename: str,
    *,
    session: Session,
    version: QuestionnaireVersion,
    create_units: bool = False,
    parent_code: str | None = None,
    scope: Scope | None = None,
) -> tuple[pd.DataFrame, list[ImportProblem], set[str]]:
    """Read and check a file without storing anything: (table, problems, units to create).

    The table is empty when the file cannot be read or was already imported for this
    version. Raises AccessDenied when `create_units` is asked by a scope other than an
    admin or a province.
    """
    if create_units and scope is not None and scope.role not in ("admin", "province"):
        from survey.auth import AccessDenied

        raise AccessDenied("only an admin or a province account may create units while importing")
    digest = hashlib.sha256(content).hexdigest()
    previous = find_import_batch(session=session, file_sha256=digest, version_id=version.id)
    if previous is not None:
        problem = ImportProblem(
            None, None, f"this file was already imported on "
            f"{previous.imported_at:%Y-%m-%d %H:%M} ({previous.rows} rows, "
            f"as {previous.filename!r}); importing it again would double-count")
        return pd.DataFrame(), [problem], set()
    try:
        table = read_table(content, filename)
    except ImportFailed as exc:
        return pd.DataFrame(), exc.problems, set()
    problems, to_create = check_table(
        table, session=session, version=version, create_units=create_units, scope=scope
    )
    if to_create:
        problems += _parent_problems(session, parent_code, scope)
    return table, problems, to_create


def import_responses(
    content: bytes,
    filename: str,
    *,
    session: Session,
    version: QuestionnaireVersion,
    create_units: bool = False,
    parent_code: str | None = None,
    scope: Scope | None = None,
    commit: bool = True,
) -> ImportResult:
    """Check then store every row of a paper-form file in one transaction.

    Raises ImportFailed (nothing stored) on any problem, including a file that was
    already imported for this questionnaire version or a row for a unit outside
    `scope`. With `commit=False` the rows are flushed into the caller's transaction
    (which then commits, e.g. together with an audit entry); on failure it is rolled back.
    """
    digest = hashlib.sha256(content).hexdigest()
    table, problems, to_create = inspect_file(
        content, filename, session=session, version=version, create_units=create_units,
        parent_code=parent_code, scope=scope,
    )
    if problems:
        raise ImportFailed(filename, problems)
    result = ImportResult(filename=filename, rows=len(table), created_units=sorted(to_create))
    try:
        for code in result.created_units:
            add_organisation(session=session, code=code, name=code, parent_code=parent_code,
                             kind=None if parent_code else "unit")
        batch = ImportBatch(
            filename=Path(filename).name[:300],
            file_sha256=digest,
            questionnaire_version_id=version.id,
            rows=len(table),
        )
        session.add(batch)
        session.flush()
        unit_ids = {}
        question_columns = [c for c in table.columns if c not in ("unit", "period", "group")]
        for index, row in enumerate(table.to_dict("records"), start=2):
            unit = row["unit"]
            if unit not in unit_ids:
                unit_ids[unit] = get_organisation(session=session, code=unit).id
            store_response(
                session=session,
                questionnaire_row=version,
                unit_id=unit_ids[unit],
                period=str(parse_quarter(row["period"])),
                group_code=row.get("group") or None,
                answers={code: row[code] or None for code in question_columns},
                idempotency_key=f"import:{version.id}:{digest[:32]}:{index}",
                channel="paper",
                import_batch_id=batch.id,
                commit=False,
            )
        if commit:
            session.commit()
        else:
            session.flush()
    except StorageError as exc:
        session.rollback()
        raise ImportFailed(filename, [ImportProblem(None, None, str(exc))]) from None
    except BaseException:
        session.rollback()
        raise
    result.batch_id = batch.id
    return result
