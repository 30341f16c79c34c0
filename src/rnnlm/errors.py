"""The one exception type users see: a single line naming the problem and the fix."""


class RnnlmError(Exception):
    """A user-facing error; the CLI prints its message on one line and exits with status 2."""
