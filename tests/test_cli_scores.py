"""`survey score`, `survey compare` and `survey par` through survey.cli.main (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from survey.cli import main
from survey.cli.common import session_scope
from survey.questionnaire import load_questionnaire, shipped_questionnaire_paths
from survey.scoring import score_domains
from survey.storage.organisations import add_organisation
from survey.storage.questionnaires import register_questionnaire
from survey.storage.responses import load_responses, store_response

THADS_2024 = Path(__file__).parent / "reference" / "par_thads_haugiang_2024.csv"
FAMILY = "dtxhh-haugiang"


def shipped(version: str):
    path = next(p for p in shipped_questionnaire_paths() if p.name == f"{FAMILY}-{version}.yaml")
    return load_questionnaire(path)


@pytest.fixture
def province(cli_env):
    """Two units; HG01 has 2023-Q3 (v2023), 2024-Q2 and 2024-Q3 (v2024); HG02 only 2024-Q3.

    HG01 2024-Q3: 36 responses, every question answered "A" by 12 DAN, "B" by 12 DN and "C" by
    12 CB, plus one flagged response (all "D").
    """
    rng = np.random.default_rng(7)
    with session_scope() as session:
        rows = {v: register_questionnaire(session=session, questionnaire=shipped(v))[0]
                for v in ("2023", "2024")}
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        units = {code: add_organisation(session=session, code=code, name=name, parent_code="HG")
                 for code, name in (("HG01", "Cục THADS"), ("HG02", "Chi cục THADS Vị Thanh"))}
        count = 0

        def store(unit, period, version, group, answers, flagged=False):
            nonlocal count
            count += 1
            store_response(session=session, questionnaire_row=rows[version],
                           unit_id=units[unit].id, period=period, group_code=group,
                           answers=answers, idempotency_key=f"test-{count}", flagged=flagged,
                           commit=False)

        v2024, v2023 = shipped("2024"), shipped("2023")
        for group, option in (("DAN", "A"), ("DN", "B"), ("CB", "C")):
            for _ in range(12):
                store("HG01", "2024-Q3", "2024", group, {q.code: option for q in v2024.questions})
        store("HG01", "2024-Q3", "2024", "DAN", {q.code: "D" for q in v2024.questions},
              flagged=True)
        for unit, period, version, questionnaire, size in (
                ("HG01", "2024-Q2", "2024", v2024, 30), ("HG01", "2023-Q3", "2023", v2023, 25),
                ("HG02", "2024-Q3", "2024", v2024, 20), ("HG02", "2024-Q2", "2024", v2024, 8)):
            for _ in range(size):
                store(unit, period, version, str(rng.choice(["DAN", "DN", "CB"])),
                      {q.code: str(rng.choice(list("AABBCDX"))) for q in questionnaire.questions})
    return cli_env


def run_json(capsys, *argv):
    code = main(list(argv) + ["--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_score_one_unit_one_quarter(province, capsys):
    documents = run_json(capsys, "score", "--questionnaire", FAMILY, "--unit", "HG01",
                         "--period", "2024-Q3")
    [document] = documents
    assert (document["unit"], document["period"], document["questionnaire"],
            document["version"]) == ("HG01", "2024-Q3", FAMILY, "2024")
    assert document["n"] == 37
    assert [c["code"] for c in document["criteria"]] == [str(k) for k in range(1, 8)]
    total = document["total"]
    assert set(total) >= {"score", "max", "se", "df", "ci", "flags"}
    assert total["max"] == 22 and total["df"] == 37 - 3
    assert len(total["ci"]) == 2 and total["ci"][0] < total["score"] < total["ci"][1]


def test_score_by_hand_without_flagged(province, capsys):
    # Every question: DAN (0.4) "A" = 1, DN (0.3) "B" = 0.6, CB (0.3) "C" = 0.2 → 0.64 of the points.
    [document] = run_json(capsys, "score", "--questionnaire", FAMILY, "--unit", "HG01",
                          "--period", "2024-Q3", "--exclude-flagged")
    assert document["n"] == 36
    assert document["total"]["score"] == pytest.approx(0.64 * 22, rel=1e-14)
    # Answers are identical within each group: every z_i equals its stratum mean, so SE = 0.
    assert document["total"]["se"] == 0
    assert document["total"]["ci"] is None and "standard error is 0" in document["total"]["reason"]
    assert document["criteria"][0]["score"] == pytest.approx(0.64 * 4, rel=1e-14)


def test_score_matches_the_library(province, capsys):
    documents = run_json(capsys, "score", "--questionnaire", FAMILY, "--level", "0.9")
    with session_scope() as session:
        responses = load_responses(session=session, family=FAMILY)
    expected = score_domains(responses, {"2023": shipped("2023"), "2024": shipped("2024")},
                             level=0.9)
    assert [(d["unit"], d["period"], d["version"]) for d in documents] == [
        ("HG01", "2023-Q3", "2023"), ("HG01", "2024-Q2", "2024"), ("HG01", "2024-Q3", "2024"),
        ("HG02", "2024-Q2", "2024"), ("HG02", "2024-Q3", "2024")]
    for document, score in zip(documents, expected, strict=True):
        assert document["total"]["score"] == score.total.score  # full precision
        assert document["total"]["ci"] == list(score.total.ci)
        assert document["level"] == 0.9


def test_score_pools_a_year_and_mixes_versions_per_domain(province, capsys):
    documents = run_json(capsys, "score", "--questionnaire", FAMILY, "--unit", "HG01",
                         "--period", "2024")
    assert [(d["period"], d["version"], d["n"]) for d in documents] == [("2024", "2024", 67)]
    documents = run_json(capsys, "score", "--questionnaire", f"{FAMILY}@2023", "--period", "2023")
    assert [(d["unit"], d["version"], d["n"]) for d in documents] == [("HG01", "2023", 25)]


def test_score_flags_small_domains(province, capsys):
    [document] = run_json(capsys, "score", "--questionnaire", FAMILY, "--unit", "HG02",
                          "--period", "2024-Q2")
    assert document["n"] == 8
    assert document["total"]["flags"] == ["low_reliability"]


def test_score_province(province, capsys):
    average = run_json(capsys, "score", "--questionnaire", FAMILY, "--period", "2024-Q3",
                       "--province", "average")
    pooled = run_json(capsys, "score", "--questionnaire", FAMILY, "--period", "2024-Q3",
                      "--province", "pooled")
    assert [(d["province"], d["method"], d["units"], d["n"]) for d in average] == [
        ("HG", "unit-average", 2, 57)]
    assert [(d["method"], d["units"], d["n"], d["total"]["df"]) for d in pooled] == [
        ("respondent-pooled", 2, 57, 57 - 6)]


def test_score_readable_table_uses_vietnamese_numbers(province, capsys):
    assert main(["score", "--questionnaire", FAMILY, "--unit", "HG01", "--period", "2024-Q3",
                 "--exclude-flagged"]) == 0
    out = capsys.readouterr().out
    assert "HG01 Cục THADS · 2024-Q3" in out
    assert "14,08 / 22,00" in out  # 0.64 · 22


def test_compare_year_ago(province, capsys):
    document = run_json(capsys, "compare", "--questionnaire", FAMILY, "--unit", "HG01",
                        "--period", "2024-Q3", "--against", "year-ago")
    assert (document["period"], document["baseline_period"], document["against"]) == (
        "2024-Q3", "2023-Q3", "year-ago")
    assert (document["version"], document["baseline_version"]) == ("2024", "2023")
    assert document["basis"] == "points"  # same criteria and maxima in both versions
    total = document["total"]
    assert total["change"] == pytest.approx(total["current"] - total["baseline"], rel=1e-14)
    assert total["ci"][0] < total["change"] < total["ci"][1]
    assert 0 <= total["p_value"] <= 1 and total["mdc"] > 0
    assert len(document["criteria"]) == 7


def test_compare_every_unit_adjusts_p_values(province, capsys):
    documents = run_json(capsys, "compare", "--questionnaire", FAMILY, "--period", "2024-Q3",
                         "--against", "previous")
    assert [d["unit"] for d in documents] == ["HG01", "HG02"]
    assert all(d["total"]["p_adjusted"] >= d["total"]["p_value"] for d in documents)


def test_compare_without_baseline_is_a_user_error(province, capsys):
    code = main(["compare", "--questionnaire", FAMILY, "--unit", "HG02", "--period", "2024-Q3",
                 "--against", "year-ago", "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert "HG02 has no dtxhh-haugiang responses in 2023-Q3" in captured.err
    assert "Traceback" not in captured.err


def test_par_reproduces_the_published_index(cli_env, capsys):
    document = run_json(capsys, "par", str(THADS_2024), "--survey-score", "15.43",
                        "--stated-total", "51.5")
    assert (document["total"], document["applicable_max"], document["percentage"],
            document["class"]) == (58.57, 73.5, 79.69, "Khá")
    assert any("53" in w and "51.5" in w for w in document["warnings"])


def test_par_ranks_several_tables(cli_env, capsys, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text(THADS_2024.read_text(encoding="utf-8"), encoding="utf-8")
    documents = run_json(capsys, "par", str(THADS_2024), str(other), "--survey-score", "15.43",
                         "18")
    assert [(d["unit"], d["rank"]) for d in documents] == [("par_thads_haugiang_2024", 2),
                                                           ("other", 1)]


@pytest.mark.parametrize(("argv", "message"), [
    (["score", "--questionnaire", "nope"], "not registered"),
    (["score", "--questionnaire", FAMILY, "--unit", "XX"], "unit XX does not exist"),
    (["score", "--questionnaire", FAMILY, "--period", "2024-Q5"], "not a period"),
    (["score", "--questionnaire", FAMILY, "--level", "95"], "--level"),
    (["score", "--questionnaire", f"{FAMILY}@1999"], "no version '1999'"),
    (["par", "missing.csv", "--survey-score", "15"], "cannot read"),
    (["par", str(THADS_2024), "--survey-score", "15", "16"], "one --survey-score per table"),
])
def test_user_errors_exit_2_without_traceback(province, capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exited:  # a value refused while parsing the arguments (e.g. --period)
        code = exited.code
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("command", ["score", "compare", "par"])
def test_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 200


# --- issue 13: survey rank, and indices in survey score --json --------------------------------


def test_rank_prints_both_kinds_of_rank_sets(province, capsys):
    scores = run_json(capsys, "score", "--questionnaire", FAMILY, "--period", "2024-Q3")
    marginal = run_json(capsys, "rank", "--questionnaire", FAMILY, "--period", "2024-Q3")
    simultaneous = run_json(capsys, "rank", "--questionnaire", FAMILY, "--period", "2024-Q3",
                            "--simultaneous")
    assert marginal["kind"] == "marginal" and simultaneous["kind"] == "simultaneous"
    assert marginal["k"] == 2 and marginal["version"] == "2024" and marginal["period"] == "2024-Q3"
    # K = 2: c = Φ⁻¹(0.975) for both kinds (R: qnorm(0.975)).
    assert marginal["critical_value"] == pytest.approx(1.959963984540054, rel=1e-14)
    totals = {d["unit"]: d["total"] for d in scores}
    high, low = sorted(totals, key=lambda u: -totals[u]["score"])
    gap = totals[high]["score"] - totals[low]["score"]
    apart = gap > 1.959963984540054 * np.hypot(totals[high]["se"], totals[low]["se"])
    expected = [(high, 1, 1, 1 if apart else 2), (low, 2, 2 if apart else 1, 2)]
    assert [(u["unit"], u["rank"], u["lower"], u["upper"]) for u in marginal["units"]] == expected
    assert marginal["units"][0]["unit_name"] is not None
    assert marginal["distinguishable"] == ([[high, low]] if apart else [])
    assert marginal["left_out"] == [] and marginal["indices"] == {}


def test_rank_requires_responses(province, capsys):
    assert main(["rank", "--questionnaire", FAMILY, "--period", "2021-Q1", "--json"]) == 2
    assert "no dtxhh-haugiang responses" in capsys.readouterr().err


@pytest.fixture
def sipas_unit(cli_env):
    """One unit, 2024-Q4, SIPAS answers: 5 respondents "5" on every item, 3 "3", 2 "0"."""
    path = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml")
    sipas = load_questionnaire(path)
    with session_scope() as session:
        row = register_questionnaire(session=session, questionnaire=sipas)[0]
        unit = add_organisation(session=session, code="HG05", name="UBND xã")
        for i, option in enumerate("5555533300"):
            store_response(session=session, questionnaire_row=row, unit_id=unit.id,
                           period="2024-Q4", group_code=None,
                           answers={q.code: option for q in sipas.questions},
                           idempotency_key=f"sipas-{i}", commit=False)
    return cli_env


def test_score_json_carries_the_satisfaction_share(sipas_unit, capsys):
    [document] = run_json(capsys, "score", "--questionnaire", "sipas", "--period", "2024-Q4")
    share = document["indices"]["hai-long"]
    assert share["label"] == "Tỷ lệ hài lòng"
    assert share["share"] == pytest.approx(5 / 8, abs=1e-15)  # "0" is not in the denominator
    assert share["df"] == 10 - 1 and share["se"] > 0 and len(share["ci"]) == 2
    assert set(share["criteria"][0]) >= {"code", "share", "se", "df", "ci", "flags"}
    # An element counts its own respondents: the two "0" respondents gave no scored answer.
    assert [(c["share"], c["df"], c["n"]) for c in share["criteria"]] == [
        (pytest.approx(5 / 8, abs=1e-15), 7, 8)] * 5
    assert share["criteria"][0]["flags"] == ["low_reliability"]
    assert len(share["questions"]) == 20
    # Points beside it: (5 · 1 + 3 · 0.5) / 8 of 10.
    assert document["total"]["score"] == pytest.approx(10 * 6.5 / 8, rel=1e-14)
    ranked = run_json(capsys, "rank", "--questionnaire", "sipas", "--period", "2024-Q4")
    assert ranked["indices"]["hai-long"]["units"][0]["score"] == pytest.approx(5 / 8, abs=1e-15)
