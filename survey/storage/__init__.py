"""All database access, one module per kind of record; the session is passed in (``session=``)."""


class StorageError(ValueError):
    """A request the database refuses for a reason the user can fix."""
