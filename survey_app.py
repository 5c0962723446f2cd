"""Entry point: `streamlit run survey_app.py`.

Run by `streamlit run`, this file is discovered as an ASGI app (`app` below): the
server then serves the Streamlit pages and, beside them, the light citizen form
(`/s/<token>`). Each Streamlit session runs this file again as `__main__`, which
draws the navigation.
"""

import streamlit as st

if __name__ == "__main__":
    from app_ui import run_navigation

    run_navigation()
else:
    from survey.webform.routes import form_lifespan, form_routes

    app = st.App("survey_app.py", routes=form_routes(), lifespan=form_lifespan)
