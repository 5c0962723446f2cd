"""Survey and citizen-satisfaction platform: the pure domain package (no Streamlit)."""
