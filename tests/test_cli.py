"""The `survey` command line, run in-process (and once as the installed console script)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import func
from sqlmodel import select

from survey.cli import build_parser, main
from survey.db import make_engine, new_session
from survey.exports import RESPONSE_COLUMNS
from survey.models import Organisation, Response
from survey.questionnaire import load_questionnaire

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "questionnaires").glob("*.yaml"))
CODES_2024 = list(load_questionnaire(ROOT / "questionnaires" / "dtxhh-haugiang-2024.yaml")
                  .question_codes)


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every command path reachable from `parser`: (), ('init',), ('unit', 'add'), …"""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from command_paths(sub, (*prefix, name))


def subcommand_helps(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command path, help text) of every sub-command, as shown in its parent's --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*prefix, name), helps.get(name)
                yield from subcommand_helps(sub, (*prefix, name))


COMMANDS = list(command_paths(build_parser()))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run `survey ARGV…` in-process: (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse: --help, usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, out: str, err: str) -> None:
    assert code == 2
    assert err.strip()
    assert "Traceback" not in out + err


def count_rows(db_url: str, model) -> int:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            return session.exec(select(func.count()).select_from(model)).one()
    finally:
        engine.dispose()


# --- help ------------------------------------------------------------------------------


def test_the_command_tree_is_walked():
    assert {("init",), ("demo",), ("unit", "add"), ("questionnaire", "check"), ("import",),
            ("export", "responses")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "survey")
def test_every_command_has_help(capsys, path):
    code, out, err = run(capsys, *path, "--help")
    assert code == 0
    assert out.startswith("usage: survey")
    assert " ".join(("survey", *path)) in out.splitlines()[0]
    assert err == ""


def test_every_subcommand_has_a_help_line():
    missing = [" ".join(path) for path, text in subcommand_helps(build_parser())
               if not (text or "").strip()]
    assert missing == []


def test_the_console_script_runs():
    script = shutil.which("survey", path=str(Path(sys.executable).parent)) or shutil.which("survey")
    assert script, "the `survey` console script is not installed (pip install -e .)"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: survey" in done.stdout
    for command in ("init", "questionnaire", "unit", "import", "export"):
        assert command in done.stdout


def test_a_usage_error_exits_2_with_the_usage(capsys):
    code, out, err = run(capsys, "import", "forms.csv")  # --questionnaire is required
    assert code == 2
    assert "--questionnaire" in err


# --- init, units, questionnaires ---------------------------------------------------------


def test_init_twice_is_safe(cli_env, capsys):
    code, out, _ = run(capsys, "init")
    assert code == 0
    keys = [f"{load_questionnaire(p).key}" for p in SHIPPED]
    for key in keys:
        assert f"{key}: added" in out
    code, out, _ = run(capsys, "init")
    assert code == 0
    for key in keys:
        assert f"{key}: unchanged" in out
    assert "added" not in out
    code, out, _ = run(capsys, "questionnaire", "list", "--json")
    assert sorted(f"{r['id']}@{r['version']}" for r in json.loads(out)) == sorted(keys)


def test_unit_add_and_list(cli_env, capsys):
    assert run(capsys, "unit", "add", "HG", "--name", "Tỉnh Hậu Giang")[0] == 0
    code, out, _ = run(capsys, "unit", "add", "HG01", "--name", "Cục Thuế", "--parent", "HG")
    assert (code, out.strip()) == (0, "HG01: added (unit)")
    assert run(capsys, "unit", "add", "HG10", "--name", "Chi cục", "--parent", "HG01")[0] == 0
    code, out, _ = run(capsys, "unit", "list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"code": "HG", "name": "Tỉnh Hậu Giang", "kind": "province", "parent": None,
         "active": True},
        {"code": "HG01", "name": "Cục Thuế", "kind": "unit", "parent": "HG", "active": True},
        {"code": "HG10", "name": "Chi cục", "kind": "subunit", "parent": "HG01", "active": True},
    ]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(("unit", "add", "HG", "--name", "again"), "already exists"),
     (("unit", "add", "HG02", "--name", "x", "--parent", "NOPE"), "NOPE"),
     (("unit", "add", "HG 02", "--name", "x"), "HG 02")],
    ids=["duplicate", "unknown-parent", "bad-code"],
)
def test_unit_add_errors(cli_env, capsys, argv, fragment):
    run(capsys, "unit", "add", "HG", "--name", "Tỉnh")
    code, out, err = run(capsys, *argv)
    assert_user_error(code, out, err)
    assert fragment in err
    assert count_rows(cli_env, Organisation) == 1


def _write_questionnaire(path: Path, **changes) -> Path:
    document = {
        "id": "mini", "version": "1", "title": {"vi": "Phiếu thử"}, "max_points": 2,
        "scales": {"s": [{"code": "A", "label": "Có", "score": 1.0},
                         {"code": "B", "label": "Không", "score": 0.0}]},
        "criteria": [{"code": "1", "title": "Một", "points": 2, "questions": [
            {"code": "1.1", "text": "Câu một", "scale": "s", "points": 1},
            {"code": "1.2", "text": "Câu hai", "scale": "s", "points": 1}]}],
    }
    document.update(changes)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def test_questionnaire_add_list_check(cli_env, capsys, tmp_path):
    good = _write_questionnaire(tmp_path / "mini.yaml")
    code, out, _ = run(capsys, "questionnaire", "add", str(good))
    assert code == 0 and out.startswith("mini@1: added")
    code, out, _ = run(capsys, "questionnaire", "add", str(good))
    assert code == 0 and out.startswith("mini@1: unchanged")
    code, out, _ = run(capsys, "questionnaire", "list", "--json")
    assert [(r["id"], r["version"], r["title"], r["responses"]) for r in json.loads(out)] == [
        ("mini", "1", "Phiếu thử", 0)]
    code, out, err = run(capsys, "questionnaire", "check", *map(str, SHIPPED))
    assert (code, err) == (0, "")
    assert out.count(": ok (") == len(SHIPPED)
    assert "dtxhh-haugiang@2024, 7 criteria, 28 questions, 22 points" in out


def test_questionnaire_check_a_bad_file(cli_env, capsys, tmp_path):
    document_criteria = [{"code": "1", "title": "Một", "points": 2, "questions": [
        {"code": "1.1", "text": "Câu một", "scale": "s", "points": 1},
        {"code": "1.2", "text": "Câu hai", "scale": "s", "point": 1}]}]
    bad = _write_questionnaire(tmp_path / "bad.yaml", criteria=document_criteria)
    good = _write_questionnaire(tmp_path / "good.yaml")
    code, out, err = run(capsys, "questionnaire", "check", str(good), str(bad))
    assert_user_error(code, out, err)
    assert f"{bad}: criteria[0].questions[1].points: required key is missing" in err
    assert f"{bad}: criteria[0].questions[1].point: unknown key" in err
    assert f"{good}: ok" in out
    code, out, err = run(capsys, "questionnaire", "add", str(bad))
    assert_user_error(code, out, err)
    assert f"{bad}: criteria[0].questions[1].point" in err
    code, out, _ = run(capsys, "questionnaire", "list", "--json")
    assert json.loads(out) == []


def test_questionnaire_check_a_missing_file(cli_env, capsys, tmp_path):
    missing = tmp_path / "missing.yaml"
    code, out, err = run(capsys, "questionnaire", "check", str(missing))
    assert_user_error(code, out, err)
    assert str(missing) in err


# --- import and export -------------------------------------------------------------------


def _forms_csv(path: Path, rows: list[list[str]]) -> Path:
    header = ["unit", "period", "group", *CODES_2024]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _form(unit: str, period: str, group: str, option: str = "A") -> list[str]:
    return [unit, period, group, *([option] * len(CODES_2024))]


@pytest.fixture
def initialised(cli_env, capsys):
    assert run(capsys, "init")[0] == 0
    assert run(capsys, "unit", "add", "HG", "--name", "Tỉnh")[0] == 0
    assert run(capsys, "unit", "add", "HG01", "--name", "Cục Thuế", "--parent", "HG")[0] == 0
    return cli_env


def test_import_a_bad_file(initialised, capsys, tmp_path):
    bad = _forms_csv(tmp_path / "bad.csv", [
        _form("HG01", "2024-Q3", "DAN"), _form("HG99", "2024-Q3", "DAN"),
        _form("HG01", "2024-H1", "DN"), _form("HG01", "2024-Q3", "DN", "E")])
    code, out, err = run(capsys, "import", str(bad), "--questionnaire", "dtxhh-haugiang@2024")
    assert_user_error(code, out, err)
    assert "bad.csv:" in err and "nothing was imported" in err
    assert "row 3, column 'unit'" in err
    assert "row 4, column 'period'" in err
    assert "row 5, column '1.1'" in err
    assert count_rows(initialised, Response) == 0


def test_import_a_good_file_then_refuse_it_again(initialised, capsys, tmp_path):
    good = _forms_csv(tmp_path / "good.csv", [
        _form("HG01", "2024-Q3", "DAN"), _form("HG01", "2024-Q3", "CB", "B"),
        _form("HG03", "2024-Q4", "DN", "X")])
    code, out, err = run(capsys, "import", str(good), "--questionnaire", "dtxhh-haugiang",
                         "--create-units", "--parent", "HG")
    assert (code, err) == (0, "")
    assert out.strip() == "good.csv: 3 responses imported; units created: HG03"
    code, out, err = run(capsys, "import", str(good), "--questionnaire", "dtxhh-haugiang")
    assert_user_error(code, out, err)
    assert "already imported" in err
    assert count_rows(initialised, Response) == 3
    code, out, _ = run(capsys, "unit", "list", "--json")
    assert {"code": "HG03", "name": "HG03", "kind": "unit", "parent": "HG",
            "active": True} in json.loads(out)


def test_import_a_file_repeating_some_rows_then_only_its_new_rows(initialised, capsys, tmp_path):
    week1 = [_form("HG01", "2024-Q3", "DAN"), _form("HG01", "2024-Q3", "CB", "B"),
             _form("HG01", "2024-Q4", "DN", "X")]
    code, out, err = run(capsys, "import", str(_forms_csv(tmp_path / "tuan-1.csv", week1)),
                         "--questionnaire", "dtxhh-haugiang")
    assert (code, err) == (0, "")
    # saved again by a spreadsheet: BOM, ';', CRLF, another period spelling, rows shuffled,
    # two new forms among them (sheet rows 3 and 5)
    again = [week1[2], _form("HG01", "2024-Q4", "DAN", "B"), ["HG01", "Quý 3/2024", *week1[0][2:]],
             _form("HG01", "2024-Q3", "DN", "C"), week1[1]]
    header = ["unit", "period", "group", *CODES_2024]
    week2 = tmp_path / "tuan-2.csv"
    week2.write_bytes(("\ufeff" + "\r\n".join(";".join(r) for r in [header, *again]) + "\r\n")
                      .encode("utf-8"))
    code, out, err = run(capsys, "import", str(week2), "--questionnaire", "dtxhh-haugiang")
    assert_user_error(code, out, err)
    assert "3 row(s) were already imported" in err and "row 2, 4, 6." in err
    assert "'tuan-1.csv' imported on" in err and "--only-new-rows" in err
    assert count_rows(initialised, Response) == 3
    code, out, err = run(capsys, "import", str(week2), "--questionnaire", "dtxhh-haugiang",
                         "--only-new-rows")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["tuan-2.csv: 2 responses imported",
                                "3 row(s) already imported were left out: row 2, 4, 6"]
    assert count_rows(initialised, Response) == 5


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(("--questionnaire", "nope"), "nope"), (("--questionnaire", "dtxhh-haugiang@2099"), "2099")],
    ids=["unknown-questionnaire", "unknown-version"],
)
def test_import_with_an_unknown_questionnaire(initialised, capsys, tmp_path, argv, fragment):
    good = _forms_csv(tmp_path / "good.csv", [_form("HG01", "2024-Q3", "DAN")])
    code, out, err = run(capsys, "import", str(good), *argv)
    assert_user_error(code, out, err)
    assert fragment in err


def test_import_a_missing_file(initialised, capsys, tmp_path):
    code, out, err = run(capsys, "import", str(tmp_path / "nothing.csv"), "--questionnaire",
                         "dtxhh-haugiang")
    assert_user_error(code, out, err)
    assert "nothing.csv" in err


def test_export_responses_and_codebook(initialised, capsys, tmp_path):
    rows = [_form("HG01", "2024-Q3", "DAN"), _form("HG01", "2024-Q4", "CB", "B"),
            _form("HG01", "2024-Q3", "DN", "X")]
    assert run(capsys, "import", str(_forms_csv(tmp_path / "forms.csv", rows)),
               "--questionnaire", "dtxhh-haugiang@2024")[0] == 0
    out_file = tmp_path / "export" / "responses.csv"
    code, out, err = run(capsys, "export", "responses", "--out", str(out_file))
    assert (code, err) == (0, "")
    assert out.startswith("3 responses written")
    exported = pd.read_csv(out_file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert exported.columns[0] == "questionnaire"
    assert sorted(exported.columns) == sorted(RESPONSE_COLUMNS + CODES_2024)
    identifying = [c for c in exported.columns
                   if c.endswith("id") or c.endswith("_at") or c in ("receipt", "idempotency_key")]
    assert identifying == []
    assert sorted(zip(exported["period"], exported["group"], exported["1.1"], strict=True)) == [
        ("2024-Q3", "DAN", "A"), ("2024-Q3", "DN", "X"), ("2024-Q4", "CB", "B")]
    assert set(exported["channel"]) == {"paper"}
    assert set(exported["questionnaire"]) == {"dtxhh-haugiang"}

    codebook = pd.read_csv(out_file.with_name("responses-codebook.csv"), dtype=str,
                           keep_default_na=False, encoding="utf-8-sig")
    assert list(codebook.columns) == [
        "questionnaire", "version", "criterion", "criterion_title", "criterion_points",
        "question", "text_vi", "text_en", "question_points", "option", "option_label",
        "score_fraction"]
    v2024 = codebook[(codebook["questionnaire"] == "dtxhh-haugiang")
                     & (codebook["version"] == "2024")]
    assert sorted(set(v2024["question"])) == sorted(CODES_2024)
    assert len(v2024) == 5 * len(CODES_2024)
    first = v2024[(v2024["question"] == "1.1") & (v2024["option"] == "A")].iloc[0]
    assert (first["criterion"], float(first["question_points"]), float(first["score_fraction"])) \
        == ("1", 1.5, 1.0)
    no_opinion = v2024[(v2024["question"] == "1.1") & (v2024["option"] == "X")].iloc[0]
    assert no_opinion["score_fraction"] == ""


def test_demo_into_a_database_with_units_is_refused(initialised, capsys):
    code, out, err = run(capsys, "demo")
    assert_user_error(code, out, err)
    assert "already has units" in err
    assert count_rows(initialised, Response) == 0
    assert count_rows(initialised, Organisation) == 2


HEAVY = ("pandas", "scipy", "numpy", "streamlit", "sqlalchemy", "sqlmodel", "openpyxl")


@pytest.mark.parametrize("argv", [["--help"], ["score", "--help"], ["campaign", "open", "--help"],
                                  ["report", "unit", "--help"], ["import", "--help"],
                                  ["diagnose", "--help"]])
def test_help_imports_no_heavy_library(argv):
    """`survey --help` and every command's --help answer without pandas, scipy, Streamlit or
    the database layer (issue 11): the parsers import none of them."""
    code = ("import sys\nfrom survey.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert "usage: survey" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_questionnaire_registration_and_export_from_the_cli_are_audited(cli_env, capsys, tmp_path):
    """Issue 14: the command line's writes go through the audited use cases."""
    root = Path(__file__).resolve().parent.parent
    assert main(["init"]) == 0
    text = (root / "questionnaires" / "sipas-2024.yaml").read_text(encoding="utf-8")
    custom = tmp_path / "sipas-test.yaml"
    custom.write_text(text.replace("version: '2024'", "version: 2099-test")
                      .replace('version: "2024"', "version: 2099-test")
                      .replace("version: 2024", "version: 2099-test"), encoding="utf-8")
    assert main(["questionnaire", "add", str(custom)]) == 0
    assert main(["export", "responses", "--out", str(tmp_path / "out.csv")]) == 0
    capsys.readouterr()
    assert main(["audit", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    actions = {(e["action"], e["username"]) for e in entries}
    assert ("questionnaire_registered", "cli") in actions
    assert ("responses_exported", "cli") in actions
    registered = [e for e in entries if e["action"] == "questionnaire_registered"]
    assert registered[0]["target"] == "sipas@2099-test"


def test_a_command_outside_the_project_creates_no_database(tmp_path, monkeypatch, capsys):
    """Issue 12: run where there is no database, a command says which database it looked for
    and creates nothing; `survey info` says the same; `survey init` creates it."""
    from survey.cli import common

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SURVEY_DATABASE_URL", raising=False)
    monkeypatch.setenv("SURVEY_DATA_DIR", "data")
    monkeypatch.setattr(common, "_creating", False)
    common.engine.cache_clear()
    assert main(["unit", "list"]) == 2
    assert "no survey database at sqlite:///data/survey.db" in capsys.readouterr().err
    assert not (tmp_path / "data" / "survey.db").exists()
    assert main(["info"]) == 0
    assert "missing" in capsys.readouterr().out
    assert main(["init"]) == 0
    assert (tmp_path / "data" / "survey.db").stat().st_size > 0
    capsys.readouterr()
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["state"] == "ready" and info["responses"] == 0 and info["schema_revision"]
    common.engine.cache_clear()


def test_json_output_is_one_line_with_nulls_for_what_json_cannot_hold(capsys):
    import datetime

    import numpy as np

    from survey.cli.common import print_json

    print_json({"điểm": float("nan"), "ci": [float("inf"), -float("inf"), 0.1 + 0.2],
                "n": np.int64(179), "share": np.float64(0.75), 2024: "Quý 4/2024",
                "at": datetime.date(2024, 12, 31)})
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "Quý 4/2024" in out and "\\u" not in out  # Vietnamese written as it is
    assert json.loads(out) == {"điểm": None, "ci": [None, None, 0.30000000000000004], "n": 179,
                               "share": 0.75, "2024": "Quý 4/2024", "at": "2024-12-31"}
