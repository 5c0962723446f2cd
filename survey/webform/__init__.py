"""The citizen's light web form (`/s/<token>`): plain HTML served beside the Streamlit app.

`routes` holds the Starlette routes and the startup hook, `render` the HTML, and
`abuse` the burst, flood and honeypot signals.
"""
