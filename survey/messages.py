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
}
