"""The one translation mechanism of the product: Vietnamese first, English second.

* `Text(vi, en)` — a text in both languages (questionnaires, the citizen form, pages);
  `tr(lang, vi, en)` picks one at once.
* `SurveyError(code, **params)` — every error the domain raises for a user carries a message
  code and its parameters; `render(code, params, lang)` (or `error.render(lang)`) looks the
  code up in the catalogue `survey.messages.MESSAGES` and fills in the parameters, so a page
  shows it in the user's language and the command line in English (`str(error)`).
  A code that is not in the catalogue is shown as it is (free text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Text:
    """A text in Vietnamese with an optional English translation."""

    vi: str
    en: str | None = None

    def get(self, lang: str = "vi") -> str:
        """The text in `lang`, falling back to Vietnamese."""
        if lang == "en" and self.en:
            return self.en
        return self.vi

    def __str__(self) -> str:
        return self.vi


def tr(lang: str, vi: str, en: str) -> str:
    """`vi` or `en` by the interface language (shorthand for Text(vi, en).get(lang))."""
    return Text(vi, en).get(lang)


def _parameter(value: Any, lang: str) -> str:
    from survey.formatting import format_number, format_plain

    if isinstance(value, Text):
        return value.get(lang)
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, Decimal):
        return format_plain(value, lang)
    if isinstance(value, int):
        return format_number(value, 0, lang)
    if isinstance(value, float):
        return format_number(value, 2, lang)
    if isinstance(value, list | tuple):
        return ", ".join(_parameter(v, lang) for v in value)
    return str(value)


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = "vi") -> str:
    """The catalogue message `code` in `lang` with its parameters filled in."""
    from survey.messages import MESSAGES

    template = MESSAGES.get(code)
    if template is None:
        return code
    values = {name: _parameter(value, lang) for name, value in (params or {}).items()}
    return template.get(lang).format(**values)


class SurveyError(Exception):
    """A user-facing error: a message code from the catalogue and its parameters."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(code)

    def render(self, lang: str = "vi") -> str:
        return render(self.code, self.params, lang)

    def __str__(self) -> str:  # the command line speaks English
        return self.render("en")


class Notice(str):
    """A coded warning (a str: its English text, for the command line and JSON), rendered in
    the user's language on pages with `notice.render(lang)`."""

    code: str
    params: dict

    def __new__(cls, code: str, /, **params: Any) -> Notice:
        made = super().__new__(cls, render(code, params, "en"))
        made.code = code
        made.params = params
        return made

    def render(self, lang: str = "vi") -> str:
        return render(self.code, self.params, lang)


def render_notice(notice: str, lang: str = "vi") -> str:
    """A warning in `lang` (a plain str is shown as it is)."""
    return notice.render(lang) if isinstance(notice, Notice) else str(notice)


def render_error(error: BaseException, lang: str = "vi") -> str:
    """Any error as a user message: catalogue errors in `lang`, others as their text."""
    if isinstance(error, SurveyError):
        return error.render(lang)
    return str(error)


_ESCAPED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str | None) -> str | None:
    """`text` with every control or invisible formatting character written as an escape
    (newline → \\n, tab → \\t, others → \\xNN / \\uNNNN), so a stored string can neither
    start a new line or column in a listing nor reorder what follows it (bidi controls)."""
    if text is None:
        return None
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() or char == " ":
            out.append(char)
        elif char in _ESCAPED:
            out.append(_ESCAPED[char])
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)
