"""Numbers, changes, p-values, levels and periods formatted one way everywhere (pages, charts,
workbooks, reports), with Babel's locale data: 19.386 and 15,43 in Vietnamese, 19,386 and
15.43 in English."""

from __future__ import annotations

import math

from babel.numbers import format_decimal

MINUS = "\u2212"  # − (the typographic minus sign, as in "−0,70")
_LOCALES = {"vi": "vi_VN", "en": "en_US"}


def _locale(lang: str) -> str:
    return _LOCALES.get(lang, "vi_VN")


def _missing(value) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def format_number(value, decimals: int = 2, lang: str = "vi") -> str:
    """A number with thousands separators and `decimals` decimals: '19.386', '15,43'.
    None and NaN are '—'."""
    if _missing(value):
        return "—"
    value = float(value)
    if round(value, decimals) == 0:
        value = 0.0  # no "-0,00"
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(value, format=pattern, locale=_locale(lang))


def format_plain(value, lang: str = "vi") -> str:
    """A number with as many decimals as it has (53, 51,5, 78,09), thousands separated."""
    if _missing(value):
        return "—"
    return format_decimal(value, locale=_locale(lang), decimal_quantization=False)


def format_signed(value, decimals: int = 2, lang: str = "vi") -> str:
    """A change with its sign: '+0,25', '−0,70', '0,00'."""
    if _missing(value):
        return "—"
    text = format_number(abs(float(value)), decimals, lang)
    if round(float(value), decimals) == 0:
        return text
    return ("+" if value > 0 else MINUS) + text


def format_interval(low, high, decimals: int = 2, lang: str = "vi") -> str:
    """A confidence interval, negative ends with the typographic minus as changes have:
    '[−1,09; −0,26]', '[14,38; 15,01]'; '—' when either end is undefined."""
    if _missing(low) or _missing(high):
        return "—"

    def end(value) -> str:
        text = format_number(abs(float(value)), decimals, lang)
        return MINUS + text if round(float(value), decimals) < 0 else text

    return f"[{end(low)}; {end(high)}]"


def format_p_value(value, lang: str = "vi") -> str:
    """'p = 0,042', or 'p < 0,001' below one in a thousand; '—' when undefined."""
    if _missing(value):
        return "—"
    if float(value) < 0.001:
        return f"p < {format_number(0.001, 3, lang)}"
    return f"p = {format_number(value, 3, lang)}"


def format_p(value, lang: str = "vi") -> str:
    """A p-value for a table column: '0,042' or '< 0,001'."""
    text = format_p_value(value, lang)
    return text.removeprefix("p = ").removeprefix("p ")


def format_level(level: float, lang: str = "vi") -> str:
    """A confidence level as a percentage: 0.95 → '95%', 0.9 → '90%', 0.975 → '97,5%'."""
    percent = round(100 * float(level), 1)
    decimals = 0 if percent == int(percent) else 1
    return f"{format_number(percent, decimals, lang)}%"


def format_count(value, lang: str = "vi") -> str:
    """A whole count with thousands separators: '19.386'."""
    return format_number(value, 0, lang)


def format_period(label: str, lang: str = "vi") -> str:
    """A period label for people: '2024-Q4' → 'Quý 4/2024' ('Q4 2024' in English)."""
    from survey.periods import PeriodError, parse_period

    try:
        return parse_period(label).label(lang)
    except PeriodError:
        return str(label)


def parse_number(text, lang: str = "vi") -> float:
    """A number typed by a person: '14,00' or '1.234,5' in Vietnamese, '14.00' in English;
    a plain '14.5' is accepted in both. ValueError when it is not a number."""
    from babel.numbers import NumberFormatError, parse_decimal

    if isinstance(text, int | float):
        return float(text)
    cleaned = str(text or "").strip().replace(" ", "")
    cleaned = cleaned.replace(MINUS, "-")  # '−0,70' as this module writes it
    if not cleaned or cleaned in ("—", "-"):
        return 0.0
    if lang == "vi" and "," not in cleaned and cleaned.count(".") == 1 and len(cleaned.split(".")[1]) != 3:
        return float(cleaned)  # '14.5' typed with a decimal point
    try:
        return float(parse_decimal(cleaned, locale=_locale(lang), strict=False))
    except NumberFormatError:
        raise ValueError(text) from None
