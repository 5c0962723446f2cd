"""All database access, one module per kind of record; the session is passed in (``session=``)."""


from survey.text import SurveyError


class StorageError(SurveyError, ValueError):
    """A request the database refuses for a reason the user can fix: a message code of
    survey.messages and its parameters (pages render it in the user's language)."""
