"""``symaudit.http.Http`` against real servers on 127.0.0.1: deadlines that hold whatever the
server does, one shared budget, one probe per unreachable host, ``Retry-After`` as an HTTP date.

Budgets and deadlines here are a second or two; the bounds asserted leave generous margins for
a loaded machine, and would still fail by far without the mechanism (the servers would hold a
request for minutes).
"""

from __future__ import annotations

import ast
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from symaudit.errors import InputError, NetworkError
from symaudit.http import Budget, BudgetError, Http, RetryPolicy, TransferError, UnreachableError, check_url
from tests.maven.conftest import Sleeps
from tests.maven.server import MavenServer, RawServer, hanging, http_date, status, trickling

ROOT = Path(__file__).resolve().parents[2]
AAR = "/org/pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar"
MARGIN = 4.0
"""Seconds allowed beyond a budget or deadline for thread start-up and a busy CI machine."""


def _http(sleeps: Sleeps, budget: float | None = None, **kwargs: object) -> Http:
    return Http(
        retry=RetryPolicy(attempts=3, backoff=0.25),
        sleep=sleeps,
        budget=Budget(budget) if budget is not None else None,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def raw() -> Iterator[list[RawServer]]:
    servers: list[RawServer] = []
    yield servers
    for server in servers:
        server.stop()


def _raw(raw: list[RawServer], mode: str) -> RawServer:
    server = RawServer(mode)
    raw.append(server)
    return server


def _closed_port() -> str:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_only_http_py_imports_requests() -> None:
    importers = []
    for path in sorted((ROOT / "symaudit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "requests" or name.startswith("requests.") for name in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(importers)) == ["symaudit/http.py"]


def test_a_trickling_body_is_cut_at_the_budget(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.always[AAR] = trickling(pieces=100_000, pause=0.05, released=maven.released)
    http = _http(sleeps, budget=1.5)
    start = time.monotonic()
    with pytest.raises(BudgetError, match=r"network budget of 1\.5 s .*is spent") as info:
        http.get_bytes(maven.url + AAR)
    assert time.monotonic() - start < 1.5 + MARGIN
    assert str(info.value).startswith(f"{maven.url}{AAR}: abandoned")
    assert http.budget is not None and http.budget.remaining == 0


def test_a_server_that_never_answers_is_cut_at_the_budget(raw: list[RawServer], sleeps: Sleeps) -> None:
    server = _raw(raw, "hang")
    http = _http(sleeps, budget=1.5, timeout=(5.0, 60.0))  # the read timeout alone: a minute per try
    start = time.monotonic()
    with pytest.raises(BudgetError):
        http.get_bytes(server.url + "/x")
    assert time.monotonic() - start < 1.5 + MARGIN
    assert sleeps == []


def test_headers_sent_a_byte_at_a_time_are_cut_at_the_deadline(raw: list[RawServer], sleeps: Sleeps) -> None:
    # Each byte comes well within the read timeout: only a deadline over the whole request holds.
    server = _raw(raw, "headers")
    http = _http(sleeps, deadline=1.0)
    start = time.monotonic()
    with pytest.raises(NetworkError, match="longer than 1 s"):
        http.get_bytes(server.url + "/x")
    assert time.monotonic() - start < 1.0 + MARGIN


def test_the_budget_is_shared_by_every_request_of_the_run(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.always[AAR] = trickling(pieces=100_000, pause=0.05, released=maven.released)
    http = _http(sleeps, budget=1.0)
    with pytest.raises(BudgetError):
        http.get_bytes(maven.url + AAR)
    sent = len(maven.requests)
    start = time.monotonic()
    with pytest.raises(BudgetError, match="not requested"):
        http.get_bytes(maven.url + AAR + ".sha256")
    assert time.monotonic() - start < 0.5
    assert len(maven.requests) == sent


def test_time_between_requests_is_not_charged(maven: MavenServer, sleeps: Sleeps) -> None:
    http = _http(sleeps, budget=1.0)
    assert http.get_bytes(maven.url + AAR + ".sha256")
    time.sleep(1.2)  # reading artifacts, building manifests: not network time
    assert http.get_bytes(maven.url + AAR + ".sha1")
    assert http.budget is not None and http.budget.remaining > 0.5


def test_a_hanging_request_is_retried_within_the_budget_only(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.always[AAR] = hanging(30, released=maven.released)
    http = _http(sleeps, budget=2.0, timeout=(1.0, 0.5))
    start = time.monotonic()
    with pytest.raises(NetworkError):
        http.get_bytes(maven.url + AAR)
    assert time.monotonic() - start < 2.0 + MARGIN


def test_retry_after_as_an_http_date_is_honoured(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.faults[AAR] = [status(503, {"Retry-After": http_date(7)})]
    http = _http(sleeps)
    assert len(http.get_bytes(maven.url + AAR)) > 1000
    assert len(sleeps) == 1 and 4.0 <= sleeps[0] <= 7.5


def test_retry_after_in_seconds_and_a_5xx_backoff(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.faults[AAR] = [status(429, {"Retry-After": "3"}), status(502)]
    assert _http(sleeps).get_bytes(maven.url + AAR)
    assert sleeps == [3.0, 0.5]  # what the server asked, then 0.25 * 2**1


def test_a_wait_beyond_the_budget_is_not_slept(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.always[AAR] = status(503, {"Retry-After": http_date(3600)})
    http = _http(sleeps, budget=5.0)
    with pytest.raises(BudgetError, match="HTTP 503; a retry in 60 s would overrun the network budget"):
        http.get_bytes(maven.url + AAR)
    assert sleeps == [] and maven.requests.count(AAR) == 1


def test_an_unreachable_host_is_tried_once_and_not_again(sleeps: Sleeps) -> None:
    http = _http(sleeps)
    url = _closed_port()
    start = time.monotonic()
    with pytest.raises(UnreachableError, match="cannot connect \\(connection refused\\)"):
        http.get_bytes(url + "/a")
    with pytest.raises(UnreachableError, match="not asked again"):
        http.get_bytes(url + "/b")
    assert time.monotonic() - start < 2.0
    assert sleeps == [] and http.requests == 1


def test_a_host_that_answered_before_is_retried_when_it_drops(sleeps: Sleeps) -> None:
    from tests.maven.server import start

    maven = start()
    http = _http(sleeps)
    assert http.get_bytes(maven.url + AAR + ".sha256")
    maven.server.stop()
    with pytest.raises(NetworkError) as info:
        http.get_bytes(maven.url + AAR)
    assert not isinstance(info.value, UnreachableError)
    assert sleeps == [0.25, 0.5]


def test_a_connection_closed_without_an_answer_is_retried(raw: list[RawServer], sleeps: Sleeps) -> None:
    server = _raw(raw, "close")
    with pytest.raises(TransferError):
        _http(sleeps).get_bytes(server.url + "/x")
    assert server.connections == 3 and len(sleeps) == 2


def test_request_sends_json_and_returns_any_status(maven: MavenServer, sleeps: Sleeps) -> None:
    maven.always["/api"] = status(404)
    reply = _http(sleeps).request("POST", maven.url + "/api", json={"body": "x"})
    assert (reply.status, reply.attempts, reply.exhausted) == (404, 1, False)
    request, _ = maven.server.log[-1]
    assert request.method == "POST" and request.get_json() == {"body": "x"}
    assert request.headers["User-Agent"].startswith("symaudit/")


def test_registered_secrets_never_reach_a_message(sleeps: Sleeps) -> None:
    secret = "ghs_0secret0token0value"
    http = _http(sleeps, secrets=(secret,))
    with pytest.raises(NetworkError) as info:
        http.get_bytes(f"{_closed_port()}/x?token={secret}")
    assert secret not in str(info.value) and "token=***" in str(info.value)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///srv/m2", "file:// is not supported"),
        ("http://[::1", "not a valid URL"),
        ("https://repo.example:99999/m2", "not a valid URL"),
        ("https://repo example/m2", "spaces or control characters"),
        ("ftp://repo.example/m2", "expected an http(s) URL"),
        ("https:///m2", "expected an http(s) URL"),
        ("http://alice:s3cret@[::1", "not a valid URL"),
    ],
)
def test_urls_requests_cannot_send_are_one_line_input_errors(url: str, says: str) -> None:
    with pytest.raises(InputError, match=r"^--maven-repo .*") as info:
        check_url(url, "--maven-repo")
    assert says in str(info.value) and "\n" not in str(info.value)
    assert "s3cret" not in str(info.value)


def test_a_host_that_drops_packets_costs_one_connect_timeout(sleeps: Sleeps) -> None:
    # A full accept queue makes the kernel drop new SYNs, as a dropping firewall does.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    with listener, socket.create_connection(listener.getsockname()):
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        http = _http(sleeps, timeout=(0.5, 5.0))
        start = time.monotonic()
        with pytest.raises(UnreachableError, match="no connection within the connect timeout"):
            http.get_bytes(url + "/x")
        with pytest.raises(UnreachableError):
            http.get_bytes(url + "/y")
        assert time.monotonic() - start < 0.5 + MARGIN
        assert sleeps == [] and http.requests == 1
