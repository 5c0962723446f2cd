"""Demo data: a province of 12 units, 8 quarters, realistic sample sizes, deterministic."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text
from sqlmodel import select

from survey.bootstrap import initialise, register_shipped_questionnaires
from survey.db import create_schema, make_engine, new_session
from survey.demo import SMALL_SAMPLES, load_demo_data
from survey.models import Organisation
from survey.storage.responses import load_responses, response_counts

QUARTERS = [f"{year}-Q{q}" for year in (2023, 2024) for q in (1, 2, 3, 4)]


def fingerprint(engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Responses per unit × quarter × version, and answers tallied per unit × quarter × group ×
    channel × question × option."""
    with new_session(engine) as session:
        counts = response_counts(session=session)
        wide = load_responses(session=session, family="dtxhh-haugiang")
    keys = ["unit", "period", "group", "channel"]
    long = wide.drop(columns=["response_id", "unit_name", "version", "flagged"]).astype(
        object).melt(id_vars=keys, var_name="question", value_name="option").dropna()
    answers = long.value_counts(keys + ["question", "option"], sort=False).sort_index()
    return counts, answers


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory):
    """One demo database for the module, loaded the way the app does on first start."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'survey.db'}")
    assert initialise(engine, load_demo=True) is True
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def counts(demo_engine) -> pd.DataFrame:
    with new_session(demo_engine) as session:
        return response_counts(session=session)


def test_one_province_and_twelve_units(demo_engine):
    with new_session(demo_engine) as session:
        organisations = list(session.exec(select(Organisation)))
    by_id = {o.id: o for o in organisations}
    provinces = [o for o in organisations if o.kind == "province"]
    assert [p.code for p in provinces] == ["HG"]
    units = [o for o in organisations if o.kind != "province"]
    assert len(units) == 12
    for unit in units:  # every unit hangs below the province
        top = unit
        while top.parent_id is not None:
            top = by_id[top.parent_id]
        assert top.code == "HG"


def test_eight_quarters_per_unit(counts):
    assert counts["unit"].nunique() == 12
    for unit, quarters in counts.groupby("unit")["period"]:
        assert sorted(quarters) == QUARTERS, unit


def test_sample_sizes(counts):
    assert counts["responses"].between(1, 400).all()
    small = {(row.unit, row.period): row.responses
             for row in counts[counts["responses"] < 30].itertuples()}
    assert small == SMALL_SAMPLES
    assert len(small) >= 1


def test_each_year_uses_its_version(counts):
    assert set(counts["family"]) == {"dtxhh-haugiang"}
    assert (counts["version"] == counts["period"].str[:4]).all()


def test_answers_are_on_the_scale_and_cover_every_group(demo_engine):
    with new_session(demo_engine) as session:
        wide = load_responses(session=session, family="dtxhh-haugiang")
        options = set(wide.iloc[:, 8:].stack().dropna().astype(str))
        groups = {row[0] for row in session.execute(text("SELECT DISTINCT group_code FROM response"))}
        channels = {row[0] for row in session.execute(text("SELECT DISTINCT channel FROM response"))}
    assert options == {"A", "B", "C", "D", "X"}
    assert groups == {"DAN", "DN", "CB"}
    assert channels == {"qr", "paper"}


def test_initialise_does_not_load_the_demo_twice(demo_engine, counts):
    assert initialise(demo_engine, load_demo=True) is False
    with new_session(demo_engine) as session:
        assert response_counts(session=session).equals(counts)


def test_deterministic(demo_engine):
    again = make_engine("sqlite://")
    try:
        create_schema(again)
        register_shipped_questionnaires(again)
        stored = load_demo_data(again)
        first_counts, first_answers = fingerprint(demo_engine)
        second_counts, second_answers = fingerprint(again)
    finally:
        again.dispose()
    assert stored == int(first_counts["responses"].sum())
    pd.testing.assert_frame_equal(first_counts, second_counts)
    assert len(first_answers) > 10_000
    pd.testing.assert_series_equal(first_answers, second_answers)
