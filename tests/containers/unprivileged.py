"""Permission errors for tests that may run as root, which reads any file whatever its mode.

As root, the action runs in a forked child that has dropped to ``nobody``; only when that drop is
impossible is the test skipped, with the reason in pytest's summary (``-ra``), or failed when
``SYMAUDIT_REQUIRE_ALL`` is set, as in CI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from symaudit.errors import SymauditError
from tests.required import skip_or_fail

NOBODY = 65534


def error_of(action: Callable[[], object]) -> str:
    """The message of the SymauditError ``action`` raises for an unprivileged user, or "no error"."""
    if os.geteuid() != 0:
        try:
            action()
        except SymauditError as exc:
            return str(exc)
        return "no error"
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports through the pipe and never returns into pytest
        os.close(read_end)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            message = "no error"
        except SymauditError as exc:
            message = str(exc)
        except OSError as exc:
            message = f"cannot drop root privileges: {exc}"
        except BaseException as exc:  # any other failure must reach the parent, not pytest's child copy
            message = f"unexpected {type(exc).__name__}: {exc}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(child, 0)
    if message.startswith("cannot drop root privileges"):
        skip_or_fail(f"running as root and {message}; root reads any file, so no permission error")
    return message


@contextmanager
def shared_folder() -> Iterator[Path]:
    """A temporary folder ``nobody`` may enter: pytest's own are private to their owner."""
    folder = Path(tempfile.mkdtemp(prefix="symaudit-test-"))
    try:
        folder.chmod(0o755)
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)
