"""User-facing errors.

Anything the user can cause (a missing file, a bad flag, a corrupt weights file) is raised as a
``MinivggError`` whose message is one line. The command-line entry points catch it, print
``error: <message>`` on stderr and exit with ``exit_code`` -- never a traceback.
"""


class MinivggError(Exception):
    """A runtime failure the user can fix (exit code 1)."""

    exit_code = 1


class UsageError(MinivggError):
    """The command line or the arguments are wrong (exit code 2)."""

    exit_code = 2
