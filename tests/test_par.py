"""PAR index: the published Cục THADS Hậu Giang 2024 figures (DOMAIN.md), warnings, bands, ranks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from survey.par import (
    HAU_GIANG_BANDS,
    ParError,
    classify,
    competition_ranks,
    par_index,
    parse_bands,
    rank_results,
    read_appraisal_table,
)

THADS_2024 = Path(__file__).parent / "reference" / "par_thads_haugiang_2024.csv"
TOTAL_ROW = "total,51.50,47.66,43.14\n"


def test_published_index_with_the_stated_total():
    table = read_appraisal_table(THADS_2024)
    result = par_index(table, "15.43", stated_total="51.50")
    assert result.appraised == Decimal("43.14")
    assert result.self_assessed == Decimal("47.66")
    assert result.total == Decimal("58.57")
    assert result.applicable_max == Decimal("73.50")
    assert result.percentage == Decimal("79.69")
    assert result.classification == "Khá"
    document = result.to_dict()
    assert document["percentage"] == 79.69 and document["class"] == "Khá"
    assert document["total"] == 58.57 and document["applicable_max"] == 73.5
    [warning] = result.warnings
    assert "51.5" in warning and "53" in warning and "using the stated maximum" in warning
    assert "78.09" in warning  # what the row maxima would give


def test_total_row_in_the_table_is_the_stated_total(tmp_path):
    path = tmp_path / "thads.csv"
    path.write_text(THADS_2024.read_text(encoding="utf-8") + TOTAL_ROW, encoding="utf-8")
    table = read_appraisal_table(path)
    assert table.stated == {"max": Decimal("51.50"), "self": Decimal("47.66"),
                            "appraised": Decimal("43.14")}
    result = par_index(table, 15.43)
    assert result.percentage == Decimal("79.69")
    assert len(result.warnings) == 1
    assert "the table's total row" in result.warnings[0]
    assert result.warnings[0].code == "par.stated_max_differs.total_row"
    assert "--" not in result.warnings[0]  # the domain names no command-line flag (issue 12.6)
    assert result.warnings[0].render("vi") == (
        "Tổng điểm chuẩn 51,5 (ghi ở dòng tổng của bảng) khác tổng điểm chuẩn các dòng 53; "
        "đang dùng 51,5 (điểm tối đa áp dụng 73,5). Theo tổng các dòng, điểm tối đa áp dụng là "
        "75, tỷ lệ sẽ là 78,09%.")
    overridden = par_index(table, 15.43, stated_total=53)
    assert overridden.applicable_max == Decimal(75)
    assert overridden.percentage == Decimal("78.09")
    assert "overrides" in overridden.warnings[0] and "--" not in overridden.warnings[0]


def test_row_sums_without_a_stated_total():
    result = par_index(read_appraisal_table(THADS_2024), 15.43)
    assert result.appraised_max == Decimal(53)
    assert result.percentage == Decimal("78.09")  # 58.57 / 75
    assert result.warnings == ()


def test_not_applicable_criterion_is_reported():
    result = par_index(read_appraisal_table(THADS_2024), 15.43)
    criterion_2 = next(c for c in result.to_dict()["criteria"] if c["criterion"] == "2")
    assert criterion_2["applicable"] is False and criterion_2["max"] == 0


def test_vietnamese_headers_and_decimal_commas():
    text = ('Tiêu chí;Điểm chuẩn;Tự chấm;Thẩm định\n'
            '1;14;13,27;12,06\n2;0;0;0\n3;18,5;13,97;11,4\n4;6,5;6,5;6,5\n5;3,5;3,5;3,5\n'
            '6;5,5;5,5;5,5\n7;5;4,92;4,18\nTổng cộng;51,50;47,66;43,14\n')
    result = par_index(read_appraisal_table(text), "15,43")
    assert (result.total, result.percentage, result.classification) == (
        Decimal("58.57"), Decimal("79.69"), "Khá")


@pytest.mark.parametrize(("text", "expected"), [
    ("13.27", "13.27"), ("13,27", "13.27"), ("1.234,5", "1234.5"), ("1,234.5", "1234.5")])
def test_number_formats(text, expected):
    table = read_appraisal_table(f'criterion,max,self,appraised\n1,"{text}",0,0\n')
    assert table.rows[0].maximum == Decimal(expected)


def test_stated_points_total_that_differs_from_the_rows():
    text = "criterion,max,self,appraised\n1,10,8,7\n2,10,9,8\ntotal,20,17,16\n"
    result = par_index(read_appraisal_table(text), 11, survey_max=22)
    assert result.appraised == Decimal(16)
    assert any("appraised total 16 differs from the sum of the rows 15" in w
               for w in result.warnings)


def test_malformed_rows_are_named_and_left_out():
    text = ("criterion,max,self,appraised\n1,10,8,7\n2,10,abc,8\n3,-1,0,0\n,5,5,5\n"
            "4,10,11,12\n")
    table = read_appraisal_table(text)
    assert [row.criterion for row in table.rows] == ["1", "4"]
    warnings = "\n".join(table.warnings)
    assert "line 3 (criterion 2), column self: 'abc' is not a number; the row is left out" in warnings
    assert "line 4 (criterion 3), column max: -1 is negative" in warnings
    assert "line 5, column criterion: the criterion code is empty" in warnings
    assert "line 6 (criterion 4), column appraised: appraised points 12 are above the maximum 10" in warnings
    assert "line 6 (criterion 4), column self: self-assessed points 11 are above" in warnings
    assert par_index(table, 10).warnings == table.warnings


def test_survey_score_above_its_maximum_is_warned():
    result = par_index(read_appraisal_table(THADS_2024), 23, survey_max=22)
    assert any("survey score 23 is above its maximum 22" in w for w in result.warnings)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("criterion,max,self\n1,2,3\n", "no column appraised"),
    ("criterion,max,self,appraised\n1,x,1,1\n", "no usable criterion row"),
])
def test_unreadable_tables(text, message):
    with pytest.raises(ParError, match=message):
        read_appraisal_table(text + "\n" if "\n" not in text else text)


def test_negative_survey_score_is_an_error():
    with pytest.raises(ParError):
        par_index(read_appraisal_table(THADS_2024), -1)


@pytest.mark.parametrize(("percentage", "expected"), [
    (100, "Xuất sắc"), (90, "Xuất sắc"), (89.99, "Tốt"), (80, "Tốt"), (79.69, "Khá"),
    (65, "Khá"), (64.99, "Trung bình"), (50, "Trung bình"), (49.99, "Yếu"), (0, "Yếu")])
def test_hau_giang_bands(percentage, expected):
    assert classify(percentage, HAU_GIANG_BANDS) == expected


def test_configured_bands():
    bands = parse_bands("A=90,B=80,C=70,D=0")
    assert classify(79.69, bands) == "C" and classify(69, bands) == "D"
    with pytest.raises(ValueError):
        parse_bands("A90")


def test_history_classes_match_the_published_ones():
    published = {55.67: "Trung bình", 85.44: "Tốt", 74.69: "Khá", 88.62: "Tốt", 87.80: "Tốt",
                 83.62: "Tốt", 79.69: "Khá"}
    for percentage, expected in published.items():
        assert classify(percentage) == expected


def test_percentage_rounds_half_up():
    text = "criterion,max,self,appraised\n1,200,0,0\n"
    # 1.01 / 200 = 0.505 % exactly: half-up gives 0.51 (binary floats or half-even would give 0.50).
    result = par_index(read_appraisal_table(text), "1.01", survey_max=0)
    assert result.percentage == Decimal("0.51")


def test_competition_ranks_and_ranking_a_province_year():
    assert competition_ranks([79.69, 83.62, 79.69, 90.0]) == [3, 2, 3, 1]
    table = read_appraisal_table(THADS_2024)
    results = rank_results([par_index(table, 15.43, stated_total=51.5, unit="THADS"),
                            par_index(table, 20.0, stated_total=51.5, unit="B")])
    assert [(r.unit, r.rank, r.ranked_units) for r in results] == [("THADS", 2, 2), ("B", 1, 2)]
