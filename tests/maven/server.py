"""A Maven repository on 127.0.0.1 serving ``fixtures/maven``, with faults injected per path,
and :class:`RawServer`, a bare socket server for what an HTTP library will not send (a hang
before the status line, headers a byte at a time)."""

from __future__ import annotations

import email.utils
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ROOT = Path(__file__).resolve().parents[2]
MAVEN = ROOT / "fixtures" / "maven"

Fault = Callable[[Request], Response | None]
"""Returns a response to send instead of the file, or None to serve the file."""


@dataclass
class MavenServer:
    server: HTTPServer
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    """Path (``/org/.../x.aar``) -> faults used one per request, in order; then the real file."""
    always: dict[str, Fault] = field(default_factory=dict)
    released: threading.Event = field(default_factory=threading.Event)
    """Set when the test ends: slow faults stop sleeping, so no handler outlives its test."""

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    @property
    def requests(self) -> list[str]:
        return [request.path for request, _ in self.server.log]

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in self.always:
            response = self.always[path](request)
            if response is not None:
                return response
        queue = self.faults.get(path)
        if queue:
            response = queue.pop(0)(request)
            if response is not None:
                return response
        file = (MAVEN / path.lstrip("/")).resolve()
        if MAVEN not in file.parents or not file.is_file():
            return Response("not found", status=404)
        return Response(file.read_bytes(), content_type="application/octet-stream")


def status(code: int, headers: dict[str, str] | None = None) -> Fault:
    return lambda request: Response(f"status {code}", status=code, headers=headers or {})


def body(data: bytes) -> Fault:
    return lambda request: Response(data, content_type="application/octet-stream")


def truncated(path: str) -> Fault:
    """The real file's first half, announced with the full Content-Length."""

    def fault(request: Request) -> Response:
        data = (MAVEN / path.lstrip("/")).read_bytes()

        def stream() -> Iterator[bytes]:
            yield data[: len(data) // 2]

        response = Response(stream(), content_type="application/octet-stream", direct_passthrough=True)
        response.headers["Content-Length"] = str(len(data))
        return response

    return fault


def trickling(pieces: int, pause: float, released: threading.Event | None = None) -> Fault:
    """A body sent a byte at a time with a pause between bytes (each read well within timeout)."""
    released = released or threading.Event()

    def fault(request: Request) -> Response:
        def stream() -> Iterator[bytes]:
            for _ in range(pieces):
                if released.wait(pause):
                    return
                yield b"x"

        return Response(stream(), content_type="application/octet-stream", direct_passthrough=True)

    return fault


def hanging(seconds: float, released: threading.Event | None = None) -> Fault:
    """Headers only after ``seconds`` (or when the test ends)."""
    released = released or threading.Event()

    def fault(request: Request) -> Response:
        released.wait(seconds)
        return Response("late", status=200)

    return fault


def http_date(seconds_from_now: float) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate) for ``Retry-After``."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


class RawServer:
    """Accepts connections on 127.0.0.1, reads the request, then behaves as ``mode`` says:

    * ``hang``: sends nothing, ever (until the test ends);
    * ``headers``: sends a status line and one endless header, a byte every ``pause`` seconds;
    * ``trickle``: answers 200 to every path, then sends the body a byte every ``pause`` seconds;
    * ``close``: closes the connection without a byte.
    """

    def __init__(self, mode: str, pause: float = 0.2) -> None:
        self.mode = mode
        self.pause = pause
        self.released = threading.Event()
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                if self.mode == "headers":
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 60000:
                        if self.released.wait(self.pause):
                            return
                        conn.sendall(bytes([byte]))
                elif self.mode == "trickle":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
                    while not self.released.wait(self.pause):
                        conn.sendall(b"x")
                elif self.mode == "hang":
                    self.released.wait(600)
            except OSError:
                return

    def stop(self) -> None:
        self.released.set()
        self._listener.close()
        self._thread.join(5)


def start() -> MavenServer:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    maven = MavenServer(server)
    server.expect_request(re.compile(".*")).respond_with_handler(maven.handle)
    server.start()
    return maven
