"""Administration use-cases (survey/admin.py): rights, scopes, cycles, and an audit entry for
every change (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from survey import admin
from survey.auth import AccessDenied, LoginRefused, authenticate, create_user, scope_of
from survey.models import Organisation, utcnow
from survey.questionnaire import QuestionnaireError
from survey.storage import StorageError
from survey.storage.audit import read_audit
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import get_questionnaire_version
from survey.storage.users import get_user
from survey.text import render_error

PASSWORD = "correct horse battery"
SMALL_YAML = """\
id: mini
version: "1"
title: {vi: "Phiếu nhỏ", en: "Small form"}
max_points: 2
scales:
  ab:
    - {code: A, label: {vi: "Tốt"}, score: 1.0}
    - {code: B, label: {vi: "Kém"}, score: 0.0}
    - {code: X, label: {vi: "Không có ý kiến"}, score: null}
criteria:
  - code: "1"
    title: {vi: "Tiêu chí một"}
    points: 2
    questions:
      - {code: "1.1", text: {vi: "Câu một?"}, scale: ab, points: 1}
      - {code: "1.2", text: {vi: "Câu hai?"}, scale: ab, points: 1}
"""


@pytest.fixture
def db(session):
    """Two provinces: HG (HG01 with HG01a, HG02) and CT (CT01); an admin, a province user of
    HG and a unit user of HG01."""
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(session=session, code="HG01", name="Cục A", parent_code="HG")
    add_organisation(session=session, code="HG01a", name="Chi cục A1", parent_code="HG01")
    add_organisation(session=session, code="HG02", name="Cục B", parent_code="HG")
    add_organisation(session=session, code="CT", name="TP Cần Thơ")
    add_organisation(session=session, code="CT01", name="Cục C", parent_code="CT")
    for username, role, unit in [("root", "admin", None), ("so", "province", "HG"),
                                 ("cuc", "unit", "HG01"), ("cantho", "province", "CT")]:
        create_user(session=session, username=username, role=role, organisation_code=unit,
                    password=PASSWORD)
    session.commit()
    return session


def scope(session, username):
    return scope_of(session=session, user=get_user(session=session, username=username))


def last_audit(session):
    entry = read_audit(session=session, limit=1).iloc[0]
    return entry["username"], entry["action"], entry["target"], json.loads(entry["detail"] or "{}")


def count_audit(session):
    return len(read_audit(session=session, limit=100_000))


# --- every action is audited -------------------------------------------------------------------

UNIT_ACTIONS = [
    ("unit_added", lambda s, sc: admin.add_unit(session=s, scope=sc, code="HG03", name="Cục D",
                                                parent_code="HG"), "HG03"),
    ("unit_renamed", lambda s, sc: admin.rename_unit(session=s, scope=sc, code="HG02",
                                                     name="Cục B mới"), "HG02"),
    ("unit_moved", lambda s, sc: admin.move_unit(session=s, scope=sc, code="HG01a",
                                                 parent_code="HG02"), "HG01a"),
    ("unit_deactivated", lambda s, sc: admin.deactivate_unit(session=s, scope=sc, code="HG02"),
     "HG02"),
    ("user_created", lambda s, sc: admin.create_account(session=s, scope=sc, username="new",
                                                        role="unit", unit_code="HG02"), "new"),
    ("password_reset", lambda s, sc: admin.reset_password(session=s, scope=sc, username="cuc"),
     "cuc"),
    ("user_role_changed", lambda s, sc: admin.change_role(session=s, scope=sc, username="cuc",
                                                          role="unit", unit_code="HG02"), "cuc"),
    ("user_deactivated", lambda s, sc: admin.deactivate_user(session=s, scope=sc, username="cuc"),
     "cuc"),
    ("questionnaire_registered", lambda s, sc: admin.register_questionnaire_upload(
        session=s, scope=sc, content=SMALL_YAML.encode(), filename="mini.yaml"), "mini@1"),
]


@pytest.mark.parametrize(("action", "run", "target"), UNIT_ACTIONS, ids=[a[0] for a in UNIT_ACTIONS])
def test_every_admin_action_writes_one_audit_entry(db, action, run, target):
    before = count_audit(db)
    run(db, scope(db, "root"))
    assert count_audit(db) == before + 1
    username, logged_action, logged_target, _ = last_audit(db)
    assert (username, logged_action, logged_target) == ("root", action, target)


def test_reactivations_are_audited_and_restore_the_state(db):
    root = scope(db, "root")
    admin.deactivate_unit(session=db, scope=root, code="HG02")
    admin.reactivate_unit(session=db, scope=root, code="HG02")
    assert last_audit(db)[1:3] == ("unit_reactivated", "HG02")
    assert get_organisation(session=db, code="HG02").active
    admin.deactivate_user(session=db, scope=root, username="cuc")
    with pytest.raises(LoginRefused):
        authenticate(session=db, username="cuc", password=PASSWORD)
    admin.reactivate_user(session=db, scope=root, username="cuc")
    assert last_audit(db)[1:3] == ("user_reactivated", "cuc")
    assert authenticate(session=db, username="cuc", password=PASSWORD).username == "cuc"


def test_audit_detail_records_before_and_after(db):
    admin.rename_unit(session=db, scope=scope(db, "root"), code="HG02", name="  Cục B mới ")
    assert last_audit(db)[3] == {"from": "Cục B", "to": "Cục B mới"}
    admin.change_role(session=db, scope=scope(db, "root"), username="cuc", role="province",
                      unit_code="HG")
    assert last_audit(db)[3] == {"from": {"role": "unit", "unit": "HG01"},
                                 "to": {"role": "province", "unit": "HG"}}


def test_a_refused_action_changes_nothing_and_is_not_audited(db):
    before = count_audit(db)
    with pytest.raises(StorageError, match="must not be empty"):
        admin.rename_unit(session=db, scope=scope(db, "root"), code="HG02", name="   ")
    assert count_audit(db) == before
    db.expire_all()
    assert get_organisation(session=db, code="HG02").name == "Cục B"


def test_reset_password_gives_a_one_time_password_that_signs_in_once_changed(db):
    password = admin.reset_password(session=db, scope=scope(db, "so"), username="cuc")
    user = authenticate(session=db, username="cuc", password=password)
    assert user.must_change_password
    with pytest.raises(LoginRefused):
        authenticate(session=db, username="cuc", password=PASSWORD)


# --- scope refusals ------------------------------------------------------------------------------


def test_a_unit_user_cannot_rename_another_unit_nor_its_own(db):
    cuc = scope(db, "cuc")
    for code in ("HG02", "HG01"):  # no "units" right at all
        with pytest.raises(AccessDenied, match="may not manage units"):
            admin.rename_unit(session=db, scope=cuc, code=code, name="Đổi tên")
    assert get_organisation(session=db, code="HG02").name == "Cục B"


def test_a_unit_user_cannot_manage_users(db):
    cuc = scope(db, "cuc")
    with pytest.raises(AccessDenied, match="may not manage accounts"):
        admin.create_account(session=db, scope=cuc, username="x", role="unit", unit_code="HG01a")
    with pytest.raises(AccessDenied):
        admin.users_table(session=db, scope=cuc)
    with pytest.raises(AccessDenied):
        admin.reset_password(session=db, scope=cuc, username="cuc")


def test_a_province_user_cannot_create_an_admin(db):
    so = scope(db, "so")
    with pytest.raises(AccessDenied, match="only an admin"):
        admin.create_account(session=db, scope=so, username="boss", role="admin", unit_code=None)
    with pytest.raises(AccessDenied, match="only an admin"):
        admin.change_role(session=db, scope=so, username="cuc", role="admin", unit_code=None)
    assert get_user(session=db, username="boss") is None
    assert get_user(session=db, username="cuc").role == "unit"


def test_a_province_user_cannot_create_a_user_outside_its_province(db):
    so = scope(db, "so")
    with pytest.raises(AccessDenied) as outside:
        admin.create_account(session=db, scope=so, username="x", role="unit", unit_code="CT01")
    with pytest.raises(AccessDenied) as unknown:
        admin.create_account(session=db, scope=so, username="x", role="unit", unit_code="NOPE")
    # The same message for another province's unit and a unit that does not exist.
    assert str(outside.value).replace("CT01", "?") == str(unknown.value).replace("NOPE", "?")
    assert get_user(session=db, username="x") is None
    user, password = admin.create_account(session=db, scope=so, username="x", role="unit",
                                          unit_code="HG01a")
    assert user.organisation_id == get_organisation(session=db, code="HG01a").id
    assert last_audit(db)[:2] == ("so", "user_created")


def test_a_unit_account_is_never_placed_on_the_whole_province(db):
    """Issue 12: a unit account needs a unit; one on the province itself would see the whole
    province. Refused with a message naming the province, nothing stored or audited."""
    province = get_organisation(session=db, code="HG")
    province.kind = "province"
    db.add(province)
    db.commit()
    before = count_audit(db)
    for unit_code in (None, "HG"):
        with pytest.raises(StorageError) as refused:
            admin.create_account(session=db, scope=scope(db, "root"), username="x", role="unit",
                                 unit_code=unit_code)
        assert render_error(refused.value, "vi").startswith(
            "Vai trò cấp đơn vị cần gắn với một đơn vị" if unit_code is None
            else "“HG — Tỉnh Hậu Giang” là cả tỉnh: tài khoản cấp đơn vị cần gắn với một đơn vị")
    with pytest.raises(StorageError):
        admin.change_role(session=db, scope=scope(db, "root"), username="cuc", role="unit",
                          unit_code="HG")
    assert get_user(session=db, username="x") is None and count_audit(db) == before
    user, _password = admin.create_account(session=db, scope=scope(db, "root"), username="x",
                                           role="province", unit_code="HG")
    assert user.role == "province"


def test_a_province_user_sees_and_edits_only_users_of_its_province(db):
    so = scope(db, "so")
    assert set(admin.users_table(session=db, scope=so)["username"]) == {"so", "cuc"}
    for username in ("root", "cantho", "ghost"):
        with pytest.raises(AccessDenied, match="does not exist or is outside your scope"):
            admin.reset_password(session=db, scope=so, username=username)
        with pytest.raises(AccessDenied):
            admin.deactivate_user(session=db, scope=so, username=username)
    with pytest.raises(AccessDenied):  # moving its own user to another province
        admin.change_role(session=db, scope=so, username="cuc", role="unit", unit_code="CT01")
    assert get_user(session=db, username="cantho").active


def test_a_province_user_has_no_unit_questionnaire_or_audit_rights(db):
    so = scope(db, "so")
    with pytest.raises(AccessDenied):
        admin.add_unit(session=db, scope=so, code="HG09", name="X", parent_code="HG")
    with pytest.raises(AccessDenied):
        admin.register_questionnaire_upload(session=db, scope=so, content=SMALL_YAML.encode(),
                                            filename="mini.yaml")
    with pytest.raises(AccessDenied):
        admin.audit_log(session=db, scope=so)


def test_nobody_changes_their_own_role_or_deactivates_themselves(db):
    root = scope(db, "root")
    with pytest.raises(AccessDenied, match="your own"):
        admin.change_role(session=db, scope=root, username="root", role="unit", unit_code="HG01")
    with pytest.raises(AccessDenied, match="your own"):
        admin.deactivate_user(session=db, scope=root, username="root")


def test_the_last_active_admin_is_kept(db):
    with pytest.raises(StorageError, match="last active admin"):
        admin.deactivate_user(session=db, scope=admin.CLI_SCOPE, username="root")
    with pytest.raises(StorageError, match="last active admin"):
        admin.change_role(session=db, scope=admin.CLI_SCOPE, username="root", role="unit",
                          unit_code="HG01")
    admin.create_account(session=db, scope=admin.CLI_SCOPE, username="root2", role="admin",
                         unit_code=None)
    admin.deactivate_user(session=db, scope=admin.CLI_SCOPE, username="root")
    assert last_audit(db)[:3] == ("cli", "user_deactivated", "root")


# --- the unit tree -------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "parent"), [("HG01", "HG01"), ("HG01", "HG01a"), ("HG", "HG01a")])
def test_move_under_itself_or_a_descendant_is_refused(db, code, parent):
    before = count_audit(db)
    with pytest.raises(StorageError, match="itself or one of its sub-units"):
        admin.move_unit(session=db, scope=scope(db, "root"), code=code, parent_code=parent)
    assert count_audit(db) == before
    db.expire_all()
    assert get_organisation(session=db, code="HG01a").parent_id == get_organisation(
        session=db, code="HG01").id


def test_move_carries_the_subtree_and_follows_kinds(db):
    root = scope(db, "root")
    admin.move_unit(session=db, scope=root, code="HG01", parent_code="CT")
    assert last_audit(db)[3] == {"from": "HG", "to": "CT"}
    # The unit user of HG01 now sees its unit under CT, and the province user of HG no longer.
    assert {"HG01", "HG01a"} <= set(admin.unit_tree(session=db, scope=scope(db, "cantho"))["code"])
    assert "HG01" not in set(admin.unit_tree(session=db, scope=scope(db, "so"))["code"])
    admin.move_unit(session=db, scope=root, code="HG02", parent_code="HG01")
    assert get_organisation(session=db, code="HG02").kind == "subunit"
    admin.move_unit(session=db, scope=root, code="HG01", parent_code=None)
    assert [get_organisation(session=db, code=c).kind for c in ("HG01", "HG01a", "HG02")] == [
        "province", "unit", "unit"]


def test_unit_tree_is_depth_first_and_indented(db):
    tree = admin.unit_tree(session=db, scope=scope(db, "root"))
    assert list(tree["code"]) == ["CT", "CT01", "HG", "HG01", "HG01a", "HG02"]
    assert list(tree["depth"]) == [0, 1, 0, 1, 2, 1]
    assert tree.set_index("code").loc["HG01a", "label"].endswith("└ Chi cục A1")
    unit_tree = admin.unit_tree(session=db, scope=scope(db, "cuc"))
    assert list(unit_tree["code"]) == ["HG01", "HG01a"] and list(unit_tree["depth"]) == [0, 1]


def test_deactivation_needs_the_sub_units_gone_and_reactivation_the_parent(db):
    root = scope(db, "root")
    with pytest.raises(StorageError, match="active sub-units .*HG01a"):
        admin.deactivate_unit(session=db, scope=root, code="HG01")
    admin.deactivate_unit(session=db, scope=root, code="HG01a")
    admin.deactivate_unit(session=db, scope=root, code="HG01")
    with pytest.raises(StorageError, match="reactivate it first"):
        admin.reactivate_unit(session=db, scope=root, code="HG01a")
    with pytest.raises(StorageError, match="deactivated"):
        admin.create_account(session=db, scope=root, username="x", role="unit", unit_code="HG01")
    with pytest.raises(StorageError, match="deactivated"):
        admin.move_unit(session=db, scope=root, code="HG02", parent_code="HG01")
    assert "HG01" in set(admin.unit_tree(session=db, scope=root)["code"])
    assert "HG01" not in set(admin.unit_tree(session=db, scope=root, include_inactive=False)["code"])


def test_add_unit_checks_the_parent_and_the_code(db):
    root = scope(db, "root")
    with pytest.raises(AccessDenied):
        admin.add_unit(session=db, scope=root, code="X1", name="X", parent_code="NOPE")
    with pytest.raises(StorageError, match="already exists"):
        admin.add_unit(session=db, scope=root, code="HG01", name="X", parent_code="HG")
    unit = admin.add_unit(session=db, scope=root, code="HG01b", name="Chi cục A2", parent_code="HG01")
    assert unit.kind == "subunit" and db.get(Organisation, unit.parent_id).code == "HG01"


# --- questionnaires ------------------------------------------------------------------------------


def test_registering_a_bad_file_names_the_key_path_and_stores_nothing(db):
    bad = SMALL_YAML.replace("points: 1}", "point: 1}", 1)
    with pytest.raises(QuestionnaireError) as error:
        admin.register_questionnaire_upload(session=db, scope=scope(db, "root"),
                                            content=bad.encode(), filename="bad.yaml")
    paths = [path for path, _ in error.value.problems]
    assert "criteria[0].questions[0].point" in paths
    assert "criteria[0].questions[0].points" in paths
    with pytest.raises(StorageError):
        get_questionnaire_version(session=db, reference="mini")


def test_a_version_with_responses_is_read_only(db):
    from survey.storage.responses import store_response

    root = scope(db, "root")
    row, outcome = admin.register_questionnaire_upload(
        session=db, scope=root, content=SMALL_YAML.encode(), filename="mini.yaml")
    assert outcome == "added"
    changed = SMALL_YAML.replace("Câu một?", "Câu một, sửa?").encode()
    questionnaire = admin.read_questionnaire_upload(changed, "mini.yaml")
    assert not admin.check_registration(session=db, questionnaire=questionnaire).read_only
    store_response(session=db, questionnaire_row=row, unit_id=get_organisation(
        session=db, code="HG01").id, period="2024-Q1", group_code=None,
        answers={"1.1": "A"}, idempotency_key="k1")
    check = admin.check_registration(session=db, questionnaire=questionnaire)
    assert check.read_only and check.responses == 1
    with pytest.raises(StorageError, match="already has responses"):
        admin.register_questionnaire_upload(session=db, scope=root, content=changed,
                                            filename="mini.yaml")
    table = admin.questionnaire_versions_table(session=db, scope=root)
    assert table.set_index("family").loc["mini", "read_only"]


# --- audit log -----------------------------------------------------------------------------------


def test_audit_log_filters_by_user_action_and_days(db):
    root = scope(db, "root")
    admin.rename_unit(session=db, scope=root, code="HG02", name="Cục B2")
    admin.reset_password(session=db, scope=scope(db, "so"), username="cuc")
    log = admin.audit_log(session=db, scope=root, username="so")
    assert list(log["action"]) == ["password_reset"]
    assert list(admin.audit_log(session=db, scope=root, action="unit_renamed")["target"]) == ["HG02"]
    today = utcnow().astimezone(admin.LOCAL_TIME).date()
    assert len(admin.audit_log(session=db, scope=root, start=today, end=today)) >= 2
    assert admin.audit_log(session=db, scope=root, end=today - timedelta(days=1)).empty
    assert admin.audit_log(session=db, scope=root, start=today + timedelta(days=1)).empty
    users, actions = admin.audit_choices(session=db, scope=root)
    assert {"root", "so"} <= set(users) and {"unit_renamed", "password_reset"} <= set(actions)


# --- command line --------------------------------------------------------------------------------


def run_cli(capsys, *argv):
    from survey.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_unit_and_user_commands_change_and_audit_as_cli(cli_env, capsys):
    for argv in [("unit", "add", "HG", "--name", "Tỉnh HG"),
                 ("unit", "add", "HG01", "--name", "Cục A", "--parent", "HG"),
                 ("unit", "add", "HG02", "--name", "Cục B", "--parent", "HG"),
                 ("user", "add", "root", "--role", "admin", "--one-time"),
                 ("user", "add", "cuc", "--role", "unit", "--unit", "HG01", "--one-time"),
                 ("unit", "rename", "HG01", "--name", "Cục A mới"),
                 ("unit", "move", "HG02", "--parent", "HG01"),
                 ("unit", "deactivate", "HG02"),
                 ("unit", "reactivate", "HG02"),
                 ("user", "set-role", "cuc", "--role", "province", "--unit", "HG"),
                 ("user", "deactivate", "cuc")]:
        code, _out, err = run_cli(capsys, *argv)
        assert code == 0, (argv, err)
    code, _out, err = run_cli(capsys, "unit", "move", "HG01", "--parent", "HG02")
    assert code == 2 and "itself or one of its sub-units" in err
    code, _out, err = run_cli(capsys, "user", "deactivate", "root")
    assert code == 2 and "last active admin" in err
    code, out, _err = run_cli(capsys, "audit", "list", "--user", "cli", "--json")
    entries = json.loads(out)
    assert [e["action"] for e in entries][:6] == [
        "user_deactivated", "user_role_changed", "unit_reactivated", "unit_deactivated",
        "unit_moved", "unit_renamed"]
    assert entries[1]["detail"] == {"from": {"role": "unit", "unit": "HG01"},
                                    "to": {"role": "province", "unit": "HG"}}
    code, out, _err = run_cli(capsys, "audit", "list", "--action", "unit_moved")
    assert code == 0 and out.count("\n") == 1 and "\tcli\tunit_moved\tHG02\t" in out


@pytest.mark.parametrize("argv", [("unit", "rename"), ("unit", "move"), ("unit", "deactivate"),
                                  ("unit", "reactivate"), ("user", "set-role"),
                                  ("user", "deactivate"), ("user", "reactivate"),
                                  ("audit", "list")])
def test_every_new_command_has_help(capsys, argv):
    from survey.cli import build_parser

    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*argv, "--help"])
    assert done.value.code == 0 and "usage: survey" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"[" * 5000, b"\xff\xfe not utf-8",
                                     SMALL_YAML.replace("text: {vi: \"C\u00e2u m\u1ed9t?\"}",
                                                        "text: {vi: \"C\u00e2u m\u1ed9t?\"}, help: {en: x}").encode()])
def test_an_unreadable_upload_is_a_questionnaire_error_not_a_crash(content):
    with pytest.raises(QuestionnaireError) as error:
        admin.read_questionnaire_upload(content, "hostile.yaml")
    assert error.value.problems and error.value.source == "hostile.yaml"


def test_transaction_counts_are_checked_against_the_scope_and_audited(db):
    from survey.storage.transactions import transactions_in

    admin.record_transactions(session=db, scope=scope(db, "cuc"), unit_code="HG01a",
                              counts={"2024-Q1": 120, "Q2/2024": 80})
    assert last_audit(db) == ("cuc", "transactions_recorded", "HG01a",
                              {"2024-Q1": 120, "2024-Q2": 80})
    unit = get_organisation(session=db, code="HG01a")
    assert transactions_in(session=db, unit_id=unit.id, quarters=["2024-Q1", "2024-Q2"]) == {
        "2024-Q1": 120, "2024-Q2": 80}
    before = count_audit(db)
    with pytest.raises(AccessDenied):  # HG02 is not below the unit account's HG01
        admin.record_transactions(session=db, scope=scope(db, "cuc"), unit_code="HG02",
                                  counts={"2024-Q1": 5})
    db.rollback()
    assert count_audit(db) == before
    other = get_organisation(session=db, code="HG02")
    assert transactions_in(session=db, unit_id=other.id, quarters=["2024-Q1"]) == {}


def test_a_province_account_cannot_reset_another_province_accounts_password(db):
    """Decision documented in admin.reset_password: resets only go downwards."""
    create_user(session=db, username="so2", role="province", organisation_code="HG",
                password=PASSWORD)
    db.commit()
    before = get_user(session=db, username="so2").password_hash
    with pytest.raises(AccessDenied, match="only an admin may reset"):
        admin.reset_password(session=db, scope=scope(db, "so"), username="so2")
    db.rollback()
    assert get_user(session=db, username="so2").password_hash == before
    assert admin.reset_password(session=db, scope=scope(db, "root"), username="so2")
    assert admin.reset_password(session=db, scope=scope(db, "so"), username="cuc")  # downwards
