"""Storage of responses."""


from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, text
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
# One query per call, grouped by everything a response row says besides its answers (unit,
# period, version, group, channel, flag): each group comes back as one row with its count, the
# ids of its responses and their answers, each concatenated into one value (on SQLite the ids as
# hex text and the answers as a blob, on PostgreSQL both bytea; both aggregates of a group take
# its rows in the same order). A million
# responses are a few thousand rows, decoded with numpy.frombuffer: no Python object per
# response or per answer.

_SQLITE_AGGREGATES = ("group_concat(printf('%08x', response.id), '')",
                      # the blobs' bytes joined as they are (NUL bytes kept), read back as a blob
                      "CAST(group_concat(response.answers, '') AS BLOB)")
_POSTGRES_AGGREGATES = ("string_agg(int4send(response.id), ''::bytea ORDER BY response.id)",
                        "string_agg(response.answers, ''::bytea ORDER BY response.id)")
_KEYS = ("questionnaire_version_id", "unit_id", "period", "group_code", "channel", "flagged")
HEAD_COLUMNS = ["response_id", "unit", "unit_name", "period", "version", "group", "channel",
                "flagged"]


def _grouped_rows(session: Session, version_ids: list[int], unit_ids, quarters,
                  include_flagged: bool, after_id: int | None) -> list[tuple]:
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    ids_sql, answers_sql = _POSTGRES_AGGREGATES if postgres else _SQLITE_AGGREGATES
    keys = ", ".join(f"response.{key}" for key in _KEYS)
    where = [f"response.questionnaire_version_id IN ({', '.join(map(str, version_ids))})"]
    parameters: dict[str, object] = {}
    if unit_ids is not None:
        where.append(f"response.unit_id IN ({', '.join(str(int(u)) for u in unit_ids) or 'NULL'})")
    if quarters is not None:
        names = [f"q{i}" for i in range(len(quarters))]
        parameters.update(zip(names, quarters, strict=True))
        where.append(f"response.period IN ({', '.join(':' + n for n in names) or 'NULL'})")
    if not include_flagged:
        where.append("NOT response.flagged")
    if after_id is not None:
        where.append("response.id > :after_id")
        parameters["after_id"] = int(after_id)
    query = text(f"SELECT {keys}, count(*), {ids_sql}, {answers_sql} FROM response "
                 f"WHERE {' AND '.join(where)} GROUP BY {keys}")
    return connection.execute(query, parameters).all()


def _decoded(value, postgres: bool) -> bytes:
    """The bytes of a group's concatenated ids: bytea on PostgreSQL, hex text on SQLite."""
    return bytes(value) if postgres else bytes.fromhex(value)


def _factor(values: list) -> tuple[list, np.ndarray]:
    """Sorted distinct non-null values, and each value's position among them (−1 for None)."""
    distinct = sorted({value for value in values if value is not None})
    position = {value: i for i, value in enumerate(distinct)}
    return distinct, np.array([position.get(value, -1) for value in values], dtype=np.int32)


def _categorical(values: list, codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object))


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
    unanswered or not on the response's version). Memory: about one byte per answer.
    """
    rows_of_family = list_questionnaire_versions(session=session, family=family)
    versions = {row.id: row for row in rows_of_family}
    question_codes = _family_question_codes(rows_of_family)
    groups = _grouped_rows(session, list(versions) or [-1],
                           None if unit_ids is None else list(unit_ids),
                           None if quarters is None else list(quarters),
                           include_flagged, after_id) if versions else []
    postgres = session.connection().dialect.name == "postgresql"
    counts = np.array([row[6] for row in groups], dtype=np.int64)
    total = int(counts.sum())
    ids_dtype = np.dtype(">u4")
    ids = (np.frombuffer(b"".join(_decoded(row[7], postgres) for row in groups),
                         ids_dtype).astype(np.int64) if groups else np.empty(0, np.int64))

    head: dict[str, object] = {"response_id": ids}
    unit_rows = {o.id: o for o in session.exec(select(Organisation).where(
        col(Organisation.id).in_(sorted({row[1] for row in groups})))).all()} if groups else {}
    unit_order = sorted(unit_rows, key=lambda unit_id: unit_rows[unit_id].code)
    unit_index = {unit_id: i for i, unit_id in enumerate(unit_order)}
    group_unit = np.array([unit_index[row[1]] for row in groups], dtype=np.int32)
    head["unit"] = _categorical([unit_rows[u].code for u in unit_order],
                                np.repeat(group_unit, counts))
    head["unit_name"] = _categorical([unit_rows[u].name for u in unit_order],
                                     np.repeat(group_unit, counts))
    for name, position in (("period", 2), ("group", 3), ("channel", 4)):
        values, codes = _factor([row[position] for row in groups])
        head[name] = _categorical(values, np.repeat(codes, counts))
    version_order = [row.id for row in rows_of_family]
    group_version = np.array([version_order.index(row[0]) for row in groups], dtype=np.int32)
    head["version"] = _categorical([versions[v].version for v in version_order],
                                   np.repeat(group_version, counts))
    head["flagged"] = np.repeat(np.array([bool(row[5]) for row in groups], dtype=bool), counts)
    responses = pd.DataFrame(head)[HEAD_COLUMNS]

    # Answers: per version, its groups' blobs joined and decoded at once, then mapped to the
    # family's question columns (a question's categories are the option codes it has in any
    # version, in order of first appearance).
    categories: dict[str, list[str]] = {code: [] for code in question_codes}
    for row in rows_of_family:
        codec = codec_of(questionnaire_of(row))
        for code, options in zip(codec.question_codes, codec.option_codes, strict=True):
            categories[code] += [o for o in options if o not in categories[code]]
    answer_codes = {code: np.full(total, -1, dtype=np.int16) for code in question_codes}
    group_start = np.r_[0, np.cumsum(counts)]
    for v_index, version_id in enumerate(version_order):
        members = np.flatnonzero(group_version == v_index)
        if not members.size:
            continue
        codec = codec_of(questionnaire_of(versions[version_id]))
        matrix = codec.decode(b"".join(bytes(groups[g][8]) for g in members))
        rows = np.concatenate([np.arange(group_start[g], group_start[g + 1]) for g in members])
        for j, (code, options) in enumerate(zip(codec.question_codes, codec.option_codes,
                                                strict=True)):
            lookup = np.array([-1] + [categories[code].index(o) for o in options], np.int16)
            answer_codes[code][rows] = lookup[matrix[:, j]]
    order = np.argsort(ids, kind="stable")
    responses = responses.iloc[order].reset_index(drop=True)
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
