"""Cells that a spreadsheet would run as formulas, kept as text.

A cell whose text begins with `=`, `+`, `-` or `@` (or a tab or carriage return before
one) is a formula to Excel and LibreOffice when a CSV file is opened: a unit name like
`=HYPERLINK("http://…")` would become a live link or worse. In CSV exports such text
gets a leading apostrophe (`'=…`, the spreadsheets' own "this is text" mark); in XLSX
files the cell is written with the string type, so it is shown exactly as typed.
Numbers (`-0.5`, `+3`) are left alone: they are data, not formulas.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def is_formula_like(value: Any) -> bool:
    """Whether a spreadsheet could read `value` as a formula (text, not a plain number)."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _NUMBER.fullmatch(value.strip())
    )


def neutral_text(value: Any) -> Any:
    """`value`, with an apostrophe in front when a spreadsheet would run it as a formula."""
    return "'" + value if is_formula_like(value) else value


def neutral_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (object, string or categorical columns) and
    column names are safe to open in a spreadsheet as CSV."""
    safe = frame.copy()
    for name in safe.columns:
        column = safe[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            if any(is_formula_like(c) for c in column.cat.categories):
                safe[name] = column.astype(object).map(neutral_text)
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            safe[name] = column.map(neutral_text)
    safe.columns = [neutral_text(c) for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as CSV (UTF-8 with BOM, for Excel), formula-like text neutralised."""
    return neutral_frame(frame).to_csv(index=False).encode("utf-8-sig")


def text_cells_only(workbook: Workbook) -> Workbook:
    """Every cell that openpyxl took for a formula (text beginning with `=`) is made a text
    cell again: the application writes no formulas, so any is user text."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    return workbook
