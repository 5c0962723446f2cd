"""The report pages through AppTest, on the demo province: shown values equal the engine's."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from tab_session import open_signed_in, tab_auth

from survey.auth import FULL_ACCESS, create_user
from survey.dashboard import load_source, province_report, unit_report
from survey.db import make_engine, new_session, shared_engine
from survey.formatting import format_number
from survey.par import classify
from survey.storage.users import get_user

APP = str(Path(__file__).resolve().parent.parent / "survey_app.py")
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def app_url(demo_url, tmp_path_factory):
    """A private copy of the demo database with an admin and a unit user (HG10)."""
    path = tmp_path_factory.mktemp("pages") / "app.db"
    shutil.copy(demo_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    with new_session(make_engine(url)) as session:
        for name, role, unit in (("admin", "admin", None), ("cuc10", "unit", "HG10")):
            if get_user(session=session, username=name) is None:
                create_user(session=session, username=name, role=role, organisation_code=unit,
                            password=PASSWORD)
        session.commit()
    return url


@pytest.fixture
def signed_in(app_url, monkeypatch):
    monkeypatch.setenv("SURVEY_DATABASE_URL", app_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    st.cache_resource.clear()
    shared_engine.cache_clear()

    def open_page(page: str, username: str = "admin", query: dict | None = None) -> AppTest:
        return open_signed_in(page, username, query)

    yield open_page
    st.cache_resource.clear()
    shared_engine.cache_clear()


@pytest.fixture(scope="module")
def source(app_url):
    with new_session(make_engine(app_url)) as session:
        return load_source(session=session, family="dtxhh-haugiang", scope=FULL_ACCESS)


def vi(value: float) -> str:
    return format_number(value, 2, "vi")


def test_unit_page_shows_the_engine_figures(signed_in, app_url, source):
    at = signed_in("pages/unit.py", query={"unit": "HG01", "period": "2024"})
    with new_session(make_engine(app_url)) as session:
        report = unit_report(session=session, source=source, scope=FULL_ACCESS, unit="HG01",
                             period="2024")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Điểm /22"] == vi(report.current.total.score)
    year_ago = next(value for label, value in metrics.items()
                    if label.startswith("So với cùng kỳ năm trước"))
    change = report.change_year_ago.total.change
    assert year_ago == ("+" + vi(change) if change > 0 else vi(change).replace("-", "−"))
    assert f"Năm 2023: {vi(report.year_ago.total.score)}" in next(
        label for label in metrics if label.startswith("So với cùng kỳ năm trước"))
    low, high = report.current.total.ci
    assert any(f"[{vi(low)}; {vi(high)}]" in c.value and f"{report.current.n} phiếu" in c.value
               for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["Năm 2024"]) == [vi(c.score) for c in report.current.criteria] + [
        vi(report.current.total.score)]
    assert table["Tiêu chí"].iloc[-1] == "Tổng cộng"
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 3
    specs = [c.proto.spec for c in charts]
    assert any('"ci_low"' in spec and '"ci_high"' in spec for spec in specs)  # CI band
    assert any('datum.fell_most' in spec for spec in specs)  # highlighted dimension
    assert [b.proto.label for b in at.get("download_button")][:1] == ["Báo cáo Excel của đơn vị"]


def test_unit_user_cannot_open_another_unit_by_query_parameter(signed_in):
    at = signed_in("pages/unit.py", username="cuc10", query={"unit": "HG01", "period": "2024"})
    assert any("ngoài phạm vi" in e.value for e in at.error)
    assert at.selectbox[0].options == ["HG10 — Chi cục Thi hành án dân sự thành phố Vị Thanh"]
    assert "HG01" not in " ".join(str(c.value) for c in at.caption)
    shown = at.dataframe[0].value
    assert "Cục Thi hành án dân sự tỉnh Hậu Giang" not in shown.to_string()


def test_province_page_ranking_equals_the_engine(signed_in, source):
    at = signed_in("pages/province.py", query={"period": "2024-Q4"})
    report = province_report(source=source, period="2024-Q4", classify=classify)
    table = at.dataframe[0].value
    assert list(table["Mã"]) == list(report.ranking["unit"])
    assert list(table["Điểm"]) == [vi(s) for s in report.ranking["score"]]
    assert list(table["Hạng"]) == list(report.ranking["rank_label"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Điểm bình quân toàn tỉnh /22"] == vi(report.aggregate.total.score)
    assert metrics["Số đơn vị"] == "12"
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any('"rect"' in s and '"percent"' in s for s in specs)  # heatmap
    assert any('"rule"' in s and '"ci_low"' in s for s in specs)  # caterpillar


def test_province_page_for_a_unit_user_shows_only_its_units(signed_in):
    at = signed_in("pages/province.py", username="cuc10", query={"period": "2024-Q4"})
    assert list(at.dataframe[0].value["Mã"]) == ["HG10"]


def test_par_page_reproduces_the_published_thads_case_with_a_warning(signed_in):
    at = signed_in("pages/par.py")
    at.selectbox[0].select(2024).run()
    at.selectbox[1].select("HG01").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Điểm thẩm định"] == "43,14"
    assert metrics["Tổng / tối đa áp dụng"].endswith("/ 73,50")
    shown = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]  # Markdown escapes resolved
    stated = [w for w in shown if "51,5" in w and "53" in w]
    assert stated and stated[0].startswith("Bảng điểm chưa nhất quán: Tổng điểm chuẩn 51,5")
    assert not any("--" in w for w in shown)  # no command-line flag on a page (12.6)
    assert any("Tổng điểm chuẩn ghi trên bảng" in c.value for c in at.caption)
    [stated_box] = [box for box in at.text_input if box.label.startswith("Tổng điểm chuẩn")]
    assert stated_box.value == "51,50"  # the Vietnamese decimal comma, as in the table
    stated_box.input("abc").run()
    assert any("“abc” không phải là một số không âm" in e.value for e in at.error)
    ranking = at.dataframe[-1].value
    assert len(ranking) == 12 and ranking["Hạng"].iloc[0] == "1/12"


@pytest.mark.parametrize("page", ["pages/home.py", "pages/unit.py", "pages/province.py",
                                  "pages/par.py"])
def test_every_report_page_renders_in_english(signed_in, page):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["auth"] = tab_auth("admin")
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    assert at.title[0].value in {"Satisfaction survey and administrative-reform index",
                                 "Unit survey score", "Province overview",
                                 "Administrative-reform (PAR) index"}


# --- issue 13: rank intervals and the SIPAS satisfaction share --------------------------------


def test_province_page_shows_rank_intervals_chart_and_distinguishability(signed_in, source):
    at = signed_in("pages/province.py", query={"period": "2024-Q4"})
    report = province_report(source=source, period="2024-Q4", classify=classify)
    table = at.dataframe[0].value
    first = report.ranking.iloc[0]
    assert table["Hạng"].iloc[0] == (f"1/{report.rank_sets.k} (khoảng {int(first['rank_low'])}–"
                                     f"{int(first['rank_high'])})")
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any('"rank_low_all"' in s and '"set_rank"' in s for s in specs)  # rank-set chart
    lines = " ".join(m.value for m in at.markdown)
    assert "cặp đơn vị khác nhau rõ ràng" in lines


@pytest.fixture(scope="module")
def sipas_url(app_url, tmp_path_factory):
    """The pages' database plus SIPAS answers for three units in 2024-Q4 and 2024-Q3."""
    import sqlite3

    from survey.storage.organisations import get_organisation
    from survey.storage.questionnaires import get_questionnaire_version, questionnaire_of
    from survey.storage.responses import store_response

    path = tmp_path_factory.mktemp("sipas") / "app.db"
    with sqlite3.connect(app_url.removeprefix("sqlite:///")) as source_db, \
            sqlite3.connect(path) as copy:
        source_db.backup(copy)  # includes what is still in the WAL
    url = f"sqlite:///{path}"
    rng = __import__("numpy").random.default_rng(13)
    with new_session(make_engine(url)) as session:
        row = get_questionnaire_version(session=session, reference="sipas@2024")
        questions = questionnaire_of(row).questions
        count = 0
        for unit, options in (("HG01", "345555"), ("HG02", "1234450"), ("HG03", "2345")):
            unit_id = get_organisation(session=session, code=unit).id
            for period in ("2024-Q3", "2024-Q4"):
                for _ in range(25):
                    count += 1
                    store_response(session=session, questionnaire_row=row, unit_id=unit_id,
                                   period=period, group_code=None,
                                   answers={q.code: str(rng.choice(list(options)))
                                            for q in questions},
                                   idempotency_key=f"sipas-{count}", commit=False)
        session.commit()
    return url


def test_sipas_share_on_the_unit_and_province_pages(sipas_url, monkeypatch):
    monkeypatch.setenv("SURVEY_DATABASE_URL", sipas_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    st.cache_resource.clear()
    shared_engine.cache_clear()
    with new_session(make_engine(sipas_url)) as session:
        sipas = load_source(session=session, family="sipas", scope=FULL_ACCESS,
                            include_flagged=False)
        report = unit_report(session=session, source=sipas, scope=FULL_ACCESS, unit="HG02",
                             period="2024-Q4")
    share = report.current.index_score("hai-long")
    for page, query in (("pages/unit.py", {"unit": "HG02", "period": "2024-Q4", "q": "sipas"}),
                        ("pages/province.py", {"period": "2024-Q4", "q": "sipas"})):
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["auth"] = tab_auth("admin")
        at.run()
        at.query_params.update(query)
        at.switch_page(page).run()
        assert not at.exception, at.exception
        metrics = {m.label: m.value for m in at.metric}
        if page == "pages/unit.py":
            assert metrics["Tỷ lệ hài lòng chung"] == f"{vi(100 * share.total.score)} %"
            items = at.dataframe[1].value
            assert len(items) == 1 + 5 + 20  # overall, five elements, twenty items
            assert items["Tỷ lệ hài lòng"].iloc[1] == f"{vi(100 * share.criteria[0].score)} %"
        else:
            table = at.dataframe[0].value
            assert "Tỷ lệ hài lòng" in table.columns
            row = table[table["Mã"] == "HG02"].iloc[0]
            assert row["Tỷ lệ hài lòng"] == f"{vi(100 * share.total.score)} %"
            assert "Tỷ lệ hài lòng toàn tỉnh" in metrics
    st.cache_resource.clear()
    shared_engine.cache_clear()


def test_par_ranking_shows_the_survey_part_rank_set(signed_in, source):
    from survey.dashboard import rank_text
    from survey.par_view import survey_rank_sets

    at = signed_in("pages/par.py")
    at.selectbox[0].select(2024).run()
    ranking = at.dataframe[-1].value
    units = [label.split(" — ")[0] for label in ranking["Đơn vị"]]
    sets = survey_rank_sets(source, 2024, units)
    places = {u.unit: u for u in sets.units}
    assert list(ranking["Hạng phần khảo sát"]) == [
        rank_text(places[u].rank, sets.k, places[u].lower, places[u].upper) for u in units]
    assert all("(khoảng " in label for label in ranking["Hạng phần khảo sát"])
    assert any("cặp đơn vị" in c.value for c in at.caption)
