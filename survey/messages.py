"""The catalogue of user messages, by code: Vietnamese first, English second.

Errors the domain raises (`survey.text.SurveyError` and its subclasses) and warnings it returns
carry one of these codes and the parameters named in braces; pages render them with
`survey.text.render` in the user's language, the command line in English. No message here
mentions a command-line flag: a page shows them too.
"""

from __future__ import annotations

from survey.text import Text

MESSAGES: dict[str, Text] = {
    # periods
    "period.invalid": Text(
        "“{text}” không phải là một kỳ. Hãy ghi theo dạng Quý 3/2024 (hoặc 2024-Q3), "
        "6 tháng đầu năm 2024 (2024-H1) hay Năm 2024 (2024).",
        "“{text}” is not a period. Write it as 2024-Q3 (or Q3/2024, Quý 3/2024), "
        "2024-H1 or 2024."),
    "period.not_quarter": Text(
        "“{text}” không phải là một quý: phiếu được thu theo quý, ví dụ Quý 3/2024 (2024-Q3).",
        "“{text}” is not a quarter: responses are collected by quarter, e.g. 2024-Q3."),
    "period.year_range": Text(
        "“{text}”: năm {year} nằm ngoài khoảng 1900–2999.",
        "“{text}”: year {year} is out of range (1900–2999)."),
    # settings
    "settings.invalid": Text(
        "Cấu hình {name} = “{value}” không hợp lệ: {expected}.",
        "Setting {name} = “{value}” is not valid: {expected}."),
    # reliability of a score
    "reliability.insufficient": Text("dưới 5 phiếu: không đủ để tính khoảng tin cậy",
                                     "under 5 responses: no interval"),
    "reliability.low_reliability": Text("dưới 30 phiếu: độ tin cậy thấp",
                                        "under 30 responses: low reliability"),
    "reliability.partial": Text("có câu hỏi chưa ai trả lời", "some questions have no scored answer"),
    # PAR appraisal tables (warnings name the line, the criterion and the column)
    "par.unreadable": Text("Không đọc được tệp {source}: {detail}",
                           "{source}: cannot read the file: {detail}"),
    "par.empty": Text("Bảng điểm thẩm định trống: cần các cột criterion, max, self, appraised.",
                      "the appraisal table is empty: expected columns criterion,max,self,appraised"),
    "par.missing_columns": Text(
        "Bảng điểm thẩm định thiếu cột {missing} (các cột có: {columns}; cần criterion, max, "
        "self, appraised).",
        "the appraisal table has no column {missing} (columns: {columns}; expected "
        "criterion,max,self,appraised)"),
    "par.no_rows": Text("Bảng điểm thẩm định không có dòng tiêu chí nào dùng được.",
                        "the appraisal table has no usable criterion row"),
    "par.not_a_number": Text("{name} phải là một số ≥ 0, không phải “{value}”.",
                             "{name} must be a number ≥ 0, not {value!r}"),
    "par.zero_max": Text("Điểm tối đa áp dụng bằng 0: không tiêu chí nào được áp dụng.",
                         "the applicable maximum is 0: no criterion applies"),
    "par.row_not_number": Text(
        "Dòng {line} (tiêu chí {criterion}), cột {column}: “{value}” không phải là số; dòng "
        "này không được tính.",
        "line {line} (criterion {criterion}), column {column}: '{value}' is not a number; "
        "the row is left out"),
    "par.row_negative": Text(
        "Dòng {line} (tiêu chí {criterion}), cột {column}: {value} là số âm; dòng này không "
        "được tính.",
        "line {line} (criterion {criterion}), column {column}: {value} is negative; the row "
        "is left out"),
    "par.row_no_code": Text("Dòng {line}: thiếu mã tiêu chí; dòng này không được tính.",
                            "line {line}, column criterion: the criterion code is empty; the "
                            "row is left out"),
    "par.row_twice": Text("Dòng {line}: tiêu chí {criterion} xuất hiện hai lần; cả hai dòng "
                          "đều được tính.",
                          "line {line} (criterion {criterion}): criterion {criterion} appears "
                          "twice; both rows are counted"),
    "par.row_self_above_max": Text(
        "Dòng {line} (tiêu chí {criterion}): điểm tự chấm {value} cao hơn điểm chuẩn {maximum}; "
        "giữ nguyên như đã nhập.",
        "line {line} (criterion {criterion}), column self: self-assessed points {value} are "
        "above the maximum {maximum}; kept as given"),
    "par.row_appraised_above_max": Text(
        "Dòng {line} (tiêu chí {criterion}): điểm thẩm định {value} cao hơn điểm chuẩn "
        "{maximum}; giữ nguyên như đã nhập.",
        "line {line} (criterion {criterion}), column appraised: appraised points {value} are "
        "above the maximum {maximum}; kept as given"),
    "par.survey_above_max": Text(
        "Điểm khảo sát {score} cao hơn điểm tối đa {maximum}; giữ nguyên như đã nhập.",
        "the survey score {score} is above its maximum {maximum}; kept as given"),
    "par.stated_self_differs": Text(
        "Tổng điểm tự chấm ghi trên bảng ({stated}) khác tổng các dòng ({rows}); dùng tổng ghi "
        "trên bảng.",
        "the stated self-assessed total {stated} differs from the sum of the rows {rows}; using "
        "the stated total"),
    "par.stated_appraised_differs": Text(
        "Tổng điểm thẩm định ghi trên bảng ({stated}) khác tổng các dòng ({rows}); dùng tổng "
        "ghi trên bảng.",
        "the stated appraised total {stated} differs from the sum of the rows {rows}; using "
        "the stated total"),
    "par.printed_max_overridden": Text(
        "Dòng tổng của bảng ghi điểm chuẩn {printed}; dùng tổng điểm chuẩn đã nhập {chosen}.",
        "the table's total row states the maximum {printed}; the stated total {chosen} "
        "overrides it"),
    "par.stated_max_differs.total_row": Text(
        "Tổng điểm chuẩn {stated} (ghi ở dòng tổng của bảng) khác tổng điểm chuẩn các dòng "
        "{rows}; đang dùng {stated} (điểm tối đa áp dụng {applicable}). Theo tổng các dòng, "
        "điểm tối đa áp dụng là {with_rows}, tỷ lệ sẽ là {percent}%.",
        "the stated maximum {stated} (from the table's total row) differs from the sum of the "
        "row maxima {rows}; using the stated maximum {stated} (applicable maximum "
        "{applicable}). The row maxima would give an applicable maximum of {with_rows}, which "
        "would give {percent} %."),
    "par.stated_max_differs.given": Text(
        "Tổng điểm chuẩn đã nhập {stated} khác tổng điểm chuẩn các dòng {rows}; đang dùng "
        "{stated} (điểm tối đa áp dụng {applicable}). Theo tổng các dòng, điểm tối đa áp dụng "
        "là {with_rows}, tỷ lệ sẽ là {percent}%.",
        "the stated maximum {stated} differs from the sum of the row maxima {rows}; using the "
        "stated maximum {stated} (applicable maximum {applicable}). The row maxima would give "
        "an applicable maximum of {with_rows}, which would give {percent} %."),
    "par.total_above_max": Text(
        "Tổng điểm {total} cao hơn điểm tối đa áp dụng {maximum}.",
        "the total {total} is above the applicable maximum {maximum}"),
}
