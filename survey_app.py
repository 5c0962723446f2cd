"""Entry point: `streamlit run survey_app.py`.

Run by `streamlit run`, this file is discovered as an ASGI app (`app` below): the
server then serves the Streamlit pages and, beside them, the light citizen form
(`/s/<token>`), which a dispatcher sends past the Streamlit server's middleware. Each Streamlit session runs this file again as `__main__`, which
draws the navigation.
"""

import logging

import streamlit as st


def show_unexpected_error(error: Exception) -> bool:
    """A plain message instead of a traceback for an error no page expected (logged in full)."""
    logging.getLogger("survey").error("page error", exc_info=error)
    st.error("Đã có lỗi ngoài dự kiến; vui lòng tải lại trang hoặc thử lại sau. "
             "/ An unexpected error occurred; reload the page or try again later.")
    return True


if __name__ == "__main__":
    from app_ui import run_navigation

    run_navigation()
else:
    from survey.config import SettingsError, load_settings

    try:  # every setting is read and checked once, at start: a bad value stops the start here
        load_settings()
    except SettingsError as error:
        raise SystemExit(f"survey: {error.render('vi')}\nsurvey: {error}") from None

    from streamlit.runtime.pages_manager import PagesManager

    from survey.webform.dispatch import PrefixDispatch, light_app
    from survey.webform.hardening import StaffAppGuard
    from survey.webform.peer import keep_connection_peer
    from survey.webform.routes import form_routes
    from survey.webform.staff_routes import staff_routes
    from survey.webform.startup import form_lifespan
    from survey.webform.tcp import disable_nagle_on_accepted_sockets

    # The pages live in `pages/`, beside this script, and are declared with st.navigation.
    # Streamlit takes a `pages/` folder for its older multipage mode until the process's first
    # st.navigation call: on a freshly started server, every session that opens before then
    # (the first one waits for the database) got a navigation of the folder's file names and,
    # on a deep link (/nhap-phieu), its English "Page not found" dialog over the right page.
    # The app is st.navigation-only from the start.
    PagesManager.uses_pages_directory = False

    disable_nagle_on_accepted_sockets()
    keep_connection_peer()  # the client address comes from the connection (SURVEY_TRUST_PROXY)
    app = st.App("survey_app.py", routes=staff_routes(), lifespan=form_lifespan,
                 on_script_error=show_unexpected_error)
    # The citizen's form (/s/...) bypasses the Streamlit server's middleware.
    # Security headers on the staff app's responses; no public /_stcore/metrics.
    app = PrefixDispatch(StaffAppGuard(app), light_app(form_routes()))
