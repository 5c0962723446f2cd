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
