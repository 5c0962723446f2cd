"""Demo data: a province of 12 units answering the seven-dimension survey for 8 quarters.

Answers are drawn from a simple ordered model (unit quality + quarter drift + question
difficulty + respondent mood), so scores look like real offices': mostly 13–18 of 22,
a few units improving or declining, some "no opinion" answers, and a few unit-quarters
with very few responses (to show the reliability flags). Deterministic (seeded).
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
from sqlalchemy.engine import Engine

from survey.answer_codes import codec_of
from survey.db import new_session
from survey.periods import parse_quarter
from survey.storage.appraisals import save_appraisal
from survey.storage.new_responses import NewResponse, insert_new_responses
from survey.storage.organisations import add_organisation
from survey.storage.questionnaires import get_questionnaire_version, questionnaire_of

PROVINCE = ("HG", "Tỉnh Hậu Giang")
UNITS = (
    # code, name, parent, quality (share of top answers), drift per quarter
    ("HG01", "Cục Thi hành án dân sự tỉnh Hậu Giang", "HG", 0.50, -0.012),
    ("HG02", "Cục Thuế tỉnh Hậu Giang", "HG", 0.48, 0.004),
    ("HG03", "Kho bạc Nhà nước khu vực Hậu Giang", "HG", 0.54, 0.002),
    ("HG04", "Bảo hiểm xã hội tỉnh Hậu Giang", "HG", 0.44, 0.010),
    ("HG05", "Cục Thống kê tỉnh Hậu Giang", "HG", 0.52, 0.0),
    ("HG06", "Ngân hàng Nhà nước chi nhánh tỉnh Hậu Giang", "HG", 0.57, -0.003),
    ("HG07", "Công ty Điện lực Hậu Giang", "HG", 0.41, 0.008),
    ("HG08", "Chi cục Hải quan Hậu Giang", "HG", 0.47, -0.006),
    ("HG09", "Văn phòng Đăng ký đất đai tỉnh Hậu Giang", "HG", 0.36, 0.015),
    ("HG10", "Chi cục Thi hành án dân sự thành phố Vị Thanh", "HG01", 0.49, 0.0),
    ("HG11", "Chi cục Thi hành án dân sự thị xã Long Mỹ", "HG01", 0.45, -0.004),
    ("HG12", "Chi cục Thi hành án dân sự huyện Châu Thành A", "HG01", 0.51, 0.005),
)
QUARTERS = tuple(f"{year}-Q{q}" for year in (2023, 2024) for q in (1, 2, 3, 4))
FAMILY = "dtxhh-haugiang"
SMALL_SAMPLES = {("HG12", "2023-Q1"): 3, ("HG11", "2024-Q2"): 12, ("HG07", "2024-Q4"): 22}
GROUP_MIX = {"DAN": 0.5, "DN": 0.25, "CB": 0.25}
NO_OPINION_RATE = 0.05
# Appraised PAR table of Cục THADS Hậu Giang 2024 as published (criterion, max, self, appraised);
# its row maxima sum to 53 while the office states 51.50, a real defect the PAR page reports.
THADS_2024 = (("1", 14, 13.27, 12.06), ("2", 0, 0, 0), ("3", 18.5, 13.97, 11.4), ("4", 6.5, 6.5, 6.5),
              ("5", 3.5, 3.5, 3.5), ("6", 5.5, 5.5, 5.5), ("7", 5, 4.92, 4.18))
THADS_2024_STATED_MAXIMUM = 51.5
PAPER_SHARE = 0.3


def _option_codes(quality: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw A/B/C/D per cell: A with prob `quality`, else B, C, D with falling odds."""
    draw = rng.random(quality.shape)
    top = quality
    good = top + (1 - top) * 0.6
    fair = good + (1 - good) * 0.7
    codes = np.where(draw < top, "A", np.where(draw < good, "B", np.where(draw < fair, "C", "D")))
    no_opinion = rng.random(quality.shape) < NO_OPINION_RATE
    return np.where(no_opinion, "X", codes)


def load_demo_data(engine: Engine, seed: int = 2024) -> int:
    """Create the demo province, its units and their responses; returns responses stored."""
    rng = np.random.default_rng(seed)
    stored = 0
    with new_session(engine) as session:
        add_organisation(session=session, code=PROVINCE[0], name=PROVINCE[1], kind="province")
        units = {}
        for code, name, parent, *_ in UNITS:
            units[code] = add_organisation(session=session, code=code, name=name, parent_code=parent)
        for q_index, quarter in enumerate(QUARTERS):
            version_row = get_questionnaire_version(
                session=session, reference=f"{FAMILY}@{quarter[:4]}"
            )
            questionnaire = questionnaire_of(version_row)
            codec = codec_of(questionnaire)
            codes = list(questionnaire.question_codes)
            difficulty = rng.normal(0.0, 0.05, len(codes))
            start = parse_quarter(quarter)
            quarter_start = np.datetime64(f"{start.year}-{3 * start.index - 2:02d}-01")
            for code, _name, _parent, quality, drift in UNITS:
                n = SMALL_SAMPLES.get((code, quarter), int(rng.integers(30, 400)))
                mood = rng.normal(0.0, 0.12, n)[:, None]
                cell_quality = np.clip(quality + drift * q_index + mood + difficulty, 0.05, 0.97)
                options = _option_codes(cell_quality, rng)
                groups = rng.choice(list(GROUP_MIX), size=n, p=list(GROUP_MIX.values()))
                channels = np.where(rng.random(n) < PAPER_SHARE, "paper", "qr")
                minutes = rng.integers(0, 90 * 24 * 60, n)
                encoded = codec.encode_table(dict(zip(codes, options.T, strict=True)), n)
                insert_new_responses(session=session, responses=[
                    NewResponse(
                        unit_id=units[code].id,
                        period=quarter,
                        questionnaire_version_id=version_row.id,
                        group_code=str(groups[i]),
                        answers=encoded[i].tobytes(),
                        idempotency_key=f"demo:{code}:{quarter}:{i}",
                        channel=str(channels[i]),
                        submitted_at=(quarter_start + np.timedelta64(int(minutes[i]), "m"))
                        .astype("datetime64[us]").item().replace(tzinfo=UTC),
                    )
                    for i in range(n)
                ])
                stored += n
        _load_appraisals(session, units, rng)
        session.commit()
    return stored


def _load_appraisals(session, units: dict, rng: np.random.Generator) -> None:
    """Appraisal tables for 2023 and 2024: the published one for HG01 2024, plausible others."""
    for year in (2023, 2024):
        for code, unit in units.items():
            if (code, year) == ("HG01", 2024):
                rows, stated = THADS_2024, THADS_2024_STATED_MAXIMUM
            else:
                rows, stated = [], None
                for criterion, maximum, _self, _appraised in THADS_2024:
                    appraised = round(maximum * float(rng.uniform(0.62, 0.98)), 2)
                    self_score = round(min(maximum, appraised + maximum * float(rng.uniform(0, 0.1))), 2)
                    rows.append((criterion, maximum, self_score, appraised))
            save_appraisal(
                session=session, unit_id=unit.id, year=year, stated_maximum=stated,
                rows=[{"criterion": c, "max": m, "self": s, "appraised": a} for c, m, s, a in rows],
            )

