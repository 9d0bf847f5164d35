"""Issue 13's network guarantees end to end: ``symaudit apk`` in a subprocess against repositories
on 127.0.0.1 that hang or trickle, or cannot be reached, finishes within its network budget with
``references-unavailable``; bad repository settings are one line of input error.

The budget is made small here (``--network-budget 2``) so the suite stays fast; the bound checked
is the budget plus a generous margin for interpreter start-up and the audit itself on a busy CI
machine. Before the budget existed these runs took 4 minutes (hang) and did not end (trickle).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.maven.server import RawServer
from tests.symaudit_cli import ROOT, run

WENET = str(ROOT / "fixtures" / "packages" / "wenet-new-runtime.apk")
MARGIN = 20.0
UNSET = ("SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS", "SYMAUDIT_REFERENCES", "SYMAUDIT_NETWORK_BUDGET")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path / "home"),
        "SYMAUDIT_CACHE": str(tmp_path / "cache"),
        "GRADLE_USER_HOME": str(tmp_path / "gradle"),
    }


@pytest.fixture
def raw() -> Iterator[dict[str, RawServer]]:
    servers = {mode: RawServer(mode) for mode in ("hang", "trickle")}
    yield servers
    for server in servers.values():
        server.stop()


def audit(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> tuple[float, dict[str, Any], list[str]]:
    """(seconds, JSON report, problems of the references-unavailable finding)."""
    start = time.monotonic()
    result = run("apk", WENET, "--format", "json", *args, env=env, unset=UNSET, cwd=cwd)
    took = time.monotonic() - start
    assert result.returncode == 1, result.stderr  # the unresolved symbol: never 2, never a crash
    report = json.loads(result.stdout)
    notes = [f for f in report["findings"] if f["rule"] == "references-unavailable"]
    assert len(notes) == 1 and notes[0]["severity"] == "info"
    return took, report, notes[0]["problems"]


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_a_hanging_or_trickling_repository_costs_at_most_the_budget(
    env: dict[str, str], raw: dict[str, RawServer], mode: str
) -> None:
    took, report, problems = audit(env, "--maven-repo", raw[mode].url, "--network-budget", "2")
    assert took < 2 + MARGIN, f"{mode}: {took:.1f} s"
    assert "network budget of 2 s (--network-budget)" in problems[0]
    assert {f["rule"] for f in report["findings"]} >= {"unresolved-symbol", "references-unavailable"}


def test_the_budget_comes_from_the_environment_or_the_config(
    env: dict[str, str], raw: dict[str, RawServer], tmp_path: Path
) -> None:
    took, _, problems = audit({**env, "SYMAUDIT_NETWORK_BUDGET": "1"}, "--maven-repo", raw["hang"].url)
    assert took < 1 + MARGIN and "network budget of 1 s" in problems[0]
    (tmp_path / "symaudit.toml").write_text("network-budget = 1.5\n")
    took, _, problems = audit(env, "--maven-repo", raw["trickle"].url, cwd=tmp_path)
    assert took < 1.5 + MARGIN and "network budget of 1.5 s" in problems[0]


def test_an_unreachable_repository_is_learnt_once(env: dict[str, str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    took, _, problems = audit(env, "--maven-repo", closed)
    assert "cannot connect (connection refused); not asked again in this run" in problems[0]
    assert sum("cannot connect" in p for p in problems) == 1
    assert took < MARGIN


def test_a_budget_of_zero_sends_nothing(env: dict[str, str], raw: dict[str, RawServer]) -> None:
    _, _, problems = audit(env, "--maven-repo", raw["hang"].url, "--network-budget", "0")
    assert "not requested" in problems[0] and raw["hang"].connections == 0


@pytest.mark.parametrize(
    ("args", "extra_env", "says"),
    [
        (("--maven-repo", "file:///srv/m2"), {}, "--maven-repo file:///srv/m2: file:// is not supported"),
        (
            ("--maven-repo", "http://repo.example:99999"),
            {},
            "--maven-repo http://repo.example:99999: not a valid",
        ),
        ((), {"SYMAUDIT_MAVEN_REPOS": "file:///srv/m2"}, "SYMAUDIT_MAVEN_REPOS file:///srv/m2: file://"),
        ((), {"SYMAUDIT_NETWORK_BUDGET": "soon"}, "SYMAUDIT_NETWORK_BUDGET=soon: expected a number"),
        (("--network-budget", "-1"), {}, "--network-budget"),
    ],
)
def test_bad_network_settings_are_one_line_input_errors(
    env: dict[str, str], args: tuple[str, ...], extra_env: dict[str, str], says: str
) -> None:
    result = run("apk", WENET, *args, env={**env, **extra_env}, unset=UNSET)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    assert "Traceback" not in result.stderr and "InvalidSchema" not in result.stderr


def test_a_bad_budget_in_the_config_names_the_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "symaudit.toml").write_text('network-budget = "a minute"\n')
    result = run("apk", WENET, env=env, unset=UNSET, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"symaudit: error: {tmp_path / 'symaudit.toml'}: network-budget must be a number of seconds "
        "from 0 to 86400, not 'a minute'"
    ]
