"""Anonymised response exports (CSV) with their codebook; text a spreadsheet would run as a
formula is neutralised (`survey.spreadsheet`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlmodel import Session

from survey.auth import Scope, require_unit
from survey.spreadsheet import csv_bytes, neutral_frame
from survey.storage.questionnaires import list_questionnaire_versions, questionnaire_of
from survey.storage.responses import load_responses

RESPONSE_COLUMNS = ["questionnaire", "unit", "unit_name", "period", "version", "group", "channel",
                    "flagged"]


def anonymised_responses(
    *, session: Session, family: str | None = None, unit_ids: list[int] | None = None
) -> pd.DataFrame:
    """One row per response: no database id, no time of day, no network data."""
    families = sorted({row.family for row in list_questionnaire_versions(session=session)
                       if family in (None, row.family)})
    frames = []
    for name in families:
        responses = load_responses(session=session, family=name, unit_ids=unit_ids)
        if responses.empty and family is None:
            continue  # a family nobody answered adds only empty columns
        responses.insert(0, "questionnaire", name)
        frames.append(responses.drop(columns=["response_id"]))
    if not frames:
        return pd.DataFrame(columns=RESPONSE_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values(
        ["questionnaire", "period", "unit"], kind="stable", ignore_index=True
    )


def codebook(*, session: Session, family: str | None = None) -> pd.DataFrame:
    """Every question of every version with its text, points and answer options."""
    rows = []
    for version in list_questionnaire_versions(session=session, family=family):
        questionnaire = questionnaire_of(version)
        for criterion in questionnaire.criteria:
            for question in criterion.questions:
                for option in questionnaire.scales[question.scale].options:
                    rows.append({
                        "questionnaire": questionnaire.id,
                        "version": questionnaire.version,
                        "criterion": criterion.code,
                        "criterion_title": criterion.title.vi,
                        "criterion_points": criterion.points,
                        "question": question.code,
                        "text_vi": question.text.vi,
                        "text_en": question.text.en or "",
                        "question_points": question.points,
                        "option": option.code,
                        "option_label": option.label.vi,
                        "score_fraction": option.score,
                    })
    return pd.DataFrame(rows)


def unit_responses_csv(*, session: Session, scope: Scope, family: str, unit: str) -> tuple[bytes, bytes]:
    """One unit's anonymised responses and the family's codebook, as CSV bytes (UTF-8 with BOM).

    The unit must be inside `scope` (AccessDenied otherwise)."""
    organisation = require_unit(session=session, scope=scope, code=unit)
    responses = anonymised_responses(session=session, family=family, unit_ids=[organisation.id])
    return csv_bytes(responses), csv_bytes(codebook(session=session, family=family))


def codebook_path(out: Path) -> Path:
    """Where the codebook of an export goes: beside it, ``<name>-codebook.csv``."""
    return out.with_name(f"{out.stem}-codebook.csv")


def write_responses_csv(*, session: Session, out: Path, family: str | None = None) -> int:
    """Write the anonymised responses and their codebook (UTF-8 with BOM for Excel)."""
    responses = anonymised_responses(session=session, family=family)
    out.parent.mkdir(parents=True, exist_ok=True)
    neutral_frame(responses).to_csv(out, index=False, encoding="utf-8-sig")
    neutral_frame(codebook(session=session, family=family)).to_csv(
        codebook_path(out), index=False, encoding="utf-8-sig")
    return len(responses)
