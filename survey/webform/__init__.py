"""The citizen's light web form (`/s/<token>`): plain HTML served beside the Streamlit app.

`routes` holds the Starlette routes and the startup hook, `render` the HTML, `writer`
the thread that stores submissions in batches, `compression` the once-compressed blank
form, `dispatch` the path that bypasses the Streamlit server's middleware, `abuse` the
burst, flood and honeypot signals, `staff_routes` the light sign-in pages and `tcp` the
socket option for small responses.
"""
