"""README: the set-up commands are the ones CI runs, and every setting the code reads is documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
APP_COMMAND = "pip install -e . && streamlit run survey_app.py"
# Code that runs in the product: the domain package, the UI helper, the entry script, the pages.
PRODUCT_CODE = sorted(
    [*(ROOT / "survey").rglob("*.py"), ROOT / "app_ui.py", ROOT / "survey_app.py",
     *(ROOT / "pages").glob("*.py")]
)
ENV_NAME = re.compile(r"""["'](SURVEY_[A-Z0-9_]+)["']""")


def ci_test_command() -> str:
    assignments = re.findall(r"^TEST_COMMAND=(.+)$", (ROOT / ".ci" / "run").read_text(),
                             flags=re.MULTILINE)
    assert len(assignments) == 1, "no single TEST_COMMAND=... line in .ci/run"
    (value,) = shlex.split(assignments[0])  # the shell's own quoting rules
    return value


def environment_variables() -> list[str]:
    """Every SURVEY_* name written as a string literal in product code (os.environ, env.get…)."""
    names = set()
    for path in PRODUCT_CODE:
        names.update(ENV_NAME.findall(path.read_text(encoding="utf-8")))
    return sorted(names)


def test_the_ci_test_command_is_parsed():
    assert ci_test_command().endswith("python -m pytest")


def test_readme_shows_the_test_command_ci_runs():
    assert ci_test_command() in README


def test_readme_shows_the_app_command():
    assert APP_COMMAND in README


def test_the_code_reads_the_documented_core_settings():
    # Guards the scan below: if it found nothing, the next test would pass vacuously.
    assert {"SURVEY_DATABASE_URL", "SURVEY_DEMO", "SURVEY_DATA_DIR"} <= set(
        environment_variables())


@pytest.mark.parametrize("name", [
    name for name in environment_variables()
])
def test_every_environment_variable_is_documented(name):
    assert f"`{name}`" in README, f"{name} is read by the code but not documented in README.md"
