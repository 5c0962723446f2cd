"""Shared fixtures: a fresh database per test, on SQLite and (when configured) PostgreSQL.

Set SURVEY_TEST_POSTGRES_URL (e.g. postgresql://survey:survey@127.0.0.1:5432/survey_test)
to run every database test on PostgreSQL too; CI always sets it.
"""

from __future__ import annotations

import os

import pytest

from survey.db import create_schema, drop_schema, make_engine, new_session

POSTGRES_URL = os.environ.get("SURVEY_TEST_POSTGRES_URL")
if os.environ.get("CI") and not POSTGRES_URL:
    raise RuntimeError("CI must run the database tests on PostgreSQL: set SURVEY_TEST_POSTGRES_URL")

BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "postgres_only: runs only with the PostgreSQL parameter of `db_url`")


def pytest_collection_modifyitems(config, items):
    """Tests marked postgres_only do not run (nor show as skipped) for the SQLite parameter."""
    keep, drop = [], []
    for item in items:
        param = getattr(getattr(item, "callspec", None), "params", {}).get("db_url")
        (drop if item.get_closest_marker("postgres_only") and param == "sqlite" else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """The URL of an empty database with the schema created."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'survey.db'}"
    else:
        url = POSTGRES_URL
        engine = make_engine(url)
        drop_schema(engine)
        engine.dispose()
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    made = make_engine(db_url)
    yield made
    made.dispose()


@pytest.fixture
def session(engine):
    with new_session(engine) as opened:
        yield opened


@pytest.fixture
def cli_env(db_url, monkeypatch, tmp_path):
    """Environment for running the CLI in-process against the test database."""
    from survey.cli import common

    monkeypatch.setenv("SURVEY_DATABASE_URL", db_url)
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SURVEY_SECRET", "test-secret-not-for-production")
    common.engine.cache_clear()
    yield db_url
    common.engine.cache_clear()


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory):
    """A SQLite database with the demo province, built once per test run (read-only for tests)."""
    from survey.bootstrap import initialise

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    engine = make_engine(url)
    initialise(engine, load_demo=True)
    engine.dispose()
    return url


@pytest.fixture
def demo_session(demo_url):
    engine = make_engine(demo_url)
    with new_session(engine) as opened:
        yield opened
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (the browser tests)."""
    from live_server import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
