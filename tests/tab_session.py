"""Signing an AppTest in "for this tab only": a server-side staff session in the app's
database (SURVEY_DATABASE_URL), whose token the tab keeps in session_state["auth"], as the
fallback sign-in form does (a helper module, not a test file)."""

from __future__ import annotations

import os

from survey.db import make_engine, new_session
from survey.sessions import start_session


def tab_auth(username: str, database_url: str | None = None) -> dict[str, str]:
    """The session_state["auth"] value of a tab signed in as `username`."""
    engine = make_engine(database_url or os.environ["SURVEY_DATABASE_URL"])
    try:
        with new_session(engine) as session:
            token, _row = start_session(session=session, username=username)
            session.commit()
    finally:
        engine.dispose()
    return {"token": token}


APP = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "survey_app.py")


def open_signed_in(page: str, username: str = "admin", query: dict | None = None,
                   database_url: str | None = None):
    """An AppTest of the app, signed in as `username` for this tab, switched to `page` (with
    `query` as its query parameters); asserts the page raised nothing."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["auth"] = tab_auth(username, database_url)
    at.run()
    if query:
        at.query_params.update(query)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at
