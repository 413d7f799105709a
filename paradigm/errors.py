"""Errors raised for a user's mistake; the CLI turns each into one line and exit code 2."""


class ProtocolError(ValueError):
    """A protocol file cannot be used: names the file, the line or field path, the value, what is allowed."""

    def __init__(self, path, message, *, line=None, field=None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line else "")
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


class DesignError(ValueError):
    """The protocol's design cannot be built (too few stimuli, a constraint that cannot be met)."""


class SessionError(ValueError):
    """A session cannot start or resume (existing data, changed protocol, bad participant id)."""
