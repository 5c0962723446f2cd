"""Bilingual texts: Vietnamese first, English second."""

from __future__ import annotations

from dataclasses import dataclass

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


def format_number(value: float | None, decimals: int = 2, lang: str = "vi") -> str:
    """Format a number the Vietnamese way (15,43; 1.234,5) or the English way."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
