"""Signed campaign links: tokens, campaign life cycle, and the `survey campaign` commands."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from survey.bootstrap import register_shipped_questionnaires
from survey.cli import main
from survey.links import (
    LinkError,
    campaign_token,
    make_token,
    open_campaign_link,
    read_token,
    resolve_link,
)
from survey.qr import qr_version
from survey.storage import StorageError
from survey.storage.campaigns import (
    close_campaign,
    list_campaign_summaries,
    open_campaign,
    revoke_campaign,
    rotate_campaign_link,
)
from survey.storage.organisations import add_organisation, get_organisation
from survey.storage.questionnaires import get_questionnaire_version

SECRET = b"test-secret"
NOW = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def units(engine, session):
    """A province HG with two units and the shipped questionnaires."""
    register_shipped_questionnaires(engine)
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(
        session=session, code="HG01", name="Cục Thi hành án dân sự tỉnh Hậu Giang", parent_code="HG"
    )
    add_organisation(
        session=session, code="HG02", name="Chi cục Thi hành án dân sự Vị Thanh", parent_code="HG01"
    )
    session.commit()
    return session


def _link(session, unit="HG01", **kwargs):
    return open_campaign_link(actor="test",
        session=session, unit_code=unit, period="2024-Q3", questionnaire="dtxhh-haugiang", **kwargs
    )


# --- tokens without a database -------------------------------------------------------


def test_token_round_trip_is_compact():
    token = make_token(
        campaign_id=7, generation=3, expires_at=NOW + timedelta(days=1), secret=SECRET
    )
    assert len(token) == 32 and token.replace("-", "").replace("_", "").isalnum()
    claims = read_token(token, secret=SECRET, now=NOW)
    assert (claims.campaign_id, claims.generation) == (7, 3)
    assert claims.expires_at == NOW + timedelta(days=1)


def test_link_fits_a_small_qr_code():
    token = make_token(campaign_id=123456, generation=9, expires_at=NOW, secret=SECRET)
    assert qr_version(f"https://khaosat.haugiang.gov.vn/s/{token}") <= 5


@pytest.mark.parametrize("position", [0, 3, 5, 12, 20, 31])
def test_any_changed_character_is_tampering(position):
    token = make_token(
        campaign_id=7, generation=1, expires_at=NOW + timedelta(days=1), secret=SECRET
    )
    replacement = "B" if token[position] != "B" else "C"
    forged = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(LinkError) as caught:
        read_token(forged, secret=SECRET, now=NOW)
    assert caught.value.reason == "tampered"


@pytest.mark.parametrize(
    "token", ["", "abc", "A" * 31, "A" * 33, "é" * 32, "A" * 31 + "=", "!" * 32]
)
def test_malformed_tokens_are_tampering(token):
    with pytest.raises(LinkError) as caught:
        read_token(token, secret=SECRET, now=NOW)
    assert caught.value.reason == "tampered"


def test_another_secret_is_tampering():
    token = make_token(
        campaign_id=7, generation=1, expires_at=NOW + timedelta(days=1), secret=SECRET
    )
    with pytest.raises(LinkError, match="signature"):
        read_token(token, secret=b"another-secret", now=NOW)


def test_a_forged_campaign_id_is_tampering():
    token = make_token(
        campaign_id=7, generation=1, expires_at=NOW + timedelta(days=1), secret=SECRET
    )
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    raw[4] ^= 1  # campaign 7 → 6, signature unchanged
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(LinkError) as caught:
        read_token(forged, secret=SECRET, now=NOW)
    assert caught.value.reason == "tampered"


def test_expired_token():
    token = make_token(campaign_id=7, generation=1, expires_at=NOW, secret=SECRET)
    with pytest.raises(LinkError) as caught:
        read_token(token, secret=SECRET, now=NOW)
    assert caught.value.reason == "expired"
    assert read_token(token, secret=SECRET, now=NOW, allow_expired=True).campaign_id == 7
    assert read_token(token, secret=SECRET, now=NOW - timedelta(seconds=1)).campaign_id == 7


def test_naive_timestamps_are_utc():
    naive = make_token(campaign_id=7, generation=1, expires_at=datetime(2024, 9, 1), secret=SECRET)
    aware = make_token(
        campaign_id=7, generation=1, expires_at=datetime(2024, 9, 1, tzinfo=UTC), secret=SECRET
    )
    assert naive == aware


# --- links of stored campaigns ----------------------------------------------------------


def test_open_then_reuse(units):
    first = _link(units)
    again = _link(units)
    assert first.created and not again.created
    assert again.campaign.id == first.campaign.id and again.url == first.url
    assert first.url.startswith("http://localhost:8501/s/")
    assert resolve_link(session=units, token=first.url.rsplit("/", 1)[1]).id == first.campaign.id


def test_base_url_from_environment(units, monkeypatch):
    monkeypatch.setenv("SURVEY_BASE_URL", "https://khaosat.example.vn/")
    assert _link(units).url.startswith("https://khaosat.example.vn/s/")


def test_new_campaign_runs_ninety_days_and_days_sets_expiry(units):
    version = get_questionnaire_version(session=units, reference="dtxhh-haugiang")
    unit_id = _link(units).unit.id
    campaign, _ = open_campaign(
        session=units, unit_id=unit_id, period="2024-Q4", version_id=version.id, now=NOW
    )
    assert campaign.expires_at == NOW + timedelta(days=90)
    again, created = open_campaign(
        session=units, unit_id=unit_id, period="2024-Q4", version_id=version.id, days=10, now=NOW
    )
    assert not created and again.expires_at == NOW + timedelta(days=10)
    with pytest.raises(StorageError, match="days"):
        open_campaign(
            session=units, unit_id=unit_id, period="2024-Q4", version_id=version.id, days=0
        )


def test_open_needs_a_quarter_and_known_unit(units):
    with pytest.raises(ValueError, match="quarter"):
        open_campaign_link(actor="test", session=units, unit_code="HG01", period="2024", questionnaire="sipas")
    with pytest.raises(StorageError, match="XX"):
        open_campaign_link(actor="test", session=units, unit_code="XX", period="2024-Q3", questionnaire="sipas")


def test_an_expired_open_campaign_is_replaced(units):
    version = get_questionnaire_version(session=units, reference="sipas")
    unit_id = _link(units).unit.id
    old, _ = open_campaign(
        session=units, unit_id=unit_id, period="2024-Q3", version_id=version.id, days=1, now=NOW
    )
    new, created = open_campaign(
        session=units,
        unit_id=unit_id,
        period="2024-Q3",
        version_id=version.id,
        now=NOW + timedelta(days=2),
    )
    assert created and new.id != old.id and old.status == "closed"


@pytest.mark.parametrize(
    ("end", "reason"), [(close_campaign, "closed"), (revoke_campaign, "revoked")]
)
def test_closed_and_revoked_links_stop_working(units, end, reason):
    link = _link(units)
    token = link.url.rsplit("/", 1)[1]
    end(session=units, campaign=link.campaign)
    units.commit()
    with pytest.raises(LinkError) as caught:
        resolve_link(session=units, token=token)
    assert caught.value.reason == reason
    with pytest.raises(StorageError, match="already"):
        end(session=units, campaign=link.campaign)


def test_rotation_invalidates_older_links(units):
    link = _link(units)
    old_token = campaign_token(link.campaign)
    rotate_campaign_link(session=units, campaign=link.campaign)
    units.commit()
    new_token = campaign_token(link.campaign)
    assert new_token != old_token
    with pytest.raises(LinkError) as caught:
        resolve_link(session=units, token=old_token)
    assert caught.value.reason == "rotated"
    assert resolve_link(session=units, token=new_token).link_generation == 2


def test_expiry_of_the_campaign_row_counts_too(units):
    link = _link(units)
    token = campaign_token(link.campaign)
    with pytest.raises(LinkError) as caught:
        resolve_link(session=units, token=token, now=datetime.now(UTC) + timedelta(days=91))
    assert caught.value.reason == "expired"


def test_a_deleted_campaign_is_unknown(units):
    token = make_token(campaign_id=999, generation=1, expires_at=NOW + timedelta(days=9999))
    with pytest.raises(LinkError) as caught:
        resolve_link(session=units, token=token)
    assert caught.value.reason == "unknown"


def test_summaries_count_responses(units):
    from survey.storage.responses import store_response

    link = _link(units)
    for number, flagged in enumerate([False, True, False]):
        store_response(
            session=units,
            questionnaire_row=link.version,
            unit_id=link.unit.id,
            period="2024-Q3",
            group_code="DAN",
            answers={"1.1": "A"},
            idempotency_key=f"k{number}",
            campaign_id=link.campaign.id,
            flagged=flagged,
            flag_reason="burst" if flagged else None,
        )
    _link(units, unit="HG02")
    summaries = list_campaign_summaries(session=units)
    assert [(s.unit_code, s.responses, s.flagged) for s in summaries] == [
        ("HG01", 3, 1),
        ("HG02", 0, 0),
    ]
    assert list_campaign_summaries(session=units, status="closed") == []


# --- the command line ---------------------------------------------------------------------


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_units(cli_env, capsys):
    assert main(["init"]) == 0
    assert main(["unit", "add", "HG", "--name", "Tỉnh Hậu Giang"]) == 0
    assert main(["unit", "add", "HG01", "--name", "Cục THADS Hậu Giang", "--parent", "HG"]) == 0
    assert (
        main(["unit", "add", "HG02", "--name", "Chi cục THADS Vị Thanh", "--parent", "HG01"]) == 0
    )
    capsys.readouterr()


def test_cli_open_prints_the_url_and_reuses(cli_units, capsys, monkeypatch):
    monkeypatch.setenv("SURVEY_BASE_URL", "https://ks.example.vn")
    args = [
        "campaign",
        "open",
        "--unit",
        "HG01",
        "--period",
        "2024-Q3",
        "--questionnaire",
        "dtxhh-haugiang@2024",
        "--allow-ended-period",  # 2024-Q3 has ended
    ]
    code, out, err = run(capsys, *args)
    assert code == 0 and out.startswith("https://ks.example.vn/s/") and "opened" in err
    code, again, err = run(capsys, *args)
    assert again == out and "reused" in err


def test_cli_close_revoke_rotate_and_list(cli_units, capsys):
    base = ["--unit", "HG01", "--period", "2024-Q3"]
    run(capsys, "campaign", "open", *base, "--questionnaire", "dtxhh-haugiang", "--allow-ended-period")
    run(capsys, "campaign", "open", *base, "--questionnaire", "sipas", "--allow-ended-period")
    code, _, err = run(capsys, "campaign", "close", *base)
    assert code == 2 and "several open campaigns" in err
    code, out, _ = run(capsys, "campaign", "close", *base, "--questionnaire", "sipas")
    assert code == 0 and "closed" in out
    code, url, err = run(capsys, "campaign", "rotate", *base)
    assert code == 0 and "/s/" in url and "generation 2" in err
    code, out, _ = run(capsys, "campaign", "revoke", "--id", "1")
    assert code == 0 and "revoked" in out
    code, out, _ = run(capsys, "campaign", "list", "--json")
    rows = json.loads(out)
    assert [(r["id"], r["status"], r["link_generation"], r["responses"]) for r in rows] == [
        (1, "revoked", 2, 0),
        (2, "closed", 1, 0),
    ]
    code, _, err = run(capsys, "campaign", "close", "--id", "1")
    assert code == 2 and "already revoked" in err
    code, _, err = run(capsys, "campaign", "close", "--id", "99")
    assert code == 2 and "does not exist" in err


def test_cli_campaign_commands_have_help():
    from survey.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert commands["qr"].description is None and "QR" in commands["qr"].format_help()
    actions = commands["campaign"]._subparsers._group_actions[0]
    helps = {choice.dest: choice.help for choice in actions._choices_actions}
    assert set(helps) == {"open", "close", "revoke", "rotate", "list"}
    assert all(helps.values())


@pytest.mark.parametrize("spelling", ["2024-q3", " 2024-Q3 ", "Q3/2024", "Quý 3/2024"])
def test_cli_every_period_spelling_reaches_the_one_campaign(cli_units, capsys, tmp_path, spelling):
    """Issue 12.1: `campaign open --period 2024-q3` and `qr --period …` used to open a second
    campaign under the period '2024-q3', left out of every score."""
    code, first, _ = run(capsys, "campaign", "open", "--unit", "HG01", "--period", "2024-Q3",
                         "--questionnaire", "dtxhh-haugiang@2024", "--allow-ended-period")
    assert code == 0
    code, again, err = run(capsys, "campaign", "open", "--unit", "HG01", "--period", spelling,
                           "--questionnaire", "dtxhh-haugiang@2024")
    assert code == 0 and again == first and "reused" in err
    code, _, _ = run(capsys, "qr", "--unit", "HG01", "--period", spelling,
                     "--out", str(tmp_path / "poster.pdf"))
    assert code == 0
    code, out, _ = run(capsys, "campaign", "list", "--period", spelling, "--json")
    rows = json.loads(out)
    assert [(r["unit"], r["period"], r["status"]) for r in rows] == [("HG01", "2024-Q3", "open")]


@pytest.mark.parametrize("spelling", ["2024-Q5", "Q3-2024", "2024", "quý ba 2024"])
def test_cli_refuses_other_periods_with_one_message(cli_units, capsys, spelling):
    with pytest.raises(SystemExit) as exited:  # argparse refuses the value
        main(["campaign", "open", "--unit", "HG01", "--period", spelling,
              "--questionnaire", "dtxhh-haugiang@2024"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in err
    assert f"“{spelling}”" in err and "2024-Q3" in err
    code, out, _ = run(capsys, "campaign", "list", "--json")
    assert json.loads(out) == []


def test_storage_opens_one_campaign_whatever_the_spelling(units, session):
    version = get_questionnaire_version(session=session, reference="dtxhh-haugiang@2024")
    unit = get_organisation(session=session, code="HG01")
    first, created = open_campaign(session=session, unit_id=unit.id, period="Quý 3/2024",
                                   version_id=version.id)
    assert created and first.period == "2024-Q3"
    again, created = open_campaign(session=session, unit_id=unit.id, period="2024-q3",
                                   version_id=version.id)
    assert not created and again.id == first.id


def test_cli_campaign_changes_are_audited(cli_units, capsys):
    """Opening, rotating, closing and revoking from the command line each leave an audit entry
    of the command line's account (issue 14: one owner for every write)."""
    import json

    common = ["--unit", "HG01", "--period", "2024-Q3"]
    assert main(["campaign", "open", *common, "--questionnaire", "dtxhh-haugiang",
                 "--allow-ended-period"]) == 0
    assert main(["campaign", "open", *common, "--questionnaire", "dtxhh-haugiang"]) == 0  # reused
    assert main(["campaign", "rotate", *common]) == 0
    assert main(["campaign", "close", *common]) == 0
    assert main(["campaign", "open", *common, "--questionnaire", "sipas",
                 "--allow-ended-period"]) == 0
    assert main(["campaign", "revoke", *common]) == 0
    capsys.readouterr()
    assert main(["audit", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    campaign_actions = [e["action"] for e in reversed(entries) if e["action"].startswith("campaign_")]
    assert campaign_actions == ["campaign_opened", "campaign_rotated", "campaign_closed",
                                "campaign_opened", "campaign_revoked"]
    assert {e["username"] for e in entries if e["action"].startswith("campaign_")} == {"cli"}


def test_cli_refuses_to_open_an_ended_quarter_unless_confirmed(cli_units, capsys, tmp_path):
    """Issue 12: a campaign for a quarter that has ended is opened only with
    --allow-ended-period; the refusal says when the quarter ended and what it means."""
    ended = ["--unit", "HG01", "--period", "2024-Q1", "--questionnaire", "dtxhh-haugiang@2024"]
    code, out, err = run(capsys, "campaign", "open", *ended)
    assert code == 2 and out == ""
    assert "Q1 2024 ended on 31/03/2024" in err and "past quarter" in err
    assert "--allow-ended-period" in err
    code, out, err = run(capsys, "qr", *ended, "--out", str(tmp_path / "poster.pdf"))
    assert code == 2 and "ended on 31/03/2024" in err and "--allow-ended-period" in err
    assert not (tmp_path / "poster.pdf").exists()
    code, out, _ = run(capsys, "campaign", "list", "--json")
    assert json.loads(out) == []
    code, url, err = run(capsys, "campaign", "open", *ended, "--allow-ended-period")
    assert code == 0 and "/s/" in url and "opened" in err
    # the campaign is open now: using it again opens nothing, so nothing to confirm
    code, again, err = run(capsys, "campaign", "open", *ended)
    assert code == 0 and again == url and "reused" in err


def test_cli_opens_the_current_quarter_without_confirmation(cli_units, capsys):
    current = f"{date.today().year}-Q{(date.today().month - 1) // 3 + 1}"
    code, url, err = run(capsys, "campaign", "open", "--unit", "HG01", "--period", current,
                         "--questionnaire", "dtxhh-haugiang@2024")
    assert code == 0 and "/s/" in url and "opened" in err


@pytest.mark.parametrize(("today", "ended"), [
    (date(2024, 3, 31), None), (date(2024, 4, 1), date(2024, 3, 31)),
    (date(2025, 1, 1), date(2024, 3, 31))])
def test_a_quarter_has_ended_the_day_after_its_last_day(today, ended):
    from survey.periods import ended_on

    assert ended_on("2024-Q1", today) == ended
