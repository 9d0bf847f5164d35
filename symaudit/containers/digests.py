"""sha256 (and CRC-32) of files and stored members, computed beside the parser.

An audit hashes every library it parses and the input file itself; on a libtorch-sized APK that
is a third of the run's CPU. Digests are queued in the order they are asked for (the input file
when it is opened, then every library in the order the audit parses them) and one worker thread
takes them in that order. A thread that needs a digest nobody has started computes it itself
instead of waiting (:meth:`PendingDigest.value`): the worker spends the start of the audit on the
input file, the parser hashes the first libraries it needs, and both cores stay busy until the
last digest, whatever the package's mix of libraries and other content.

Reads go through ``pread`` into a reused buffer: nothing read stays resident, the caller's file
offset never moves, and the worker reads a duplicate of the caller's descriptor, so closing the
package does not pull the file from under it. hashlib and zlib release the GIL on each chunk;
getting it back costs up to the interpreter's switch interval while the other thread runs Python
code, so the worker shortens that interval while it runs (at the default 5 ms per chunk, hashing
a 100 MB library takes three times as long beside a busy parser).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import zlib
from collections import deque
from collections.abc import Callable
from typing import IO

from symaudit.errors import InputError

CHUNK = 4 << 20
"""Bytes per read: large enough that the worker asks for the GIL rarely, small enough to stay
out of the memory budget (one buffer for the worker, one for a thread that hashes itself)."""
SWITCH_INTERVAL = 0.0001
"""The switch interval while the worker runs (CPython's default is 0.005 s)."""

HAS_PREAD = hasattr(os, "pread")
"""Positional reads (POSIX); without them digests are computed in the caller's thread."""


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
        self._queue = queue or _QUEUE
        self._queue.submit(self)

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

    @property
    def is_member(self) -> bool:
        """A span of a file (a zip member), not a whole file."""
        return self._span is not None

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
        """The sha256; raises the error given at construction when the data is not as declared.

        Computed here, in the caller's thread, when the worker has not started it. While the
        worker is on it, the caller hashes the next queued library instead of waiting (one the
        audit needs next anyway; never a whole file, which is long and needed last)."""
        while not self._done.is_set():
            job = self if self._queue.take(self) else self._queue.take_member()
            if job is None:
                break
            buffer = _caller_buffer()
            while not job.step(buffer):
                pass
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class BufferDigest:
    """The sha256 of bytes already in memory; a large buffer is hashed on a thread of its own
    while the caller goes on (hashlib releases the GIL for the whole call)."""

    THREAD_ABOVE = 1 << 20

    def __init__(self, data: bytes | memoryview) -> None:
        self._value: str | None = None
        self._thread: threading.Thread | None = None
        if len(data) < self.THREAD_ABOVE:
            self._value = hashlib.sha256(data).hexdigest()
        else:
            self._thread = threading.Thread(target=self._run, args=(data,), name="symaudit-sha256", daemon=True)
            self._thread.start()

    def _run(self, data: bytes | memoryview) -> None:
        self._value = hashlib.sha256(data).hexdigest()

    def value(self) -> str:
        if self._thread is not None:
            self._thread.join()
        assert self._value is not None
        return self._value


_LOCAL = threading.local()


def _caller_buffer() -> memoryview:
    """A read buffer for a thread that hashes a digest itself (one per thread, kept)."""
    buffer: memoryview | None = getattr(_LOCAL, "buffer", None)
    if buffer is None:
        buffer = _LOCAL.buffer = memoryview(bytearray(CHUNK))
    return buffer


def _read_into(fd: int, into: memoryview, position: int) -> int:
    if _PREADV is not None:
        return _PREADV(fd, [into], position)
    data = os.pread(fd, len(into), position)
    into[: len(data)] = data
    return len(data)


_PREADV: Callable[[int, list[memoryview], int], int] | None = getattr(os, "preadv", None)


class HashQueue:
    """Digests not started yet, oldest first; the worker thread runs while there are any and
    exits when none is left."""

    def __init__(self, threaded: bool = True) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[PendingDigest] = deque()
        self._worker: threading.Thread | None = None
        self._interval = sys.getswitchinterval()
        self._threaded = threaded
        """False (tests): no worker; digests run in :meth:`drain` or in the thread asking."""
        self.finished: list[str] = []
        """Where each digest the worker finished was, in order, for a queue that is drained (tests)."""

    def submit(self, digest: PendingDigest) -> None:
        with self._lock:
            self._waiting.append(digest)
            if self._worker is None and self._threaded:
                self._interval = sys.getswitchinterval()
                sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
                self._worker = threading.Thread(target=self._run, name="symaudit-sha256", daemon=True)
                self._worker.start()

    def take(self, digest: PendingDigest) -> bool:
        """Removes ``digest`` if no one has started it: the caller computes it then."""
        with self._lock:
            try:
                self._waiting.remove(digest)
            except ValueError:
                return False
            return True

    def take_member(self) -> PendingDigest | None:
        """Removes and returns the oldest queued member digest (not a whole file), if any."""
        with self._lock:
            for digest in self._waiting:
                if digest.is_member:
                    self._waiting.remove(digest)
                    return digest
            return None

    def _next(self) -> PendingDigest | None:
        with self._lock:
            if self._waiting:
                return self._waiting.popleft()
            if self._worker is not None:
                self._worker = None
                sys.setswitchinterval(self._interval)
            return None

    def _run(self, buffer: memoryview | None = None) -> None:
        buffer = buffer or memoryview(bytearray(CHUNK))
        while (digest := self._next()) is not None:
            try:
                while not digest.step(buffer):
                    pass
                if not self._threaded:
                    self.finished.append(digest.where)
            except Exception as exc:  # noqa: BLE001 - a waiter must never hang on a dead worker
                digest.fail(InputError(f"{digest.where}: could not be hashed ({exc})"))

    def drain(self, chunk: int = CHUNK) -> None:
        """Run every queued digest in this thread (a queue made with ``threaded=False``)."""
        self._run(memoryview(bytearray(chunk)))


_QUEUE = HashQueue()
