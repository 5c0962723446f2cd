"""Import of typed-in paper forms (CSV or XLSX, wide format), all or nothing.

Columns: ``unit``, ``period``, ``group``, then one column per question code; a cell
holds an option code, empty = not answered. Any bad row makes the whole file fail
with every problem listed by row number (as the spreadsheet shows it, header = row 1)
and column name; nothing is stored. The same rows imported twice for the same
questionnaire version are refused whatever the file's bytes (a file saved again by Excel
with a BOM, other line endings, quoting, separators or column order is the same file):
the batch is identified by the fingerprint of its rows' content, not of its bytes.

A file that repeats only some rows of earlier imports (last week's 200 rows and 50 new ones,
saved again) is refused too, naming those rows and the imports they came from: every import
keeps a 64-bit fingerprint of each row it stored (table `import_row`, survey/fingerprints.py),
and a new file's rows are looked up among those of its questionnaire version. Identical rows
count with their copies (see `already_imported_rows`): identical rows within one file are
legitimate forms. The user may then ask for the new rows only (`only_new_rows`): the rows
already imported are left out, named in the result and the audit entry.

Speed: the checks are vectorised per column (no Python loop over cells) and the rows are
stored through the one write path (`insert_new_responses`), so a 100,000-row file is
checked and stored in seconds. Uploads are bounded (bytes, rows, columns, and the
uncompressed size of an XLSX) before anything is parsed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlmodel import Session

from survey.answer_codes import codec_of
from survey.fingerprints import row_fingerprints
from survey.formatting import format_count
from survey.models import ImportBatch, QuestionnaireVersion
from survey.periods import PeriodError, parse_quarter
from survey.storage import StorageError
from survey.storage.imports import (
    find_import_batch,
    get_import_batches,
    imported_rows,
    store_import_rows,
)
from survey.storage.new_responses import NewResponse, insert_new_responses
from survey.storage.organisations import add_organisation, get_organisation, list_organisations
from survey.storage.questionnaires import list_questionnaire_versions, questionnaire_of
from survey.text import Notice, Text, render_error, render_notice

if TYPE_CHECKING:
    from survey.auth import Scope

REQUIRED_COLUMNS = ("unit", "period")
MAX_PROBLEMS_LISTED = 200
OVERLAP_ROWS_LISTED = 20  # row numbers named in "already imported" (then a count)
OVERLAP_SOURCES_LISTED = 5  # earlier imports named (then a count)
# Bounds of one upload, checked before parsing.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 300


@dataclass(frozen=True)
class ImportProblem:
    row: int | None  # spreadsheet row number (header is row 1); None = the whole file
    column: str | None
    message: str | Exception  # a coded Notice (English as a str) or a coded error

    def text(self, lang: str = "vi") -> str:
        """The problem in `lang` (pages); str() is the English line of the command line."""
        if isinstance(self.message, Exception):
            return render_error(self.message, lang)
        return render_notice(self.message, lang)

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where) or 'file'}: {self.text('en')}"


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
    skipped_rows: list[int] = field(default_factory=list)  # already imported, left out on request


@dataclass
class Inspection:
    """What checking a file found, storing nothing.

    `table` holds the rows that would be stored: every row of the file, or without the rows
    already imported (`skipped_rows`, numbered as in the file) when only the new rows were
    asked for; `earlier` names the earlier imports those rows came from. The other fields
    carry what storing needs, so the file is not encoded twice.
    """

    table: pd.DataFrame
    problems: list[ImportProblem]
    to_create: set[str]
    skipped_rows: list[int] = field(default_factory=list)
    earlier: Text | None = None
    digest: str = field(default="", repr=False)  # of the whole file's rows (content_fingerprint)
    rank: np.ndarray | None = field(default=None, repr=False)  # each kept row's place by content
    encoded: np.ndarray | None = field(default=None, repr=False)  # kept rows' answer bytes


def _refuse(filename: str, code: str, **params) -> ImportFailed:
    return ImportFailed(filename, [ImportProblem(None, None, Notice(code, **params))])


def _check_bounds(content: bytes, filename: str, xlsx: bool) -> None:
    if len(content) > MAX_FILE_BYTES:
        raise _refuse(filename, "import.too_large", mb=MAX_FILE_BYTES // 2**20)
    if xlsx:
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                unpacked = sum(entry.file_size for entry in archive.infolist())
        except zipfile.BadZipFile:
            raise _refuse(filename, "import.not_xlsx") from None
        if unpacked > MAX_XLSX_UNCOMPRESSED_BYTES:
            raise _refuse(filename, "import.unpacks_too_large",
                          mb=MAX_XLSX_UNCOMPRESSED_BYTES // 2**20)


def _separator(text: str) -> str:
    """The CSV separator, from the header line (Excel writes ';' in some locales)."""
    header = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_table(content: bytes, filename: str) -> pd.DataFrame:
    """Read CSV (UTF-8, with or without BOM) or XLSX into strings; empty cells are ''.

    Headers are taken as written (a repeated header stays repeated, so it can be reported),
    and blank lines are kept as empty rows, so row numbers match what the spreadsheet shows.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", ""):
        raise _refuse(filename, "import.file_type")
    xlsx = suffix in (".xlsx", ".xlsm")
    _check_bounds(content, filename, xlsx)
    try:
        if xlsx:
            raw = pd.read_excel(io.BytesIO(content), dtype=str, header=None, keep_default_na=False,
                                nrows=MAX_ROWS + 2, engine="calamine")
        else:
            text = content.decode("utf-8-sig")
            raw = pd.read_csv(io.StringIO(text), dtype=str, header=None, keep_default_na=False,
                              skip_blank_lines=False, sep=_separator(text), engine="c",
                              index_col=False, nrows=MAX_ROWS + 2)
    except UnicodeDecodeError:
        raise _refuse(filename, "import.not_utf8") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise _refuse(filename, "import.unreadable", detail=str(exc)) from None
    if raw.empty:
        raise _refuse(filename, "import.empty")
    if len(raw) > MAX_ROWS + 1:
        raise _refuse(filename, "import.too_many_rows", rows=MAX_ROWS)
    if raw.shape[1] > MAX_COLUMNS:
        raise _refuse(filename, "import.too_many_columns", columns=MAX_COLUMNS)
    raw = raw.fillna("").astype(str).apply(lambda column: column.str.strip())
    nul = raw.apply(lambda column: column.str.contains("\x00", regex=False))
    if nul.to_numpy().any():
        rows, columns = nul.to_numpy().nonzero()
        raise ImportFailed(filename, [
            ImportProblem(int(r) + 1, str(raw.iloc[0, c]) or f"#{c + 1}", Notice("import.nul"))
            for r, c in zip(rows, columns, strict=True)])
    header = [str(c) for c in raw.iloc[0]]
    while header and header[-1] == "" and (raw.iloc[:, len(header) - 1] == "").all():
        header.pop()  # trailing separators at the end of every line
    table = raw.iloc[1:, : len(header)].reset_index(drop=True)
    table.columns = header
    return table


def _unit_states(session: Session, codes: list[str], scope: Scope | None) -> dict[str, str]:
    """For each unit code: 'ok', 'missing', 'outside' (the scope may not see it), 'inactive',
    or 'case:CODE' when only a unit whose code differs in case exists (and may be seen)."""
    by_casefold = {}
    for organisation in list_organisations(session=session, include_inactive=True):
        if scope is None or scope.allows(organisation):
            by_casefold.setdefault(organisation.code.casefold(), organisation.code)
    states = {}
    for code in codes:
        organisation = get_organisation(session=session, code=code)
        if organisation is None:
            other = by_casefold.get(code.casefold())
            states[code] = f"case:{other}" if other else "missing"
        elif scope is not None and not scope.allows(organisation):
            states[code] = "outside"  # reported as an unknown unit: nothing leaks
        else:
            states[code] = "ok" if organisation.active else "inactive"
    return states


def _better_questionnaire(session: Session, version: QuestionnaireVersion,
                          columns: list[str]) -> str | None:
    """Another registered version whose questions fit the file's columns better, if any."""
    given = set(columns) - {"unit", "period", "group"}
    fit = len(given & set(questionnaire_of(version).question_codes))
    best, best_fit = None, fit
    for row in list_questionnaire_versions(session=session):
        overlap = len(given & set(questionnaire_of(row).question_codes))
        if row.id != version.id and overlap > best_fit:
            best, best_fit = f"{row.family}@{row.version}", overlap
    return best


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
    Vectorised: each check runs on a whole column.
    """
    questionnaire = questionnaire_of(version)
    codec = codec_of(questionnaire)
    problems: list[ImportProblem] = []
    columns = list(table.columns)
    for dup in sorted({c for c in columns if columns.count(c) > 1}):
        problems.append(ImportProblem(1, dup, Notice("import.column_twice")))
    for required in REQUIRED_COLUMNS:
        if required not in columns:
            problems.append(ImportProblem(1, required, Notice("import.column_missing")))
    if questionnaire.groups and "group" not in columns:
        problems.append(ImportProblem(1, "group", Notice("import.group_column_missing")))
    known = set(REQUIRED_COLUMNS) | {"group"} | set(questionnaire.question_codes)
    unknown = [column for column in columns if column not in known]
    better = _better_questionnaire(session, version, columns) if unknown else None
    if better is not None:
        problems.append(ImportProblem(1, None, Notice("import.fits_other", other=better,
                                                      chosen=questionnaire.key)))
    for column in unknown:
        problems.append(
            ImportProblem(1, column, Notice("import.unknown_column",
                                            questionnaire=questionnaire.key))
        )
    if problems:
        return problems, set()
    if table.empty:
        return [ImportProblem(None, None, Notice("import.no_rows"))], set()

    row_number = np.arange(2, len(table) + 2)
    found: list[tuple[int, int, ImportProblem]] = []  # (row, column position, problem)

    def add(mask: np.ndarray, column: str | None, message) -> None:
        position = columns.index(column) if column in columns else -1
        for index in np.flatnonzero(mask):
            text = message(index) if callable(message) else message
            found.append((int(row_number[index]), position,
                          ImportProblem(int(row_number[index]), column, text)))

    values = {column: table[column].to_numpy(dtype=object) for column in columns}
    empty = np.logical_and.reduce([values[c] == "" for c in columns])
    add(empty, None, Notice("import.empty_row"))
    filled = ~empty

    units = values["unit"]
    add(filled & (units == ""), "unit", Notice("import.unit_empty"))
    to_create: set[str] = set()
    distinct_units = sorted({u for u in units[filled] if u})
    states = _unit_states(session, distinct_units, scope)
    for unit, state in states.items():
        rows = filled & (units == unit)
        unknown_unit = Notice("import.unknown_unit", unit=unit)
        if state == "missing" and create_units:
            to_create.add(unit)
        elif state in ("missing", "outside"):
            add(rows, "unit", unknown_unit)
        elif state.startswith("case:"):
            add(rows, "unit", Notice("import.unit_case", unit=unit, existing=state[5:]))
        elif state == "inactive":
            add(rows, "unit", Notice("import.unit_inactive", unit=unit))

    periods = values["period"]
    for period in sorted(set(periods[filled])):
        try:
            parse_quarter(period)
        except PeriodError as exc:
            add(filled & (periods == period), "period", Notice(exc.code, **exc.params))

    group_codes = [g.code for g in questionnaire.groups]
    groups = values.get("group", np.full(len(table), "", dtype=object))
    if questionnaire.groups:
        bad = filled & ~np.isin(groups, np.array(group_codes, dtype=object))
        add(bad, "group", lambda i: Notice("import.unknown_group", group=groups[i],
                                           allowed=", ".join(sorted(group_codes))))
    else:
        add(filled & (groups != ""), "group", Notice("import.no_groups"))
    for code in (c for c in columns if c in set(questionnaire.question_codes)):
        column = values[code]
        invalid = np.zeros(len(table), dtype=bool)
        invalid[codec.invalid_rows(code, column)] = True
        allowed = ", ".join(codec.option_codes[codec.question_codes.index(code)])
        add(filled & invalid, code,
            lambda i, column=column, allowed=allowed:
            Notice("import.unknown_option", option=column[i], allowed=allowed))
    found.sort(key=lambda item: (item[0], item[1]))
    return [problem for _row, _position, problem in found], to_create


def _parent_problems(
    session: Session, parent_code: str | None, scope: Scope | None
) -> list[ImportProblem]:
    """Problems with the parent of units to be created (it must exist and be in the scope)."""
    if scope is not None and not scope.sees_everything and not parent_code:
        return [ImportProblem(None, None, Notice("import.parent_needed"))]
    if not parent_code:
        return []
    parent = get_organisation(session=session, code=parent_code)
    if parent is None or (scope is not None and not scope.allows(parent)):
        return [ImportProblem(None, None, Notice("import.parent_missing", parent=parent_code))]
    if not parent.active:
        return [ImportProblem(None, None, Notice("import.parent_inactive", parent=parent_code))]
    return []


def content_fingerprint(table: pd.DataFrame, questionnaire_codes: tuple[str, ...]
                        ) -> tuple[str, np.ndarray]:
    """The fingerprint of a checked table's rows, whatever the file's bytes; and the order
    of the rows by content.

    Each row is reduced to its unit, period (canonical), group and its answers in the
    questionnaire's question order (missing columns empty); the fingerprint is the SHA-256 of
    the sorted rows. Column order, quoting, separators, line endings, a BOM or the file type
    do not change it; reordering the rows does not either.
    """
    canonical_period = {p: str(parse_quarter(p)) for p in table["period"].unique()}
    parts = [table["unit"], table["period"].map(canonical_period),
             table["group"] if "group" in table.columns else pd.Series("", index=table.index)]
    parts += [table[code] if code in table.columns else pd.Series("", index=table.index)
              for code in questionnaire_codes]
    rows = parts[0].str.cat(parts[1:], sep="\x1f").to_numpy(dtype=object)
    order = np.argsort(rows, kind="stable")
    digest = hashlib.sha256("\x1e".join(rows[order]).encode("utf-8")).hexdigest()
    return digest, order


def _fingerprints(table: pd.DataFrame, encoded: np.ndarray, *, session: Session,
                  version: QuestionnaireVersion) -> np.ndarray:
    """The content fingerprint of each checked row (survey/fingerprints.py); a unit that does
    not exist yet (to be created) has no stored row, so its rows get an id no unit has."""
    unit_ids = {}
    for unit in table["unit"].unique():
        organisation = get_organisation(session=session, code=unit)
        unit_ids[unit] = organisation.id if organisation is not None else -1
    periods = {p: str(parse_quarter(p)) for p in table["period"].unique()}
    groups = (table["group"].to_numpy(dtype=object) if "group" in table.columns
              else np.full(len(table), "", dtype=object))
    return row_fingerprints(version_id=version.id, unit_ids=table["unit"].map(unit_ids).to_numpy(),
                            periods=table["period"].map(periods).to_numpy(dtype=object),
                            groups=groups, answers=encoded)


def already_imported_rows(fingerprints: np.ndarray, *, session: Session, version_id: int
                          ) -> tuple[np.ndarray, dict[int, int]]:
    """The positions of the rows whose content imports of this version already stored, and
    for each of those imports the number of these rows it holds.

    Identical rows count with their copies: with n identical rows in the file and m stored
    by earlier imports, the first min(n, m) of them (in file order) are already imported and
    the others are new (two citizens may give the same answers in one unit, quarter and group).
    An import's count is, over the contents it shares with the file, the smaller of its copies
    and the file's already-imported copies. Vectorised: no loop over rows.
    """
    stored = imported_rows(session=session, version_id=version_id, fingerprints=fingerprints)
    if stored.empty:
        return np.empty(0, dtype=np.int64), {}
    inverse, distinct = pd.factorize(fingerprints)
    earlier = stored.groupby("row_hash")["copies"].sum()
    allowed = earlier.reindex(distinct).fillna(0).to_numpy(dtype=np.int64)  # per content
    occurrence = pd.Series(inverse).groupby(inverse).cumcount().to_numpy()  # 0 = first copy
    overlapping = np.flatnonzero(occurrence < allowed[inverse])
    in_file = pd.Series(np.minimum(np.bincount(inverse), allowed), index=distinct)
    held = np.minimum(stored["copies"].to_numpy(), in_file.reindex(stored["row_hash"]).to_numpy())
    by_batch = pd.Series(held, index=stored["import_batch_id"]).groupby(level=0).sum()
    return overlapping, {int(b): int(n) for b, n in by_batch.items() if n > 0}


def _when(batch: ImportBatch) -> str:
    """When a batch was imported, in Vietnam time (the database keeps UTC)."""
    from survey.admin import LOCAL_TIME
    from survey.storage.campaigns import as_utc

    return f"{as_utc(batch.imported_at).astimezone(LOCAL_TIME):%d/%m/%Y %H:%M}"


def _earlier_imports(session: Session, by_batch: dict[int, int]) -> Text:
    """The earlier imports, oldest first: file name, date and the rows of the file each holds."""
    batches = get_import_batches(session=session, ids=list(by_batch))
    named = batches[:OVERLAP_SOURCES_LISTED]
    vi = [f"“{b.filename}” nhập lúc {_when(b)}: {format_count(by_batch[b.id], 'vi')} dòng"
          for b in named]
    en = [f"'{b.filename}' imported on {_when(b)}: {format_count(by_batch[b.id], 'en')} row(s)"
          for b in named]
    if len(batches) > len(named):
        vi.append(f"và {len(batches) - len(named)} lần nhập khác")
        en.append(f"and {len(batches) - len(named)} other import(s)")
    return Text("; ".join(vi), "; ".join(en))


def _overlap_problem(rows: list[int], earlier: Text) -> ImportProblem:
    listed = ", ".join(str(row) for row in rows[:OVERLAP_ROWS_LISTED])
    more = len(rows) - min(len(rows), OVERLAP_ROWS_LISTED)
    numbers = Text(f"{listed} … và {more} dòng khác" if more else listed,
                   f"{listed} … and {more} more" if more else listed)
    return ImportProblem(None, None, Notice("import.rows_already_imported", count=len(rows),
                                               rows=numbers, earlier=earlier))


def inspect_file(
    content: bytes,
    filename: str,
    *,
    session: Session,
    version: QuestionnaireVersion,
    create_units: bool = False,
    parent_code: str | None = None,
    scope: Scope | None = None,
    only_new_rows: bool = False,
) -> Inspection:
    """Read and check a file without storing anything.

    The table is empty when the file cannot be read or its rows were all imported for this
    version. Rows whose content an earlier import of this version stored (see
    `already_imported_rows`) are one problem naming them; with `only_new_rows` they are left
    out instead (`Inspection.skipped_rows`), and a file with no new row is a problem. Raises
    AccessDenied when `create_units` is asked by a scope other than an admin or a province.
    """
    if create_units and scope is not None and scope.role not in ("admin", "province"):
        from survey.auth import AccessDenied

        raise AccessDenied("only an admin or a province account may create units while importing")
    try:
        table = read_table(content, filename)
    except ImportFailed as exc:
        return Inspection(pd.DataFrame(), exc.problems, set())
    problems, to_create = check_table(
        table, session=session, version=version, create_units=create_units, scope=scope
    )
    if to_create:
        problems += _parent_problems(session, parent_code, scope)
    if problems:
        return Inspection(table, problems, to_create)
    questionnaire = questionnaire_of(version)
    digest, order = content_fingerprint(table, questionnaire.question_codes)
    previous = find_import_batch(session=session, file_sha256=digest, version_id=version.id)
    if previous is not None:
        problem = ImportProblem(None, None, Notice(
            "import.already_imported", when=_when(previous),
            rows=previous.rows, filename=previous.filename))
        return Inspection(pd.DataFrame(), [problem], set())
    question_columns = [c for c in table.columns if c in set(questionnaire.question_codes)]
    encoded = codec_of(questionnaire).encode_table(
        {code: table[code].to_numpy(dtype=object) for code in question_columns}, len(table))
    rank = np.empty(len(table), dtype=np.int64)
    rank[order] = np.arange(len(table))  # the row's place by content: the same on re-save
    overlapping, by_batch = already_imported_rows(
        _fingerprints(table, encoded, session=session, version=version),
        session=session, version_id=version.id)
    inspection = Inspection(table, [], to_create, digest=digest, rank=rank, encoded=encoded)
    if overlapping.size:
        rows = (overlapping + 2).tolist()  # as the spreadsheet numbers them (header = 1)
        earlier = _earlier_imports(session, by_batch)
        if not only_new_rows:
            return Inspection(table, [_overlap_problem(rows, earlier)], to_create)
        if overlapping.size == len(table):
            return Inspection(pd.DataFrame(), [ImportProblem(None, None, Notice(
                "import.no_new_rows", earlier=earlier))], set())
        keep = np.setdiff1d(np.arange(len(table)), overlapping)
        inspection = Inspection(
            table.iloc[keep].reset_index(drop=True), [],
            {u for u in to_create if u in set(table["unit"].iloc[keep])},
            skipped_rows=rows, earlier=earlier, digest=digest, rank=rank[keep],
            encoded=encoded[keep])
    return inspection


def import_responses(
    content: bytes,
    filename: str,
    *,
    session: Session,
    version: QuestionnaireVersion,
    create_units: bool = False,
    parent_code: str | None = None,
    scope: Scope | None = None,
    only_new_rows: bool = False,
    commit: bool = True,
) -> ImportResult:
    """Check then store every row of a paper-form file in one transaction.

    Raises ImportFailed (nothing stored) on any problem, including rows that were already
    imported for this questionnaire version (the whole file, see `content_fingerprint`, or
    some of its rows, see `already_imported_rows`) or a row for a unit outside `scope`. With
    `only_new_rows` the rows already imported are left out (`ImportResult.skipped_rows`) and
    the others stored. The fingerprints of the stored rows are kept with the batch.
    With `commit=False` the rows are flushed into the caller's transaction (which then
    commits, e.g. together with an audit entry); on failure it is rolled back.
    """
    inspection = inspect_file(
        content, filename, session=session, version=version, create_units=create_units,
        parent_code=parent_code, scope=scope, only_new_rows=only_new_rows,
    )
    if inspection.problems:
        raise ImportFailed(filename, inspection.problems)
    table, digest, rank = inspection.table, inspection.digest, inspection.rank
    result = ImportResult(filename=filename, rows=len(table),
                          created_units=sorted(inspection.to_create),
                          skipped_rows=inspection.skipped_rows)
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
        unit_ids = {unit: get_organisation(session=session, code=unit).id
                    for unit in table["unit"].unique()}
        encoded = inspection.encoded
        periods = {p: str(parse_quarter(p)) for p in table["period"].unique()}
        groups = (table["group"].to_numpy(dtype=object) if "group" in table.columns
                  else np.full(len(table), "", dtype=object))
        units, row_periods = table["unit"].to_numpy(dtype=object), table["period"].to_numpy(
            dtype=object)
        insert_new_responses(session=session, responses=[
            NewResponse(
                unit_id=unit_ids[units[i]],
                period=periods[row_periods[i]],
                questionnaire_version_id=version.id,
                group_code=groups[i] or None,
                answers=encoded[i].tobytes(),
                idempotency_key=f"import:{version.id}:{digest[:32]}:{rank[i]}",
                channel="paper",
                import_batch_id=batch.id,
            )
            for i in range(len(table))
        ])
        store_import_rows(session=session, batch_id=batch.id, fingerprints=_fingerprints(
            table, encoded, session=session, version=version))
        if commit:
            session.commit()
        else:
            session.flush()
    except StorageError as exc:
        session.rollback()
        raise ImportFailed(filename, [ImportProblem(None, None, exc)]) from None
    except BaseException:
        session.rollback()
        raise
    result.batch_id = batch.id
    return result
