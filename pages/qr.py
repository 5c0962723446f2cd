"""QR codes and posters: a unit's campaign link, its QR code, and printable A4 posters."""

from datetime import date

import streamlit as st

from app_ui import download, lang, plain, require_scope, session, show_error, t, upload_file
from survey.auth import AccessDenied, visible_organisations
from survey.config import settings
from survey.links import (
    CampaignLink,
    campaign_url,
    change_campaign,
    open_campaign_link,
    province_links,
    province_of,
)
from survey.periods import ended_on, parse_period, quarter_of
from survey.posters import PosterContent, PosterFontError, poster_content, posters_pdf
from survey.qr import qr_png, qr_svg
from survey.single_use import MAX_LINKS, issue_links_as, links_csv, read_case_codes, slips_pdf_of
from survey.storage import StorageError
from survey.storage.campaigns import find_open_campaign, list_campaign_summaries
from survey.storage.questionnaires import default_questionnaire_version, list_questionnaire_versions


@st.cache_data(max_entries=64, show_spinner=False)
def poster_pdf(posters: tuple[PosterContent, ...]) -> bytes:
    return posters_pdf(list(posters))


def recent_quarters(count: int = 8) -> list[str]:
    quarter, quarters = quarter_of(date.today()), []
    for _ in range(count):
        quarters.append(str(quarter))
        quarter = quarter.previous()
    return quarters


st.title(t("Mã QR & áp phích", "QR codes & posters"))
st.caption(t(
    "Người dân quét mã QR để trả lời phiếu trên điện thoại. In áp phích A4 và dán tại bộ phận một cửa.",
    "Citizens scan the QR code to answer on their phones. Print the A4 poster for the one-stop desk.",
))
scope = require_scope()
with session() as db:
    units = [o for o in visible_organisations(session=db, scope=scope) if o.kind != "province"]
    versions = list_questionnaire_versions(session=db)
    default = default_questionnaire_version(
        session=db, unit_ids=None if scope.sees_everything else scope.organisation_ids)
if not units or not versions:
    st.info(t("Chưa có đơn vị hoặc phiếu khảo sát.", "There is no unit or questionnaire yet."))
    st.stop()
if settings().base_url.startswith(("http://localhost", "http://127.")):
    st.warning(t(
        f"Địa chỉ công khai chưa được đặt (SURVEY_BASE_URL = {settings().base_url}): "
        "điện thoại của người dân sẽ không mở được đường dẫn này.",
        f"The public address is not set (SURVEY_BASE_URL = {settings().base_url}): "
        "citizens' phones will not reach this link.",
    ))

left, middle, right = st.columns(3)
unit = left.selectbox(t("Đơn vị", "Unit"), units, format_func=lambda o: f"{o.code} · {o.name}")
period = middle.selectbox(
    t("Quý", "Quarter"), recent_quarters(), format_func=lambda p: parse_period(p).label(lang())
)
default_index = next((i for i, v in enumerate(versions) if default and v.id == default.id), 0)
version = right.selectbox(
    t("Phiếu khảo sát", "Questionnaire"), versions, index=default_index,
    format_func=lambda v: f"{v.family}@{v.version} — {v.title}",
    help=t("Mặc định: phiếu mà các đơn vị dùng nhiều nhất, phiên bản mới nhất.",
           "Default: the questionnaire the units use most, in its latest version."),
)
st.caption(t(f"Phiếu đang chọn: **{version.title}** ({version.family}, phiên bản {version.version})"
             + (" — mặc định, phiếu được dùng nhiều nhất." if default and version.id == default.id
                else "."),
             f"Selected questionnaire: **{version.title}** ({version.family}, version "
             f"{version.version})" + (" — the default, the one used most." if default
                                      and version.id == default.id else ".")))
may_open = scope.can_manage("campaigns")

# One rule (survey.links.refuse_ended_period): a campaign for a quarter that has ended is
# opened only when confirmed here; every action below that may open one passes the answer.
ended = ended_on(period)
confirmed = True
if ended is not None and may_open:
    confirmed = st.checkbox(t(f"{parse_period(period).label('vi')} đã kết thúc ngày {ended:%d/%m/%Y}: "
                              "phiếu thu từ bây giờ vẫn được tính cho quý đã qua đó. Tôi vẫn muốn "
                              "mở đợt khảo sát cho quý này.",
                              f"{parse_period(period).label('en')} ended on {ended:%d/%m/%Y}: "
                              "responses collected from now on count in that past quarter. Open "
                              "campaigns for it anyway."),
                            key="qr_confirm_ended")

with session() as db:
    campaign = find_open_campaign(session=db, unit_id=unit.id, period=period, version_id=version.id)
    counts = {s.campaign.id: s for s in list_campaign_summaries(session=db, unit_ids=[unit.id])}

st.subheader(t("Đường dẫn của đơn vị", "The unit's link"))
if campaign is None:
    st.info(t("Chưa có đợt khảo sát đang mở cho đơn vị, quý và phiếu này.",
              "No campaign is open for this unit, quarter and questionnaire."))
    if may_open and st.button(t("Mở đợt khảo sát (90 ngày)", "Open a campaign (90 days)"),
                              type="primary", disabled=not confirmed):
        try:
            with session() as db:
                open_campaign_link(session=db, actor=scope.username, unit_code=unit.code,
                                   period=period,
                                   questionnaire=f"{version.family}@{version.version}",
                                   allow_ended_period=confirmed)
                db.commit()
            st.rerun()
        except StorageError as error:
            show_error(error)
else:
    url = campaign_url(campaign)
    link = CampaignLink(campaign, unit, version, url)
    st.code(url, language=None)
    summary = counts.get(campaign.id)
    until = f"{campaign.expires_at:%d/%m/%Y}" if campaign.expires_at else "—"
    received = summary.responses if summary else 0
    st.caption(t(f"Hiệu lực đến {until} · {received} phiếu đã nhận",
                 f"Valid until {until} · {received} responses received"))
    picture, downloads = st.columns([1, 2])
    picture.image(qr_png(url), width=240)
    name = f"qr-{unit.code}-{period}"
    # Every file is handed over only while the session that drew this page is valid.
    downloads.download_button(t("Tải mã QR (PNG)", "Download QR (PNG)"),
                              download(lambda: qr_png(url, box_size=20)),
                              f"{name}.png", "image/png", icon=":material/download:", on_click="ignore")
    downloads.download_button(t("Tải mã QR (SVG)", "Download QR (SVG)"),
                              download(lambda: qr_svg(url)),
                              f"{name}.svg", "image/svg+xml", icon=":material/download:", on_click="ignore")
    try:
        poster = poster_pdf((poster_content(link),))  # now, so that a font problem shows here
        downloads.download_button(t("Tải áp phích A4 (PDF)", "Download A4 poster (PDF)"),
                                  download(lambda: poster), f"ap-phich-{unit.code}-{period}.pdf",
                                  "application/pdf", icon=":material/picture_as_pdf:", on_click="ignore")
    except PosterFontError as error:
        show_error(error)
    if may_open:
        with st.expander(t("Đóng, thu hồi hoặc thay đường dẫn", "Close, revoke or replace the link")):
            st.caption(t("Đóng: kết thúc thu phiếu. Thu hồi: đường dẫn bị lộ hay áp phích thất lạc. "
                         "Thay đường dẫn: đường dẫn và áp phích cũ thôi dùng được, cần in lại.",
                         "Close: end collection. Revoke: a link or poster went astray. Replace: "
                         "older links and posters stop working; print new posters."))
            close_col, revoke_col, rotate_col = st.columns(3)
            clicked = None
            if close_col.button(t("Đóng đợt khảo sát", "Close the campaign"), key="qr_close"):
                clicked = "close"
            if revoke_col.button(t("Thu hồi đường dẫn", "Revoke the link"), key="qr_revoke"):
                clicked = "revoke"
            if rotate_col.button(t("Thay đường dẫn mới", "Replace the link"), key="qr_rotate"):
                clicked = "rotate"
            if clicked:
                try:
                    with session() as db:
                        change_campaign(session=db, scope=scope, campaign_id=campaign.id,
                                        action=clicked)
                    st.rerun()
                except (StorageError, AccessDenied) as error:
                    show_error(error)

st.subheader(t("Đường dẫn dùng một lần theo hồ sơ", "Single-use links per case file"))
st.caption(t(
    "Mỗi hồ sơ một đường dẫn chỉ trả lời được một lần, in trên phiếu hẹn trả kết quả hoặc gửi qua "
    "SMS/Zalo. Cơ sở dữ liệu chỉ giữ mã băm có khoá của mã hồ sơ và dấu «đã dùng», không bao giờ "
    "gắn với phiếu trả lời.",
    "One link per case file, valid for one answer, printed on the appointment slip or sent by "
    "SMS/Zalo. The database keeps only a keyed hash of the case code and a used mark, never tied "
    "to an answer.",
))
if not may_open:
    st.caption(t("Cần quyền quản lý đợt khảo sát.", "Needs the right to manage campaigns."))
else:
    with st.form("single_use_links"):
        cases_file = upload_file(
            t("Danh sách hồ sơ (CSV có cột ma_ho_so)", "Case list (CSV with a column ma_ho_so)"),
            ["csv"], key="single_use_cases")
        how_many = st.number_input(
            t("…hoặc số đường dẫn không gắn hồ sơ", "…or a number of links tied to no case"),
            min_value=0, max_value=MAX_LINKS, value=0, step=10)
        link_days = st.number_input(t("Hiệu lực (ngày, không quá hạn của đợt khảo sát)",
                                      "Valid for (days, never beyond the campaign)"),
                                    min_value=1, max_value=3650, value=settings().link_days)
        as_slips = st.radio(t("Định dạng", "Format"), ["pdf", "csv"], horizontal=True,
                            format_func=lambda f: t("Phiếu in (PDF, 10 phiếu/trang A4)",
                                                    "Slips (PDF, 10 per A4 page)") if f == "pdf"
                            else t("Bảng (CSV, một dòng mỗi hồ sơ)", "Table (CSV, one line per case)"))
        if st.form_submit_button(t("Tạo đường dẫn", "Issue links")):
            try:
                codes = read_case_codes(cases_file.getvalue()) if cases_file is not None else None
                if codes is None and not how_many:
                    st.warning(t("Hãy chọn tệp danh sách hồ sơ hoặc nhập số đường dẫn.",
                                 "Choose a case list or enter a number of links."))
                else:
                    with session() as db:
                        issued = issue_links_as(
                            session=db, scope=scope, unit_code=unit.code, period=period,
                            questionnaire=f"{version.family}@{version.version}",
                            case_codes=codes, count=None if codes is not None else int(how_many),
                            days=int(link_days), allow_ended_period=confirmed)
                    content = slips_pdf_of(issued) if as_slips == "pdf" else links_csv(issued)
                    st.session_state["issued_links_file"] = (
                        f"duong-dan-{unit.code}-{period}.{as_slips}", content, len(issued.links))
            except (StorageError, AccessDenied, PosterFontError) as error:
                show_error(error)
    ready_links = st.session_state.get("issued_links_file")
    if ready_links and ready_links[0].startswith(f"duong-dan-{unit.code}-{period}."):
        st.download_button(
            t(f"Tải {ready_links[2]} đường dẫn", f"Download {ready_links[2]} links"),
            download(lambda: ready_links[1]), ready_links[0],
            "application/pdf" if ready_links[0].endswith(".pdf") else "text/csv",
            icon=":material/download:", on_click="ignore")

st.subheader(t("Áp phích của tất cả đơn vị", "Posters of every unit"))
with session() as db:
    province = province_of(session=db, organisation=unit)
if province is None or not may_open:
    st.caption(t("Cần quyền quản lý đợt khảo sát của một tỉnh.", "Needs the right to manage a province's campaigns."))
else:
    st.caption(t(
        f"Một tệp PDF, mỗi đơn vị một trang: {len(units)} đơn vị trong phạm vi tài khoản "
        f"({plain(province.name) if scope.sees_everything or scope.role == 'province' else ', '.join(u.code for u in units)}), "
        f"{parse_period(period).label('vi')}, phiếu {version.family}@{version.version}; "
        "đợt khảo sát chưa mở sẽ được mở.",
        f"One PDF, one page per unit: {len(units)} unit(s) in your scope, "
        f"{parse_period(period).label('en')}, questionnaire {version.family}@{version.version}; "
        "campaigns not yet open are opened.",
    ))
    if st.button(t("Tạo áp phích cho tất cả đơn vị", "Make every unit's poster")):
        try:
            with session() as db:
                links = province_links(session=db, actor=scope.username, period=period,
                                       province_code=province.code,
                                       questionnaire=f"{version.family}@{version.version}",
                                       within=scope.organisation_ids,
                                       allow_ended_period=confirmed)
                db.commit()
            st.session_state["all_posters"] = (
                f"ap-phich-{province.code}-{period}-{version.family}.pdf",
                poster_pdf(tuple(poster_content(made) for made in links)),
                len(links),
            )
        except (StorageError, PosterFontError) as error:
            show_error(error)
    ready = st.session_state.get("all_posters")
    if ready and ready[0] == f"ap-phich-{province.code}-{period}-{version.family}.pdf":
        st.download_button(t(f"Tải {ready[2]} áp phích (PDF)", f"Download {ready[2]} posters (PDF)"),
                           download(lambda: ready[1]), ready[0], "application/pdf",
                           icon=":material/picture_as_pdf:", on_click="ignore")
