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
from survey.periods import parse_period
from survey.tables import criteria_frame

TWO_DECIMALS = "0.00"
P_VALUE_FORMAT = "0.000"
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


def _method_sheet(workbook: Workbook, lines: Sequence[tuple[str, Any]]) -> None:
    sheet = workbook.create_sheet("Phương pháp")
    sheet.column_dimensions["A"].width = 38
    sheet.column_dimensions["B"].width = 110
    for row, (key, value) in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=key).font = BOLD
        sheet.cell(row=row, column=2, value=value).alignment = Alignment(wrap_text=True)


METHOD_TEXT = (
    "Điểm mỗi câu hỏi là trung bình có trọng số của điểm các phiếu đã chọn một mức có điểm "
    "(phương án 'Không biết / không có ý kiến' không tính vào mẫu số). Trọng số mỗi phiếu bằng tỷ "
    "trọng của nhóm đối tượng chia cho số phiếu của nhóm trong kỳ (hậu phân tầng). Điểm tiêu chí là "
    "tổng điểm các câu hỏi, quy về điểm chuẩn nếu có câu chưa ai trả lời; tổng điểm là tổng các "
    "tiêu chí. Sai số chuẩn tính bằng tuyến tính hóa Taylor, phân tầng theo nhóm đối tượng; khoảng "
    "tin cậy logit-t nên luôn nằm trong [0; điểm tối đa]. Thay đổi giữa hai kỳ coi hai mẫu độc lập, "
    "bậc tự do Welch–Satterthwaite."
)


def _to_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def unit_workbook(report: UnitReport, *, against: str = "year-ago", lang: str = "vi") -> bytes:
    """The unit's table (STT, Tiêu chí, Điểm chuẩn, this period, comparison period, So sánh …)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Bảng điểm"
    period_label = parse_period(report.period).label("vi")
    baseline, change = report.comparison("previous" if against == "previous" else "year-ago")
    baseline_label = parse_period(baseline.period).label("vi") if baseline else "Kỳ so sánh"
    sheet["A1"] = f"KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC — {report.unit_name.upper()}"
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = f"Kỳ: {period_label}; so sánh với: {baseline_label}"
    table = office_table(report, against=against, lang="vi")
    headers = ["STT", "Tiêu chí", "Điểm chuẩn", period_label, "KTC 95% — dưới", "KTC 95% — trên",
               baseline_label, "So sánh", "KTC thay đổi — dưới", "KTC thay đổi — trên", "p",
               "Đánh giá"]
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
    _method_sheet(workbook, [
        ("Phương pháp", METHOD_TEXT),
        ("Mức tin cậy", f"{report.level:.0%}"),
        ("Số phiếu kỳ này (n)", current.n if current else 0),
        ("Số phiếu kỳ so sánh", baseline.n if baseline else 0),
        ("Phiếu khảo sát", f"{current.questionnaire} phiên bản {current.version}" if current else ""),
        ("Cơ sở so sánh", "điểm" if not change or change.basis == "points"
         else "tỷ lệ % điểm tối đa (hai phiên bản phiếu khác cấu trúc)"),
        ("Lưu ý", "n < 5: không tính khoảng tin cậy; 5 ≤ n < 30: độ tin cậy thấp."),
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


def province_workbook(report: ProvinceReport) -> bytes:
    """The provincial ranking, the scores by dimension, and the method."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Xếp hạng"
    label = parse_period(report.period).label("vi")
    comparison = "kỳ trước" if report.against == "previous" else "cùng kỳ năm trước"
    sheet["A1"] = f"XẾP HẠNG KẾT QUẢ ĐIỀU TRA XÃ HỘI HỌC — {label.upper()}"
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = f"Thay đổi so với {comparison}; ý nghĩa thống kê sau hiệu chỉnh Benjamini–Hochberg"
    ranking = report.ranking
    headers = ["Hạng", "Mã", "Đơn vị", "Số phiếu", "Điểm", "KTC 95% — dưới", "KTC 95% — trên",
               "% tối đa", "Xếp loại", "Thay đổi", "p", "p (BH)", "Có ý nghĩa",
               "Khoảng hạng — từ", "Khoảng hạng — đến",
               "Khoảng hạng đồng thời — từ", "Khoảng hạng đồng thời — đến"]
    indices = report.questionnaire.indices if report.questionnaire else ()
    for index in indices:
        headers += [f"{index.label.vi} (%)", "KTC 95% — dưới (%)", "KTC 95% — trên (%)",
                    f"Hạng theo {index.label.vi.lower()}"]

    def whole(value):
        return None if value is None or pd.isna(value) else int(value)

    def percent(value):
        return None if value is None or pd.isna(value) else 100.0 * value

    rows = [
        [r["rank_label"], r["unit"], r["unit_name"], int(r["n"]), r["score"], r["ci_low"],
         r["ci_high"], r["percent"], r.get("class", ""), r["change"], r["p_value"], r["p_adjusted"],
         "" if r["significant"] is None or pd.isna(r["significant"])
         else ("có" if r["significant"] else "không"),
         whole(r["rank_low"]), whole(r["rank_high"]), whole(r["rank_low_all"]),
         whole(r["rank_high_all"])]
        + [value for index in indices for value in (
            percent(r[f"index:{index.code}:share"]), percent(r[f"index:{index.code}:ci_low"]),
            percent(r[f"index:{index.code}:ci_high"]), r[f"index:{index.code}:rank_label"])]
        for r in ranking.to_dict("records")
    ]
    formats = {4: TWO_DECIMALS, 5: TWO_DECIMALS, 6: TWO_DECIMALS, 7: TWO_DECIMALS,
               9: TWO_DECIMALS, 10: P_VALUE_FORMAT, 11: P_VALUE_FORMAT}
    formats.update({17 + 4 * i + j: TWO_DECIMALS for i in range(len(indices)) for j in range(3)})
    _write_table(sheet, 4, headers, rows, formats)
    if report.aggregate is not None and report.aggregate.total is not None:
        total = report.aggregate.total
        row = 4 + len(rows) + 2
        sheet.cell(row=row, column=3, value="Toàn tỉnh (bình quân đơn vị)").font = BOLD
        for column, value in ((5, total.score), (6, total.ci[0] if total.ci else None),
                              (7, total.ci[1] if total.ci else None), (8, total.percent)):
            sheet.cell(row=row, column=column, value=value).number_format = TWO_DECIMALS
    criteria_sheet = workbook.create_sheet("Theo tiêu chí")
    if report.questionnaire is not None:
        scores = [s for s in report.scores.values() if s.version == report.questionnaire.version]
        criteria = criteria_frame(scores, {report.questionnaire.version: report.questionnaire})
        wide = criteria.pivot(index=["unit", "unit_name"], columns="code", values="score")
        codes = [c.code for c in report.questionnaire.criteria]
        headers = ["Mã", "Đơn vị"] + [f"TC {c} (/{p:g})" for c, p in report.questionnaire.structure()]
        rows = [[unit, name] + [wide.loc[(unit, name), c] for c in codes]
                for unit, name in wide.index]
        _write_table(criteria_sheet, 1, headers, rows, {i: TWO_DECIMALS for i in range(2, 2 + len(codes))})
    n_total = int(ranking["n"].sum()) if len(ranking) else 0
    _method_sheet(workbook, [
        ("Phương pháp", METHOD_TEXT),
        ("Điểm toàn tỉnh", "Bình quân điểm các đơn vị (mỗi đơn vị một phiếu bầu), phương sai "
                           "Σ W²V / (Σ W)², bậc tự do Satterthwaite."),
        ("Xếp hạng", "Theo điểm giảm dần; khoảng tin cậy chồng nhau nghĩa là thứ hạng chưa chắc chắn."),
        ("Khoảng hạng", "Khoảng hạng 95% của từng đơn vị (Bonferroni trên K − 1 so sánh của đơn "
                        "vị đó) và của cả bảng cùng lúc (Bonferroni trên K(K − 1)/2 cặp); chỉ "
                        "gồm các đơn vị ước lượng được sai số chuẩn."),
        ("Không tính vào bình quân",
         ", ".join(report.aggregate.left_out_named()) if report.aggregate else ""),
        ("Mức tin cậy", f"{report.level:.0%}"),
        ("Số đơn vị", len(ranking)),
        ("Tổng số phiếu (n)", n_total),
    ])
    return _to_bytes(workbook)
