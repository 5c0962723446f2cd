"""Print-ready A4 posters of campaign links (fpdf2): unit, period, a big QR code, the URL.

Vietnamese needs a Unicode TrueType font. The first font found that covers every
character of the poster is embedded: SURVEY_POSTER_FONT (a .ttf path), then
DejaVu Sans (Debian `fonts-dejavu-core`), Noto Sans, Liberation Sans, and the
DejaVu Sans that matplotlib ships when it is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from survey.config import settings
from survey.links import CampaignLink
from survey.periods import parse_period
from survey.qr import qr_image

FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
)
INSTRUCTION = (
    "Quét mã QR bằng điện thoại để trả lời phiếu khảo sát",
    "Không ghi tên · Chỉ mất vài phút · Xin cảm ơn Ông/Bà!",
)
QR_SIZE_MM = 135
INK = (13, 70, 128)


class PosterFontError(RuntimeError):
    """No installed font can write the poster's Vietnamese text."""


@dataclass(frozen=True)
class PosterContent:
    """What one poster shows."""

    unit_name: str
    period_label: str
    title: str
    url: str
    valid_until: str = ""  # e.g. "31/12/2024"; empty when the link does not expire


def poster_content(link: CampaignLink) -> PosterContent:
    """The poster of an open campaign link."""
    expires = link.campaign.expires_at
    return PosterContent(
        unit_name=link.unit.name,
        period_label=parse_period(link.campaign.period).label("vi"),
        title=link.version.title,
        url=link.url,
        valid_until=expires.strftime("%d/%m/%Y") if isinstance(expires, datetime) else "",
    )


@dataclass(frozen=True)
class PosterFont:
    regular: Path
    bold: Path


def _matplotlib_font() -> tuple[str, str] | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return str(folder / "DejaVuSans.ttf"), "DejaVuSans-Bold.ttf"


def _candidates() -> list[tuple[str, str]]:
    found = []
    config = settings()
    if config.poster_font:
        regular = config.poster_font
        # SURVEY_POSTER_FONT_BOLD (an absolute path replaces the folder), else the same file
        found.append((regular, config.poster_font_bold or Path(regular).name))
    found.extend(FONT_CANDIDATES)
    bundled = _matplotlib_font()
    if bundled:
        found.append(bundled)
    return found


@cache
def _covered_characters(path: Path) -> frozenset[int]:
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _covers(path: Path, text: str) -> bool:
    try:
        cmap = _covered_characters(path)
    except Exception:  # noqa: BLE001 - an unreadable font is simply not a candidate
        return False
    return all(ord(c) in cmap for c in set(text) if not c.isspace())


def find_poster_font(text: str) -> PosterFont:
    """The first candidate font covering every character of `text` (bold falls back to regular)."""
    for regular_name, bold_name in _candidates():
        regular = Path(regular_name)
        if regular.is_file() and _covers(regular, text):
            bold = regular.parent / bold_name
            return PosterFont(regular, bold if bold.is_file() and _covers(bold, text) else regular)
    raise PosterFontError(
        "no installed font can write Vietnamese on the poster: install Debian's "
        "fonts-dejavu-core (apt-get install fonts-dejavu-core) or set SURVEY_POSTER_FONT "
        "to a .ttf file with Vietnamese letters"
    )


def _all_text(posters: Iterable[PosterContent]) -> str:
    parts = list(INSTRUCTION) + ["Đợt khảo sát Hiệu lực đến 0123456789/:"]
    for poster in posters:
        parts += [
            poster.unit_name,
            poster.period_label,
            poster.title,
            poster.url,
            poster.valid_until,
        ]
    return "".join(parts)


def _fitting_size(pdf: FPDF, text: str, width: float, *, largest: float, smallest: float) -> float:
    """The largest bold font size (points) at which `text` fits on one line of `width`."""
    size = largest
    while size > smallest:
        pdf.set_font("poster", "B", size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 0.5
    return size


def _draw_poster(pdf: FPDF, poster: PosterContent) -> None:
    pdf.add_page()
    width = pdf.epw
    pdf.set_text_color(*INK)
    pdf.set_font("poster", "B", 24)
    pdf.multi_cell(width, 11, poster.unit_name, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("poster", "", 18)
    pdf.cell(width, 10, poster.period_label, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(40, 40, 40)
    pdf.set_font("poster", "", 11)
    pdf.ln(1)
    pdf.multi_cell(width, 5.5, poster.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    top = pdf.get_y() + 6
    pdf.image(
        qr_image(poster.url, box_size=8),
        x=(pdf.w - QR_SIZE_MM) / 2,
        y=top,
        w=QR_SIZE_MM,
        h=QR_SIZE_MM,
        alt_text=poster.url,
        link=poster.url,
    )
    pdf.set_y(top + QR_SIZE_MM + 6)
    pdf.set_text_color(*INK)
    for line in INSTRUCTION:
        pdf.set_font("poster", "B", _fitting_size(pdf, line, width, largest=18, smallest=11))
        pdf.cell(width, 9, line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_text_color(20, 20, 20)
    pdf.set_font("poster", "", 11)
    pdf.multi_cell(
        width, 6, poster.url, align=Align.C, link=poster.url, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    if poster.valid_until:
        pdf.set_font("poster", "", 10)
        pdf.set_text_color(90, 90, 90)
        pdf.cell(width, 6, f"Hiệu lực đến {poster.valid_until}", align=Align.C)


def posters_pdf(posters: Sequence[PosterContent]) -> bytes:
    """One A4 page per poster, as PDF bytes."""
    if not posters:
        raise ValueError("no poster to print")
    font = find_poster_font(_all_text(posters))
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(18, 22, 18)
    pdf.set_title(f"Áp phích khảo sát – {posters[0].period_label}")
    pdf.set_creator("survey-cchc")
    pdf.add_font("poster", "", str(font.regular))
    pdf.add_font("poster", "B", str(font.bold))
    for poster in posters:
        _draw_poster(pdf, poster)
    return bytes(pdf.output())


def campaign_poster_pdf(link: CampaignLink) -> bytes:
    """The A4 poster of one campaign link."""
    return posters_pdf([poster_content(link)])


SLIP_INSTRUCTION = "Quét mã QR để đánh giá việc giải quyết hồ sơ (trả lời một lần)"
SLIP_COLUMNS, SLIP_ROWS = 2, 5  # ten slips of 95 × 55 mm on an A4 page
SLIP_QR_MM = 40


@dataclass(frozen=True)
class SlipContent:
    """One slip of a single-use link: cut out and stapled to the case, or printed on the
    appointment slip."""

    unit_name: str
    period_label: str
    url: str
    case_code: str = ""  # printed for the desk to match slip and case; never stored
    valid_until: str = ""


def _draw_slip(pdf: FPDF, slip: SlipContent, x: float, y: float, w: float, h: float) -> None:
    pdf.set_draw_color(150, 150, 150)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.rect(x, y, w, h)
    pdf.set_dash_pattern()
    pad = 3
    pdf.image(qr_image(slip.url, box_size=6), x=x + pad, y=y + (h - SLIP_QR_MM) / 2,
              w=SLIP_QR_MM, h=SLIP_QR_MM, alt_text=slip.url, link=slip.url)
    left = x + pad + SLIP_QR_MM + 2
    width = x + w - pad - left
    pdf.set_xy(left, y + pad + 1)
    pdf.set_text_color(*INK)
    pdf.set_font("poster", "B", 9)
    pdf.multi_cell(width, 4, slip.unit_name, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT, max_line_height=4)
    pdf.set_font("poster", "", 8)
    pdf.set_text_color(40, 40, 40)
    pdf.set_x(left)
    pdf.cell(width, 4, slip.period_label, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_x(left)
    pdf.set_font("poster", "B", 8.5)
    pdf.set_text_color(*INK)
    pdf.multi_cell(width, 4, SLIP_INSTRUCTION, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_x(left)
    pdf.set_font("poster", "", 6.5)
    pdf.set_text_color(20, 20, 20)
    pdf.multi_cell(width, 3, slip.url, link=slip.url, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)
    details = " · ".join(part for part in (
        f"Hồ sơ: {slip.case_code}" if slip.case_code else "",
        f"Hiệu lực đến {slip.valid_until}" if slip.valid_until else "",
    ) if part)
    if details:
        pdf.ln(1)
        pdf.set_x(left)
        pdf.set_font("poster", "", 7)
        pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(width, 3.2, details, align=Align.L, new_x=XPos.LEFT, new_y=YPos.NEXT)


def slips_pdf(slips: Sequence[SlipContent]) -> bytes:
    """Ten slips per A4 page (two columns of five), with dashed cut lines, as PDF bytes."""
    if not slips:
        raise ValueError("no slip to print")
    text = "".join([SLIP_INSTRUCTION, "Hồ sơ: Hiệu lực đến 0123456789/:·"]
                   + [s.unit_name + s.period_label + s.url + s.case_code for s in slips])
    font = find_poster_font(text)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(10, 10, 10)
    pdf.set_title(f"Phiếu đường dẫn khảo sát – {slips[0].period_label}")
    pdf.set_creator("survey-cchc")
    pdf.add_font("poster", "", str(font.regular))
    pdf.add_font("poster", "B", str(font.bold))
    w, h = (pdf.w - 20) / SLIP_COLUMNS, (pdf.h - 20) / SLIP_ROWS
    per_page = SLIP_COLUMNS * SLIP_ROWS
    for index, slip in enumerate(slips):
        if index % per_page == 0:
            pdf.add_page()
        place = index % per_page
        _draw_slip(pdf, slip, 10 + (place % SLIP_COLUMNS) * w, 10 + (place // SLIP_COLUMNS) * h,
                   w, h)
    return bytes(pdf.output())
