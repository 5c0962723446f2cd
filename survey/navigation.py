"""The staff app's pages: script, title, address, section and the right each needs.

Pure data, shared by the Streamlit navigation (app_ui.run_navigation) and the server's
address check (survey.webform.hardening): an address that is no page of the app is answered
by the server with a plain "page not found" page in the user's language, so Streamlit's own
English "Page not found" dialog is never shown.

Icons are Material Symbols names, which Streamlit draws with the font it ships (no request
leaves the server); the browser tab's icon is an emoji (`PAGE_ICON`), drawn by the browser
itself (a `:material/…:` tab icon would be fetched from fonts.gstatic.com).
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_ICON = "🗳️"
HOME_URL = "tong-quan"  # the declared address of "Tổng quan" (also served at "/")
DEFAULT_URL = "trang-chu"  # the internal address of the default page (the same in every role)
LOGIN_URL = "dang-nhap"  # the light sign-in page
LOGOUT_URL = "dang-xuat"


@dataclass(frozen=True)
class PageSpec:
    path: str
    vi: str
    en: str
    url: str
    icon: str
    section: str  # "report" or "admin"
    right: str | None = None  # a Scope.can_manage right, None = every signed-in user


PAGES = (
    PageSpec("pages/home.py", "Tổng quan", "Overview", HOME_URL, ":material/home:", "report"),
    PageSpec("pages/unit.py", "Điểm đơn vị", "Unit score", "diem-don-vi", ":material/monitoring:", "report"),
    PageSpec("pages/province.py", "Toàn tỉnh", "Province", "toan-tinh", ":material/leaderboard:", "report"),
    PageSpec("pages/par.py", "Chỉ số PAR", "PAR index", "chi-so-par", ":material/workspace_premium:", "report"),
    PageSpec("pages/qr.py", "Mã QR & áp phích", "QR codes & posters", "ma-qr", ":material/qr_code_2:",
             "admin", "campaigns"),
    PageSpec("pages/admin_import.py", "Nhập phiếu giấy", "Import paper forms", "nhap-phieu",
             ":material/upload_file:", "admin", "imports"),
    PageSpec("pages/admin_users.py", "Tài khoản", "Accounts", "tai-khoan", ":material/group:",
             "admin", "users"),
    PageSpec("pages/admin_units.py", "Đơn vị", "Units", "don-vi", ":material/account_tree:",
             "admin", "units"),
    PageSpec("pages/admin_questionnaires.py", "Phiếu khảo sát", "Questionnaires", "phieu-khao-sat",
             ":material/description:", "admin", "questionnaires"),
    PageSpec("pages/admin_audit.py", "Nhật ký", "Audit log", "nhat-ky", ":material/history:",
             "admin", "audit"),
)

# Every one-segment address the staff app answers: its pages and the sign-in pages.
APP_ADDRESSES = frozenset({spec.url for spec in PAGES} | {LOGIN_URL, LOGOUT_URL})


def is_unknown_page(path: str) -> bool:
    """Whether `path` looks like a page address ('/diem-don-vi', one segment, no dot, no
    leading underscore) that is no page of the staff app ('/trang-chu', '/abc'). Other paths
    (Streamlit's scripts, media and internals, the form under /s/) are not page addresses."""
    name = path.strip("/")
    if not name or "/" in name or "." in name or name.startswith("_"):
        return False
    return name not in APP_ADDRESSES
