"""Accounts: hashing, throttled login, scopes (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from survey.auth import (
    AccessDenied,
    LoginRefused,
    authenticate,
    create_user,
    hash_password,
    login_delay,
    require_unit,
    scope_of,
    seconds_until_allowed,
    verify_password,
    visible_organisations,
)
from survey.models import utcnow
from survey.storage import StorageError
from survey.storage.audit import read_audit
from survey.storage.organisations import add_organisation

PASSWORD = "correct horse battery"


@pytest.fixture
def tree(session):
    """Province HG with units HG01 (sub-unit HG01a) and HG02."""
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(session=session, code="HG01", name="Cục A", parent_code="HG")
    add_organisation(session=session, code="HG01a", name="Chi cục A1", parent_code="HG01")
    add_organisation(session=session, code="HG02", name="Cục B", parent_code="HG")
    session.commit()
    return session


def test_hash_is_argon2_and_verifies_only_the_right_password():
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "x")
    assert not verify_password("not a hash", PASSWORD)


def test_short_password_is_refused():
    with pytest.raises(StorageError, match="ít nhất 10 ký tự"):
        hash_password("short")


@pytest.mark.parametrize(("failures", "delay"), [(0, 0), (2, 0), (3, 2), (4, 4), (5, 8), (40, 900)])
def test_login_delay_grows_then_caps(failures, delay):
    assert login_delay(failures) == delay


def test_create_user_without_password_prints_one_time_password(tree):
    user, generated = create_user(session=tree, username="boss", role="admin", organisation_code=None)
    tree.commit()
    assert generated and len(generated) >= 12
    assert user.must_change_password
    assert authenticate(session=tree, username="boss", password=generated).username == "boss"


def test_roles_need_a_unit_and_the_unit_must_exist(tree):
    with pytest.raises(StorageError, match="needs a unit"):
        create_user(session=tree, username="u", role="unit", organisation_code=None, password=PASSWORD)
    with pytest.raises(StorageError, match="does not exist"):
        create_user(session=tree, username="u", role="unit", organisation_code="NOPE", password=PASSWORD)
    with pytest.raises(StorageError, match="role"):
        create_user(session=tree, username="u", role="king", organisation_code="HG", password=PASSWORD)


def test_wrong_password_and_unknown_user_get_the_same_message(tree):
    create_user(session=tree, username="a", role="admin", organisation_code=None, password=PASSWORD)
    tree.commit()
    with pytest.raises(LoginRefused) as wrong:
        authenticate(session=tree, username="a", password="nope-nope-nope")
    with pytest.raises(LoginRefused) as unknown:
        authenticate(session=tree, username="ghost", password="nope-nope-nope")
    assert str(wrong.value) == str(unknown.value)


def test_repeated_failures_lock_with_growing_delay_and_are_audited(tree):
    create_user(session=tree, username="a", role="admin", organisation_code=None, password=PASSWORD)
    tree.commit()
    for _ in range(3):
        with pytest.raises(LoginRefused) as refused:
            authenticate(session=tree, username="a", password="wrong-password")
        assert refused.value.retry_after == 0
    # Fourth attempt: refused before the password is even checked, even the right one.
    with pytest.raises(LoginRefused) as locked:
        authenticate(session=tree, username="a", password=PASSWORD)
    assert 0 < locked.value.retry_after <= 2
    later = utcnow() + timedelta(seconds=3)
    assert seconds_until_allowed(session=tree, username="a", now=later) == 0
    audit = read_audit(session=tree)
    assert (audit["action"] == "login_failed").sum() == 3


def test_inactive_user_cannot_sign_in(tree):
    user, _ = create_user(session=tree, username="a", role="admin", organisation_code=None,
                          password=PASSWORD)
    user.active = False
    tree.commit()
    with pytest.raises(LoginRefused):
        authenticate(session=tree, username="a", password=PASSWORD)


def test_successful_login_resets_the_failure_count(tree):
    create_user(session=tree, username="a", role="admin", organisation_code=None, password=PASSWORD)
    tree.commit()
    for _ in range(2):
        with pytest.raises(LoginRefused):
            authenticate(session=tree, username="a", password="wrong-password")
    authenticate(session=tree, username="a", password=PASSWORD)
    assert seconds_until_allowed(session=tree, username="a") == 0


def test_scopes_follow_the_unit_tree(tree):
    admin, _ = create_user(session=tree, username="root", role="admin", organisation_code=None,
                           password=PASSWORD)
    province, _ = create_user(session=tree, username="so", role="province", organisation_code="HG",
                              password=PASSWORD)
    unit, _ = create_user(session=tree, username="cuc", role="unit", organisation_code="HG01",
                          password=PASSWORD)
    tree.commit()
    codes = {
        name: {o.code for o in visible_organisations(session=tree, scope=scope_of(session=tree, user=user))}
        for name, user in [("admin", admin), ("province", province), ("unit", unit)]
    }
    assert codes["admin"] == {"HG", "HG01", "HG01a", "HG02"}
    assert codes["province"] == {"HG", "HG01", "HG01a", "HG02"}
    assert codes["unit"] == {"HG01", "HG01a"}
    unit_scope = scope_of(session=tree, user=unit)
    assert require_unit(session=tree, scope=unit_scope, code="HG01a").code == "HG01a"
    with pytest.raises(AccessDenied) as other:
        require_unit(session=tree, scope=unit_scope, code="HG02")
    with pytest.raises(AccessDenied) as missing:
        require_unit(session=tree, scope=unit_scope, code="NOPE")
    assert "outside your scope" in str(other.value)
    assert str(other.value).replace("HG02", "X") == str(missing.value).replace("NOPE", "X")
    assert unit_scope.can_manage("imports") and not unit_scope.can_manage("users")
    assert scope_of(session=tree, user=province).can_manage("users")
    assert not scope_of(session=tree, user=province).can_manage("audit")


def test_an_account_of_a_deactivated_unit_cannot_sign_in(tree):
    create_user(session=tree, username="cuc", role="unit", organisation_code="HG02", password=PASSWORD)
    tree.commit()
    assert authenticate(session=tree, username="cuc", password=PASSWORD).username == "cuc"
    from survey.storage.organisations import get_organisation

    get_organisation(session=tree, code="HG02").active = False
    tree.commit()
    with pytest.raises(LoginRefused):
        authenticate(session=tree, username="cuc", password=PASSWORD)
