"""The office's Word reports (python-docx), written from the engine's numbers.

`unit_document` and `province_document` return the bytes of a .docx an office can edit, sign and
send. Every figure comes from `survey.dashboard` / `survey.diagnosis` objects and is printed by
`survey.formatting` (Vietnamese number format); charts are the pages' Altair charts rendered
offline to PNG by vl-convert. Requirements: python-docx, vl-convert-python.
"""

from __future__ import annotations

import io

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from survey.changes import ChangeEstimate
from survey.charts import (
    caterpillar,
    criteria_small_multiples,
    lost_heatmap,
    pareto_chart,
    trend_chart,
)
from survey.dashboard import office_table
from survey.diagnosis import change_sentence, diagnose, province_questions, questions_display
from survey.formatting import (
    format_count,
    format_level,
    format_number,
    format_p_value,
    format_signed,
)
from survey.periods import parse_period
from survey.tables import criteria_frame, scores_frame
from survey.text import tr


def _png(chart, width: int | None = None) -> bytes | None:
    """An Altair chart as PNG, rendered offline (None when vl-convert cannot render it)."""
    import vl_convert

    try:
        if width is not None:
            chart = chart.properties(width=width)
        return vl_convert.vegalite_to_png(chart.to_json(), scale=2)
    except Exception:  # noqa: BLE001 - a chart that fails to render leaves a note, not a crash
        return None


def _document(landscape: bool = False) -> Document:
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    section = document.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2))
    return document


def _table(document: Document, frame: pd.DataFrame, font: float = 9,
           widths: dict[str, float] | None = None) -> None:
    """A table with a bold header row; `widths` gives some columns a width in cm."""
    table = document.add_table(rows=1, cols=len(frame.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, frame.columns, strict=True):
        cell.text = str(name)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for _, row in frame.iterrows():
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(font)
    if not widths:
        return
    # Every column gets a width (the named ones theirs, the others an equal share of what is
    # left of the text width), so the table fits between the margins in Word and LibreOffice.
    section = document.sections[-1]
    text_width = (section.page_width - section.left_margin - section.right_margin) / 360000
    named = {name: width for name, width in widths.items() if name in frame.columns}
    others = len(frame.columns) - len(named)
    share = max((text_width - sum(named.values())) / others, 1.2) if others else 0.0
    table.autofit = False
    for position, name in enumerate(frame.columns):
        width = Cm(named.get(name, share))
        table.columns[position].width = width
        for cell in table.columns[position].cells:
            cell.width = width


def _image(document: Document, png: bytes | None, width_cm: float, lang: str) -> None:
    if png is None:
        document.add_paragraph(tr(lang, "(Không dựng được biểu đồ.)", "(The chart could not be drawn.)"))
        return
    document.add_picture(io.BytesIO(png), width=Cm(width_cm))


def _ci(low, high, lang: str, sep: str = " – ") -> str:
    if low is None or high is None or low != low or high != high:
        return "—"
    return f"{format_signed(low, 2, lang) if low < 0 else format_number(low, 2, lang)}{sep}" \
           f"{format_signed(high, 2, lang) if high < 0 else format_number(high, 2, lang)}"


def change_paragraph(subject: str, change: ChangeEstimate | None, current: str, baseline: str,
                     against_text: str, level: float, lang: str = "vi") -> str:
    """One sentence about a change, honest about its uncertainty."""
    label = format_level(level, lang)
    if change is None or change.change is None:
        return tr(lang, f"{subject}: chưa đủ dữ liệu để so sánh {against_text}.",
                  f"{subject}: not enough data to compare with {against_text}.")
    size = format_number(abs(change.change), 2, lang)
    if round(abs(change.change), 2) == 0:
        head = tr(lang, f"{subject} không đổi so với {against_text} ({baseline} → {current})",
                  f"{subject} is unchanged against {against_text} ({baseline} → {current})")
    else:
        down = change.change < 0
        head = tr(lang, f"{subject} {'giảm' if down else 'tăng'} {size} điểm so với {against_text} "
                        f"({baseline} → {current})",
                  f"{subject} {'fell' if down else 'rose'} by {size} points against {against_text} "
                  f"({baseline} → {current})")
    if change.ci is None:
        return head + tr(lang, "; không tính được khoảng tin cậy cho mức thay đổi này (quá ít phiếu "
                               "hoặc sai số bằng 0), nên chưa thể kết luận.",
                         "; no interval can be computed for this change (too few responses or a "
                         "zero standard error), so no conclusion can be drawn.")
    interval = _ci(*change.ci, lang)
    p = format_p_value(change.p_value, lang)
    word_vi = "giảm" if change.change < 0 else "tăng"
    word_en = "fall" if change.change < 0 else "rise"
    if change.ci[0] > 0 or change.ci[1] < 0:
        return head + tr(lang, f"; mức {word_vi} này có ý nghĩa thống kê (KTC {label}: {interval}; "
                               f"{p}): khó có thể chỉ do ngẫu nhiên chọn mẫu.",
                         f"; this {word_en} is statistically significant ({label} CI: {interval}; "
                         f"{p}): it is unlikely to be sampling noise alone.")
    return head + tr(lang, f"; mức thay đổi này chưa đủ bằng chứng để kết luận là {word_vi} thật "
                           f"(KTC {label}: {interval}; {p}).",
                     f"; there is not enough evidence that this is a real {word_en} "
                     f"({label} CI: {interval}; {p}).")


def _method(document: Document, questionnaire, level: float, lang: str) -> None:
    label = format_level(level, lang)
    document.add_heading(tr(lang, "Phương pháp tính", "Method"), level=1)
    groups = ", ".join(f"{g.label.get(lang)} {format_number(100 * g.weight, 0, lang)}%"
                       for g in (questionnaire.groups if questionnaire else ()))
    lines = [
        tr(lang, "Mỗi câu trả lời được tính theo tỷ lệ điểm của phương án đã chọn nhân với điểm "
                 "chuẩn của câu; phương án «không biết / không có ý kiến» không tính vào mẫu số của "
                 "câu. Điểm tiêu chí là tổng điểm các câu (quy về điểm chuẩn của tiêu chí khi có câu "
                 "không ai trả lời); tổng điểm là tổng 7 tiêu chí.",
           "Each answer earns its option's share of the question's points; \"don't know / no "
           "opinion\" is left out of the question's denominator. A dimension's score is the sum of "
           "its questions (rescaled to the dimension's points when a question has no answer); the "
           "total is the sum of the dimensions."),
        tr(lang, f"Trọng số: mỗi nhóm người trả lời được quy về tỷ trọng cố định ({groups}), chia "
                 "đều cho số phiếu của nhóm trong kỳ.",
           f"Weights: each respondent group is brought to its fixed share ({groups}), divided "
           "equally among the group's responses in the period.") if groups else None,
        tr(lang, f"Khoảng tin cậy {label} (KTC): sai số chuẩn tính bằng phương pháp tuyến tính hóa "
                 "Taylor, phân tầng theo nhóm người trả lời; khoảng tin cậy logit-t nên luôn nằm "
                 "trong thang điểm. Dưới 5 phiếu không có khoảng tin cậy; dưới 30 phiếu độ tin cậy "
                 "thấp.",
           f"{label} confidence interval (CI): standard errors by Taylor linearisation, stratified "
           "by respondent group; a logit-t interval, so it stays within the scale. Below 5 "
           "responses there is no interval; below 30 reliability is low."),
        tr(lang, "So sánh hai kỳ: hai mẫu độc lập, phương sai cộng lại, bậc tự do "
                 "Welch–Satterthwaite, kiểm định t hai phía.",
           "Comparing two periods: independent samples, variances added, Welch–Satterthwaite "
           "degrees of freedom, two-sided t test."),
        tr(lang, f"«Có ý nghĩa thống kê» nghĩa là KTC {label} của mức thay đổi không chứa 0 "
                 f"(p < {format_number(1 - level, 2, lang)}): mức thay đổi khó có thể chỉ do ngẫu "
                 "nhiên chọn mẫu. «Chưa đủ bằng chứng» không có nghĩa là không thay đổi, mà là với "
                 "số phiếu hiện có chưa phân biệt được với dao động ngẫu nhiên.",
           f"\"Statistically significant\" means the {label} CI of the change excludes 0 "
           f"(p < {format_number(1 - level, 2, lang)}): the change is unlikely to be sampling "
           "noise alone. \"Not enough evidence\" does not mean no change, only that with these "
           "responses it cannot be told apart from chance."),
    ]
    for line in filter(None, lines):
        document.add_paragraph(line)


def _significance(change: float | None, low, high, lang: str) -> str:
    if change is None or change != change or low is None or low != low:
        return "—"
    return tr(lang, "Có", "Yes") if (low > 0 or high < 0) else tr(lang, "Chưa", "No")


def dimension_table(report, against: str, lang: str) -> pd.DataFrame:
    """The office's layout: STT, Tiêu chí, Điểm chuẩn, this period, comparison, So sánh, CIs and
    significance (text, Vietnamese number format)."""
    table = office_table(report, against=against, lang=lang)
    baseline, _ = report.comparison(against)
    current_label = parse_period(report.period).label(lang)
    baseline_label = parse_period(baseline.period).label(lang) if baseline else tr(
        lang, "Kỳ so sánh", "Comparison")
    ci = f"KTC {format_level(report.level, lang)}" if lang == "vi" else \
        f"{format_level(report.level, lang)} CI"
    return pd.DataFrame({
        tr(lang, "STT", "No."): table["stt"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        tr(lang, "Tiêu chí", "Dimension"): table["criterion"],
        tr(lang, "Điểm chuẩn", "Max"): table["max"].map(lambda v: format_number(v, 2, lang)),
        current_label: table["current"].map(lambda v: format_number(v, 2, lang)),
        f"{ci} ({current_label})": [_ci(lo, hi, lang) for lo, hi in
                                    zip(table["current_ci_low"], table["current_ci_high"], strict=True)],
        baseline_label: table["baseline"].map(lambda v: format_number(v, 2, lang)),
        tr(lang, "So sánh", "Change"): table["change"].map(lambda v: format_signed(v, 2, lang)),
        tr(lang, f"{ci} của thay đổi", f"{ci} of change"): [
            _ci(lo, hi, lang) for lo, hi in zip(table["change_ci_low"], table["change_ci_high"],
                                                strict=True)],
        tr(lang, "Có ý nghĩa thống kê", "Significant"): [
            _significance(c, lo, hi, lang) for c, lo, hi in
            zip(table["change"], table["change_ci_low"], table["change_ci_high"], strict=True)],
    })


def unit_document(report, *, source, against: str = "year-ago", lang: str = "vi",
                  charts: bool = True) -> bytes:
    """The unit's Word report for `report` (a `survey.dashboard.UnitReport`)."""
    current = report.current
    if current is None:
        raise ValueError("the unit has no responses in this period")
    level = report.level
    label = format_level(level, lang)
    period_label = parse_period(report.period).label(lang)
    document = _document(landscape=True)
    heading = document.add_heading(tr(lang, "BÁO CÁO KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC VỀ CẢI CÁCH HÀNH "
                                            "CHÍNH", "SOCIAL SURVEY REPORT ON ADMINISTRATIVE REFORM"),
                                   level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(tr(lang, f"Đơn vị: {report.unit_name} ({report.unit})",
                              f"Unit: {report.unit_name} ({report.unit})"))
    document.add_paragraph(tr(lang, f"Kỳ báo cáo: {period_label}", f"Period: {period_label}"))
    total = current.total
    maximum = format_number(current.maximum, 0, lang)
    if total is not None and total.score is not None:
        interval = _ci(*total.ci, lang) if total.ci else tr(lang, "không có", "none")
        headline = tr(lang, f"Điểm khảo sát: {format_number(total.score, 2, lang)}/{maximum} điểm "
                            f"(KTC {label}: {interval}; {format_count(current.n, lang)} phiếu).",
                      f"Survey score: {format_number(total.score, 2, lang)}/{maximum} points "
                      f"({label} CI: {interval}; {format_count(current.n, lang)} responses).")
    else:
        headline = tr(lang, f"Điểm khảo sát: chưa xác định ({format_count(current.n, lang)} phiếu).",
                      f"Survey score: undefined ({format_count(current.n, lang)} responses).")
    paragraph = document.add_paragraph()
    paragraph.add_run(headline).bold = True

    baseline, change = report.comparison(against)
    against_text = tr(lang, "cùng kỳ năm trước" if against != "previous" else "kỳ trước",
                      "the same period last year" if against != "previous" else "the previous period")
    document.add_heading(tr(lang, "Điểm theo tiêu chí", "Scores by dimension"), level=1)
    _table(document, dimension_table(report, against, lang),
           widths={tr(lang, "Tiêu chí", "Dimension"): 6, tr(lang, "STT", "No."): 1})

    document.add_heading(tr(lang, "Thay đổi so với kỳ so sánh", "Changes against the comparison "
                                                                "period"), level=1)
    for name_vi, name_en, side, side_change in (
        ("kỳ trước", "the previous period", report.previous, report.change_previous),
        ("cùng kỳ năm trước", "the same period last year", report.year_ago, report.change_year_ago),
    ):
        if side is None:
            document.add_paragraph(tr(lang, f"Không có số liệu {name_vi} để so sánh.",
                                      f"No data for {name_en} to compare with."))
            continue
        document.add_paragraph(change_paragraph(
            tr(lang, "Tổng điểm", "The total"), side_change.total if side_change else None,
            format_number(total.score if total else None, 2, lang),
            format_number(side.total.score if side.total else None, 2, lang),
            tr(lang, name_vi, name_en), level, lang))
    if baseline is not None and change is not None and report.questionnaire is not None:
        titles = {c.code: c.title.get(lang) for c in report.questionnaire.criteria}
        for estimate in change.criteria:
            document.add_paragraph(change_paragraph(
                tr(lang, f"Tiêu chí {estimate.code} ({titles.get(estimate.code, '')})",
                   f"Dimension {estimate.code} ({titles.get(estimate.code, '')})"), estimate,
                format_number(estimate.current, 2, lang), format_number(estimate.baseline, 2, lang),
                against_text, level, lang), style="List Bullet")

    diagnosis = diagnose(source=source, report=report, against=against, lang=lang, groups=False)
    sentence = change_sentence(diagnosis, lang) if diagnosis else None
    document.add_heading(tr(lang, "Điểm bị mất ở đâu", "Where the points were lost"), level=1)
    if sentence:
        end = "" if sentence.endswith("…") else "."
        document.add_paragraph(tr(lang, f"So với {against_text}, tổng điểm {sentence}{end}",
                                  f"Against {against_text}, the total is {sentence}{end}"))
    document.add_paragraph(tr(lang, "Các câu hỏi mất nhiều điểm nhất (điểm bị mất = điểm chuẩn − "
                                    "điểm đạt):",
                              "The questions where most points were lost (points lost = points − "
                              "score):"))
    shown = questions_display(diagnosis, lang, f"KTC {label}" if lang == "vi" else f"{label} CI",
                              limit=10)
    keep = [c for c in shown.columns if not c.endswith("(%)")]
    _table(document, shown[keep], font=8, widths={tr(lang, "Nội dung", "Question text"): 8})

    if charts:
        document.add_heading(tr(lang, "Biểu đồ", "Charts"), level=1)
        _image(document, _png(pareto_chart(diagnosis.questions, lang=lang), 700), 24, lang)
        history = scores_frame(report.history)
        if len(history) > 1:
            _image(document, _png(trend_chart(history, maximum=current.maximum, lang=lang), 700),
                   22, lang)
            _image(document, _png(criteria_small_multiples(
                criteria_frame(report.history, source.questionnaires, lang=lang),
                highlight=report.fell_most, lang=lang)), 24, lang)
    _method(document, report.questionnaire, level, lang)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def province_document(report, *, source, lang: str = "vi", charts: bool = True) -> bytes:
    """The province's Word report for `report` (a `survey.dashboard.ProvinceReport`)."""
    level = report.level
    label = format_level(level, lang)
    period_label = parse_period(report.period).label(lang)
    whole = report.whole_province
    document = _document(landscape=True)
    heading = document.add_heading(tr(lang, "BÁO CÁO KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC VỀ CẢI CÁCH HÀNH "
                                            "CHÍNH CÁC ĐƠN VỊ",
                                      "SOCIAL SURVEY REPORT ON ADMINISTRATIVE REFORM: ALL UNITS"),
                                   level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(tr(lang, f"Kỳ báo cáo: {period_label}", f"Period: {period_label}"))
    aggregate = report.aggregate
    name_vi = "Bình quân toàn tỉnh" if whole else "Bình quân các đơn vị được xem"
    name_en = "Provincial average" if whole else "Average of the units in view"
    if aggregate is not None and aggregate.total is not None and aggregate.total.score is not None:
        estimate = aggregate.total
        interval = _ci(*estimate.ci, lang) if estimate.ci else "—"
        paragraph = document.add_paragraph()
        paragraph.add_run(tr(
            lang, f"{name_vi}: {format_number(estimate.score, 2, lang)}/"
                  f"{format_number(estimate.maximum, 0, lang)} điểm (KTC {label}: {interval}; "
                  f"{format_count(aggregate.units, lang)} đơn vị, {format_count(aggregate.n, lang)} "
                  "phiếu; mỗi đơn vị tính như nhau).",
            f"{name_en}: {format_number(estimate.score, 2, lang)}/"
            f"{format_number(estimate.maximum, 0, lang)} points ({label} CI: {interval}; "
            f"{format_count(aggregate.units, lang)} units, {format_count(aggregate.n, lang)} "
            "responses; each unit counts once).")).bold = True
    ranking = report.ranking
    document.add_heading(tr(lang, "Xếp hạng các đơn vị, với khoảng tin cậy",
                            "Ranking with intervals"), level=1)
    ci = f"KTC {label}" if lang == "vi" else f"{label} CI"
    frame = pd.DataFrame({
        tr(lang, "Hạng", "Rank"): ranking["rank_label"],
        tr(lang, "Đơn vị", "Unit"): ranking["unit_name"],
        "n": ranking["n"].map(lambda v: format_count(v, lang)),
        tr(lang, "Điểm", "Score"): ranking["score"].map(lambda v: format_number(v, 2, lang)),
        ci: [_ci(lo, hi, lang) for lo, hi in zip(ranking["ci_low"], ranking["ci_high"], strict=True)],
        tr(lang, "Thay đổi", "Change"): ranking["change"].map(lambda v: format_signed(v, 2, lang)),
        tr(lang, "p (hiệu chỉnh BH)", "p (BH adjusted)"): ranking["p_adjusted"].map(
            lambda v: format_p_value(v, lang)),
        tr(lang, "Có ý nghĩa thống kê", "Significant"): ranking["significant"].map(
            lambda v: "—" if v is None or v != v else tr(lang, "Có", "Yes") if v else tr(lang, "Chưa", "No")),
    })
    _table(document, frame)
    document.add_paragraph(tr(lang, "Các đơn vị có khoảng tin cậy chồng nhau thì thứ hạng chưa chắc "
                                    "chắn khác nhau.",
                              "Units whose intervals overlap are not clearly apart in rank."))
    against_text = tr(lang, "kỳ trước" if report.against == "previous" else "cùng kỳ năm trước",
                      "the previous period" if report.against == "previous"
                      else "the same period last year")
    document.add_heading(tr(lang, "Đơn vị có thay đổi có ý nghĩa thống kê",
                            "Units with a significant change"), level=1)
    significant = ranking[ranking["significant"].fillna(False).astype(bool)]
    if significant.empty:
        document.add_paragraph(tr(lang, f"Không đơn vị nào thay đổi có ý nghĩa thống kê so với "
                                        f"{against_text} (sau hiệu chỉnh Benjamini–Hochberg).",
                                  f"No unit changed significantly against {against_text} (after "
                                  "Benjamini–Hochberg adjustment)."))
    for _, row in significant.iterrows():
        change = report.changes[row["unit"]].total
        document.add_paragraph(change_paragraph(
            row["unit_name"], change, format_number(change.current, 2, lang),
            format_number(change.baseline, 2, lang), against_text, level, lang) + tr(
            lang, f" p hiệu chỉnh: {format_number(row['p_adjusted'], 3, lang)}.",
            f" Adjusted p: {format_number(row['p_adjusted'], 3, lang)}."), style="List Bullet")
    questionnaire = report.questionnaire
    if questionnaire is not None:
        long, weakest = province_questions(source.responses, questionnaire, report.period,
                                           units=set(ranking["unit"]), level=level, lang=lang)
        document.add_heading(tr(lang, "Các câu hỏi yếu chung", "Shared weak questions"), level=1)
        document.add_paragraph(tr(lang, "Các câu mất nhiều điểm nhất tính bình quân các đơn vị (mỗi "
                                        "đơn vị tính như nhau):",
                                  "The questions that lose most points on the units' average (each "
                                  "unit counts once):"))
        top = weakest.head(10)
        _table(document, pd.DataFrame({
            tr(lang, "Câu", "Question"): top["code"],
            tr(lang, "Nội dung", "Question text"): top["text"],
            tr(lang, "Điểm chuẩn", "Points"): top["points"].map(lambda v: format_number(v, 2, lang)),
            tr(lang, "Điểm đạt (bình quân)", "Score (average)"): top["score"].map(
                lambda v: format_number(v, 2, lang)),
            ci: [_ci(lo, hi, lang) for lo, hi in zip(top["ci_low"], top["ci_high"], strict=True)],
            tr(lang, "Điểm bị mất", "Points lost"): top["lost"].map(lambda v: format_number(v, 2, lang)),
            tr(lang, "% điểm bị mất", "% lost"): top["percent_lost"].map(
                lambda v: format_number(v, 0, lang)),
        }), font=8, widths={tr(lang, "Nội dung", "Question text"): 9})
        if charts:
            document.add_heading(tr(lang, "Biểu đồ", "Charts"), level=1)
            _image(document, _png(caterpillar(ranking, maximum=questionnaire.max_points,
                                              lang=lang), 650), 22, lang)
            if len(long):
                _image(document, _png(lost_heatmap(long, lang=lang), 700), 24, lang)
    _method(document, questionnaire, level, lang)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
