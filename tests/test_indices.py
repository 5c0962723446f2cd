"""Questionnaire indices (SCORING.md, "Indices"): format, estimation against R, the SIPAS share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats
from test_scoring import REFERENCE, SMALL, reference_expected, reference_responses, wide

from survey.aggregate import unit_average
from survey.changes import compare_scores
from survey.questionnaire import (
    QuestionnaireError,
    load_questionnaire,
    parse_questionnaire,
    shipped_questionnaire_paths,
)
from survey.scoring import score_domains

INDEX = """
indices:
  good:
    label: {vi: "Tỷ lệ tốt", en: "Share good"}
    scores: {A: 1, B: 1, C: 0, D: 0, X: null}
"""


def small_with_index(block: str = INDEX):
    return parse_questionnaire(SMALL.replace("GROUPS\n", "") + block)


# --- format ------------------------------------------------------------------------------------


def test_index_is_parsed_with_its_label_and_fractions():
    questionnaire = small_with_index()
    [index] = questionnaire.indices
    assert index.code == "good" and index.label.vi == "Tỷ lệ tốt" and index.label.en == "Share good"
    assert index.fraction("A") == 1.0 and index.fraction("X") is None
    assert index.fraction("Q") is None  # not listed: unscored


def test_short_form_and_numeric_option_codes():
    short = small_with_index("indices:\n  good: {A: 1, B: 0.5, C: 0, D: 0}\n")
    assert short.index("good").scores == {"A": 1.0, "B": 0.5, "C": 0.0, "D": 0.0}
    assert short.index("good").label.vi == "good"
    listed = small_with_index("indices:\n  - {code: good, label: Tốt, scores: {A: 1, B: 0}}\n")
    assert listed.index("good").scores == {"A": 1.0, "B": 0.0}
    assert listed.index("good").label.vi == "Tốt"


@pytest.mark.parametrize(("block", "path", "fragment"), [
    ("indices:\n  good:\n    scores: {A: 1.5, B: 0}\n", "indices.good.scores", "[0, 1]"),
    ("indices:\n  good:\n    scores: {A: 1, Q: 0}\n", "indices.good.scores.Q", "on no scale"),
    ("indices:\n  good:\n    scores: {X: null, D: null}\n", "indices.good.scores",
     "no option of scale"),
    ("indices:\n  good:\n    scores: {}\n", "indices.good.scores", ""),
    ("indices:\n  good:\n    scores: {A: 1}\n    lable: x\n", "indices.good.lable", "unknown key"),
    ("indices:\n  good:\n    scores: {A: yes}\n", "indices.good.scores", ""),
])
def test_index_problems_name_the_key_path(block, path, fragment):
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire(SMALL.replace("GROUPS\n", "") + block, source="idx.yaml")
    assert any(p == path or p.startswith(path + ".") for p, _ in caught.value.problems), \
        caught.value.problems
    assert fragment in str(caught.value)
    assert "idx.yaml" in str(caught.value)


def test_sipas_defines_the_satisfaction_share():
    path = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml")
    index = load_questionnaire(path).index("hai-long")
    assert index.label.vi == "Tỷ lệ hài lòng"
    assert {code: index.fraction(code) for code in "012345"} == {
        "0": None, "1": 0.0, "2": 0.0, "3": 0.0, "4": 1.0, "5": 1.0}


# --- estimation by hand ------------------------------------------------------------------------


def test_share_by_hand():
    # a1: A, C, X → 1 of 2 scored answers good: 0.5; a2: B, B, D → 2/3; b1: A, D, D → 1/3.
    # Criterion A = mean(0.5, 2/3) = 7/12; criterion B = 1/3; overall (P_A = P_B = 2) = 11/24.
    rows = [{"a1": "A", "a2": "B", "b1": "A"}, {"a1": "C", "a2": "B", "b1": "D"},
            {"a1": "X", "a2": "D", "b1": "D"}]
    score = score_domains(wide(rows), {"1": small_with_index()})[0]
    share = score.index_score("good")
    assert share.total.score == pytest.approx(11 / 24, abs=1e-15)
    assert share.maximum == 1.0
    assert [c.score for c in share.criteria] == pytest.approx([7 / 12, 1 / 3], abs=1e-15)
    assert [q.score for q in share.questions] == pytest.approx([0.5, 2 / 3, 1 / 3], abs=1e-15)
    assert share.questions[0].n == 2 and share.questions[0].df == 1
    # Points are untouched by the index.
    assert score.total.score == pytest.approx((1 + 0.2) / 2 + (0.6 + 0.6) / 3 + 2 / 3, abs=1e-14)
    document = score.to_dict()["indices"]["good"]
    assert document["share"] == share.total.score and document["label"] == "Tỷ lệ tốt"
    assert [c["share"] for c in document["criteria"]] == [c.score for c in share.criteria]
    assert {"share", "se", "df", "ci", "flags"} <= set(document["criteria"][0])


def test_share_interval_is_logit_t_on_the_unit_interval():
    rng = np.random.default_rng(1)
    rows = [{q: rng.choice(["A", "B", "C", "D", "X"]) for q in ("a1", "a2", "b1")}
            for _ in range(60)]
    share = score_domains(wide(rows), {"1": small_with_index()})[0].index_score("good").total
    p = share.score
    half = stats.t.ppf(0.975, share.df) * share.se / (p * (1 - p))
    assert share.ci == pytest.approx((special.expit(special.logit(p) - half),
                                      special.expit(special.logit(p) + half)), rel=1e-13)


def test_index_changes_and_averages_reuse_the_point_rules():
    rng = np.random.default_rng(2)
    table = wide([{"unit": f"U{u}", "period": period,
                   **{q: rng.choice(["A", "B", "C", "D"]) for q in ("a1", "a2", "b1")}}
                  for u in (1, 2) for period in ("2024-Q1", "2024-Q2") for _ in range(30)])
    scores = score_domains(table, {"1": small_with_index()})
    u1_q1, u1_q2 = scores[0], scores[1]
    change = compare_scores(u1_q2, u1_q1).index_change("good")
    now, before = u1_q2.index_score("good").total, u1_q1.index_score("good").total
    assert change.total.change == pytest.approx(now.score - before.score, abs=1e-15)
    assert change.total.variance == pytest.approx(now.variance + before.variance, rel=1e-14)
    province = unit_average([s for s in scores if s.period == "2024-Q1"])[0]
    shares = [s.index_score("good").total.score for s in scores if s.period == "2024-Q1"]
    assert province.index_score("good").total.score == pytest.approx(np.mean(shares), rel=1e-14)
    document = province.to_dict()["indices"]["good"]
    assert document["share"] == province.index_score("good").total.score
    assert [c["share"] for c in document["criteria"]] == pytest.approx(
        [np.mean([s.index_score("good").criterion(k).score for s in scores
                  if s.period == "2024-Q1"]) for k in ("A", "B")], rel=1e-14)


# --- against R's survey package (tests/reference/make_reference.R: svyratio, svycontrast) ----


def test_index_shares_agree_with_r_survey():
    questionnaires = {"1": load_questionnaire(REFERENCE / "questionnaire.yaml")}
    responses = reference_responses()
    domains = (score_domains(responses, questionnaires)
               + score_domains(responses, questionnaires, periods=["2024"])
               + score_domains(responses, questionnaires, by="province"))
    expected = reference_expected()
    compared, worst = 0, 0.0
    for domain in domains:
        share = domain.index_score("tot")
        kind = "province" if domain.unit == "province" else "unit"
        measures = ([("index:total", share.total)]
                    + [(f"index:{c.code}", c) for c in share.criteria]
                    + [(f"index:q:{q.code}", q) for q in share.questions if q.score is not None])
        for measure, estimate in measures:
            row = expected[(expected.kind == kind) & (expected.unit == domain.unit)
                           & (expected.period == domain.period) & (expected.measure == measure)]
            assert len(row) == 1, (domain.unit, domain.period, measure)
            row = row.iloc[0]
            assert estimate.df == row.df
            se_gap = abs(estimate.se - row.se) / row.se if row.se else abs(estimate.se)
            worst = max(worst, abs(estimate.score - row.estimate) / row.estimate, se_gap)
            compared += 1
    assert len(domains) == 11 and compared == 11 * 12 - 1  # nobody scored 3.3 in U2 2024-Q1
    assert worst < 1e-12


def test_unit_workbook_has_a_sheet_per_index():
    import io

    from openpyxl import load_workbook

    from survey.dashboard import UnitReport
    from survey.reports import unit_workbook

    rows = [{"a1": "A", "a2": "B", "b1": "A"}, {"a1": "C", "a2": "B", "b1": "D"},
            {"a1": "X", "a2": "D", "b1": "D"}] * 3
    questionnaire = small_with_index()
    score = score_domains(wide(rows), {"1": questionnaire})[0]
    report = UnitReport("U1", "Một", "2024-Q1", 0.95, score, None, None, None, None, (score,),
                        questionnaire)
    sheet = load_workbook(io.BytesIO(unit_workbook(report)))["Tỷ lệ tốt"]
    body = list(sheet.iter_rows(min_row=5, values_only=True))
    assert [r[0] for r in body] == [None, "A", "B", "a1", "a2", "b1"]
    # 11/24 overall, 7/12 and 1/3 by criterion, 1/2, 2/3, 1/3 by question (see test_share_by_hand).
    assert [r[3] for r in body] == pytest.approx(
        [100 * 11 / 24, 100 * 7 / 12, 100 / 3, 50, 200 / 3, 100 / 3], rel=1e-14)
    assert body[3][2] == 6  # a1: six answers with an opinion out of nine


def test_adding_indices_to_a_version_with_responses_is_allowed(session):
    """Existing databases hold sipas 2024 responses from before it had its index."""
    from survey.storage import StorageError
    from survey.storage.organisations import add_organisation
    from survey.storage.questionnaires import register_questionnaire
    from survey.storage.responses import store_response

    path = next(p for p in shipped_questionnaire_paths() if p.name == "sipas-2024.yaml")
    shipped = path.read_text(encoding="utf-8")
    before = shipped[:shipped.index("\n# The published figure: ")] + shipped[
        shipped.index("\ncriteria:"):]
    assert "indices" not in before
    row, _ = register_questionnaire(session=session, questionnaire=parse_questionnaire(before))
    unit = add_organisation(session=session, code="HG05", name="UBND xã")
    store_response(session=session, questionnaire_row=row, unit_id=unit.id, period="2024-Q4",
                   group_code=None, answers={"TC1": "5"}, idempotency_key="k1")
    _, outcome = register_questionnaire(session=session,
                                        questionnaire=parse_questionnaire(shipped))
    assert outcome == "updated"
    # Anything else (here one option's label) still needs a new version.
    relabelled = shipped.replace('"Rất hài lòng"', '"Rất hài lòng!"')
    with pytest.raises(StorageError, match="already has responses"):
        register_questionnaire(session=session, questionnaire=parse_questionnaire(relabelled))
