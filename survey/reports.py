"""Excel reports laid out as the offices report: Vietnamese headers, numbers kept as numbers
(shown with 2 decimals), and a "Phương pháp" sheet stating the method, the level and n."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from survey.dashboard import ProvinceReport, UnitReport, index_table, office_table
from survey.formatting import format_level
from survey.messages import MESSAGES
from survey.periods import parse_period
from survey.spreadsheet import text_cells_only
from survey.tables import criteria_frame
from survey.text import Text, render, tr

TWO_DECIMALS = "0.00"
P_VALUE_FORMAT = '[<0.001]"< 0.001";0.000'  # shown "< 0,001" (never 3.42E-08), still a number
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)


def _blank(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _write_table(sheet: Worksheet, top: int, headers: Sequence[str], rows: Sequence[Sequence[Any]],
                 formats: dict[int, str]) -> None:
    """Headers at row `top`, then rows; column i (0-based) gets number format formats[i]."""
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(row=top, column=column, value=header)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for offset, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=top + offset, column=column, value=_blank(value))
            if column - 1 in formats:
                cell.number_format = formats[column - 1]
    for column, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[column - 1])) for r in rows if r[column - 1] is not None])
        sheet.column_dimensions[get_column_letter(column)].width = min(max(10, width * 0.9), 60)


def _method_sheet(workbook: Workbook, title: str, lines: Sequence[tuple[str, Any]]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.column_dimensions["A"].width = 38
    sheet.column_dimensions["B"].width = 110
    for row, (key, value) in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=key).font = BOLD
        sheet.cell(row=row, column=2, value=value).alignment = Alignment(wrap_text=True)


METHOD_TEXT = Text(
    "Điểm mỗi câu hỏi là trung bình có trọng số của điểm các phiếu đã chọn một mức có điểm "
    "(phương án 'Không biết / không có ý kiến' không tính vào mẫu số). Trọng số mỗi phiếu bằng tỷ "
    "trọng của nhóm đối tượng chia cho số phiếu của nhóm trong kỳ (hậu phân tầng). Điểm tiêu chí là "
    "tổng điểm các câu hỏi, quy về điểm chuẩn nếu có câu chưa ai trả lời; tổng điểm là tổng các "
    "tiêu chí. Sai số chuẩn tính bằng tuyến tính hóa Taylor, phân tầng theo nhóm đối tượng; khoảng "
    "tin cậy logit-t nên luôn nằm trong [0; điểm tối đa]. Thay đổi giữa hai kỳ coi hai mẫu độc lập, "
    "bậc tự do Welch–Satterthwaite.",
    "Each question's score is the weighted mean of the scores of the responses that chose a "
    "scored option ('Don't know / no opinion' is left out of the denominator). Each response "
    "weighs its respondent group's share divided by the group's responses in the period "
    "(post-stratification). A dimension's score is the sum of its questions' scores, rescaled to "
    "its maximum when a question has no scored answer; the total is the sum of the dimensions. "
    "Standard errors by Taylor linearisation, stratified by respondent group; logit-t intervals "
    "stay within [0; maximum]. A change between two periods treats them as independent samples, "
    "Welch–Satterthwaite degrees of freedom.",
)


def _to_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    text_cells_only(workbook).save(buffer)  # a unit name "=…" stays text, never a formula
    return buffer.getvalue()


def _ci(lang: str, level: float, end: str) -> str:
    """'KTC 95% — dưới' / '95% CI — low', the level from the report."""
    percent = format_level(level, lang)
    return tr(lang, f"KTC {percent} — {'dưới' if end == 'low' else 'trên'}",
              f"{percent} CI — {'low' if end == 'low' else 'high'}")


def unit_workbook(report: UnitReport, *, against: str = "year-ago", lang: str = "vi") -> bytes:
    """The unit's table (STT, Tiêu chí, Điểm chuẩn, this period, comparison period, So sánh …),
    in `lang` ('vi' or 'en'), its interval headers at the report's confidence level."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = tr(lang, "Bảng điểm", "Scores")
    period_label = parse_period(report.period).label(lang)
    baseline, change = report.comparison("previous" if against == "previous" else "year-ago")
    baseline_label = (parse_period(baseline.period).label(lang) if baseline
                      else tr(lang, "Kỳ so sánh", "Comparison period"))
    sheet["A1"] = tr(lang, f"KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC — {report.unit_name.upper()}",
                     f"SOCIAL SURVEY RESULTS — {report.unit_name.upper()}")
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = tr(lang, f"Kỳ: {period_label}; so sánh với: {baseline_label}",
                     f"Period: {period_label}; compared with: {baseline_label}")
    table = office_table(report, against=against, lang=lang)
    percent = format_level(report.level, lang)
    headers = [tr(lang, "STT", "No."), tr(lang, "Tiêu chí", "Dimension"),
               tr(lang, "Điểm chuẩn", "Maximum"), period_label,
               _ci(lang, report.level, "low"), _ci(lang, report.level, "high"),
               baseline_label, tr(lang, "So sánh", "Change"),
               tr(lang, f"KTC {percent} của thay đổi — dưới", f"{percent} CI of the change — low"),
               tr(lang, f"KTC {percent} của thay đổi — trên", f"{percent} CI of the change — high"),
               "p", tr(lang, "Đánh giá", "Reading")]
    rows = [] if table.empty else [
        [None if pd.isna(r.stt) else int(r.stt), r.criterion, r.max, r.current, r.current_ci_low,
         r.current_ci_high, r.baseline, r.change, r.change_ci_low, r.change_ci_high, r.p_value,
         r.verdict]
        for r in table.itertuples()
    ]
    _write_table(sheet, 4, headers, rows,
                 {i: TWO_DECIMALS for i in range(2, 10)} | {10: P_VALUE_FORMAT})
    if rows:
        for column in range(1, len(headers) + 1):
            sheet.cell(row=4 + len(rows), column=column).font = BOLD
    for index in report.current.indices if report.current else ():
        _index_sheet(workbook, report, index.index, against, baseline_label)
    current = report.current
    _method_sheet(workbook, tr(lang, "Phương pháp", "Method"), [
        (tr(lang, "Phương pháp", "Method"), METHOD_TEXT.get(lang)),
        (tr(lang, "Mức tin cậy", "Confidence level"), percent),
        (tr(lang, "Số phiếu kỳ này (n)", "Responses this period (n)"), current.n if current else 0),
        (tr(lang, "Số phiếu kỳ so sánh", "Responses in the comparison period"),
         baseline.n if baseline else 0),
        (tr(lang, "Phiếu khảo sát", "Questionnaire"),
         tr(lang, f"{current.questionnaire} phiên bản {current.version}",
            f"{current.questionnaire} version {current.version}") if current else ""),
        (tr(lang, "Cơ sở so sánh", "Basis of comparison"),
         tr(lang, "điểm", "points") if not change or change.basis == "points"
         else tr(lang, "tỷ lệ % điểm tối đa (hai phiên bản phiếu khác cấu trúc)",
                 "% of the maximum (two questionnaire versions of different structure)")),
        (tr(lang, "Lưu ý", "Note"),
         tr(lang, "n < 5: không tính khoảng tin cậy; 5 ≤ n < 30: độ tin cậy thấp.",
            "n < 5: no interval; 5 ≤ n < 30: low reliability.")),
    ])
    return _to_bytes(workbook)


def _index_sheet(workbook: Workbook, report: UnitReport, code: str, against: str,
                 baseline_label: str) -> None:
    """One sheet per index: shares in % overall, per criterion and per question."""
    table = index_table(report, code, against=against, lang="vi")
    index = report.current.index_score(code)
    name = index.index_label.vi if index.index_label else code
    sheet = workbook.create_sheet(name[:31])
    sheet["A1"] = f"{name.upper()} — {report.unit_name}"
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = ("Tỷ lệ (%) trên các câu trả lời có ý kiến; phần tử và chung là trung bình các "
                   "câu; thay đổi tính bằng điểm phần trăm")
    headers = ["Mã", "Nội dung", "Số phiếu có ý kiến", f"{name} (%)", "KTC 95% — dưới (%)",
               "KTC 95% — trên (%)", f"{baseline_label} (%)", "Thay đổi (điểm %)", "p",
               "Đánh giá"]

    def percent(value):
        return None if value is None or pd.isna(value) else 100.0 * value

    rows = [[r.code, r.label, int(r.n), percent(r.share), percent(r.ci_low), percent(r.ci_high),
             percent(r.baseline), percent(r.change), r.p_value, r.verdict]
            for r in table.itertuples()]
    _write_table(sheet, 4, headers, rows,
                 {i: TWO_DECIMALS for i in range(3, 8)} | {8: P_VALUE_FORMAT})


def province_workbook(report: ProvinceReport, *, lang: str = "vi") -> bytes:
    """The ranking, the scores by dimension, and the method, in `lang`. For a scope that is
    part of a province (a unit account) the average and ranks are labelled as those of the
    units in view, never as the province's."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = tr(lang, "Xếp hạng", "Ranking")
    label = parse_period(report.period).label(lang)
    whole = report.whole_province
    comparison = (tr(lang, "kỳ trước", "the previous period") if report.against == "previous"
                  else tr(lang, "cùng kỳ năm trước", "the same period last year"))
    sheet["A1"] = (tr(lang, f"XẾP HẠNG KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC — {label.upper()}",
                      f"SOCIAL SURVEY RANKING — {label.upper()}") if whole else
                   tr(lang, f"XẾP HẠNG CÁC ĐƠN VỊ ĐƯỢC XEM (KHÔNG PHẢI TOÀN TỈNH) — {label.upper()}",
                      f"RANKING OF THE UNITS IN VIEW (NOT THE PROVINCE) — {label.upper()}"))
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = tr(lang, f"Thay đổi so với {comparison}; ý nghĩa thống kê sau hiệu chỉnh "
                           "Benjamini–Hochberg",
                     f"Change against {comparison}; significance after Benjamini–Hochberg "
                     "adjustment")
    ranking = report.ranking
    headers = [tr(lang, "Hạng", "Rank") if whole
               else tr(lang, "Hạng trong các đơn vị được xem", "Rank among the units in view"),
               tr(lang, "Mã", "Code"), tr(lang, "Đơn vị", "Unit"),
               tr(lang, "Số phiếu", "Responses"), tr(lang, "Điểm", "Score"),
               _ci(lang, report.level, "low"), _ci(lang, report.level, "high"),
               tr(lang, "% tối đa", "% of maximum"), tr(lang, "Xếp loại", "Class"),
               tr(lang, "Thay đổi", "Change"), "p", "p (BH)",
               tr(lang, "Có ý nghĩa", "Significant"), tr(lang, "Độ tin cậy", "Reliability"),
               tr(lang, "Khoảng hạng — từ", "Rank set — from"),
               tr(lang, "Khoảng hạng — đến", "Rank set — to"),
               tr(lang, "Khoảng hạng đồng thời — từ", "Simultaneous rank set — from"),
               tr(lang, "Khoảng hạng đồng thời — đến", "Simultaneous rank set — to")]
    yes, no = tr(lang, "có", "yes"), tr(lang, "không", "no")
    indices = report.questionnaire.indices if report.questionnaire else ()
    for index in indices:
        name = index.label.get(lang)
        headers += [f"{name} (%)", _ci(lang, report.level, "low") + " (%)",
                    _ci(lang, report.level, "high") + " (%)",
                    tr(lang, f"Hạng theo {name.lower()}", f"Rank by {name.lower()}")]

    def as_int(value):
        return None if value is None or pd.isna(value) else int(value)

    def percent(value):
        return None if value is None or pd.isna(value) else 100.0 * value

    rows = [
        [r["rank_label"], r["unit"], r["unit_name"], int(r["n"]), r["score"], r["ci_low"],
         r["ci_high"], r["percent"], r.get("class", ""), r["change"], r["p_value"], r["p_adjusted"],
         "" if r["significant"] is None or pd.isna(r["significant"])
         else (yes if r["significant"] else no), reliability_text(r["flags"], lang),
         as_int(r["rank_low"]), as_int(r["rank_high"]), as_int(r["rank_low_all"]),
         as_int(r["rank_high_all"])]
        + [value for index in indices for value in (
            percent(r[f"index:{index.code}:share"]), percent(r[f"index:{index.code}:ci_low"]),
            percent(r[f"index:{index.code}:ci_high"]), r[f"index:{index.code}:rank_label"])]
        for r in ranking.to_dict("records")
    ]
    formats = {4: TWO_DECIMALS, 5: TWO_DECIMALS, 6: TWO_DECIMALS, 7: TWO_DECIMALS,
               9: TWO_DECIMALS, 10: P_VALUE_FORMAT, 11: P_VALUE_FORMAT}
    formats.update({18 + 4 * i + j: TWO_DECIMALS for i in range(len(indices)) for j in range(3)})
    _write_table(sheet, 4, headers, rows, formats)
    if report.aggregate is not None and report.aggregate.total is not None:
        total = report.aggregate.total
        row = 4 + len(rows) + 2
        average = (tr(lang, "Toàn tỉnh (bình quân đơn vị)", "Province (mean of the units)") if whole
                   else tr(lang, f"Bình quân các đơn vị được xem ({len(ranking)} đơn vị; "
                                 "không phải toàn tỉnh)",
                           f"Mean of the units in view ({len(ranking)} units; not the province)"))
        sheet.cell(row=row, column=3, value=average).font = BOLD
        for column, value in ((5, total.score), (6, total.ci[0] if total.ci else None),
                              (7, total.ci[1] if total.ci else None), (8, total.percent)):
            sheet.cell(row=row, column=column, value=value).number_format = TWO_DECIMALS
    criteria_sheet = workbook.create_sheet(tr(lang, "Theo tiêu chí", "By dimension"))
    if report.questionnaire is not None:
        scores = [s for s in report.scores.values() if s.version == report.questionnaire.version]
        criteria = criteria_frame(scores, {report.questionnaire.version: report.questionnaire})
        wide = criteria.pivot(index=["unit", "unit_name"], columns="code", values="score")
        codes = [c.code for c in report.questionnaire.criteria]
        headers = [tr(lang, "Mã", "Code"), tr(lang, "Đơn vị", "Unit")] + [
            tr(lang, f"TC {c} (/{p:g})", f"D{c} (/{p:g})") for c, p in report.questionnaire.structure()]
        rows = [[unit, name] + [wide.loc[(unit, name), c] for c in codes]
                for unit, name in wide.index]
        _write_table(criteria_sheet, 1, headers, rows, {i: TWO_DECIMALS for i in range(2, 2 + len(codes))})
    n_total = int(ranking["n"].sum()) if len(ranking) else 0
    _method_sheet(workbook, tr(lang, "Phương pháp", "Method"), [
        (tr(lang, "Phương pháp", "Method"), METHOD_TEXT.get(lang)),
        (tr(lang, "Điểm toàn tỉnh", "Provincial score") if whole
         else tr(lang, "Điểm bình quân các đơn vị được xem", "Mean of the units in view"),
         tr(lang, "Bình quân điểm các đơn vị (mỗi đơn vị một phiếu bầu), phương sai "
                  "Σ W²V / (Σ W)², bậc tự do Satterthwaite.",
            "Mean of the units' scores (one vote per unit), variance Σ W²V / (Σ W)², "
            "Satterthwaite degrees of freedom.")
         + ("" if whole else tr(lang, " Chỉ gồm các đơn vị trong phạm vi tài khoản, không phải "
                                      "toàn tỉnh.",
                                " Only the units within the account's scope, not the province."))),
        (tr(lang, "Xếp hạng", "Ranking"),
         tr(lang, "Theo điểm giảm dần; khoảng tin cậy chồng nhau nghĩa là thứ hạng chưa chắc chắn.",
            "By descending score; overlapping intervals mean the order is not certain.")),
        (tr(lang, "Mức tin cậy", "Confidence level"), format_level(report.level, lang)),
        (tr(lang, "Số đơn vị", "Units"), len(ranking)),
        (tr(lang, "Tổng số phiếu (n)", "Responses (n)"), n_total),
        (tr(lang, "Khoảng hạng", "Rank sets"),
         tr(lang, "Khoảng hạng của từng đơn vị (Bonferroni trên K − 1 so sánh của đơn vị đó) và "
                  "của cả bảng cùng lúc (Bonferroni trên K(K − 1)/2 cặp); chỉ gồm các đơn vị ước "
                  "lượng được sai số chuẩn.",
            "Each unit's rank set (Bonferroni over its K − 1 comparisons) and the sets of the "
            "whole table at once (Bonferroni over the K(K − 1)/2 pairs); only units with a "
            "defined standard error.")),
        (tr(lang, "Không tính vào bình quân", "Left out of the average"),
         ", ".join(report.aggregate.left_out_named()) if report.aggregate else ""),
    ])
    return _to_bytes(workbook)


def reliability_text(flags, lang: str = "vi") -> str:
    """Reliability flags ('low_reliability, partial' or a tuple) in `lang` (catalogue codes
    reliability.*)."""
    names = [f.strip() for f in flags.split(",")] if isinstance(flags, str) else list(flags or ())
    return "; ".join(render(f"reliability.{n}", lang=lang) if f"reliability.{n}" in MESSAGES else n
                     for n in names if n)
