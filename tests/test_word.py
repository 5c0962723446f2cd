"""The Word reports: open the document and check its cells and sentences against the engine."""

from __future__ import annotations

import io
import re

import pytest
from docx import Document

from survey.auth import FULL_ACCESS
from survey.dashboard import load_source, province_report, unit_report
from survey.diagnosis import change_sentence, diagnose

UNIT, PERIOD = "HG01", "2024-Q4"


def vi(value: float, decimals: int = 2) -> str:
    """The Vietnamese spelling of a number, written here by hand: 15,43 / 1.234,50 / −0,83."""
    text = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return ("−" if round(value, decimals) < 0 else "") + text


def signed(value: float) -> str:
    text = vi(value)
    return text if text.startswith("−") or round(value, 2) == 0 else "+" + text


@pytest.fixture(scope="module")
def demo(demo_url):
    from survey.db import make_engine, new_session

    engine = make_engine(demo_url)
    with new_session(engine) as session:
        source = load_source(session=session, family="dtxhh-haugiang", scope=FULL_ACCESS)
        report = unit_report(session=session, source=source, scope=FULL_ACCESS, unit=UNIT,
                             period=PERIOD)
    engine.dispose()
    return source, report


def paragraphs(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def cells(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def test_unit_document_figures_are_the_engines(demo):
    from survey.word import unit_document

    source, report = demo
    document = Document(io.BytesIO(unit_document(report, source=source, against="year-ago")))
    text = "\n".join(paragraphs(document))
    total = report.current.total
    assert "Cục Thi hành án dân sự tỉnh Hậu Giang" in text and "Quý 4/2024" in text
    assert (f"Điểm khảo sát: {vi(total.score)}/22 điểm (KTC 95%: {vi(total.ci[0])} – "
            f"{vi(total.ci[1])}; {report.current.n} phiếu)") in text

    # The dimension table in the office's layout.
    table = cells(document.tables[0])
    header = table[0]
    assert header[:4] == ["STT", "Tiêu chí", "Điểm chuẩn", "Quý 4/2024"]
    assert header[5] == "Quý 4/2023" and header[6] == "So sánh"
    change = report.change_year_ago
    for k, row in enumerate(table[1:8]):
        criterion = report.current.criteria[k]
        delta = change.criteria[k]
        assert row[0] == str(k + 1)
        assert row[2] == vi(criterion.maximum)
        assert row[3] == vi(criterion.score)
        assert row[4] == f"{vi(criterion.ci[0])} – {vi(criterion.ci[1])}"
        assert row[5] == vi(report.year_ago.criteria[k].score)
        assert row[6] == signed(delta.change)
        significant = delta.ci[0] > 0 or delta.ci[1] < 0
        assert row[8] == ("Có" if significant else "Chưa")
    last = table[8]
    assert last[1] == "Tổng cộng" and last[3] == vi(total.score)
    assert last[6] == signed(change.total.change)

    # A paragraph per change, honest about uncertainty, with the engine's numbers.
    delta = change.total
    word = "giảm" if delta.change < 0 else "tăng"
    sentence = next(p for p in paragraphs(document)
                    if p.startswith("Tổng điểm") and "cùng kỳ năm trước" in p)
    assert f"{word} {vi(abs(delta.change))} điểm so với cùng kỳ năm trước" in sentence
    assert f"({vi(report.year_ago.total.score)} → {vi(total.score)})" in sentence
    assert (f"KTC 95%: {signed(delta.ci[0]) if delta.ci[0] < 0 else vi(delta.ci[0])} – "
            f"{signed(delta.ci[1]) if delta.ci[1] < 0 else vi(delta.ci[1])}") in sentence
    if delta.ci[0] > 0 or delta.ci[1] < 0:
        assert "có ý nghĩa thống kê" in sentence
    else:
        assert f"chưa đủ bằng chứng để kết luận là {word} thật" in sentence

    # The decomposition sentence and the questions where most points were lost.
    diagnosis = diagnose(source=source, report=report, against="year-ago", groups=False)
    assert f"tổng điểm {change_sentence(diagnosis, 'vi')}" in text
    numbers = re.findall(r"(\d+,\d\d) ở tiêu chí (\d)", text)
    assert numbers
    by_code = {c.code: c.change for c in change.criteria}
    for amount, code in numbers:
        assert amount == vi(abs(by_code[code]))
    lost = cells(document.tables[1])
    assert lost[0][:6] == ["Câu", "Nội dung", "Điểm chuẩn", "Điểm đạt", "KTC 95%", "Điểm bị mất"]
    top = diagnosis.questions.head(10)
    assert [r[0] for r in lost[1:]] == list(top["code"])
    assert [r[5] for r in lost[1:]] == [vi(v) for v in top["lost"]]
    assert [r[3] for r in lost[1:]] == [vi(v) for v in top["score"]]

    # Charts as images, and the method section.
    assert len(document.inline_shapes) == 3
    assert "Phương pháp tính" in text and "«Có ý nghĩa thống kê» nghĩa là" in text


def test_unit_document_in_english(demo):
    from survey.word import unit_document

    source, report = demo
    document = Document(io.BytesIO(unit_document(report, source=source, against="previous",
                                                 lang="en", charts=False)))
    header = cells(document.tables[0])[0]
    assert header[:4] == ["No.", "Dimension", "Max", "Q4 2024"]
    total = report.current.total
    assert f"Survey score: {total.score:.2f}/22 points" in "\n".join(paragraphs(document))
    assert len(document.inline_shapes) == 0


def test_province_document_figures_are_the_engines(demo):
    from survey.par import classify
    from survey.word import province_document

    source, _ = demo
    report = province_report(source=source, period=PERIOD, against="previous", classify=classify)
    document = Document(io.BytesIO(province_document(report, source=source, charts=False)))
    text = "\n".join(paragraphs(document))
    average = report.aggregate.total
    assert f"Bình quân toàn tỉnh: {vi(average.score)}/22 điểm" in text
    ranking = cells(document.tables[0])
    assert ranking[0][:4] == ["Hạng", "Đơn vị", "n", "Điểm"]
    assert len(ranking) == len(report.ranking) + 1
    for row, (_, expected) in zip(ranking[1:], report.ranking.iterrows(), strict=True):
        assert row[1] == expected["unit_name"]
        assert row[3] == vi(expected["score"])
        assert row[5] == signed(expected["change"])
    significant = report.ranking[report.ranking["significant"].fillna(False).astype(bool)]
    for _, row in significant.iterrows():
        assert any(p.startswith(row["unit_name"]) and "có ý nghĩa thống kê" in p
                   for p in paragraphs(document))
    weak = cells(document.tables[1])
    assert weak[0][0] == "Câu" and len(weak) == 11
