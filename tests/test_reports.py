"""Excel reports: cells hold the engine's numbers; the CLI writes them within a user's scope."""

from __future__ import annotations

import io

import openpyxl
import pytest

from survey.auth import FULL_ACCESS
from survey.cli import main
from survey.dashboard import load_source, province_report, unit_report
from survey.par import classify
from survey.reports import province_workbook, unit_workbook


@pytest.fixture(scope="module")
def source(demo_url):
    from survey.db import make_engine, new_session

    with new_session(make_engine(demo_url)) as session:
        return load_source(session=session, family="dtxhh-haugiang", scope=FULL_ACCESS)


def rows_of(content: bytes, sheet: str):
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return workbook, list(workbook[sheet].iter_rows(values_only=True))


def test_unit_workbook_cells_equal_the_report(demo_session, source):
    report = unit_report(session=demo_session, source=source, scope=FULL_ACCESS, unit="HG01",
                         period="2024")
    workbook, rows = rows_of(unit_workbook(report), "Bảng điểm")
    header = rows[3]
    assert header[:4] == ("STT", "Tiêu chí", "Điểm chuẩn", "Năm 2024")
    assert header[6] == "Năm 2023" and header[7] == "So sánh"
    body = rows[4:12]
    assert [r[0] for r in body] == [1, 2, 3, 4, 5, 6, 7, None]
    assert body[-1][1] == "Tổng cộng"
    assert body[-1][3] == pytest.approx(report.current.total.score, rel=1e-14)
    assert body[-1][6] == pytest.approx(report.year_ago.total.score, rel=1e-14)
    assert body[-1][7] == pytest.approx(report.change_year_ago.total.change, abs=1e-12)
    for row, criterion in zip(body[:7], report.current.criteria, strict=True):
        assert row[3] == pytest.approx(criterion.score, rel=1e-14)  # Excel keeps 15 digits
        assert (row[4], row[5]) == pytest.approx(criterion.ci, rel=1e-14)
    sheet = workbook["Bảng điểm"]
    assert sheet.cell(row=12, column=4).number_format == "0.00"
    method = dict(workbook["Phương pháp"].iter_rows(values_only=True))
    assert method["Mức tin cậy"] == "95%"
    assert method["Số phiếu kỳ này (n)"] == report.current.n
    assert "Taylor" in method["Phương pháp"]


def test_province_workbook_ranking_equals_the_report(source):
    report = province_report(source=source, period="2024-Q4", classify=classify)
    workbook, rows = rows_of(province_workbook(report), "Xếp hạng")
    assert rows[3][:5] == ("Hạng", "Mã", "Đơn vị", "Số phiếu", "Điểm")
    body = rows[4:16]
    assert [r[1] for r in body] == list(report.ranking["unit"])
    assert [r[4] for r in body] == pytest.approx(list(report.ranking["score"]), rel=1e-14)
    assert [r[11] for r in body] == pytest.approx(list(report.ranking["p_adjusted"]), rel=1e-14)
    assert {r[12] for r in body} <= {"có", "không"}
    # Both bounds of both rank sets (issue 13), equal to the report's.
    assert rows[3][13] == "Độ tin cậy"
    assert rows[3][14:18] == ("Khoảng hạng — từ", "Khoảng hạng — đến",
                              "Khoảng hạng đồng thời — từ", "Khoảng hạng đồng thời — đến")
    for column, name in ((14, "rank_low"), (15, "rank_high"), (16, "rank_low_all"),
                         (17, "rank_high_all")):
        assert [r[column] for r in body] == list(report.ranking[name].astype(int))
    assert all(r[16] <= r[14] and r[15] <= r[17] for r in body)
    criteria = list(workbook["Theo tiêu chí"].iter_rows(values_only=True))
    assert len(criteria) == 13 and criteria[0][2] == "TC 1 (/4)"
    method = dict(workbook["Phương pháp"].iter_rows(values_only=True))
    assert method["Số đơn vị"] == 12
    assert method["Tổng số phiếu (n)"] == int(report.ranking["n"].sum())


def test_cli_report_unit_and_province(demo_url, tmp_path, monkeypatch, capsys):
    from survey.cli import common

    monkeypatch.setenv("SURVEY_DATABASE_URL", demo_url)
    common.engine.cache_clear()
    out = tmp_path / "unit.xlsx"
    assert main(["report", "unit", "--unit", "HG02", "--period", "2024-H1", "--out", str(out)]) == 0
    _, rows = rows_of(out.read_bytes(), "Bảng điểm")
    assert rows[3][3] == "6 tháng đầu năm 2024"
    assert main(["report", "province", "--period", "2024", "--out", str(tmp_path / "p.xlsx")]) == 0
    printed = capsys.readouterr().out
    assert "12 units" in printed and "(khoảng " in printed
    assert main(["report", "unit", "--unit", "HG02", "--period", "2024", "--out",
                 str(tmp_path / "x.csv")]) == 2
    common.engine.cache_clear()


def test_cli_report_as_a_unit_user_cannot_read_another_unit(demo_url, tmp_path, monkeypatch, capsys):
    from survey.cli import common

    monkeypatch.setenv("SURVEY_DATABASE_URL", demo_url)
    common.engine.cache_clear()
    if main(["user", "list", "--json"]) == 0 and '"cuc10"' not in capsys.readouterr().out:
        assert main(["user", "add", "cuc10", "--role", "unit", "--unit", "HG10", "--one-time"]) == 0
    capsys.readouterr()
    refused = tmp_path / "refused.xlsx"
    assert main(["report", "unit", "--unit", "HG01", "--period", "2024", "--out", str(refused),
                 "--as", "cuc10"]) == 2
    assert "outside your scope" in capsys.readouterr().err
    assert not refused.exists()
    own = tmp_path / "own.xlsx"
    assert main(["report", "province", "--period", "2024", "--out", str(own), "--as", "cuc10"]) == 0
    _, rows = rows_of(own.read_bytes(), "Xếp hạng")
    assert [r[1] for r in rows[4:] if r[1]] == ["HG10"]
    common.engine.cache_clear()
