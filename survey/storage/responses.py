"""Storage of responses."""


from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from survey.models import (
    CHANNELS,
    Answer,
    Organisation,
    QuestionnaireVersion,
    Response,
)
from survey.periods import parse_quarter
from survey.questionnaire import Questionnaire
from survey.storage import StorageError
from survey.storage.questionnaires import list_questionnaire_versions, questionnaire_of


def validate_answers(
    questionnaire: Questionnaire, group_code: str | None, answers: Mapping[str, str | None]
) -> list[tuple[str, str]]:
    """Problems with a set of answers as (field, message); empty when valid.

    Unanswered questions (missing or None) are allowed here: the web form insists
    on completeness itself, paper forms may leave blanks.
    """
    problems: list[tuple[str, str]] = []
    if questionnaire.groups:
        if questionnaire.group(group_code or "") is None:
            codes = ", ".join(g.code for g in questionnaire.groups)
            problems.append(("group", f"unknown respondent group {group_code!r} (use {codes})"))
    elif group_code:
        problems.append(("group", f"this questionnaire has no respondent groups ({group_code!r})"))
    for question_code, option_code in answers.items():
        question = questionnaire.question(question_code)
        if question is None:
            problems.append((question_code, f"unknown question {question_code!r}"))
        elif option_code is not None and questionnaire.scale_of(question_code).option(option_code) is None:
            codes = ", ".join(o.code for o in questionnaire.scale_of(question_code).options)
            problems.append(
                (question_code, f"option {option_code!r} is not on this question's scale ({codes})")
            )
    return problems


def find_response_by_key(*, session: Session, idempotency_key: str) -> Response | None:
    return session.exec(select(Response).where(Response.idempotency_key == idempotency_key)).first()


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
    commit: bool = True,
) -> tuple[Response, bool]:
    """Store one response with its answers in one transaction; (response, created).

    Idempotent: a second call with the same `idempotency_key` returns the stored
    response and `created=False` (the unique key in the database is the guarantee,
    so concurrent duplicates are safe too).
    """
    parse_quarter(period)
    if channel not in CHANNELS:
        raise StorageError(f"unknown channel {channel!r} (use {', '.join(CHANNELS)})")
    problems = validate_answers(questionnaire_of(questionnaire_row), group_code, answers)
    if problems:
        raise StorageError("; ".join(f"{field}: {message}" for field, message in problems))
    existing = find_response_by_key(session=session, idempotency_key=idempotency_key)
    if existing is not None:
        return existing, False
    response = Response(
        unit_id=unit_id,
        period=period,
        questionnaire_version_id=questionnaire_row.id,
        group_code=group_code or None,
        channel=channel,
        idempotency_key=idempotency_key,
        campaign_id=campaign_id,
        import_batch_id=import_batch_id,
        receipt=receipt,
        flagged=flagged,
        flag_reason=flag_reason,
    )
    try:
        session.add(response)
        session.flush()
        rows = [
            {"response_id": response.id, "question_code": code, "option_code": option}
            for code, option in answers.items()
            if option is not None
        ]
        if rows:  # one executemany, not an ORM object per answer (the submit path's cost)
            session.execute(insert(Answer.__table__), rows)
        if commit:
            session.commit()
        else:
            session.flush()
    except IntegrityError:
        if not commit:  # part of a caller's transaction: the caller decides
            raise
        session.rollback()
        existing = find_response_by_key(session=session, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return existing, False
    return response, True


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


def _frame(session: Session, query, columns: list[str]) -> pd.DataFrame:
    """Run a Core query into a DataFrame, column-wise (much faster than row objects)."""
    rows = session.execute(query).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pd.DataFrame(dict(zip(columns, values, strict=True)))


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

    One row per response: response_id, unit, unit_name, period, version, group,
    channel, flagged, then one column per question code holding the chosen option
    code (None where unanswered). Questions of every version of the family appear.
    """
    conditions = [QuestionnaireVersion.family == family]
    if unit_ids is not None:
        conditions.append(col(Response.unit_id).in_(list(unit_ids)))
    if quarters is not None:
        conditions.append(col(Response.period).in_(list(quarters)))
    if not include_flagged:
        conditions.append(Response.flagged == False)  # noqa: E712
    if after_id is not None:
        conditions.append(col(Response.id) > after_id)
    head_query = (
        select(
            Response.id,
            Organisation.code,
            Organisation.name,
            Response.period,
            QuestionnaireVersion.version,
            Response.group_code,
            Response.channel,
            Response.flagged,
        )
        .join(Organisation, Organisation.id == Response.unit_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
        .where(*conditions)
    )
    heads = _frame(
        session,
        head_query,
        ["response_id", "unit", "unit_name", "period", "version", "group", "channel", "flagged"],
    )
    answer_query = (
        select(Answer.response_id, Answer.question_code, Answer.option_code)
        .join(Response, Response.id == Answer.response_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
        .where(*conditions)
    )
    answers = _frame(session, answer_query, ["response_id", "question", "option"])
    heads["response_id"] = heads["response_id"].astype("int64")
    question_codes = _family_question_codes(session, family)
    if answers.empty:
        wide = pd.DataFrame(index=pd.Index([], dtype="int64", name="response_id"))
    else:
        wide = answers.pivot(index="response_id", columns="question", values="option")
    wide = wide.reindex(columns=question_codes + [c for c in wide.columns if c not in question_codes])
    wide.columns.name = None
    responses = heads.merge(wide, left_on="response_id", right_index=True, how="left")
    answer_columns = list(wide.columns)
    answered = responses[answer_columns]
    responses[answer_columns] = answered.astype(object).where(answered.notna(), None)
    return responses.sort_values("response_id", ignore_index=True)


def _family_question_codes(session: Session, family: str) -> list[str]:
    """Every question code of every registered version of `family`, in questionnaire order."""
    codes: dict[str, None] = {}
    for row in list_questionnaire_versions(session=session, family=family):
        codes.update(dict.fromkeys(questionnaire_of(row).question_codes))
    return list(codes)
