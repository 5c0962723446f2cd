"""First start: create the schema, register the shipped questionnaires, load demo data once."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import func, select

from survey.db import create_schema, new_session
from survey.models import Organisation
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths
from survey.storage.questionnaires import register_questionnaire


def register_shipped_questionnaires(engine: Engine) -> list[tuple[str, str]]:
    """Register every file in questionnaires/; returns (id@version, outcome) pairs."""
    outcomes = []
    with new_session(engine) as session:
        for path in shipped_questionnaire_paths():
            questionnaire = load_questionnaire(path)
            _row, outcome = register_questionnaire(session=session, questionnaire=questionnaire)
            outcomes.append((questionnaire.key, outcome))
        session.commit()
    return outcomes


def initialise(engine: Engine, *, load_demo: bool) -> bool:
    """Schema + shipped questionnaires; demo data when asked and the database has no unit.

    Safe to run on every start and from several processes. Returns True when demo
    data was loaded now.
    """
    create_schema(engine)
    register_shipped_questionnaires(engine)
    if not load_demo:
        return False
    with new_session(engine) as session:
        has_units = session.exec(select(func.count()).select_from(Organisation)).one() > 0
    if has_units:
        return False
    from survey.demo import load_demo_data

    load_demo_data(engine)
    return True
