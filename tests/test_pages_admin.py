"""Administration pages, driven through the real entry script with AppTest (on SQLite and
PostgreSQL): outcomes in the database and the audit log, messages, and scope refusals."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest
from tab_session import tab_auth

from survey.admin import LOCAL_TIME
from survey.auth import create_user
from survey.db import make_engine, new_session, shared_engine
from survey.models import Organisation, Response
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths
from survey.storage.audit import read_audit
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import list_questionnaire_versions, register_questionnaire
from survey.storage.users import get_user

ENTRY = str(Path(__file__).resolve().parent.parent / "survey_app.py")
PASSWORD = "correct horse battery"
ADMIN_PAGES = ["pages/admin_units.py", "pages/admin_users.py", "pages/admin_questionnaires.py",
               "pages/admin_import.py", "pages/admin_audit.py"]
GOOD_YAML = """\
id: mini
version: "1"
title: {vi: "Phiếu nhỏ", en: "Small form"}
max_points: 2
scales:
  ab:
    - {code: A, label: {vi: "Tốt"}, score: 1.0}
    - {code: B, label: {vi: "Kém"}, score: 0.0}
criteria:
  - code: "1"
    title: {vi: "Tiêu chí một"}
    points: 2
    questions:
      - {code: "1.1", text: {vi: "Câu một?"}, scale: ab, points: 1}
      - {code: "1.2", text: {vi: "Câu hai?"}, scale: ab, points: 1}
"""


@pytest.fixture(autouse=True)
def fresh_caches():
    """st.cache_resource (the app's engine) survives between AppTests: start clean."""
    streamlit.cache_resource.clear()
    shared_engine.cache_clear()
    yield
    streamlit.cache_resource.clear()
    shared_engine.cache_clear()


@pytest.fixture
def db(db_url, monkeypatch, tmp_path):
    """The app's database: provinces HG (HG01 with HG01a, HG02) and CT (CT01), the shipped
    sipas@2024, and users root (admin), so (province HG), cuc (unit HG01)."""
    monkeypatch.setenv("SURVEY_DATABASE_URL", db_url)
    monkeypatch.setenv("SURVEY_DEMO", "0")
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SURVEY_SECRET", "test-secret-not-for-production")
    engine = make_engine(db_url)
    with new_session(engine) as session:
        for code, name, parent in [("HG", "Tỉnh Hậu Giang", None), ("HG01", "Cục A", "HG"),
                                   ("HG01a", "Chi cục A1", "HG01"), ("HG02", "Cục B", "HG"),
                                   ("CT", "TP Cần Thơ", None), ("CT01", "Cục C", "CT")]:
            add_organisation(session=session, code=code, name=name, parent_code=parent)
        sipas = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml")
        register_questionnaire(session=session, questionnaire=load_questionnaire(sipas))
        for username, role, unit in [("root", "admin", None), ("so", "province", "HG"),
                                     ("cuc", "unit", "HG01")]:
            create_user(session=session, username=username, role=role, organisation_code=unit,
                        password=PASSWORD)
        session.commit()
    session = new_session(engine)
    yield session
    session.close()
    engine.dispose()
    shared_engine(db_url).dispose()


def open_app(username: str, page: str | None = None) -> AppTest:
    """The app signed in as `username`, on `page` when given."""
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state["auth"] = tab_auth(username)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    """The elements' text as shown: Markdown backslash escapes (user text) resolved."""
    return "\n".join(re.sub(r"\\(.)", r"\1", str(e.value)) for e in elements)


def last_audit(session):
    session.expire_all()
    return read_audit(session=session, limit=1).iloc[0]


def dataframes(at) -> list:
    return [d.value for d in at.dataframe]


# --- navigation and scope ------------------------------------------------------------------------


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_every_admin_page_renders_for_an_admin(db, page):
    at = open_app("root", page)
    assert not at.exception and not at.error
    assert at.title[0].value


@pytest.mark.parametrize("page", ["pages/admin_units.py", "pages/admin_users.py",
                                  "pages/admin_questionnaires.py", "pages/admin_audit.py"])
def test_a_unit_user_does_not_get_the_admin_pages(db, page):
    at = open_app("cuc")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)


@pytest.mark.parametrize(("page", "allowed"), [("pages/admin_users.py", True),
                                               ("pages/admin_units.py", False),
                                               ("pages/admin_audit.py", False)])
def test_a_province_user_gets_only_the_pages_of_its_rights(db, page, allowed):
    at = open_app("so")
    if allowed:
        assert not at.switch_page(page).run().exception
    else:
        with pytest.raises(ValueError):
            at.switch_page(page)


def test_a_unit_user_imports_and_sees_only_its_own_unit_codes(db):
    at = open_app("cuc", "pages/admin_import.py")
    units = dataframes(at)[0]
    assert list(units.iloc[:, 0]) == ["HG01", "HG01a"]
    assert not [c for c in at.checkbox if c.key == "import_create_units"]  # no unit creation


def test_a_province_user_chooses_only_units_of_its_province_and_no_admin_role(db):
    at = open_app("so", "pages/admin_users.py")
    options = at.selectbox(key="user_create_unit").options
    assert [o.split(" — ")[0] for o in options] == ["HG", "HG01", "HG01a", "HG02"]
    assert "admin" not in " ".join(at.selectbox(key="user_create_role").options).lower()
    assert set(dataframes(at)[0].iloc[:, 0]) == {"so", "cuc"}  # not root


# --- accounts ------------------------------------------------------------------------------------


def test_creating_an_account_stores_it_audits_it_and_shows_the_password_once(db):
    at = open_app("so", "pages/admin_users.py")
    at.text_input(key="user_create_name").input("chicuc")
    at.selectbox(key="user_create_unit").select_index(2)  # HG01a
    at.button(key="user_create_submit").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "chicuc" in texts(at.success)
    password = at.code[0].value
    user = get_user(session=db, username="chicuc")
    assert user.role == "unit" and db.get(Organisation, user.organisation_id).code == "HG01a"
    assert user.must_change_password
    entry = last_audit(db)
    assert (entry["username"], entry["action"], entry["target"]) == ("so", "user_created", "chicuc")
    at.run()  # the next interaction: the password is gone
    assert password not in [c.value for c in at.code]


def test_the_account_form_chooses_no_unit_and_asks_for_one(db):
    """Issue 12: the unit list starts with the province; the form must not leave a new unit
    account on it. No unit is chosen until the admin chooses one, and saving without one is
    refused in Vietnamese with nothing stored."""
    at = open_app("root", "pages/admin_users.py")
    unit = at.selectbox(key="user_create_unit")
    assert unit.value is None and unit.placeholder == "Chọn đơn vị của tài khoản"
    assert at.selectbox(key="user_create_role").value == "unit"
    at.text_input(key="user_create_name").input("chicuc")
    at.button(key="user_create_submit").click().run()
    assert not at.exception
    assert texts(at.error) == "Vai trò cấp đơn vị cần gắn với một đơn vị: hãy chọn đơn vị."
    assert get_user(session=db, username="chicuc") is None and not at.success
    at.text_input(key="user_create_name").input("chicuc")
    at.selectbox(key="user_create_unit").select("HG01a")
    at.button(key="user_create_submit").click().run()
    db.expire_all()
    user = get_user(session=db, username="chicuc")
    assert user.role == "unit" and db.get(Organisation, user.organisation_id).code == "HG01a"


def test_reset_password_and_deactivate_from_the_users_page(db):
    at = open_app("so", "pages/admin_users.py")
    at.selectbox(key="user_manage_name").select("cuc").run()
    at.button(key="user_reset").click().run()
    assert not at.exception and "cuc" in texts(at.success) and at.code
    assert last_audit(db)["action"] == "password_reset"
    at.button(key="user_deactivate").click().run()
    assert not at.exception and not at.error
    db.expire_all()
    assert not get_user(session=db, username="cuc").active
    assert last_audit(db)["action"] == "user_deactivated"


def test_the_signed_in_user_cannot_deactivate_itself(db):
    at = open_app("so", "pages/admin_users.py")
    at.selectbox(key="user_manage_name").select("so").run()
    at.button(key="user_deactivate").click().run()
    assert not at.exception
    assert texts(at.error) == "Bạn không thể tự khoá tài khoản của chính mình."  # 12.6
    db.expire_all()
    assert get_user(session=db, username="so").active


# --- units ---------------------------------------------------------------------------------------


def test_adding_a_unit_stores_and_audits_it(db):
    at = open_app("root", "pages/admin_units.py")
    at.text_input(key="unit_add_code").input("HG03")
    at.text_input(key="unit_add_name").input("Cục D")
    at.selectbox(key="unit_add_parent").select("HG")
    at.button(key="unit_add_submit").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "HG03" in texts(at.success)
    unit = get_organisation(session=db, code="HG03")
    assert unit.name == "Cục D" and db.get(Organisation, unit.parent_id).code == "HG"
    assert "HG03" in list(dataframes(at)[0].iloc[:, 1])  # the tree shows it after the change
    entry = last_audit(db)
    assert (entry["username"], entry["action"], entry["target"]) == ("root", "unit_added", "HG03")


def test_moving_a_unit_below_itself_shows_an_error_and_changes_nothing(db):
    at = open_app("root", "pages/admin_units.py")
    at.selectbox(key="unit_move_code").select("HG01")
    at.selectbox(key="unit_move_parent").select("HG01a")
    at.button(key="unit_move_submit").click().run()
    assert not at.exception
    assert texts(at.error) == ("Không thể chuyển đơn vị HG01 vào HG01a: HG01a là chính nó hoặc "
                               "đơn vị cấp dưới của nó.")
    db.expire_all()
    assert db.get(Organisation, get_organisation(session=db, code="HG01").parent_id).code == "HG"


def test_the_tree_is_indented(db):
    tree = dataframes(open_app("root", "pages/admin_units.py"))[0]
    labels = dict(zip(tree.iloc[:, 1], tree.iloc[:, 0], strict=True))
    assert labels["HG"] == "Tỉnh Hậu Giang" and labels["HG01a"].strip().startswith("└")
    assert len(labels["HG01a"]) - len(labels["HG01a"].lstrip()) == 2


# --- questionnaires ------------------------------------------------------------------------------


def test_a_bad_yaml_upload_shows_the_files_errors_by_key_path(db):
    at = open_app("root", "pages/admin_questionnaires.py")
    bad = GOOD_YAML.replace("points: 1}", "point: 1}", 1).encode()
    at.file_uploader[0].upload("sai.yaml", bad, "application/x-yaml")
    at.run()
    assert not at.exception
    assert "sai.yaml" in texts(at.error)
    problems = dataframes(at)[-1]
    assert "criteria[0].questions[0].point" in list(problems.iloc[:, 0])
    shown = dict(zip(problems.iloc[:, 0], problems.iloc[:, 1], strict=True))  # key paths kept,
    assert shown["criteria[0].questions[0].point"].startswith("khoá không có")  # Vietnamese text
    assert shown["criteria[0].questions[0].points"] == "thiếu khoá bắt buộc"
    assert not [b for b in at.button if b.key == "questionnaire_register"]
    assert "mini" not in {row.family for row in list_questionnaire_versions(session=db)}


def test_a_good_yaml_is_previewed_then_registered_and_audited(db):
    at = open_app("root", "pages/admin_questionnaires.py")
    at.file_uploader[0].upload("mini.yaml", GOOD_YAML.encode(), "application/x-yaml")
    at.run()
    assert not at.exception and not at.error
    radios = [r for r in at.radio if r.key.startswith("preview_")]
    assert [r.label for r in radios] == ["Câu 1. Câu một?", "Câu 2. Câu hai?"]
    assert all(r.disabled and r.options == ["Tốt", "Kém"] and r.value is None for r in radios)
    assert "Tiêu chí một" in texts(at.markdown)
    at.button(key="questionnaire_register").click().run()
    assert not at.exception and "mini@1" in texts(at.success)
    assert "mini" in {row.family for row in list_questionnaire_versions(session=db)}
    entry = last_audit(db)
    assert (entry["action"], entry["target"]) == ("questionnaire_registered", "mini@1")


def test_a_version_with_responses_is_shown_read_only(db):
    from survey.storage.responses import store_response

    versions = list_questionnaire_versions(session=db)
    sipas = next(v for v in versions if v.family == "sipas")
    store_response(session=db, questionnaire_row=sipas, unit_id=get_organisation(
        session=db, code="HG01").id, period="2024-Q1", group_code=None,
        answers={"TC1": "5"}, idempotency_key="k1")
    text = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml").read_text()
    changed = text.replace("Tiếp cận dịch vụ", "Tiếp cận", 1).encode()
    at = open_app("root", "pages/admin_questionnaires.py")
    at.file_uploader[0].upload("sipas.yaml", changed, "application/x-yaml")
    at.run()
    assert not at.exception
    assert "1 phiếu trả lời nên chỉ đọc" in texts(at.warning)
    assert at.button(key="questionnaire_register").disabled


# --- import --------------------------------------------------------------------------------------

MIXED = b"unit,period,TC1,TC2\nHG01,2024-Q3,5,4\nHG01a,2024-Q3,3,\nHG02,2024-Q3,4,0\n"


def count_responses(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Response)).one()


def open_import(username: str, content: bytes, filename: str = "giay.csv") -> AppTest:
    at = open_app(username, "pages/admin_import.py")
    at.selectbox(key="import_version").select_index(
        [o.startswith("sipas@2024") for o in at.selectbox(key="import_version").options].index(True))
    at.file_uploader[0].upload(filename, content, "text/csv")
    return at.run()


def test_a_unit_user_importing_another_units_row_sees_row_and_column_and_nothing_is_stored(db):
    at = open_import("cuc", MIXED)
    assert not at.exception
    assert "nothing imported" in texts(at.error).lower() or "chưa nhập gì" in texts(at.error)
    problems = dataframes(at)[-1]
    assert problems.iloc[:, :2].values.tolist() == [[4, "unit"]]
    assert "Không có đơn vị mã “HG02”" in problems.iloc[0, 2]
    assert not [b for b in at.button if b.key == "import_confirm"]
    assert count_responses(db) == 0


def test_a_valid_file_is_previewed_then_imported_with_its_count(db):
    at = open_import("cuc", MIXED.replace(b"HG02,", b"HG01,"))
    assert not at.exception and not at.error
    preview = dataframes(at)[-1]
    assert list(preview["unit"]) == ["HG01", "HG01a", "HG01"]
    at.button(key="import_confirm").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "3" in texts(at.success)
    assert count_responses(db) == 3
    entry = last_audit(db)
    assert (entry["username"], entry["action"], entry["target"]) == ("cuc", "import", "giay.csv")
    assert not at.file_uploader[0].value  # emptied for the next file


def test_a_file_repeating_some_imported_rows_is_refused_then_its_new_rows_imported(db):
    at = open_import("so", MIXED)
    at.button(key="import_confirm").click().run()
    assert not at.exception and count_responses(db) == 3
    # saved again: rows shuffled, ';' and a BOM, two new forms in sheet rows 2 and 4
    again = ("\ufeffunit;period;TC2;TC1\nHG02;2024-Q4;1;1\nHG02;2024-Q3;0;4\n"
             "HG01;2024-Q4;2;2\nHG01;2024-Q3;4;5\nHG01a;2024-Q3;;3\n").encode()
    at = open_import("so", again, "giay-tuan-2.csv")
    assert not at.exception
    assert "chưa nhập gì" in texts(at.error)
    problem = dataframes(at)[-1].iloc[0, 2]
    assert problem.startswith("3 dòng đã được nhập trước đây cho phiếu này (“giay.csv” nhập lúc")
    assert "dòng 3, 5, 6." in problem
    assert not [b for b in at.button if b.key == "import_confirm"]
    assert count_responses(db) == 3
    at.checkbox(key="import_only_new_rows").check().run()
    assert not at.exception and not at.error
    assert "Bỏ qua 3 dòng đã nhập trước đây (dòng 3, 5, 6; “giay.csv”" in texts(at.info)
    assert list(dataframes(at)[-1]["unit"]) == ["HG02", "HG01"]
    at.button(key="import_confirm").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "Đã nhập 2 phiếu từ giay-tuan-2.csv. Đã bỏ qua 3 dòng đã nhập trước đây." in texts(
        at.success)
    assert count_responses(db) == 5
    entry = last_audit(db)
    assert (entry["action"], entry["target"]) == ("import", "giay-tuan-2.csv")
    assert '"skipped_rows": 3' in entry["detail"]


def test_a_province_may_create_units_under_its_province(db):
    at = open_app("so", "pages/admin_import.py")
    at.selectbox(key="import_version").select_index(
        [o.startswith("sipas@2024") for o in at.selectbox(key="import_version").options].index(True))
    at.checkbox(key="import_create_units").check().run()
    assert [o.split(" — ")[0] for o in at.selectbox(key="import_parent").options] == [
        "HG", "HG01", "HG01a", "HG02"]
    at.selectbox(key="import_parent").select_index(0)
    at.file_uploader[0].upload("moi.csv", MIXED.replace(b"HG02,", b"HG09,"), "text/csv")
    at.run()
    assert not at.error and "HG09" in texts(at.info)
    at.button(key="import_confirm").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert db.get(Organisation, get_organisation(session=db, code="HG09").parent_id).code == "HG"


# --- audit ---------------------------------------------------------------------------------------


def test_the_audit_page_filters_by_user_action_and_days(db):
    at = open_app("so", "pages/admin_users.py")
    at.selectbox(key="user_manage_name").select("cuc").run()
    at.button(key="user_reset").click().run()
    at = open_app("root", "pages/admin_audit.py")
    assert {"cli", "so"} <= set(at.selectbox(key="audit_user").options)
    at.selectbox(key="audit_action").select("password_reset").run()
    assert dataframes(at)[0].iloc[:, 1:4].values.tolist() == [
        ["so", "Cấp lại mật khẩu dùng một lần", "cuc"]]
    at.selectbox(key="audit_action").select("").run()
    at.selectbox(key="audit_user").select("cli").run()
    assert set(dataframes(at)[0].iloc[:, 2]) == {"Tạo tài khoản"}  # the fixture's accounts
    tomorrow = datetime.now(LOCAL_TIME).date() + timedelta(days=1)
    at.date_input(key="audit_days").set_value((tomorrow, tomorrow)).run()
    assert dataframes(at)[0].empty
    assert not at.exception


def test_the_audit_log_reads_as_vietnamese(db):
    """Issue 12.6: action names and details in words, not raw codes and JSON."""
    at = open_app("root", "pages/admin_units.py")
    at.text_input(key="unit_add_code").input("HG04")
    at.text_input(key="unit_add_name").input("Cục E")
    at.selectbox(key="unit_add_parent").select("HG")
    at.button(key="unit_add_submit").click().run()
    assert not at.error, texts(at.error)
    log = dataframes(open_app("root", "pages/admin_audit.py"))[0]
    row = log[log["Đối tượng"] == "HG04"].iloc[0]
    assert row["Thao tác"] == "Thêm đơn vị"
    assert row["Chi tiết"].startswith("tên: Cục E; trực thuộc: HG")
    assert "{" not in "".join(log["Chi tiết"])


def test_a_unit_code_differing_only_in_case_is_refused_with_the_existing_code(db):
    at = open_app("root", "pages/admin_units.py")
    at.text_input(key="unit_add_code").input("hg01")
    at.text_input(key="unit_add_name").input("Trùng mã")
    at.button(key="unit_add_submit").click().run()
    assert texts(at.error) == ("Đã có đơn vị HG01: mã “hg01” chỉ khác chữ hoa/chữ thường. "
                               "Hãy dùng HG01.")
    assert get_organisation(session=db, code="hg01") is None
