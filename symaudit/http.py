"""The one HTTP client: timeouts, deadlines, a network budget, bounded retries, error mapping.

requests has no session-wide timeout and ruff's S113 cannot see calls on a session, so this is
the only module that imports ``requests``; Maven downloads and the pull-request comment both go
through :class:`Http`, with one policy:

* **Timeouts**: (connect, read) on every request, :data:`CONNECT_TIMEOUT` and :data:`READ_TIMEOUT`.
  A read timeout bounds only the pause between two bytes, so each request also has a deadline
  (``Http.deadline``) and, for an audit, the whole run has a :class:`Budget`. Both are kept by
  waiting for a worker thread that does the request (name lookup, connect, headers, body): the
  caller never waits past them, however slowly the server trickles.
* **One probe**: a host that cannot be connected to at its first request (no route, name not
  resolved, connection refused, connect timeout) is not retried and not asked again in this run:
  a machine without a network learns it once, at once.
* **Retries**: a timeout, a body cut short, 429 and 5xx (and 403 that names a rate limit) are
  retried up to ``RetryPolicy.attempts`` times in all, waiting what ``Retry-After`` asks (seconds
  or an HTTP date) or ``X-RateLimit-Reset``, capped at ``RetryPolicy.max_wait``, else an
  exponential backoff; never beyond the budget.
* **One User-Agent** (:data:`USER_AGENT`); ``.netrc`` and proxy variables keep working.
* **Redaction**: messages name the URL with any ``user:password@`` replaced by ``***@``, and every
  registered secret (a token) replaced by ``***``: credentials never reach a message or a log.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

from symaudit import __version__
from symaudit.errors import InputError, NetworkError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"symaudit/{__version__} (+https://github.com/symaudit/symaudit)"
CONNECT_TIMEOUT = 5.0
"""Seconds to establish a connection: a reachable repository answers a TCP handshake in well
under a second; an unreachable one should cost a run this much at most, once."""
READ_TIMEOUT = 30.0
"""Longest pause between two bytes of an answer."""
DEFAULT_BUDGET = 60.0
"""Seconds an audit may spend on the network in all (``--network-budget``)."""
CHUNK = 64 * 1024


class TransferError(NetworkError):
    """The body stopped before its end (connection dropped, read timeout): worth a retry."""


class NotFoundError(NetworkError):
    """HTTP 404 (or 410): the repository does not have it; callers may try the next one."""


class UnreachableError(NetworkError):
    """The host could not be connected to at its first request; it is not asked again this run."""


class BudgetError(NetworkError):
    """The run's network budget is spent (or a wait the server asks for would overrun it)."""


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


def check_url(url: str, what: str) -> str:
    """``url`` if it is an http(s) URL requests can send to, else an :class:`InputError` whose
    one line names ``what`` (``--api-url``, ``--maven-repo``) and the redacted URL."""
    shown = redact(url)
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise InputError(f"{what} {shown!r}: a URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise InputError(f"{what} {shown}: not a valid URL ({exc})") from None
    if parts.scheme == "file":
        raise InputError(
            f"{what} {shown}: file:// is not supported; serve the folder over http(s), "
            "or put the artifacts in ~/.m2/repository, which is read without any URL"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what} {shown}: expected an http(s) URL with a host")
    try:
        requests.Request("GET", url).prepare()
    except (requests.RequestException, ValueError, UnicodeError) as exc:
        raise InputError(f"{what} {shown}: not a valid URL ({exc.__class__.__name__})") from None
    return url


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    """Tries in all, the first included."""
    backoff: float = 1.0
    """First wait in seconds when the server names none; doubled each time (1, 2, 4)."""
    max_wait: float = 60.0
    """Longest wait honoured, even when ``Retry-After`` asks for more."""
    rate_limit_wait: float = 60.0
    """Wait after a rate limit that names no time (GitHub: "wait at least one minute")."""


class Budget:
    """The seconds one run may spend on the network in all, shared by its requests.

    Time is charged while a request (with its retries and waits) is under way, so reading the
    artifacts in between costs nothing; a request never runs past what is left.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self.spent = 0.0

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.spent)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks to wait: ``Retry-After`` (delta-seconds or an HTTP date, RFC 9110
    §10.2.3), else ``X-RateLimit-Reset`` when ``X-RateLimit-Remaining`` is 0; None if neither."""
    value = (headers.get("Retry-After") or "").strip()
    if value:
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    if (headers.get("X-RateLimit-Remaining") or "").strip() == "0":
        reset = (headers.get("X-RateLimit-Reset") or "").strip()
        if reset.isdigit():
            return max(1.0, float(reset) - now)
    return None


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole (small) answer: what :meth:`Http.request` returns, whatever its status."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Case-insensitive, as sent."""
    body: bytes
    links: Mapping[str, str] = field(default_factory=dict)
    """``Link`` header: rel -> URL (``next`` for the following page)."""
    attempts: int = 1
    exhausted: bool = False
    """The last answer was one worth retrying (429, 5xx, rate limit) and the attempts ran out."""

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return jsonlib.loads(self.body.decode("utf-8"))


@dataclass(frozen=True, slots=True)
class Ranged:
    """Part of a file: :meth:`Http.get_range`'s answer."""

    start: int
    total: int
    """Size of the whole file, from ``Content-Range``."""
    body: bytes


_CONTENT_RANGE = re.compile(r"bytes (\d{1,15})-(\d{1,15})/(\d{1,15})")


class _Expired(Exception):
    """The deadline of the request passed while waiting for the worker."""


class _Stream:
    """One request done by a daemon thread, so the caller waits no longer than ``ends``
    whatever the server does (a name lookup, a connect, headers or a body a byte at a time)."""

    def __init__(
        self,
        session: requests.Session,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        ends: float,
        by_budget: bool,
    ) -> None:
        self.ends = ends
        self.by_budget = by_budget
        """``ends`` is where the run's network budget runs out (not the request's own deadline)."""
        self.received = 0
        self.done = False
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)
        self._cancelled = threading.Event()
        self._response: requests.Response | None = None
        thread = threading.Thread(
            target=self._work, args=(session, method, url, kwargs), name="symaudit-http", daemon=True
        )
        thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, session: requests.Session, method: str, url: str, kwargs: dict[str, Any]) -> None:
        try:
            response = session.request(method, url, stream=True, **kwargs)
        except BaseException as exc:  # handed to the caller's thread, which maps it
            self._put(("error", exc))
            return
        self._response = response
        ended = False
        try:
            if not self._put(("head", response)):
                return
            for chunk in response.iter_content(CHUNK):
                if not self._put(("data", chunk)):
                    return
            ended = self._put(("end", None))  # the connection goes back to the pool for reuse
        except BaseException as exc:  # handed to the caller's thread, which maps it
            self._put(("error", exc))
        finally:
            if not ended:
                response.close()

    def _next(self) -> tuple[str, Any]:
        try:
            return self._queue.get(timeout=max(0.0, self.ends - time.monotonic()))
        except queue.Empty:
            self.cancel()
            raise _Expired from None

    def head(self) -> requests.Response:
        kind, value = self._next()
        if kind == "error":
            self.done = True
            raise value
        return value  # type: ignore[no-any-return]

    def chunks(self) -> Iterator[bytes]:
        while True:
            kind, value = self._next()
            if kind == "data":
                self.received += len(value)
                yield value
            elif kind == "end":
                self.done = True
                return
            else:
                self.done = True
                raise value

    def cancel(self) -> None:
        """Stop the worker: it drops what it has, and a read it is blocked in is cut."""
        if self._cancelled.is_set():
            return
        self._cancelled.set()
        response = self._response
        if response is not None:
            shutdown = getattr(response.raw, "shutdown", None)  # urllib3 >= 2.3: from another thread
            try:
                if shutdown is not None:
                    shutdown()
            except (OSError, ValueError, RuntimeError):
                pass

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            self.cancel()


def _cause(exc: BaseException) -> str:
    """A few words for why a connection failed, from the chain requests and urllib3 build."""
    seen: BaseException | None = exc
    for _ in range(12):
        if seen is None:
            break
        if isinstance(seen, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return "host name not resolved"
        if isinstance(seen, ConnectionRefusedError) or "Connection refused" in str(seen):
            return "connection refused"
        if isinstance(seen, (requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError)):
            return "no connection within the connect timeout"
        if isinstance(seen, OSError) and seen.errno is not None and seen.strerror:
            return seen.strerror.lower()
        reason = getattr(seen, "reason", None)
        following = reason if isinstance(reason, BaseException) else seen.__cause__ or seen.__context__
        if following is None and seen.args and isinstance(seen.args[0], BaseException):
            following = seen.args[0]
        seen = following
    return exc.__class__.__name__


def _is_connect_failure(exc: requests.RequestException) -> bool:
    """No connection was made (as opposed to one that broke after the request was sent)."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.ProxyError)):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.exceptions.SSLError):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"
    except ValueError:
        return url


class Http:
    """Requests with retries over one session. ``sleep`` and ``clock`` are injectable so tests
    wait no real time; ``budget`` (None: unbounded) caps the run's total time on the network."""

    def __init__(
        self,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        deadline: float = 30 * 60.0,
        budget: Budget | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        """Longest one request may take in all: the read timeout alone lets a server that sends
        a byte every few seconds hold a download open for ever."""
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._secrets = tuple(s for s in secrets if s)
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers.update(headers or {})
        self._reached: set[str] = set()
        self._unreachable: dict[str, str] = {}
        self.requests = 0
        """Requests sent so far (for tests and debug logs)."""
        self.received = 0
        """Body bytes received so far, over every request (for debug logs and measurements)."""

    def close(self) -> None:
        self._session.close()

    def scrub(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _where(self, method: str, url: str) -> str:
        shown = self.scrub(redact(url))
        return shown if method == "GET" else f"{method} {shown}"

    # --- the public calls ------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        limit: int = 16 * 1024 * 1024,
        allow_redirects: bool = True,
        retry_server_errors: bool = True,
        rate_limited: Callable[[Reply], bool] | None = None,
    ) -> Reply:
        """``method url`` with an optional JSON body; the whole answer (at most ``limit`` bytes)
        whatever its status, after the retries the policy allows.

        ``retry_server_errors=False`` for a request that may have taken effect behind a 5xx (a
        POST); ``rate_limited`` tells a rate limit that names no wait (GitHub's secondary one).
        """

        def whole(stream: _Stream, response: requests.Response) -> Reply:
            out = bytearray()
            for chunk in self._body(stream, response, url, method):
                out += chunk
                if len(out) > limit:
                    raise NetworkError(f"{self._where(method, url)}: response larger than {limit} bytes")
            links = {
                str(link.get("rel")): str(link.get("url"))
                for link in requests.utils.parse_header_links(response.headers.get("Link", ""))
                if link.get("rel") and link.get("url")
            }
            return Reply(response.status_code, response.reason or "", response.headers, bytes(out), links)

        def finish(
            stream: _Stream, response: requests.Response, reply: Reply, attempts: int, exhausted: bool
        ) -> Reply:
            return replace(reply, attempts=attempts, exhausted=exhausted)

        return self._exchange(
            method,
            url,
            {"json": json, "allow_redirects": allow_redirects},
            read=whole,
            finish=finish,
            retry_server_errors=retry_server_errors,
            rate_limited=rate_limited,
        )

    def fetch(self, url: str, consume: Callable[[int | None, Iterator[bytes]], T]) -> T:
        """GET ``url`` and hand (Content-Length or None, body chunks) to ``consume``.

        ``consume`` is called again from scratch when a retry happens (a body cut short, 429,
        5xx, a timeout), so it must start over each time it is called. 404/410 is
        :class:`NotFoundError`, any other error status a :class:`NetworkError`.
        """

        def finish(
            stream: _Stream, response: requests.Response, _: None, attempts: int, exhausted: bool
        ) -> T:
            where = self._where("GET", url)
            if response.status_code in (404, 410):
                raise NotFoundError(f"{where}: not found (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise NetworkError(f"{where}: HTTP {response.status_code} {response.reason or ''}".rstrip())
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            return consume(size, self._body(stream, response, url, "GET"))

        return self._exchange("GET", url, {}, read=None, finish=finish)

    def get_bytes(self, url: str, limit: int = 16 * 1024 * 1024) -> bytes:
        """A small file (checksum, metadata) in memory."""

        def collect(size: int | None, chunks: Iterator[bytes]) -> bytes:
            out = bytearray()
            for chunk in chunks:
                out += chunk
                if len(out) > limit:
                    raise NetworkError(f"{self._where('GET', url)}: response larger than {limit} bytes")
            return bytes(out)

        return self.fetch(url, collect)

    def get_range(self, url: str, first: int | None, last: int, limit: int) -> Ranged | None:
        """Bytes ``first``..``last`` of ``url`` (``first`` None: its last ``last`` bytes), or None
        when the server ignores ``Range`` (answers 200: the body is not read) or answers with
        another range than asked. At most ``limit`` bytes are read, whatever the server claims."""
        spec = f"bytes={first}-{last}" if first is not None else f"bytes=-{last}"

        def consume(response: requests.Response, chunks: Iterator[bytes]) -> Ranged | None:
            if response.status_code != 206:
                return None
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match is None:
                return None
            start, end, total = int(match.group(1)), int(match.group(2)), int(match.group(3))
            asked_tail = first is None and (end != total - 1 or end - start + 1 > last)
            if (
                end < start
                or end >= total
                or asked_tail
                or (first is not None and (start != first or end > last))
            ):
                return None
            if end - start + 1 > limit:
                raise NetworkError(
                    f"{self._where('GET', url)}: range of {end - start + 1} bytes over {limit}"
                )
            out = bytearray()
            for chunk in chunks:
                out += chunk
                if len(out) > end - start + 1:
                    raise NetworkError(f"{self._where('GET', url)}: more bytes than the range it announced")
            if len(out) != end - start + 1:
                raise TransferError(
                    f"{self._where('GET', url)}: range cut short ({len(out)} of {end - start + 1} bytes)"
                )
            return Ranged(start, total, bytes(out))

        def finish(
            stream: _Stream, response: requests.Response, _: None, attempts: int, exhausted: bool
        ) -> Ranged | None:
            where = self._where("GET", url)
            if response.status_code in (404, 410):
                raise NotFoundError(f"{where}: not found (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise NetworkError(f"{where}: HTTP {response.status_code} {response.reason or ''}".rstrip())
            return consume(response, self._body(stream, response, url, "GET"))

        headers = {"Range": spec, "Accept-Encoding": "identity"}
        return self._exchange("GET", url, {"headers": headers}, read=None, finish=finish)

    # --- the policy --------------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        *,
        read: Callable[[_Stream, requests.Response], Reply] | None,
        finish: Callable[[_Stream, requests.Response, Any, int, bool], T],
        retry_server_errors: bool = True,
        rate_limited: Callable[[Reply], bool] | None = None,
    ) -> T:
        """The loop every request goes through: budget, probe, deadline, retries, errors."""
        where = self._where(method, url)
        origin = _origin(url)
        if origin in self._unreachable:
            raise UnreachableError(f"{where}: {self._unreachable[origin]} (not asked again in this run)")
        started = time.monotonic()
        budget_end = started + self.budget.remaining if self.budget is not None else float("inf")
        if self.budget is not None and self.budget.remaining <= 0:
            raise BudgetError(f"{where}: not requested: {self._budget_words()} is spent")
        attempts = max(1, self.retry.attempts)
        try:
            for attempt in range(attempts):
                final = attempt == attempts - 1
                stream = self._open(method, url, kwargs, budget_end)
                try:
                    with stream:
                        try:
                            response = stream.head()
                        except _Expired:
                            raise self._expired(where, stream) from None
                        except requests.RequestException as exc:
                            raise self._failed(where, origin, exc) from None
                        except Exception as exc:  # anything else the worker's requests raised
                            raise NetworkError(f"{where}: {exc.__class__.__name__}") from None
                        self._reached.add(origin)
                        reply = read(stream, response) if read is not None else None
                        wait = self._retry_wait(response, reply, attempt, retry_server_errors, rate_limited)
                        if wait is not None and not final:
                            log.debug("%s: HTTP %s, retrying in %.1f s", where, response.status_code, wait)
                            self._pause(wait, budget_end, f"{where}: HTTP {response.status_code}")
                            continue
                        return finish(stream, response, reply, attempt + 1, wait is not None)
                except TransferError as exc:
                    if final:
                        raise
                    log.debug("%s, retrying", exc)
                    self._pause(self._backoff(attempt), budget_end, str(exc))
            raise NetworkError(f"{where}: failed")  # pragma: no cover - the loop returns or raises
        finally:
            if self.budget is not None:
                self.budget.spent += time.monotonic() - started

    def _open(self, method: str, url: str, kwargs: dict[str, Any], budget_end: float) -> _Stream:
        now = time.monotonic()
        ends = min(now + self.deadline, budget_end)
        left = max(0.05, ends - now)
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        self.requests += 1
        log.debug("%s %s", method, self.scrub(redact(url)))
        return _Stream(self._session, method, url, {"timeout": timeout, **kwargs}, ends, budget_end <= ends)

    def _failed(self, where: str, origin: str, exc: requests.RequestException) -> NetworkError:
        """The mapped error of a request that got no answer; a first-contact connect failure
        marks the host unreachable for the rest of the run."""
        if _is_connect_failure(exc) and origin not in self._reached:
            cause = _cause(exc)
            self._unreachable[origin] = f"cannot connect ({cause})"
            return UnreachableError(f"{where}: cannot connect ({cause}); not asked again in this run")
        if isinstance(exc, requests.exceptions.SSLError):
            return NetworkError(f"{where}: TLS error ({exc.__class__.__name__})")
        if isinstance(exc, requests.Timeout):
            return TransferError(f"{where}: timed out ({exc.__class__.__name__})")
        if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            return TransferError(f"{where}: {exc.__class__.__name__} ({_cause(exc)})")
        return NetworkError(f"{where}: {exc.__class__.__name__}")

    def _body(self, stream: _Stream, response: requests.Response, url: str, method: str) -> Iterator[bytes]:
        where = self._where(method, url)
        length = response.headers.get("Content-Length")
        size = (
            int(length)
            if length and length.isdigit() and "Content-Encoding" not in response.headers
            else None
        )
        try:
            for chunk in stream.chunks():
                self.received += len(chunk)
                yield chunk
        except _Expired:
            raise self._expired(where, stream) from None
        except requests.RequestException as exc:
            raise TransferError(f"{where}: transfer interrupted ({exc.__class__.__name__})") from None
        except (ValueError, OSError) as exc:  # a body urllib3 could not decode, a socket shut down
            raise NetworkError(f"{where}: transfer failed ({exc.__class__.__name__})") from None
        if size is not None and stream.received < size:
            raise TransferError(f"{where}: body cut short ({stream.received} of {size} bytes)")

    def _expired(self, where: str, stream: _Stream) -> NetworkError:
        so_far = f" after {stream.received} bytes" if stream.received else ""
        if stream.by_budget:
            return BudgetError(f"{where}: abandoned{so_far}: {self._budget_words()} is spent")
        return NetworkError(f"{where}: abandoned{so_far}: the request took longer than {self.deadline:g} s")

    def _budget_words(self) -> str:
        seconds = self.budget.seconds if self.budget is not None else 0.0
        return f"the network budget of {seconds:g} s (--network-budget)"

    def _retry_wait(
        self,
        response: requests.Response,
        reply: Reply | None,
        attempt: int,
        retry_server_errors: bool,
        rate_limited: Callable[[Reply], bool] | None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when this answer is final."""
        status = response.status_code
        asked = retry_after(response.headers, self._clock())
        if status in (403, 429):
            limited = reply is not None and rate_limited is not None and rate_limited(reply)
            if asked is not None:
                return asked
            if limited:
                return self.retry.rate_limit_wait
            return self._backoff(attempt) if status == 429 else None
        if status in RETRY_STATUSES and retry_server_errors:
            return asked if asked is not None else self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        return float(self.retry.backoff * (2**attempt))

    def _pause(self, seconds: float, budget_end: float, why: str) -> None:
        seconds = min(seconds, self.retry.max_wait)
        if time.monotonic() + seconds > budget_end:
            raise BudgetError(f"{why}; a retry in {seconds:g} s would overrun {self._budget_words()}")
        self._sleep(seconds)
