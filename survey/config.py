"""Settings from the environment, with embedded defaults (SQLite file under ./data)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    base_url: str
    secret_file: Path
    demo_on_first_start: bool
    confidence_level: float


def settings() -> Settings:
    """Read settings from environment variables (see README, Configuration)."""
    data_dir = Path(os.environ.get("SURVEY_DATA_DIR", "data"))
    return Settings(
        database_url=os.environ.get("SURVEY_DATABASE_URL", f"sqlite:///{data_dir / 'survey.db'}"),
        base_url=os.environ.get("SURVEY_BASE_URL", "http://localhost:8501").rstrip("/"),
        secret_file=Path(os.environ.get("SURVEY_SECRET_FILE", data_dir / "secret.key")),
        demo_on_first_start=os.environ.get("SURVEY_DEMO", "1") not in ("0", "false", "no"),
        confidence_level=float(os.environ.get("SURVEY_CI_LEVEL", "0.95")),
    )


def server_secret(path: Path | None = None) -> bytes:
    """The server's signing secret: SURVEY_SECRET, else a key file created on first use."""
    if os.environ.get("SURVEY_SECRET"):
        return os.environ["SURVEY_SECRET"].encode("utf-8")
    path = path or settings().secret_file
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
