"""Render time of the report pages on the demo province (12 units × 8 quarters).

Prints, for each page: the first render in a fresh process (reads the responses from the
database) and the mean of later renders (responses kept in memory until they change). A new
response invalidates the memory: the script adds one and times the next render too.

    python benchmarks/bench_pages.py            # builds a demo SQLite database in a temp folder
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    url = f"sqlite:///{folder / 'demo.db'}"
    os.environ.update(SURVEY_DATABASE_URL=url, SURVEY_DEMO="0")
    sys.path.insert(0, str(ROOT))

    from streamlit.testing.v1 import AppTest

    from survey.auth import create_user
    from survey.bootstrap import initialise
    from survey.db import make_engine, new_session
    from survey.storage.organisations import get_organisation
    from survey.storage.questionnaires import get_questionnaire_version
    from survey.storage.responses import store_response

    engine = make_engine(url)
    started = time.perf_counter()
    initialise(engine, load_demo=True)
    print(f"demo data loaded in {time.perf_counter() - started:.1f} s")
    with new_session(engine) as session:
        create_user(session=session, username="bench", role="admin", organisation_code=None,
                    password="quả-táo-xanh-bốn-mùa")
        session.commit()
    sys.path.insert(0, str(ROOT / "tests"))
    from tab_session import tab_auth  # a server-side session kept by the tab, as the app's

    def render(page: str) -> float:
        at = AppTest.from_file(str(ROOT / "survey_app.py"), default_timeout=300)
        at.session_state["auth"] = tab_auth("bench", url)
        at.run()
        begin = time.perf_counter()
        at.switch_page(page).run()
        elapsed = time.perf_counter() - begin
        assert not at.exception, at.exception
        return elapsed

    for page in ("pages/province.py", "pages/unit.py", "pages/par.py"):
        first = render(page)
        later = [render(page) for _ in range(3)]
        print(f"{page:22s} first {first:6.2f} s   later {statistics.mean(later):5.2f} s "
              f"(min {min(later):.2f})")
    with new_session(engine) as session:
        version = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
        unit = get_organisation(session=session, code="HG01")
        store_response(session=session, questionnaire_row=version, unit_id=unit.id,
                       period="2024-Q4", group_code="DAN", answers={"1.1": "A"},
                       idempotency_key="bench-new-response")
    print(f"{'after a new response':22s} {render('pages/province.py'):6.2f} s (responses re-read)")
    print(f"{'and then':22s} {render('pages/province.py'):6.2f} s")


if __name__ == "__main__":
    main()
