"""The database's errors, apart from the database so views can catch them without it."""


class DatabaseError(Exception):
    """The database cannot be opened or migrated; the message is meant for the operator."""


class DatabaseClosed(DatabaseError):
    """Work was asked of a database after ``close`` (a late refresh while quitting)."""


class PermissionRefused(DatabaseError):
    """The database refused an action the signed-in person's role does not allow (or no
    longer allows: a role revoked mid-shift); nothing of it was written."""


class SignInRefused(DatabaseError):
    """The server wants a password this process did not have, or refused the one given:
    a console may ask the person for it and try again."""
