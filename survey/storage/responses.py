"""Storage of responses."""


from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import TextClause, func, text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, col, select

from survey.answer_codes import AnswerProblem, codec_of
from survey.models import (
    CHANNELS,
    Organisation,
    QuestionnaireVersion,
    Response,
)
from survey.periods import parse_quarter
from survey.storage import StorageError
from survey.storage.new_responses import NewResponse, insert_new_responses
from survey.storage.questionnaires import list_questionnaire_versions, questionnaire_of


def answer_problems(
    questionnaire_row: QuestionnaireVersion, group_code: str | None,
    answers: Mapping[str, str | None],
) -> list[AnswerProblem]:
    """Problems with one response's group and answers (the questionnaire's one validator)."""
    return codec_of(questionnaire_of(questionnaire_row)).problems(group_code, answers)


def find_response_by_key(*, session: Session, idempotency_key: str) -> Response | None:
    return session.exec(select(Response).where(Response.idempotency_key == idempotency_key)).first()


def stored_answers(*, session: Session, response_id: int) -> dict[str, str]:
    """{question code: option code} of one stored response's answered questions."""
    response = session.get(Response, response_id)
    if response is None:
        raise StorageError(f"response #{response_id} does not exist")
    row = session.get(QuestionnaireVersion, response.questionnaire_version_id)
    return codec_of(questionnaire_of(row)).decode_one(response.answers)


def store_response(
    *,
    session: Session,
    questionnaire_row: QuestionnaireVersion,
    unit_id: int,
    period: str,
    group_code: str | None,
    answers: Mapping[str, str | None],
    idempotency_key: str,
    channel: str = "qr",
    campaign_id: int | None = None,
    import_batch_id: int | None = None,
    receipt: str | None = None,
    flagged: bool = False,
    flag_reason: str | None = None,
    submitted_at: datetime | None = None,
    commit: bool = True,
) -> tuple[Response, bool]:
    """Validate and store one response (through `insert_new_responses`); (response, created).

    Idempotent: a second call with the same `idempotency_key` returns the stored
    response and `created=False` (the unique key in the database is the guarantee,
    so concurrent duplicates are safe too). With `commit=False` the row joins the
    caller's transaction.
    """
    period = str(parse_quarter(period))
    if channel not in CHANNELS:
        raise StorageError(f"unknown channel {channel!r} (use {', '.join(CHANNELS)})")
    codec = codec_of(questionnaire_of(questionnaire_row))
    problems = codec.problems(group_code, answers)
    if problems:
        raise StorageError("; ".join(str(problem) for problem in problems))
    item = NewResponse(
        unit_id=unit_id, period=period, questionnaire_version_id=questionnaire_row.id,
        group_code=group_code or None, answers=codec.encode(answers),
        idempotency_key=idempotency_key, channel=channel, campaign_id=campaign_id,
        import_batch_id=import_batch_id, receipt=receipt, flagged=flagged,
        flag_reason=flag_reason, submitted_at=submitted_at,
    )
    try:
        _receipt, created = insert_new_responses(session=session, responses=[item])[
            idempotency_key]
        if commit:
            session.commit()
        else:
            session.flush()
    except BaseException:
        if commit:
            session.rollback()
        raise
    return find_response_by_key(session=session, idempotency_key=idempotency_key), created


def response_counts(*, session: Session, unit_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Responses per unit × quarter × questionnaire version (columns unit, name, period, family,
    version, responses)."""
    query = (
        select(
            Organisation.code,
            Organisation.name,
            Response.period,
            QuestionnaireVersion.family,
            QuestionnaireVersion.version,
            func.count(Response.id),
        )
        .join(Organisation, Organisation.id == Response.unit_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
        .group_by(
            Organisation.code,
            Organisation.name,
            Response.period,
            QuestionnaireVersion.family,
            QuestionnaireVersion.version,
        )
    )
    if unit_ids is not None:
        query = query.where(col(Response.unit_id).in_(list(unit_ids)))
    rows = session.exec(query).all()
    return pd.DataFrame(
        rows, columns=["unit", "name", "period", "family", "version", "responses"]
    ).sort_values(["unit", "period"], ignore_index=True)


# --- reading, vectorised ----------------------------------------------------------------------
#
# One pass per questionnaire version, no sorting: the database concatenates, over the rows asked
# for, each response's id with one integer that packs its head (unit id, period, group, channel,
# flag: the small texts numbered by CASE from the few values they take) into one value, and the
# answers into another (SQLite: the ids and keys as decimal text, the answers as a blob;
# PostgreSQL: bytea; both aggregates of a query take the rows in the same order). numpy reads
# them with `frombuffer`: no Python object per response or per answer. A large table is read in
# two id ranges at once, on two connections (the database works on both cores).

PARALLEL_SPAN = 200_000  # ids per part above which two connections read parts at once
HEAD_COLUMNS = ["response_id", "unit", "unit_name", "period", "version", "group", "channel",
                "flagged"]
_RECORD = np.dtype([("id", ">u4"), ("key", ">u8")])


def _categorical(values: list, codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object))


def _case(column: str, values: list, prefix: str, parameters: dict) -> str:
    """SQL numbering `column`'s values 0..len−1 (anything else: len), with bound parameters."""
    whens = []
    for i, value in enumerate(values):
        parameters[f"{prefix}{i}"] = value
        whens.append(f"WHEN :{prefix}{i} THEN {i}")
    return f"(CASE {column} {' '.join(whens)} ELSE {len(values)} END)" if whens else "0"


def _version_parts(session: Session, version_id: int, filters: list[str], parameters: dict,
                   periods: list[str], groups: list[str], ids: tuple[int | None, int | None],
                   by_id: bool) -> list[tuple]:
    """(count, ids, keys, answers) of one version's responses (PostgreSQL: ids and keys in one
    value), in one or two id ranges (`ids`: the table's lowest and highest id).

    `by_id`: SQLite reads the table in id order (all of it, or the id range of `filters`) instead
    of looking each row up from the (version, period) index: for most of a table 3–4 times faster
    at 10⁶ rows, for the responses after an id a range read instead of a pass over the index. (A
    small share, e.g. one unit or a small family, is faster through the indexes.)"""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    parameters = dict(parameters)
    key = (f"(((response.unit_id * {len(periods) + 1} + "
           f"{_case('response.period', periods, 'p', parameters)}) * {len(groups) + 1} + "
           f"{_case('response.group_code', groups, 'g', parameters)}) * {len(CHANNELS) + 1} + "
           f"{_case('response.channel', list(CHANNELS), 'c', parameters)}) * 2 + "
           "(CASE WHEN response.flagged THEN 1 ELSE 0 END)")
    if postgres:
        # No ORDER BY: a plain aggregate level feeds each row to both aggregates at once, so
        # they pair; sorting would cost two sorts (the ids are sorted by numpy afterwards).
        aggregates = (f"string_agg(int4send(response.id) || int8send({key}), ''::bytea), "
                      "string_agg(response.answers, ''::bytea)")
    else:
        # Decimal text, one aggregate per value: SQLite writes an integer as text faster than
        # printf formats it, and far faster than it joins strings with ||.
        aggregates = (f"group_concat(response.id, ','), group_concat({key}, ','), "
                      "CAST(group_concat(response.answers, '') AS BLOB)")
    version_column = "response.questionnaire_version_id"
    if not postgres and by_id:
        version_column = "+" + version_column  # unary +: not through the version's index
    where = " AND ".join([f"{version_column} = {int(version_id)}", *filters])

    def query(extra: str = "") -> TextClause:
        return text(f"SELECT count(*), {aggregates} FROM response WHERE {where}{extra}")

    low, high = ids
    engine = session.get_bind()
    if low is None or high - low < 2 * PARALLEL_SPAN or isinstance(engine.pool, StaticPool):
        return [connection.execute(query(), parameters).one()]
    middle = (low + high) // 2

    def part(bounds: tuple[int, int]) -> tuple:
        with engine.connect() as own:  # committed rows only (see load_responses)
            return own.execute(query(" AND response.id BETWEEN :low AND :high"),
                               {**parameters, "low": bounds[0], "high": bounds[1]}).one()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(part, [(low, middle), (middle + 1, high)]))


def _stored_periods(connection, version_ids: list[int]) -> list[str]:
    """The distinct periods of these versions' responses, sorted: one index probe per period
    (a loose index scan on (version, period)), not a pass over every response."""
    found: set[str] = set()
    for version_id in version_ids:
        found.update(period for (period,) in connection.execute(text(
            "WITH RECURSIVE found(period) AS ("
            " SELECT (SELECT min(period) FROM response WHERE questionnaire_version_id = :v)"
            " UNION ALL SELECT (SELECT min(period) FROM response"
            "  WHERE questionnaire_version_id = :v AND period > found.period)"
            " FROM found WHERE found.period IS NOT NULL)"
            " SELECT period FROM found WHERE period IS NOT NULL"), {"v": version_id}))
    return sorted(found)


def _counts_by_version(connection, version_ids: list[int], filters: list[str],
                       parameters: dict, by_id: bool) -> dict[int, int]:
    """{version id: responses matching `filters`} (0 omitted), counted on the indexes (`by_id`:
    on the id range of `filters`, not on the version index)."""
    if not version_ids:
        return {}
    where = " AND ".join([f"{'+' if by_id else ''}response.questionnaire_version_id IN "
                          f"({', '.join(str(int(v)) for v in version_ids)})", *filters])
    return dict(connection.execute(text(
        f"SELECT questionnaire_version_id, count(*) FROM response WHERE {where} "
        "GROUP BY questionnaire_version_id"), parameters).all())


def load_responses(
    *,
    session: Session,
    family: str,
    unit_ids: Iterable[int] | None = None,
    quarters: Iterable[str] | None = None,
    include_flagged: bool = True,
    after_id: int | None = None,
) -> pd.DataFrame:
    """Responses of one questionnaire family in wide form, ready for scoring.

    `after_id` keeps only responses stored after that id (to append new ones to a cache).

    One row per response, sorted by id: response_id (int64), unit, unit_name, period,
    version, group, channel (categorical), flagged (bool), then one categorical column per
    question code of every version of the family holding the chosen option code (NaN where
    unanswered or not on the response's version). A group code that is not one of its
    version's groups reads as missing (such a response cannot be weighted either way). Memory:
    about one byte per answer. A table of more than 400,000 ids is read on two connections,
    which see committed rows only.
    """
    rows_of_family = list_questionnaire_versions(session=session, family=family)
    question_codes = _family_question_codes(rows_of_family)
    filters: list[str] = []  # those an index can serve (the flag is left to the row read)
    parameters: dict[str, object] = {}
    if unit_ids is not None:
        filters.append(f"response.unit_id IN ({', '.join(str(int(u)) for u in unit_ids) or 'NULL'})")
    if quarters is not None:
        quarters = list(quarters)
        names = [f"q{i}" for i in range(len(quarters))]
        parameters.update(zip(names, quarters, strict=True))
        filters.append(f"response.period IN ({', '.join(':' + n for n in names) or 'NULL'})")
    if after_id is not None:
        filters.append("response.id > :after_id")
        parameters["after_id"] = int(after_id)
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    version_ids = [row.id for row in rows_of_family]
    periods = _stored_periods(connection, version_ids)
    id_range = tuple(connection.execute(text(  # two subqueries: each min/max reads one index end
        "SELECT (SELECT min(id) FROM response), (SELECT max(id) FROM response)")).one())
    # SQLite chooses between the indexes and id order by the share of the table asked for
    # (PostgreSQL's planner does so itself, from its statistics).
    counts = None if postgres else _counts_by_version(connection, version_ids, filters,
                                                      parameters, by_id=after_id is not None)
    if not include_flagged:
        filters.append("NOT response.flagged")

    # A question's categories are the option codes it has in any version (first appearance).
    categories: dict[str, list[str]] = {code: [] for code in question_codes}
    for row in rows_of_family:
        codec = codec_of(questionnaire_of(row))
        for code, options in zip(codec.question_codes, codec.option_codes, strict=True):
            categories[code] += [o for o in options if o not in categories[code]]
    group_values = sorted({g.code for row in rows_of_family
                           for g in questionnaire_of(row).groups})

    pieces = []  # per version: ids, unit ids, period, group, channel and flag codes, answers
    for v_index, row in enumerate(rows_of_family):
        questionnaire = questionnaire_of(row)
        codec = codec_of(questionnaire)
        own_groups = [g.code for g in questionnaire.groups]
        if counts is not None and not counts.get(row.id):
            continue
        by_id = counts is not None and (
            after_id is not None or 4 * counts[row.id] >= id_range[1] - id_range[0] + 1)
        for count, *values, answers in _version_parts(
                session, row.id, filters, parameters, periods, own_groups, id_range, by_id):
            if not count:
                continue
            if postgres:
                record = np.frombuffer(bytes(values[0]), _RECORD)
                ids, key = record["id"].astype(np.int64), record["key"].astype(np.int64)
            else:  # "id,id,…" and "key,key,…"
                ids, key = (np.fromstring(value, dtype=np.int64, sep=",") for value in values)
            key, flagged = np.divmod(key, 2)
            key, channel = np.divmod(key, len(CHANNELS) + 1)
            key, group = np.divmod(key, len(own_groups) + 1)
            unit, period = np.divmod(key, len(periods) + 1)
            group_map = np.array([group_values.index(g) for g in own_groups] + [-1])
            pieces.append({
                "id": ids, "unit": unit, "version": v_index,
                "period": np.where(period < len(periods), period, -1),
                "group": group_map[group],
                "channel": np.where(channel < len(CHANNELS), channel, -1),
                "flagged": flagged.astype(bool), "codec": codec,
                "matrix": codec.decode(bytes(answers)),
            })
    ids = np.concatenate([p["id"] for p in pieces]) if pieces else np.empty(0, np.int64)
    order = np.argsort(ids, kind="stable")
    total = ids.size

    def joined(name: str, dtype=np.int64) -> np.ndarray:
        if not pieces:
            return np.empty(0, dtype)
        return np.concatenate([np.broadcast_to(p[name], p["id"].shape).astype(dtype)
                               for p in pieces])[order]

    unit_ids_read = joined("unit")
    present_units = np.unique(unit_ids_read)
    units = {o.id: o for o in session.exec(select(Organisation).where(
        col(Organisation.id).in_(present_units.tolist()))).all()} if total else {}
    unit_order = sorted(units, key=lambda unit_id: units[unit_id].code)  # categories by code
    ids_sorted = np.array(sorted(units), dtype=np.int64)
    place = {unit_id: i for i, unit_id in enumerate(unit_order)}
    place_of_sorted = np.array([place[unit_id] for unit_id in ids_sorted.tolist()], np.int64)
    unit_codes = (place_of_sorted[np.searchsorted(ids_sorted, unit_ids_read)] if total
                  else np.empty(0, np.int64))
    head = {
        "response_id": ids[order],
        "unit": _categorical([units[u].code for u in unit_order], unit_codes),
        "unit_name": _categorical([units[u].name for u in unit_order], unit_codes),
        "period": _categorical(periods, joined("period")),
        "version": _categorical([row.version for row in rows_of_family], joined("version")),
        "group": _categorical(group_values, joined("group")),
        "channel": _categorical(list(CHANNELS), joined("channel")),
        "flagged": joined("flagged", bool),
    }
    responses = pd.DataFrame(head)[HEAD_COLUMNS]

    answer_codes = {code: np.full(total, -1, dtype=np.int16) for code in question_codes}
    start = 0
    for piece in pieces:
        stop = start + piece["id"].size
        matrix, codec = piece["matrix"], piece["codec"]
        for j, (code, options) in enumerate(zip(codec.question_codes, codec.option_codes,
                                                strict=True)):
            lookup = np.array([-1] + [categories[code].index(o) for o in options], np.int16)
            answer_codes[code][start:stop] = lookup[matrix[:, j]]
        start = stop
    answers = pd.DataFrame({
        code: pd.Categorical.from_codes(answer_codes[code][order],
                                        categories=pd.Index(categories[code], dtype=object))
        for code in question_codes
    }, index=responses.index)
    return pd.concat([responses, answers], axis=1)


def _family_question_codes(rows: list[QuestionnaireVersion]) -> list[str]:
    """Every question code of every registered version of a family, in questionnaire order."""
    codes: dict[str, None] = {}
    for row in rows:
        codes.update(dict.fromkeys(questionnaire_of(row).question_codes))
    return list(codes)


def answers_by_response(*, session: Session, response_ids: Iterable[int] | None = None
                        ) -> dict[int, dict[str, str]]:
    """{response id: {question code: option code}} of stored responses (all, or `response_ids`):
    for checks and exports of a few responses; scoring reads `load_responses`."""
    query = select(Response.id, Response.questionnaire_version_id, Response.answers)
    if response_ids is not None:
        query = query.where(col(Response.id).in_(list(response_ids)))
    versions = {row.id: row for row in session.exec(select(QuestionnaireVersion)).all()}
    return {response_id: codec_of(questionnaire_of(versions[version_id])).decode_one(stored)
            for response_id, version_id, stored in session.exec(query).all()}


def append_responses(earlier: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """Two tables of `load_responses` one after the other, categorical columns kept categorical
    (their categories united), so an appended cache stays about one byte per answer."""
    if earlier.empty:
        return later
    if later.empty:
        return earlier
    columns = list(dict.fromkeys([*earlier.columns, *later.columns]))
    joined = {}
    for column in columns:
        first, second = earlier.get(column), later.get(column)
        if first is None or second is None:
            present = first if first is not None else second
            joined[column] = pd.concat([
                earlier.get(column, pd.Series(pd.Categorical([None] * len(earlier), categories=
                                                             present.cat.categories))),
                later.get(column, pd.Series(pd.Categorical([None] * len(later), categories=
                                                           present.cat.categories)))],
                ignore_index=True)
        elif isinstance(first.dtype, pd.CategoricalDtype):
            joined[column] = pd.Series(pd.api.types.union_categoricals(
                [first.array, second.array], ignore_order=True))
        else:
            joined[column] = pd.concat([first, second], ignore_index=True)
    return pd.DataFrame(joined)
