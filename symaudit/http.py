"""The one HTTP client: a ``requests.Session`` with timeouts, bounded retries and error mapping.

requests has no session-wide timeout and ruff's S113 cannot see calls on a session, so this is
the only caller of ``requests`` and always passes one. ``.netrc`` and the proxy environment
variables keep working because the session's ``trust_env`` is left on.

Retries: a connection error, a timeout, a body cut short, 429 and 5xx are retried a bounded
number of times, waiting what ``Retry-After`` asks (capped) or an exponential backoff. Messages
name the URL with any ``user:password@`` replaced by ``***@``: credentials never reach a message.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

from symaudit import __version__
from symaudit.errors import NetworkError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"symaudit/{__version__} (+https://github.com/symaudit/symaudit)"


class TransferError(NetworkError):
    """The body stopped before its end (connection dropped, read timeout): worth a retry."""


class NotFoundError(NetworkError):
    """HTTP 404 (or 410): the repository does not have it; callers may try the next one."""


def redact(url: str) -> str:
    """``url`` without credentials (``https://***@host/...``), fit for a message or a log."""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        # Credentials end at the last "@" before the path; a password with a raw "/" (it should
        # be percent-encoded, but is not always) would hide that "@" from urlsplit.
        head = rest.split("?", 1)[0].split("#", 1)[0]
        if "@" in head and "@" not in rest.split("/", 1)[0]:
            return f"{scheme}://***@{rest[head.rindex('@') + 1 :]}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]  # as written: .port raises on a bad port
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    """Tries in all, the first included."""
    backoff: float = 0.5
    """First wait in seconds when the server names none; doubled each time."""
    max_wait: float = 30.0
    """Longest wait honoured, even when ``Retry-After`` asks for more."""


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class Http:
    """GET with retries over one session. ``sleep`` is injectable so tests wait no real time."""

    def __init__(
        self,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        deadline: float = 30 * 60.0,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        """Longest one transfer may take in all: the read timeout alone lets a server that sends a
        byte a minute hold a download open for ever."""
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self.requests = 0
        """Requests sent so far (for tests and debug logs)."""

    def close(self) -> None:
        self._session.close()

    def _wait(self, attempt: int, response: requests.Response | None) -> None:
        asked = (
            _retry_after(response.headers.get("Retry-After"), time.time()) if response is not None else None
        )
        wait = asked if asked is not None else self.retry.backoff * (2**attempt)
        self._sleep(min(wait, self.retry.max_wait))

    def _send(self, url: str) -> requests.Response:
        self.requests += 1
        log.debug("GET %s", redact(url))
        try:
            return self._session.get(url, timeout=self.timeout, stream=True)
        except requests.Timeout as exc:
            raise NetworkError(f"{redact(url)}: timed out ({exc.__class__.__name__})") from None
        except requests.RequestException as exc:
            raise NetworkError(f"{redact(url)}: {exc.__class__.__name__}") from None

    def _checked(self, url: str, response: requests.Response) -> None:
        if response.status_code in (404, 410):
            raise NotFoundError(f"{redact(url)}: not found (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise NetworkError(f"{redact(url)}: HTTP {response.status_code} {response.reason or ''}".rstrip())

    def fetch(self, url: str, consume: Callable[[int | None, Iterator[bytes]], T]) -> T:
        """GET ``url`` and hand (Content-Length or None, body chunks) to ``consume``.

        ``consume`` is called again from scratch when a retry happens (a body cut short, 429,
        5xx, a timeout), so it must start over each time it is called.
        """
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            final = attempt == attempts - 1
            try:
                response = self._send(url)
            except NetworkError:
                if final:
                    raise
                self._wait(attempt, None)
                continue
            with response:
                if response.status_code in RETRY_STATUSES and not final:
                    log.debug("%s: HTTP %s, retrying", redact(url), response.status_code)
                    self._wait(attempt, response)
                    continue
                self._checked(url, response)
                length = response.headers.get("Content-Length")
                size = int(length) if length and length.isdigit() else None
                try:
                    return consume(size, self._chunks(url, response, size))
                except TransferError:
                    if final:
                        raise
                    self._wait(attempt, None)
        raise NetworkError(f"{redact(url)}: download failed")  # pragma: no cover - loop returns or raises

    def get_bytes(self, url: str, limit: int = 16 * 1024 * 1024) -> bytes:
        """A small file (checksum, metadata) in memory."""

        def collect(size: int | None, chunks: Iterator[bytes]) -> bytes:
            out = bytearray()
            for chunk in chunks:
                out += chunk
                if len(out) > limit:
                    raise NetworkError(f"{redact(url)}: response larger than {limit} bytes")
            return bytes(out)

        return self.fetch(url, collect)

    def _chunks(self, url: str, response: requests.Response, size: int | None) -> Iterator[bytes]:
        total = 0
        ends = time.monotonic() + self.deadline
        try:
            for chunk in response.iter_content(chunk_size=256 * 1024):
                total += len(chunk)
                if time.monotonic() > ends:
                    raise NetworkError(
                        f"{redact(url)}: transfer took longer than {self.deadline:.0f} s ({total} bytes so far)"
                    )
                yield chunk
        except requests.RequestException as exc:
            raise TransferError(f"{redact(url)}: transfer interrupted ({exc.__class__.__name__})") from None
        if size is not None and total < size:
            raise TransferError(f"{redact(url)}: body cut short ({total} of {size} bytes)")
