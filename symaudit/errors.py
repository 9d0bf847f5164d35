"""The errors a user can fix. Only ``cli.py`` catches them: it prints ``str(exc)`` on one line and exits 2."""

from __future__ import annotations


class SymauditError(Exception):
    """Anything the user can fix; the message names the file (or URL) and the problem."""


class InputError(SymauditError):
    """The input cannot be read as what the command expects: ``app.apk: not a zip archive``."""


class NetworkError(SymauditError):
    """A download failed (Maven, GitHub); the message names the URL, never a token."""


class MemberError(InputError):
    """One member of a package cannot be read (bad CRC, encrypted, unsupported compression).

    The audit reports it as a ``corrupt-library`` finding for that library and goes on; only a
    problem with the package as a whole (not a zip, a zip bomb) stops the run with exit 2.
    """
