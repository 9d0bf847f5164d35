"""sha256 (and CRC-32) of files and stored members, computed by one background thread.

An audit hashes every library it parses and the input file itself; on a libtorch-sized APK that
is a third of the run's CPU. One worker thread does all of it while the main thread parses, in
this order: the members queued by :meth:`HashQueue.submit` first, in the order they were queued
(the order the audit parses them), then whole files, which give way between chunks to any member
queued meanwhile (the input's own digest is needed only when the report is written).

The worker reads with ``pread`` into one reused buffer: nothing it reads stays resident, the
caller's file offset never moves, and it reads a duplicate of the caller's descriptor, so closing
the package does not pull the file from under it. hashlib and zlib release the GIL on each chunk;
getting it back costs up to the interpreter's switch interval when the main thread is busy
parsing, so the worker shortens that interval while it runs (5 ms per chunk would triple the
time a 100 MB library takes to hash).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import sys
import threading
import zlib
from collections.abc import Callable
from typing import IO

from symaudit.errors import InputError

CHUNK = 4 << 20
"""Bytes per read: large enough that the worker asks for the GIL rarely, small enough to stay
out of the memory budget (one buffer for the whole run)."""
SWITCH_INTERVAL = 0.0001
"""The switch interval while the worker runs (CPython's default is 0.005 s)."""

HAS_PREAD = hasattr(os, "pread")
"""Positional reads (POSIX); without them digests are computed in the caller's thread."""

_MEMBER = 0
_WHOLE_FILE = 1


def sha256_of(fp: IO[bytes], path: str) -> str:
    """The sha256 of a whole file, read in the caller's thread."""
    digest = hashlib.sha256()
    try:
        fp.seek(0)
        while chunk := fp.read(CHUNK):
            digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: read error ({exc.strerror or exc})") from None
    return digest.hexdigest()


class SharedFd:
    """A duplicate of a descriptor, closed when its last holder lets go: an archive holds one
    for as long as it is open, and every digest queued on it holds one until it is done."""

    def __init__(self, fd: int) -> None:
        self.fd = os.dup(fd)
        self._holders = 1
        self._lock = threading.Lock()

    def hold(self) -> SharedFd:
        with self._lock:
            if self._holders == 0:
                raise ValueError("descriptor already closed")
            self._holders += 1
        return self

    def let_go(self) -> None:
        with self._lock:
            self._holders -= 1
            last = self._holders == 0
        if last:
            os.close(self.fd)


class PendingDigest:
    """The sha256 of a file, or of a stored member's span of it, computed by the hash worker.

    For a member, ``span`` is its data and ``crc`` the CRC-32 its zip header declares: a short
    read or another CRC makes :meth:`value` raise ``error``. ``fd`` is a descriptor (duplicated
    here) or a :class:`SharedFd` (held here).
    """

    def __init__(
        self,
        fd: int | SharedFd,
        where: str,
        span: tuple[int, int] | None = None,
        crc: int | None = None,
        error: type[InputError] = InputError,
        queue: HashQueue | None = None,
    ) -> None:
        self._fd = fd.hold() if isinstance(fd, SharedFd) else SharedFd(fd)
        self._where = where
        self._span = span
        self._expected_crc = crc
        self._error_type = error
        self._position = span[0] if span is not None else 0
        self._end: int | None = span[1] if span is not None else None
        self._sha256 = hashlib.sha256()
        self._crc = 0
        self._result: str | None = None
        self._error: InputError | None = None
        self._cancelled = False
        self._done = threading.Event()
        (queue or _QUEUE).submit(self, _MEMBER if span is not None else _WHOLE_FILE)

    def step(self, buffer: memoryview) -> bool:
        """Hash one chunk; True when the digest is complete (or failed)."""
        if self._cancelled:
            self._finish(InputError(f"{self._where}: closed before it was hashed"))
            return True
        end = self._end
        want = len(buffer) if end is None else min(len(buffer), end - self._position)
        try:
            read = _read_into(self._fd.fd, buffer[:want], self._position) if want > 0 else 0
        except OSError as exc:
            self._finish(self._error_type(f"{self._where}: read error ({exc.strerror or exc})"))
            return True
        if read:
            chunk = buffer[:read]
            self._sha256.update(chunk)
            if end is not None:
                self._crc = zlib.crc32(chunk, self._crc)
            self._position += read
        if read and (end is None or self._position < end):
            return False
        if end is not None and self._position < end:
            self._finish(self._error_type(f"{self._where}: truncated"))
        elif self._expected_crc is not None and self._crc != self._expected_crc:
            self._finish(self._error_type(f"{self._where}: bad CRC-32 (corrupt data)"))
        else:
            self._result = self._sha256.hexdigest()
            self._finish(None)
        return True

    @property
    def where(self) -> str:
        return self._where

    def fail(self, error: InputError) -> None:
        if not self._done.is_set():
            self._finish(error)

    def _finish(self, error: InputError | None) -> None:
        self._error = error
        self._fd.let_go()
        self._done.set()

    def cancel(self) -> None:
        """Not needed any more (its package was closed): the worker skips it."""
        self._cancelled = True

    def value(self) -> str:
        """The sha256; raises the error given at construction when the data is not as declared."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def _read_into(fd: int, into: memoryview, position: int) -> int:
    if _PREADV is not None:
        return _PREADV(fd, [into], position)
    data = os.pread(fd, len(into), position)
    into[: len(data)] = data
    return len(data)


_PREADV: Callable[[int, list[memoryview], int], int] | None = getattr(os, "preadv", None)


class HashQueue:
    """Digests waiting for the worker, most urgent first; the worker thread runs while there are
    any and exits when none is left."""

    def __init__(self, threaded: bool = True) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, PendingDigest]] = []
        self._order = itertools.count()
        self._worker: threading.Thread | None = None
        self._interval = sys.getswitchinterval()
        self._threaded = threaded
        """False (tests): nothing runs until :meth:`drain` is called."""
        self.finished: list[str] = []
        """Where each digest was finished, in order, for a queue that is drained (tests)."""

    def submit(self, digest: PendingDigest, priority: int) -> None:
        with self._lock:
            heapq.heappush(self._waiting, (priority, next(self._order), digest))
            if self._worker is None and self._threaded:
                self._interval = sys.getswitchinterval()
                sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
                self._worker = threading.Thread(target=self._run, name="symaudit-sha256", daemon=True)
                self._worker.start()

    def _next(self) -> tuple[int, int, PendingDigest] | None:
        with self._lock:
            if self._waiting:
                return heapq.heappop(self._waiting)
            if self._worker is not None:
                self._worker = None
                sys.setswitchinterval(self._interval)
            return None

    def _run(self, buffer: memoryview | None = None) -> None:
        buffer = buffer or memoryview(bytearray(CHUNK))
        while (job := self._next()) is not None:
            priority, order, digest = job
            try:
                while not digest.step(buffer):
                    with self._lock:
                        if self._waiting and self._waiting[0][0] < priority:
                            heapq.heappush(self._waiting, (priority, order, digest))
                            break
                else:
                    if not self._threaded:
                        self.finished.append(digest.where)
            except Exception as exc:  # noqa: BLE001 - a waiter must never hang on a dead worker
                digest.fail(InputError(f"{digest.where}: could not be hashed ({exc})"))

    def drain(self, chunk: int = CHUNK) -> None:
        """Run every queued digest in this thread (a queue made with ``threaded=False``)."""
        self._run(memoryview(bytearray(chunk)))


_QUEUE = HashQueue()
