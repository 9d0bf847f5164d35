"""A Maven repository on 127.0.0.1 serving ``fixtures/maven``, with faults injected per path."""

from __future__ import annotations

import re
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


def trickling(pieces: int, pause: float) -> Fault:
    """A body sent a byte at a time with a pause between bytes (each read well within timeout)."""

    def fault(request: Request) -> Response:
        def stream() -> Iterator[bytes]:
            for _ in range(pieces):
                time.sleep(pause)
                yield b"x"

        return Response(stream(), content_type="application/octet-stream", direct_passthrough=True)

    return fault


def hanging(seconds: float) -> Fault:
    def fault(request: Request) -> Response:
        time.sleep(seconds)
        return Response("late", status=200)

    return fault


def start() -> MavenServer:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    maven = MavenServer(server)
    server.expect_request(re.compile(".*")).respond_with_handler(maven.handle)
    server.start()
    return maven
