"""QR codes and A4 posters: the codes decode to the campaign link, the PDF holds it."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib

import pytest
import zxingcpp
from PIL import Image
from tab_session import tab_auth

from survey.bootstrap import register_shipped_questionnaires
from survey.cli import main
from survey.links import open_campaign_link, province_links
from survey.posters import (
    PosterContent,
    PosterFontError,
    campaign_poster_pdf,
    find_poster_font,
    poster_content,
    posters_pdf,
)
from survey.qr import qr_png, qr_svg, qr_version
from survey.storage.organisations import add_organisation

URL = "https://khaosat.haugiang.gov.vn/s/AQAAAAEAAWt4CjknFaRbpPjeIEro9kcA"


def decode(image: Image.Image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def embedded_images(pdf: bytes) -> list[Image.Image]:
    """The greyscale Flate images of a PDF, rebuilt as PNGs (their streams use PNG predictors)."""
    images = []
    for match in re.finditer(rb"/Subtype /Image", pdf):
        start = pdf.rfind(b" obj", 0, match.start())
        stream = pdf.index(b"stream\n", match.start()) + len(b"stream\n")
        header = pdf[start:stream].decode("latin-1")
        assert "/ColorSpace /DeviceGray" in header and "/Predictor 15" in header
        width, height, length = (
            int(re.search(rf"/{key} (\d+)", header).group(1))
            for key in ("Width", "Height", "Length")
        )
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        png = (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", pdf[stream : stream + length])
            + _png_chunk(b"IEND", b"")
        )
        images.append(Image.open(io.BytesIO(png)).convert("L"))
    return images


@pytest.fixture
def province(engine, session, monkeypatch):
    monkeypatch.setenv("SURVEY_SECRET", "test-secret")
    monkeypatch.setenv("SURVEY_BASE_URL", "https://khaosat.haugiang.gov.vn")
    register_shipped_questionnaires(engine)
    add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
    add_organisation(
        session=session, code="HG01", name="Cục Thi hành án dân sự tỉnh Hậu Giang", parent_code="HG"
    )
    add_organisation(
        session=session,
        code="HG02",
        name="Chi cục Thi hành án dân sự huyện Châu Thành A",
        parent_code="HG01",
    )
    add_organisation(
        session=session,
        code="HG03",
        name="Chi cục Thi hành án dân sự thành phố Vị Thanh",
        parent_code="HG01",
    )
    session.commit()
    return session


def test_png_decodes_to_the_link():
    image = Image.open(io.BytesIO(qr_png(URL)))
    assert image.format == "PNG" and image.size[0] == image.size[1]
    assert decode(image) == [URL]


def test_svg_is_one_path_scaled_to_the_code():
    root = ET.fromstring(qr_svg(URL))
    assert root.tag.endswith("svg")
    side = 17 + 4 * qr_version(URL) + 8  # modules plus the quiet zone
    assert root.get("viewBox") == f"0 0 {side} {side}"
    assert len(root.findall("{http://www.w3.org/2000/svg}path")) == 1


def test_poster_holds_a_qr_of_the_link_and_the_url(province):
    link = open_campaign_link(actor="test",
        session=province, unit_code="HG01", period="2024-Q3", questionnaire="dtxhh-haugiang"
    )
    pdf = campaign_poster_pdf(link)
    assert pdf.startswith(b"%PDF-") and b"/MediaBox [0 0 595.28 841.89]" in pdf  # A4
    assert pdf.count(b"/Type /Page\n") == 1
    [image] = embedded_images(pdf)
    assert decode(image) == [link.url]
    assert f"/URI ({link.url})".encode() in pdf  # the printed URL is also a link
    assert b"/FontFile2" in pdf  # an embedded TrueType font, for Vietnamese


def test_poster_text_is_vietnamese(province):
    link = open_campaign_link(actor="test",
        session=province, unit_code="HG02", period="2024-Q3", questionnaire="sipas"
    )
    poster = poster_content(link)
    assert poster.period_label == "Quý 3/2024"
    assert poster.unit_name == "Chi cục Thi hành án dân sự huyện Châu Thành A"
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", poster.valid_until)


def test_province_pdf_has_one_poster_per_unit(province):
    open_campaign_link(actor="test",
        session=province, unit_code="HG02", period="2024-Q3", questionnaire="dtxhh-haugiang"
    )
    links = province_links(actor="test", session=province, period="2024-Q3", questionnaire="dtxhh-haugiang")
    assert [link.unit.code for link in links] == ["HG01", "HG02", "HG03"]
    assert [link.created for link in links] == [True, False, True]
    pdf = posters_pdf([poster_content(link) for link in links])
    assert pdf.count(b"/Type /Page\n") == 3
    assert sorted(decode(image)[0] for image in embedded_images(pdf)) == sorted(
        link.url for link in links
    )


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) not installed"
)
def test_printed_poster_scans(province, tmp_path):
    link = open_campaign_link(actor="test",
        session=province, unit_code="HG03", period="2024-Q3", questionnaire="sipas"
    )
    (tmp_path / "poster.pdf").write_bytes(campaign_poster_pdf(link))
    subprocess.run(
        ["pdftoppm", "-r", "100", "-png", str(tmp_path / "poster.pdf"), str(tmp_path / "page")],
        check=True,
    )
    assert decode(Image.open(tmp_path / "page-1.png")) == [link.url]


def test_font_must_cover_vietnamese(monkeypatch, tmp_path):
    font = find_poster_font("Quý 3/2024 – Hậu Giang")
    assert font.regular.is_file() and font.bold.is_file()
    monkeypatch.setattr("survey.posters.FONT_CANDIDATES", ())
    monkeypatch.setattr("survey.posters._matplotlib_font", lambda: None)
    monkeypatch.setenv("SURVEY_POSTER_FONT", str(tmp_path / "missing.ttf"))
    with pytest.raises(PosterFontError, match="fonts-dejavu-core"):
        posters_pdf([PosterContent("Cục", "Quý 3/2024", "Phiếu", URL)])


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_province(cli_env, capsys):
    main(["init"])
    main(["unit", "add", "HG", "--name", "Tỉnh Hậu Giang"])
    main(["unit", "add", "HG01", "--name", "Cục THADS Hậu Giang", "--parent", "HG"])
    main(["unit", "add", "HG02", "--name", "Chi cục THADS Vị Thanh", "--parent", "HG01"])
    capsys.readouterr()


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_cli_qr_for_a_unit(cli_province, capsys, tmp_path, suffix):
    out = tmp_path / f"qr.{suffix}"
    code = main(
        [
            "qr",
            "--unit",
            "HG01",
            "--period",
            "2024-Q3",
            "--questionnaire",
            "sipas",
            "--allow-ended-period",  # 2024-Q3 has ended
            "--out",
            str(out),
        ]
    )
    url = capsys.readouterr().out.strip()
    assert code == 0 and "/s/" in url and out.stat().st_size > 300
    if suffix == "png":
        assert decode(Image.open(out)) == [url]
    # the campaign is now open: without --questionnaire the one open campaign is used
    code = main(["qr", "--unit", "HG01", "--period", "2024-Q3", "--out", str(out)])
    assert code == 0 and capsys.readouterr().out.strip() == url


def test_cli_qr_for_the_province(cli_province, capsys, tmp_path):
    out = tmp_path / "all.pdf"
    code = main(
        [
            "qr",
            "--province",
            "--period",
            "2024-Q3",
            "--questionnaire",
            "dtxhh-haugiang",
            "--allow-ended-period",  # 2024-Q3 has ended
            "--out",
            str(out),
        ]
    )
    assert code == 0 and "2 posters" in capsys.readouterr().err
    assert out.read_bytes().count(b"/Type /Page\n") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--unit", "HG01", "--period", "2024-Q3", "--out", "x.png"], "add --questionnaire"),
        (
            ["--unit", "HG01", "--period", "2024-Q3", "--questionnaire", "sipas", "--out", "x.gif"],
            "--out",
        ),
        (
            ["--province", "--period", "2024-Q3", "--questionnaire", "sipas", "--out", "x.png"],
            "FILE.pdf",
        ),
        (["--province", "--period", "2024-Q3", "--out", "x.pdf"], "--questionnaire"),
        (
            [
                "--province",
                "XX",
                "--period",
                "2024-Q3",
                "--questionnaire",
                "sipas",
                "--out",
                "x.pdf",
            ],
            "XX",
        ),
        (["--period", "2024-Q3", "--out", "x.pdf"], "--unit"),
        (
            ["--unit", "HG01", "--period", "2024", "--questionnaire", "sipas", "--out", "x.png"],
            "quarter",
        ),
    ],
)
def test_cli_qr_errors(cli_province, capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["qr", *argv])
    except SystemExit as exited:  # a value refused while parsing the arguments (--period)
        code = exited.code
    assert code == 2
    assert message in capsys.readouterr().err


# --- the page for unit staff ----------------------------------------------------------------


@pytest.fixture
def clean_streamlit_caches():
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def test_qr_page_opens_a_campaign_and_offers_downloads(
    cli_env, clean_streamlit_caches, monkeypatch
):
    from pathlib import Path

    from sqlmodel import select
    from streamlit.testing.v1 import AppTest

    from survey.auth import create_user
    from survey.bootstrap import initialise
    from survey.db import make_engine, new_session
    from survey.models import Campaign

    monkeypatch.setenv("SURVEY_DEMO", "0")
    engine = make_engine(cli_env)
    initialise(engine, load_demo=False)
    with new_session(engine) as session:
        add_organisation(session=session, code="HG", name="Tỉnh Hậu Giang")
        add_organisation(session=session, code="HG01", name="Cục THADS Hậu Giang", parent_code="HG")
        add_organisation(
            session=session, code="HG02", name="Chi cục THADS Vị Thanh", parent_code="HG01"
        )
        add_organisation(session=session, code="HG09", name="Sở Nội vụ", parent_code="HG")
        create_user(
            session=session,
            username="cuc",
            role="unit",
            organisation_code="HG01",
            password="x" * 12,
        )
        session.commit()

    app = AppTest.from_file(
        str(Path(__file__).resolve().parent.parent / "survey_app.py"), default_timeout=60
    )
    app.session_state["auth"] = tab_auth("cuc")
    app.run()
    app.switch_page("pages/qr.py")
    app.run()
    assert not app.exception
    assert [o.split(" · ")[0] for o in app.selectbox[0].options] == [
        "HG01",
        "HG02",
    ]  # own units only
    next(b for b in app.button if b.label.startswith("Mở đợt khảo sát")).click()
    app.run()
    assert not app.exception
    [url] = [code.value for code in app.code]
    assert "/s/" in url
    labels = [button.label for button in app.get("download_button")]
    assert labels == ["Tải mã QR (PNG)", "Tải mã QR (SVG)", "Tải áp phích A4 (PDF)"]
    next(b for b in app.button if b.label.startswith("Tạo áp phích")).click()
    app.run()
    assert not app.exception
    assert "Tải 2 áp phích (PDF)" in [button.label for button in app.get("download_button")]
    with new_session(engine) as session:
        campaigns = list(session.exec(select(Campaign)))
    assert len(campaigns) == 2  # HG01 and HG02, not the Sở outside this user's scope
    engine.dispose()
