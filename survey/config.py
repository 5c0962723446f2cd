"""Every setting of the product, read from the environment in one place and validated.

`load_settings()` reads every `SURVEY_*` variable (see README, Configuration) with one parser
per kind (text, path, flag, positive number, whole number, level) and raises SettingsError
naming the variable, its value and what is expected: the server calls it at start, so a bad
value stops the start with a clear message instead of crashing a page later. Modules receive
the values from this object (`settings()`); none reads the environment itself.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from survey.text import SurveyError, Text


class SettingsError(SurveyError, ValueError):
    """An environment variable has a value the product cannot use (code settings.invalid)."""


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    base_url: str
    secret: str | None
    secret_file: Path
    demo_on_first_start: bool
    confidence_level: float
    session_minutes: float
    burst_count: int
    burst_window_s: float
    flood_per_minute: int
    trust_proxy: bool
    poster_font: str | None
    poster_font_bold: str | None
    link_days: int = 30  # a single-use link's life unless the campaign ends sooner

    @property
    def session_idle_seconds(self) -> float:
        return self.session_minutes * 60.0


class _Reader:
    """One parser per kind of value; every failure names the variable."""

    def __init__(self, environ: Mapping[str, str]):
        self.env = environ

    def _fail(self, name: str, value: str, expected: Text) -> SettingsError:
        return SettingsError("settings.invalid", name=name, value=value, expected=expected)

    def _given(self, name: str) -> str | None:
        """The variable's value without surrounding blanks; None when unset or blank."""
        value = self.env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def text(self, name: str, default: str | None) -> str | None:
        value = self._given(name)
        return default if value is None else value

    def flag(self, name: str, default: bool) -> bool:
        value = self._given(name)
        if value is None:
            return default
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise self._fail(name, value, Text("dùng 1 (bật) hoặc 0 (tắt)", "use 1 (on) or 0 (off)"))

    def positive(self, name: str, default: float) -> float:
        value = self._given(name)
        if value is None:
            return default
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            number = float("nan")
        if not number > 0 or number == float("inf"):
            raise self._fail(name, value, Text("cần một số dương, ví dụ 60 hoặc 0.5",
                                               "a positive number is needed, e.g. 60 or 0.5"))
        return number

    def whole(self, name: str, default: int) -> int:
        value = self._given(name)
        if value is None:
            return default
        try:
            number = int(value.strip())
        except ValueError:
            number = 0
        if number < 1:
            raise self._fail(name, value, Text("cần một số nguyên dương, ví dụ 10",
                                               "a positive whole number is needed, e.g. 10"))
        return number

    def level(self, name: str, default: float) -> float:
        value = self._given(name)
        if value is None:
            return default
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            number = float("nan")
        if 1 < number < 100:  # "95" means 95 %
            number /= 100
        if not 0.5 <= number < 1:
            raise self._fail(name, value, Text("cần một mức tin cậy từ 0.5 đến dưới 1, ví dụ 0.95",
                                               "a level from 0.5 to below 1 is needed, e.g. 0.95"))
        return number

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default) or default
        if not value.startswith(("http://", "https://")):
            raise self._fail(name, value, Text("cần một địa chỉ bắt đầu bằng http:// hoặc https://",
                                               "an address starting with http:// or https:// is needed"))
        return value.rstrip("/")

    def database(self, name: str, default: str) -> str:
        value = self.text(name, default) or default
        if not value.startswith(("sqlite:", "postgresql")):
            raise self._fail(name, value, Text("dùng sqlite:///đường/dẫn.db hoặc postgresql://…",
                                               "use sqlite:///path.db or postgresql://…"))
        return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting (SettingsError on the first bad value)."""
    read = _Reader(os.environ if environ is None else environ)
    data_dir = Path(read.text("SURVEY_DATA_DIR", "data"))
    return Settings(
        database_url=read.database("SURVEY_DATABASE_URL", f"sqlite:///{data_dir / 'survey.db'}"),
        data_dir=data_dir,
        base_url=read.url("SURVEY_BASE_URL", "http://localhost:8501"),
        secret=read.text("SURVEY_SECRET", None),
        secret_file=Path(read.text("SURVEY_SECRET_FILE", str(data_dir / "secret.key"))),
        demo_on_first_start=read.flag("SURVEY_DEMO", True),
        confidence_level=read.level("SURVEY_CI_LEVEL", 0.95),
        session_minutes=read.positive("SURVEY_SESSION_MINUTES", 60.0),
        burst_count=read.whole("SURVEY_BURST_COUNT", 10),
        burst_window_s=read.positive("SURVEY_BURST_WINDOW", 600.0),
        flood_per_minute=read.whole("SURVEY_FLOOD_PER_MINUTE", 60),
        trust_proxy=read.flag("SURVEY_TRUST_PROXY", False),
        poster_font=read.text("SURVEY_POSTER_FONT", None),
        poster_font_bold=read.text("SURVEY_POSTER_FONT_BOLD", None),
        link_days=read.whole("SURVEY_LINK_DAYS", 30),
    )


def settings() -> Settings:
    """The current settings (read from the environment; validated)."""
    return load_settings()


def server_secret(path: Path | None = None) -> bytes:
    """The server's signing secret: SURVEY_SECRET, else a key file created on first use."""
    config = settings()
    if config.secret:
        return config.secret.encode("utf-8")
    path = path or config.secret_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return path.read_text().strip().encode("utf-8")
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
    return path.read_text().strip().encode("utf-8")
