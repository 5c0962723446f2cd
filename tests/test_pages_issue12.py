"""Issue 12 at the level the user meets it (AppTest on the demo province): the default
questionnaire of the QR page, what a unit account sees labelled "toàn tỉnh", the confidence
level from the settings in every label, Vietnamese number formats."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import streamlit as st
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest
from tab_session import open_signed_in

from survey.auth import create_user, scope_of
from survey.config import SettingsError, load_settings
from survey.dashboard import load_source, province_report, unit_report
from survey.db import make_engine, new_session, shared_engine
from survey.par import classify
from survey.reports import province_workbook, unit_workbook
from survey.storage.users import get_user

APP = str(Path(__file__).resolve().parent.parent / "survey_app.py")
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def app_url(demo_url, tmp_path_factory):
    path = tmp_path_factory.mktemp("issue12") / "app.db"
    shutil.copy(demo_url.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    with new_session(make_engine(url)) as session:
        for name, role, unit in (("admin", "admin", None), ("cuc01", "unit", "HG01"),
                                 ("so", "province", "HG")):
            if get_user(session=session, username=name) is None:
                create_user(session=session, username=name, role=role, organisation_code=unit,
                            password=PASSWORD)
        session.commit()
    return url


@pytest.fixture
def open_page(app_url, monkeypatch):
    monkeypatch.setenv("SURVEY_DATABASE_URL", app_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    monkeypatch.setenv("SURVEY_SECRET", "test-secret-not-for-production")
    st.cache_resource.clear()
    shared_engine.cache_clear()

    def opened(page: str, username: str = "admin", query: dict | None = None) -> AppTest:
        return open_signed_in(page, username, query, app_url)

    yield opened
    st.cache_resource.clear()
    shared_engine.cache_clear()


def scope_for(url: str, username: str):
    with new_session(make_engine(url)) as session:
        return scope_of(session=session, user=get_user(session=session, username=username))


# --- 12.2 the default questionnaire ----------------------------------------------------------


def test_qr_page_preselects_the_main_survey_not_the_last_registered(open_page):
    at = open_page("pages/qr.py")
    chosen = at.selectbox[2].value
    assert (chosen.family, chosen.version) == ("dtxhh-haugiang", "2024")
    assert any("Phiếu đang chọn" in c.value and "mặc định" in c.value for c in at.caption)


# --- 12.3 "toàn tỉnh" only for the province ----------------------------------------------------


def test_a_unit_account_never_sees_its_units_labelled_as_the_province(open_page, app_url):
    at = open_page("pages/province.py", username="cuc01", query={"period": "2024-Q4"})
    metrics = {m.label: m.value for m in at.metric}
    assert "Bình quân các đơn vị được xem /22" in metrics
    assert not any("toàn tỉnh" in label for label in metrics)
    assert at.title[0].value == "Tổng hợp các đơn vị được xem"
    table = at.dataframe[0].value
    units = len(table)
    assert 1 < units < 12 and "Hạng (trong phạm vi xem)" in table.columns
    assert table["Hạng (trong phạm vi xem)"].iloc[0].split(" ")[0] == f"1/{units}"  # + rank set
    # the Excel export says the same
    scope = scope_for(app_url, "cuc01")
    with new_session(make_engine(app_url)) as session:
        source = load_source(session=session, family="dtxhh-haugiang", scope=scope)
    report = province_report(source=source, period="2024-Q4", classify=classify)
    sheet = load_workbook(io.BytesIO(province_workbook(report))).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "Hạng trong các đơn vị được xem" in cells
    assert f"Bình quân các đơn vị được xem ({units} đơn vị; không phải toàn tỉnh)" in cells
    assert not any(c.startswith("Toàn tỉnh") for c in cells)


def test_the_province_and_the_admin_see_the_province(open_page):
    for username in ("admin", "so"):
        at = open_page("pages/province.py", username=username, query={"period": "2024-Q4"})
        metrics = {m.label: m.value for m in at.metric}
        assert "Điểm bình quân toàn tỉnh /22" in metrics and metrics["Số đơn vị"] == "12"
        assert at.dataframe[0].value["Hạng"].iloc[0].split(" ")[0] == "1/12"  # + rank set


def test_par_ranking_of_a_unit_account_is_labelled_as_the_units_in_view(open_page):
    at = open_page("pages/par.py", username="cuc01")
    assert any("trong các đơn vị được xem (không phải toàn tỉnh)" in h.value for h in at.subheader)
    admin = open_page("pages/par.py")
    assert any(h.value == "Xếp hạng chỉ số PAR năm 2024" for h in admin.subheader)


# --- 12.5 one confidence level, every label follows it ------------------------------------------


def test_the_pages_follow_survey_ci_level(open_page, monkeypatch):
    monkeypatch.setenv("SURVEY_CI_LEVEL", "0.9")
    monkeypatch.setenv("SURVEY_SESSION_MINUTES", "0.5")  # decimals: no crash
    at = open_page("pages/unit.py", query={"unit": "HG01", "period": "2024"})
    assert any(c.value.startswith("Khoảng tin cậy 90%:") for c in at.caption)
    assert "KTC 90%" in at.dataframe[0].value.columns
    assert not any("95" in c for c in at.dataframe[0].value.columns)
    province = open_page("pages/province.py", query={"period": "2024-Q4"})
    assert "KTC 90%" in province.dataframe[0].value.columns


def test_unit_workbook_honours_lang_and_level(app_url):
    scope = scope_for(app_url, "admin")
    with new_session(make_engine(app_url)) as session:
        source = load_source(session=session, family="dtxhh-haugiang", scope=scope)
        report = unit_report(session=session, source=source, scope=scope, unit="HG01",
                             period="2024", level=0.8)
    english = load_workbook(io.BytesIO(unit_workbook(report, lang="en")))
    assert english.sheetnames == ["Scores", "Method"]
    headers = [c.value for c in english["Scores"][4]]
    assert "80% CI — low" in headers and "Dimension" in headers
    assert english["Scores"]["A" + str(4 + len(report.current.criteria) + 1)].value is None
    vietnamese = load_workbook(io.BytesIO(unit_workbook(report, lang="vi")))
    assert "KTC 80% — dưới" in [c.value for c in vietnamese["Bảng điểm"][4]]


@pytest.mark.parametrize(("name", "value"), [("SURVEY_SESSION_MINUTES", "0"),
                                             ("SURVEY_SESSION_MINUTES", "abc"),
                                             ("SURVEY_CI_LEVEL", "1.5"),
                                             ("SURVEY_BURST_COUNT", "2.5"),
                                             ("SURVEY_DEMO", "maybe")])
def test_a_bad_setting_is_named_with_what_is_expected(name, value):
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value})
    assert name in str(refused.value) and f"“{value}”" in refused.value.render("vi")


def test_settings_accept_decimals_and_percent():
    loaded = load_settings({"SURVEY_SESSION_MINUTES": "0.5", "SURVEY_CI_LEVEL": "90"})
    assert loaded.session_idle_seconds == 30.0 and loaded.confidence_level == 0.9


# --- 12.8 numbers the Vietnamese way ----------------------------------------------------------


def test_ranking_changes_are_signed_and_p_values_bounded(open_page):
    at = open_page("pages/province.py", query={"period": "2024-Q4"})
    table = at.dataframe[0].value
    changes = [c for c in table["Thay đổi"] if c != "—"]
    assert changes and all(c[0] in "+−" or c == "0,00" for c in changes)
    assert not any(p == "0,000" for p in table["p (BH)"])


@pytest.mark.parametrize(("page", "username", "key_column"), [
    ("pages/province.py", "so", "Đơn vị"), ("pages/unit.py", "cuc01", "Tiêu chí"),
    ("pages/home.py", "so", "Đơn vị")])
def test_wide_tables_pin_their_key_column_for_phones(open_page, page, username, key_column):
    """Issue 12: on a phone (390 px) a wide table scrolls sideways; its key column (the unit's
    or the criterion's name) is pinned to the left edge so it stays in view (checked by eye in
    Chromium at 390 px: the names stay while the last columns scroll in)."""
    import json

    at = open_page(page, username)
    configs = [json.loads(frame.proto.columns or "{}") for frame in at.dataframe]
    pinned = [{name for name, config in table.items() if config.get("pinned")}
              for table in configs]
    assert {key_column} in pinned, pinned
