"""Question-level diagnosis: checked against a straightforward loop implementation of SCORING.md
(one question = its own terms), hand formulas, and the engine's own criterion changes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from survey.auth import FULL_ACCESS
from survey.dashboard import load_source, unit_report
from survey.diagnosis import (
    CHANGED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    SAME,
    change_sentence,
    diagnose,
    group_test,
    option_shares,
    province_questions,
    question_table,
)
from survey.questionnaire import load_questionnaire

ROOT = Path(__file__).resolve().parents[1]
Q2024 = load_questionnaire(ROOT / "questionnaires" / "dtxhh-haugiang-2024.yaml")
FRACTION = {"A": 1.0, "B": 0.6, "C": 0.2, "D": 0.0, "X": None}


def synthetic(seed: int, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({
        "unit": rng.choice(["U1", "U2"], n),
        "period": "2024-Q1",
        "version": "2024",
        "group": rng.choice(["DAN", "DN", "CB", None], n, p=[0.5, 0.25, 0.2, 0.05]),
    })
    for question in Q2024.questions:
        values = rng.choice(["A", "B", "C", "D", "X", None], n, p=[0.3, 0.3, 0.15, 0.1, 0.1, 0.05])
        table[question.code] = pd.Categorical(values, categories=list("ABCDX"))
    table.loc[table.index[:7], "1.1"] = np.nan  # some unanswered
    table["4.4"] = pd.Categorical([None] * n, categories=list("ABCDX"))  # nobody answered 4.4
    return table


def loop_reference(table: pd.DataFrame):
    """R_q, V(R_q), n_q, df_q per (unit, question), by plain loops over respondents."""
    weights = {g.code: g.weight for g in Q2024.groups}
    out = {}
    for unit in sorted(table["unit"].unique()):
        people = [r for _, r in table[table["unit"] == unit].iterrows() if r["group"] in weights]
        counts = {}
        for r in people:
            counts[r["group"]] = counts.get(r["group"], 0) + 1
        w = [weights[r["group"]] / counts[r["group"]] for r in people]
        for question in Q2024.questions:
            code, p = question.code, question.points
            a = [0 if pd.isna(r[code]) or FRACTION[r[code]] is None else 1 for r in people]
            s = [p * FRACTION[r[code]] if ai else 0.0 for r, ai in zip(people, a, strict=True)]
            x = sum(wi * ai for wi, ai in zip(w, a, strict=True))
            if x == 0:
                out[unit, code] = (np.nan, np.nan, 0, 0)
                continue
            y = sum(wi * ai * si for wi, ai, si in zip(w, a, s, strict=True))
            ratio = y / x
            z = [wi * ai * (si - ratio) / x for wi, ai, si in zip(w, a, s, strict=True)]
            variance = 0.0
            for g in counts:
                zs = [zi for zi, r in zip(z, people, strict=True) if r["group"] == g]
                if len(zs) > 1:
                    mean = sum(zs) / len(zs)
                    variance += len(zs) / (len(zs) - 1) * sum((v - mean) ** 2 for v in zs)
            n_q = sum(a)
            groups_q = len({r["group"] for r, ai in zip(people, a, strict=True) if ai})
            out[unit, code] = (ratio, variance, n_q, n_q - groups_q)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_question_scores_and_variances_match_the_loop(seed):
    table = synthetic(seed)
    domain, keys = pd.factorize(table["unit"], sort=True)
    values = question_table(table, Q2024, domain, len(keys))
    reference = loop_reference(table)
    for d, unit in enumerate(keys):
        for q, code in enumerate(Q2024.question_codes):
            ratio, variance, n_q, df_q = reference[unit, code]
            assert values["n"][d, q] == n_q
            assert values["df"][d, q] == df_q
            if np.isnan(ratio):
                assert np.isnan(values["score"][d, q])
                continue
            assert values["score"][d, q] == pytest.approx(ratio, rel=1e-12)
            assert values["variance"][d, q] == pytest.approx(variance, rel=1e-9, abs=1e-15)
    # The interval is logit-t on [0, p_q] with df_q.
    q = Q2024.question_codes.index("2.2")
    score, se, df = values["score"][0, q], np.sqrt(values["variance"][0, q]), values["df"][0, q]
    p = score / 1.0
    half = stats.t.ppf(0.975, df) * se / (p * (1 - p))
    logit = np.log(p / (1 - p))
    assert values["lower"][0, q] == pytest.approx(1 / (1 + np.exp(-(logit - half))))
    assert values["upper"][0, q] == pytest.approx(1 / (1 + np.exp(-(logit + half))))


def test_group_domains_match_the_loop_per_group():
    table = synthetic(3)
    one = table[table["unit"] == "U1"].reset_index(drop=True)
    values = question_table(one, Q2024, np.zeros(len(one), np.intp), 1, by_group=True)
    for g, group in enumerate(Q2024.groups):
        part = one[one["group"] == group.code].assign(unit="U1")
        reference = loop_reference(part)
        for q, code in enumerate(Q2024.question_codes):
            ratio, variance, n_q, _ = reference["U1", code]
            assert values["n"][g, q] == n_q
            if n_q:
                assert values["score"][g, q] == pytest.approx(ratio, rel=1e-12)
                assert values["variance"][g, q] == pytest.approx(variance, rel=1e-9, abs=1e-15)


def test_option_shares_are_weighted_and_include_no_opinion():
    table = pd.DataFrame({
        "group": ["DAN", "DAN", "DN", "CB", None],
        "2.2": pd.Categorical(["A", "X", "B", "A", "D"], categories=list("ABCDX")),
    })
    shares, answered = option_shares(table, Q2024)
    row = shares.iloc[Q2024.question_codes.index("2.2")]
    # weights: DAN 0.4/2 each, DN 0.3, CB 0.3; the unknown group is left out.
    assert row["A"] == pytest.approx(0.2 + 0.3)
    assert row["X"] == pytest.approx(0.2)
    assert row["B"] == pytest.approx(0.3)
    assert row["D"] == 0
    assert answered[Q2024.question_codes.index("2.2")] == 4
    assert np.isnan(shares.iloc[0]["A"])  # 1.1 has no column: nobody answered


def test_group_test_is_the_wald_chi_square():
    score = np.array([[0.5, 0.7, np.nan], [0.5, 0.6, 0.9]])
    variance = np.array([[0.01, 0.02, np.nan], [0.01, 0.02, 0.04]])
    statistic, p_value = group_test(score, variance, np.ones_like(score, bool))
    assert statistic[0] == pytest.approx(0.2**2 / 0.03)  # two groups: (R1 − R2)² / (V1 + V2)
    assert p_value[0] == pytest.approx(stats.chi2.sf(0.2**2 / 0.03, 1))
    precision = 1 / variance[1]
    mean = (precision * score[1]).sum() / precision.sum()
    expected = (precision * (score[1] - mean) ** 2).sum()
    assert statistic[1] == pytest.approx(expected)
    assert p_value[1] == pytest.approx(stats.chi2.sf(expected, 2))
    one = group_test(score, variance, np.array([[True, False, False]] * 2))[1]
    assert np.isnan(one).all()  # one usable group: no test


@pytest.fixture(scope="module")
def demo(demo_url):
    from survey.db import make_engine, new_session

    engine = make_engine(demo_url)
    with new_session(engine) as session:
        source = load_source(session=session, family="dtxhh-haugiang", scope=FULL_ACCESS)
        reports = {period: unit_report(session=session, source=source, scope=FULL_ACCESS,
                                       unit="HG01", period=period)
                   for period in ("2024-Q4", "2024-Q3")}
    engine.dispose()
    return source, reports


def test_previous_quarter_decomposition_adds_up_to_the_engine(demo):
    source, reports = demo
    report = reports["2024-Q4"]
    diagnosis = diagnose(source=source, report=report, against="previous")
    change = report.change_previous
    assert diagnosis.total_change == pytest.approx(change.total.change)
    criteria = diagnosis.criteria.set_index("criterion")
    assert criteria["change"].sum() == pytest.approx(change.total.change)
    questions = diagnosis.questions
    assert (questions["status"] == SAME).all()
    for code, row in criteria.iterrows():
        assert row["change"] == pytest.approx(change.criteria[int(code) - 1].change)
        assert row["decomposed"]
        inside = questions[questions["criterion"] == code]
        assert inside["contribution"].sum() == pytest.approx(row["change"], abs=1e-12)
    # Sorted by points lost, and lost = p_q − R_q.
    assert list(questions["lost"]) == sorted(questions["lost"], reverse=True)
    assert np.allclose(questions["lost"], questions["points"] - questions["score"])
    # A question's change test: Welch on the two linearisation variances.
    row = questions.iloc[0]
    base = diagnose(source=source, report=reports["2024-Q3"], against="previous",
                    groups=False).questions.set_index("code").loc[row["code"]]
    variance = row["se"] ** 2 + base["se"] ** 2
    df = variance**2 / (row["se"] ** 4 / row["df"] + base["se"] ** 4 / base["df"])
    assert row["baseline_score"] == pytest.approx(base["score"])
    assert row["change"] == pytest.approx(row["score"] - base["score"])
    assert row["p_value"] == pytest.approx(
        2 * stats.t.sf(abs(row["change"]) / np.sqrt(variance), df))


def test_questions_in_one_version_are_never_compared(demo):
    source, reports = demo
    diagnosis = diagnose(source=source, report=reports["2024-Q4"], against="year-ago")
    assert diagnosis.baseline_version == "2023" and diagnosis.version == "2024"
    status = diagnosis.questions.set_index("code")["status"]
    assert status["4.4"] == ONLY_CURRENT  # new in 2024
    assert status["1.3"] == CHANGED  # same code, new wording
    assert status["1.1"] == SAME  # same wording, points 1.25 → 1.5: compared as % of p_q
    q2023 = load_questionnaire(ROOT / "questionnaires" / "dtxhh-haugiang-2023.yaml")
    base_only = set(q2023.question_codes) - set(Q2024.question_codes)
    for code in base_only:
        assert status[code] == ONLY_BASELINE
    assert diagnosis.questions.set_index("code").loc["1.1", "basis"] == "percent"
    not_compared = diagnosis.questions[diagnosis.questions["status"] != SAME]
    assert not_compared["change"].isna().all() and not_compared["p_value"].isna().all()
    # Criteria whose questions differ get no question breakdown, but their ΔC_k still adds up.
    criteria = diagnosis.criteria.set_index("criterion")
    assert not criteria.loc["1", "decomposed"]
    assert criteria["change"].sum() == pytest.approx(diagnosis.total_change)


def test_sentence_numbers_are_the_engines(demo):
    source, reports = demo
    diagnosis = diagnose(source=source, report=reports["2024-Q4"], against="previous")
    sentence = change_sentence(diagnosis)
    total = diagnosis.total_change
    word = "giảm" if total < 0 else "tăng"
    assert sentence.startswith(f"{word} {abs(total):.2f}".replace(".", ",") + " điểm")
    criteria = diagnosis.criteria.set_index("criterion")
    for amount, code in re.findall(r"(\d+,\d\d) ở tiêu chí (\w+)", sentence):
        assert float(amount.replace(",", ".")) == pytest.approx(
            abs(criteria.loc[code, "change"]), abs=0.005)
        assert np.sign(criteria.loc[code, "change"]) == np.sign(total)
    for code in re.findall(r"câu (\S+) " + word, sentence):
        q = diagnosis.questions.set_index("code")
        criterion = q.loc[code, "criterion"]
        inside = q[q["criterion"] == criterion]["contribution"]
        assert inside[code] == (inside.min() if total < 0 else inside.max())
    assert change_sentence(diagnosis, "en").startswith(("down ", "up "))


def test_groups_view_and_province_questions(demo):
    source, reports = demo
    diagnosis = diagnose(source=source, report=reports["2024-Q4"], against="previous")
    groups = diagnosis.groups
    assert set(groups["group"]) == {"DAN", "DN", "CB"}
    assert groups.groupby("code")["n"].sum().to_dict() == diagnosis.questions.set_index(
        "code")["n"].to_dict()
    tests = diagnosis.group_tests
    assert (tests["p_adjusted"] >= tests["p_value"] - 1e-15).all()
    long, province = province_questions(source.responses, Q2024, "2024-Q4")
    assert list(province["lost"]) == sorted(province["lost"], reverse=True)
    unit_lost = long[long["unit"] == "HG01"].set_index("code")["score"]
    own = diagnosis.questions.set_index("code")["score"]
    assert np.allclose(unit_lost[own.index], own)
    mean = long.groupby("code")["score"].mean()
    assert np.allclose(province.set_index("code")["score"], mean[province["code"]])


def test_cli_diagnose_json_matches_the_engine(demo, demo_url, monkeypatch, tmp_path, capsys):
    import json

    from survey.cli import common, main

    monkeypatch.setenv("SURVEY_DATABASE_URL", demo_url)
    monkeypatch.setenv("SURVEY_DATA_DIR", str(tmp_path))
    common.engine.cache_clear()
    try:
        assert main(["diagnose", "--unit", "HG01", "--period", "Quý 4/2024", "--against",
                     "previous", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert main(["diagnose", "--unit", "NOPE", "--period", "2024-Q4"]) == 2
    finally:
        common.engine.cache_clear()
    source, reports = demo
    expected = diagnose(source=source, report=reports["2024-Q4"], against="previous")
    assert out["period"] == "2024-Q4" and out["baseline_period"] == "2024-Q3"
    assert out["total_change"] == pytest.approx(reports["2024-Q4"].change_previous.total.change)
    assert [q["code"] for q in out["questions"]] == list(expected.questions["code"])
    first = out["questions"][0]
    assert first["lost"] == pytest.approx(expected.questions.iloc[0]["lost"])
    assert set(first) >= {"share_A", "share_X", "ci_low", "change", "p_value", "status"}
    assert out["sentence"]["vi"] == change_sentence(expected, "vi")


def _chart_rows(spec: dict) -> list[dict]:
    """The data rows of an Altair chart's dict (its one named dataset)."""
    [rows] = spec["datasets"].values()
    return rows


def _encodings(spec: dict) -> list[dict]:
    return [layer["encoding"] for layer in spec.get("layer", [spec])]


def test_heatmap_axes_show_the_criteria_names_in_the_questionnaires_order(demo):
    """Issue 12: the province heatmap's criteria axis reads as the questionnaire's criterion
    names (cut at a word boundary when long, the full name in the tooltip), not codes."""
    from survey.charts import heatmap
    from survey.dashboard import province_report
    from survey.tables import criteria_frame

    source, _reports = demo
    report = province_report(source=source, period="2024-Q4", against="previous")
    names = [c.title.get("vi") for c in Q2024.criteria]
    spec = heatmap(criteria_frame(report.scores.values(), {Q2024.version: Q2024}),
                   lang="vi").to_dict()
    [x] = {e["x"]["field"]: e["x"] for e in _encodings(spec)}.values()
    labels = x["sort"]
    assert x["field"] == "name" and len(labels) == len(names) == 7
    assert labels[0] == "Hiệu quả công tác chỉ đạo điều hành"  # short names in full
    assert labels[3] == "Hiệu quả công tác tổ chức bộ máy"
    assert labels[6] == "Hiệu quả từ việc xây dựng và phát triển…"  # cut between words
    for label, name in zip(labels, names, strict=True):
        assert label == name or (label.endswith("…") and name.startswith(label[:-1] + " "))
    rows = _chart_rows(spec)
    assert {row["name"]: row["title"] for row in rows} == dict(zip(labels, names, strict=True))
    tooltip = next(e["tooltip"] for e in _encodings(spec) if "tooltip" in e)
    assert {"field": "title", "type": "nominal", "title": "Tiêu chí"} in tooltip


def test_lost_heatmap_axis_shows_each_questions_code_and_text(demo):
    from survey.charts import lost_heatmap

    source, _reports = demo
    long, _province = province_questions(source.responses, Q2024, "2024-Q4")
    spec = lost_heatmap(long, lang="vi").to_dict()
    x = spec["encoding"]["x"]
    texts = {q.code: q.text.get("vi") for q in Q2024.questions}
    assert x["field"] == "name" and len(x["sort"]) == len(Q2024.questions)
    for label, question in zip(x["sort"], Q2024.questions, strict=True):
        code, shown = label.split(" ", 1)
        assert code == question.code and len(shown) <= 31
        assert shown == texts[code] or texts[code].startswith(shown.removesuffix("…") + " ")
    assert {"field": "text", "type": "nominal", "title": "Nội dung"} in spec["encoding"]["tooltip"]


def test_unit_axes_of_the_province_charts_read_as_unit_names():
    """The heatmaps' and the ranking chart's unit axes show names (cut at a word boundary),
    a code only beside a name two units share, never codes alone."""
    from survey.charts import caterpillar, heatmap, lost_heatmap

    units = pd.DataFrame({
        "unit": ["HG01", "HG02", "HG03"],
        "unit_name": ["Sở Nội vụ", "Ủy ban nhân dân huyện Châu Thành A tỉnh Hậu Giang",
                      "Sở Nội vụ"],
    })
    criteria = units.assign(code="1", title="Chỉ đạo", percent=[70.0, 80.0, 90.0],
                            score=[2.8, 3.2, 3.6])
    spec = heatmap(criteria, lang="vi").to_dict()
    rows = _chart_rows(spec)
    assert [row["unit_label"] for row in rows] == [
        "HG01 Sở Nội vụ", "HG02 Ủy ban nhân dân huyện Châu…", "HG03 Sở Nội vụ"]  # ≤ 32 with …
    assert {e["y"]["field"] for e in _encodings(spec) if "y" in e} == {"unit_label"}

    distinct = units.assign(unit_name=["Sở Nội vụ", "Sở Y tế", None])
    ranked = distinct.assign(score=[15.0, 16.0, 14.0], ci_low=[14.0, 15.0, 13.0],
                             ci_high=[16.0, 17.0, 15.0], rank_label=["2/3", "1/3", "3/3"])
    spec = caterpillar(ranked, maximum=22, lang="vi").to_dict()
    y = next(e["y"] for e in _encodings(spec) if "y" in e)
    assert y["field"] == "unit_label" and y["sort"] == ["Sở Y tế", "Sở Nội vụ", "HG03"]

    lost = distinct.assign(code="1.1", text="Câu một", points=0.5, lost=[0.1, 0.2, 0.3])
    spec = lost_heatmap(lost, lang="vi").to_dict()
    assert sorted(row["unit_label"] for row in _chart_rows(spec)) == ["HG03", "Sở Nội vụ",
                                                                       "Sở Y tế"]


def _province_charts():
    from survey.charts import caterpillar, heatmap, lost_heatmap

    units = pd.DataFrame({"unit": ["HG01", "HG02"], "unit_name": ["Sở Nội vụ", "Sở Y tế"]})
    criteria = units.assign(code="1", title="Chỉ đạo", percent=[70.0, 80.0], score=[2.8, 3.2])
    ranked = units.assign(score=[15.0, 16.0], ci_low=[14.0, 15.0], ci_high=[16.0, 17.0],
                          rank_label=["2/2", "1/2"])
    lost = units.assign(code="1.1", text="Câu một", points=0.5, lost=[0.1, 0.2])
    return {"heatmap": heatmap(criteria, lang="vi").to_dict(),
            "caterpillar": caterpillar(ranked, maximum=22, lang="vi").to_dict(),
            "lost_heatmap": lost_heatmap(lost, lang="vi").to_dict()}


def test_heatmap_names_stand_upright_so_that_every_one_is_drawn():
    """Walk at 1280 px: slanted criterion names overlapped and Vega drew only the first and
    the last; upright they each take one line's height. The units × questions heatmap's rows
    are as tall as the criteria heatmap's (at 18 px Vega hid half the unit names)."""
    charts = _province_charts()
    for name in ("heatmap", "lost_heatmap"):
        axes = [e["x"]["axis"] for e in _encodings(charts[name]) if "x" in e]
        assert axes and all(axis["labelAngle"] == -90 for axis in axes), name
        assert charts[name]["height"] == {"step": 24}, name


def test_on_a_phone_unit_names_are_cut_shorter_and_cell_numbers_left_out():
    """Walk at 390 px: 260 px of unit name left the heatmap's cells a few pixels wide with
    their numbers drawn over each other. The label limit and the numbers' opacity depend on
    the chart's container width, evaluated by Vega in the browser."""
    charts = _province_charts()
    for name, spec in charts.items():
        limits = {str(e["y"]["axis"]["labelLimit"]) for e in _encodings(spec) if "y" in e}
        assert limits == {str({"expr": "containerSize()[0] < 520 ? 110 : 260"})}, name
    text = next(layer["mark"] for layer in charts["heatmap"]["layer"]
                if layer["mark"]["type"] == "text")
    assert text["opacity"] == {"expr": "containerSize()[0] < 520 ? 0 : 1"}


def test_province_chart_titles_fit_a_phone():
    """Walk at 390 px: long one-line titles were cut ('… các khoảng ch…'); each line of a
    title holds at most 40 characters (about 300 px in the title's font) and, in the smaller
    subtitle font below it, what the numbers are in at most 48."""
    for name, spec in _province_charts().items():
        title = spec["title"]
        assert title["text"] and title["subtitle"], name
        assert len(title["text"]) <= 40 and len(title["subtitle"]) <= 48, (name, title)


def test_rank_sets_chart_axis_reads_as_unit_names():
    from survey.charts import rank_sets_chart

    ranking = pd.DataFrame({
        "unit": ["HG01", "HG02"], "unit_name": ["Sở Nội vụ", "Sở Y tế"], "set_rank": [2, 1],
        "rank_low": [1, 1], "rank_high": [2, 2], "rank_low_all": [1, 1], "rank_high_all": [2, 2],
        "rank_label": ["2/2", "1/2"]})
    spec = rank_sets_chart(ranking, lang="vi").to_dict()
    y = next(e["y"] for e in _encodings(spec) if "y" in e)
    assert y["field"] == "unit_label" and y["sort"] == ["Sở Y tế", "Sở Nội vụ"]


def test_small_multiples_give_each_panel_its_own_period_axis():
    """Walk at 1280 px: seven panels in four columns left a period axis under the empty
    eighth cell; each panel now carries its own axis."""
    from survey.charts import criteria_small_multiples

    criteria = pd.DataFrame({
        "code": [str(c) for c in range(1, 8) for _ in range(2)],
        "title": [f"Tiêu chí {c}" for c in range(1, 8) for _ in range(2)],
        "period": ["2024-Q3", "2024-Q4"] * 7, "score": 2.0, "percent": 66.7, "max": 3.0,
        "ci_low": 1.8, "ci_high": 2.2})
    spec = criteria_small_multiples(criteria, lang="vi").to_dict()
    assert spec["resolve"] == {"axis": {"x": "independent"}}
    assert spec["columns"] == 4
