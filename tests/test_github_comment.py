"""``symaudit comment`` against a fake GitHub API on 127.0.0.1, in a real subprocess.

Every run's stdout and stderr is searched for the token: it must never appear, even when the
server echoes it back in an error message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from symaudit import github_comment
from symaudit.errors import InputError, NetworkError
from tests.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / "fixtures" / "packages"
TOKEN = "ghs_FAKE0token0for0tests0Zq81xYp"
MARKER = "<!-- symaudit-report -->"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update({"PYTHONPATH": str(ROOT), "SYMAUDIT_GITHUB_MAX_WAIT": "0"})
    full_env.pop("SYMAUDIT_DEBUG", None)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-m", "symaudit.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    assert TOKEN not in result.stdout and TOKEN not in result.stderr, "the token was printed"
    return result


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    paths = {}
    for name, package in (("bad", "wenet-new-runtime.apk"), ("clean", "clean.apk")):
        paths[name] = out / f"{name}.json"
        result = cli("apk", str(PACKAGES / package), "--format", "json", "--output", str(paths[name]))
        assert result.returncode in (0, 1), result.stderr
    # A report with nothing at all in it (no NDK notice either): what a fixed pull request shows.
    empty = json.loads(paths["clean"].read_text())
    empty["findings"] = []
    paths["empty"] = out / "empty.json"
    paths["empty"].write_text(json.dumps(empty))
    return paths


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver, TOKEN).install()


def comment(
    github: FakeGitHub, report: Path, *extra: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {"GITHUB_REPOSITORY": github.repo, "GITHUB_API_URL": github.api_url}
    if token is not None:
        env["GITHUB_TOKEN"] = token
    return cli("comment", str(report), "--pr", str(github.pr), *extra, env=env)


def test_first_run_creates_the_comment_and_the_second_updates_the_same_one(
    github: FakeGitHub, reports: dict[str, Path]
) -> None:
    github.add_comment("LGTM")
    first = comment(github, reports["bad"])
    assert first.returncode == 0, first.stderr
    assert "created comment" in first.stdout
    assert [r.method for r in github.writes()] == ["POST"]
    created = github.comments[-1]
    assert created["body"].startswith(MARKER)
    assert "FAIL" in created["body"] and "libwenet.so" in created["body"]

    second = comment(github, reports["empty"])
    assert second.returncode == 0, second.stderr
    assert "updated comment" in second.stdout
    assert [r.method for r in github.writes()] == ["POST", "PATCH"]
    assert github.writes()[-1].path == f"/repos/{github.repo}/issues/comments/{created['id']}"
    assert len(github.comments) == 2  # still one symaudit comment, now green
    assert ":white_check_mark:" in created["body"] and "No findings" in created["body"]
    for recorded in github.requests:
        assert recorded.headers["Authorization"] == f"Bearer {TOKEN}"
        assert recorded.headers["Accept"] == "application/vnd.github+json"
        assert recorded.headers["X-Github-Api-Version"] == "2022-11-28"
        assert recorded.headers["User-Agent"].startswith("symaudit/")
        assert TOKEN not in json.dumps(recorded.body)


def test_its_comment_on_page_two_is_found_through_the_link_header(
    github: FakeGitHub, reports: dict[str, Path]
) -> None:
    github.page_size = 3
    for n in range(4):
        github.add_comment(f"review comment {n}")
    ours = github.add_comment(f"{MARKER}\nold report")
    github.add_comment("a later comment")
    result = comment(github, reports["bad"])
    assert result.returncode == 0, result.stderr
    pages = [r.query.get("page", "1") for r in github.requests if r.method == "GET"]
    assert pages == ["1", "2"]
    assert [(r.method, r.path) for r in github.writes()] == [
        ("PATCH", f"/repos/{github.repo}/issues/comments/{ours['id']}")
    ]
    assert "libwenet.so" in ours["body"]


def test_survives_rate_limits_and_server_errors(github: FakeGitHub, reports: dict[str, Path]) -> None:
    github.fail_next(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}, "API rate limit exceeded")
    github.fail_next(429, {"Retry-After": "30"}, "You have exceeded a secondary rate limit")
    github.fail_next(502)
    result = comment(github, reports["bad"])
    assert result.returncode == 0, result.stderr
    assert [r.method for r in github.requests] == ["GET", "GET", "GET", "GET", "POST"]
    assert len(github.comments) == 1


def test_rejected_token_exits_2_with_one_clear_line_and_no_token(
    github: FakeGitHub, reports: dict[str, Path]
) -> None:
    # A server that echoes the token back must not get it printed.
    github.fail_next(401, message=f"Bad credentials: {TOKEN}")
    result = comment(github, reports["bad"])
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "401" in lines[0] and "GITHUB_TOKEN was rejected" in lines[0]
    assert "***" in lines[0]
    assert len(github.requests) == 1  # 401 is never retried


def test_forbidden_without_rate_limit_is_a_permission_error(
    github: FakeGitHub, reports: dict[str, Path]
) -> None:
    github.fail_next(403, message="Resource not accessible by integration")
    result = comment(github, reports["bad"])
    assert result.returncode == 2
    assert "pull-requests: write" in result.stderr
    assert len(github.requests) == 1


def test_unknown_pull_request_is_404(github: FakeGitHub, reports: dict[str, Path]) -> None:
    github.pr = 8  # the fake answers 404 for any other pull request
    env = {"GITHUB_REPOSITORY": github.repo, "GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": TOKEN}
    result = cli("comment", str(reports["bad"]), "--pr", "9", env=env)
    assert result.returncode == 2
    assert "404" in result.stderr and "not found" in result.stderr


def test_repository_and_pull_request_come_from_the_actions_environment(
    github: FakeGitHub, reports: dict[str, Path], tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": github.pr}}))
    env = {
        "GITHUB_REPOSITORY": github.repo,
        "GITHUB_API_URL": github.api_url,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_TOKEN": TOKEN,
    }
    result = cli("comment", str(reports["clean"]), env=env)
    assert result.returncode == 0, result.stderr
    assert github.writes()[0].path == f"/repos/{github.repo}/issues/{github.pr}/comments"


def test_dry_run_sends_nothing_and_needs_no_token(github: FakeGitHub, reports: dict[str, Path]) -> None:
    result = comment(github, reports["bad"], "--dry-run", token=None)
    assert result.returncode == 0, result.stderr
    assert f"{github.repo}#{github.pr}" in result.stdout and MARKER in result.stdout
    assert github.requests == []


def test_missing_token_and_bad_report_are_usage_errors(
    github: FakeGitHub, reports: dict[str, Path], tmp_path: Path
) -> None:
    result = comment(github, reports["bad"], token=None)
    assert result.returncode == 2 and "GITHUB_TOKEN is not set" in result.stderr
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    result = comment(github, bogus)
    assert result.returncode == 2 and "not a symaudit JSON report" in result.stderr
    assert github.requests == []


# --- the client in process: waits, caps and refusals ---------------------------------------


def test_waits_are_capped_and_follow_the_reset_header(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, TOKEN).install()
    fake.fail_next(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"})
    fake.fail_next(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "100000"})
    fake.fail_next(503)
    waits: list[float] = []
    client = github_comment.GitHubClient(fake.api_url, TOKEN, sleep=waits.append, clock=lambda: 990.0)
    target = github_comment.Target(fake.api_url, fake.repo, fake.pr)
    outcome = client.upsert(target, f"{MARKER}\nbody")
    assert outcome.action == "created"
    assert waits == [10.0, 60.0, 4.0]  # reset - now; capped at 60 s; 5xx backoff 2**(attempt-1)


def test_gives_up_after_the_last_attempt(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, TOKEN).install()
    for _ in range(4):
        fake.fail_next(500, message="boom")
    client = github_comment.GitHubClient(fake.api_url, TOKEN, sleep=lambda _: None)
    with pytest.raises(NetworkError, match="still failing after 4 attempts"):
        client.find_comment(github_comment.Target(fake.api_url, fake.repo, fake.pr))


def test_a_next_link_to_another_host_does_not_get_the_token(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/repos/octo/app/issues/7/comments").respond_with_json(
        [], headers={"Link": '<http://198.51.100.1/steal?page=2>; rel="next"'}
    )
    client = github_comment.GitHubClient(httpserver.url_for("/").rstrip("/"), TOKEN, sleep=lambda _: None)
    target = github_comment.Target(client.api_url, "octo/app", 7)
    with pytest.raises(NetworkError, match="refusing to send the token") as info:
        client.find_comment(target)
    assert TOKEN not in str(info.value)


def test_connection_errors_name_the_url_not_the_token() -> None:
    client = github_comment.GitHubClient("http://127.0.0.1:9", TOKEN, sleep=lambda _: None)
    with pytest.raises(NetworkError) as info:
        client.request("GET", "http://127.0.0.1:9/repos/o/r/issues/1/comments")
    assert "127.0.0.1:9" in str(info.value) and TOKEN not in str(info.value)


def test_target_resolution() -> None:
    env = {"GITHUB_REPOSITORY": "octo/app", "GITHUB_API_URL": "https://ghe.example/api/v3/"}
    target = github_comment.resolve_target(None, 3, None, env)
    assert target == github_comment.Target("https://ghe.example/api/v3", "octo/app", 3)
    assert github_comment.resolve_target("a/b", 1, "http://127.0.0.1:1", env).repo == "a/b"
    with pytest.raises(InputError, match="OWNER/NAME"):
        github_comment.resolve_target("just-a-name", 1, None, {})
    with pytest.raises(InputError, match="--pr N"):
        github_comment.resolve_target("a/b", None, None, {})


def test_issue_comment_event_on_a_pull_request(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"issue": {"number": 12, "pull_request": {"url": "x"}}}))
    target = github_comment.resolve_target("a/b", None, None, {"GITHUB_EVENT_PATH": str(event)})
    assert target.pr == 12
    event.write_text(json.dumps({"issue": {"number": 12}}))  # a plain issue: nothing to comment on
    with pytest.raises(InputError, match="no pull request"):
        github_comment.resolve_target("a/b", None, None, {"GITHUB_EVENT_PATH": str(event)})


def test_long_bodies_are_cut_below_the_limit_with_a_note() -> None:
    markdown = "### FAIL\n\n<details><summary>x</summary>\n\n" + "| a | b |\n" * 20000
    body = github_comment.comment_body(markdown)
    assert len(body) <= github_comment.MAX_BODY
    assert body.startswith(MARKER) and "truncated" in body and "</details>" in body
    assert github_comment.comment_body("short\n") == f"{MARKER}\nshort\n"


def test_a_token_with_a_line_break_is_refused_without_quoting_it(httpserver: HTTPServer) -> None:
    # requests quotes a bad header value with repr(), which escapes the line break, so replacing
    # the token as given would miss it: such a token must be refused before it reaches requests.
    fake = FakeGitHub(httpserver, TOKEN).install()
    token = "ghs_FirstHalf0of0token\nSecondHalf0of0token"
    with pytest.raises((InputError, NetworkError)) as info:
        client = github_comment.GitHubClient(fake.api_url, token, sleep=lambda _: None)
        client.find_comment(github_comment.Target(fake.api_url, fake.repo, fake.pr))
    assert "FirstHalf" not in str(info.value) and "SecondHalf" not in str(info.value)
    assert fake.requests == []


def test_a_server_echoing_the_token_in_a_link_or_url_does_not_get_it_printed(httpserver: HTTPServer) -> None:
    base = httpserver.url_for("/").rstrip("/")
    httpserver.expect_ordered_request("/repos/octo/app/issues/7/comments", method="GET").respond_with_json(
        [], headers={"Link": f'<{base}/repos/octo/app/issues/7/comments?page=2&t={TOKEN}>; rel="next"'}
    )
    httpserver.expect_ordered_request("/repos/octo/app/issues/7/comments", method="GET").respond_with_data(
        "<html>not json</html>", content_type="text/html"
    )
    client = github_comment.GitHubClient(base, TOKEN, sleep=lambda _: None)
    target = github_comment.Target(base, "octo/app", 7)
    with pytest.raises(NetworkError, match="not JSON") as info:
        client.find_comment(target)
    assert TOKEN not in str(info.value)


def test_an_html_url_echoing_the_token_is_scrubbed(httpserver: HTTPServer) -> None:
    base = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/repos/octo/app/issues/7/comments", method="GET").respond_with_json([])
    httpserver.expect_request("/repos/octo/app/issues/7/comments", method="POST").respond_with_json(
        {"id": 5, "html_url": f"https://github.example/octo/app/pull/7?token={TOKEN}"}, status=201
    )
    client = github_comment.GitHubClient(base, TOKEN, sleep=lambda _: None)
    outcome = client.upsert(github_comment.Target(base, "octo/app", 7), f"{MARKER}\nbody")
    assert outcome.action == "created" and outcome.html_url is not None
    assert TOKEN not in outcome.html_url


def test_a_502_after_the_comment_was_created_does_not_post_a_second_one(
    github: FakeGitHub, reports: dict[str, Path]
) -> None:
    github.fail_after_create = 1
    result = comment(github, reports["bad"])
    assert result.returncode == 0, result.stderr
    assert [r.method for r in github.writes()] == ["POST", "PATCH"]
    assert len(github.comments) == 1 and github.comments[0]["body"].startswith(MARKER)


def test_a_person_quoting_the_report_is_not_edited_and_the_bots_comment_is(
    github: FakeGitHub, reports: dict[str, Path]
) -> None:
    quoted = github.add_comment(f"> {MARKER}\n> symaudit said this fails, why?", "alice")
    pasted = github.add_comment(f"{MARKER}\nI pasted the old report here", "bob")
    ours = github.add_comment(f"{MARKER}\nold report", "github-actions[bot]")
    result = comment(github, reports["bad"])
    assert result.returncode == 0, result.stderr
    [write] = github.writes()
    assert write.method == "PATCH" and write.path.endswith(f"/{ours['id']}")
    assert quoted["body"].startswith("> ") and pasted["body"].endswith("old report here")


# --- one HTTP stack: GitHub's waits and errors are symaudit.http's ---------------------------


def test_retry_after_as_an_http_date_is_honoured(httpserver: HTTPServer) -> None:
    from tests.maven.server import http_date

    fake = FakeGitHub(httpserver, TOKEN).install()
    fake.fail_next(429, {"Retry-After": http_date(20)}, "You have exceeded a secondary rate limit")
    fake.fail_next(503, {"Retry-After": http_date(3600)})
    waits: list[float] = []
    client = github_comment.GitHubClient(fake.api_url, TOKEN, sleep=waits.append)
    outcome = client.upsert(github_comment.Target(fake.api_url, fake.repo, fake.pr), f"{MARKER}\nbody")
    assert outcome.action == "created"
    assert len(waits) == 2 and 15.0 <= waits[0] <= 20.5 and waits[1] == 60.0  # capped


def test_a_secondary_rate_limit_without_headers_waits_a_minute(httpserver: HTTPServer) -> None:
    fake = FakeGitHub(httpserver, TOKEN).install()
    fake.fail_next(403, message="You have exceeded a secondary rate limit. Please wait.")
    waits: list[float] = []
    client = github_comment.GitHubClient(fake.api_url, TOKEN, sleep=waits.append)
    assert client.find_comment(github_comment.Target(fake.api_url, fake.repo, fake.pr)) is None
    assert waits == [60.0]


@pytest.mark.parametrize(
    "api_url",
    ["http://[::1", "https://api.example:99999", "https://api example.com", "ftp://api.example", "https://"],
)
def test_a_malformed_api_url_is_one_line_of_input_error(
    reports: dict[str, Path], api_url: str, httpserver: HTTPServer
) -> None:
    env = {"GITHUB_REPOSITORY": "octo/app", "GITHUB_TOKEN": TOKEN}
    result = cli("comment", str(reports["bad"]), "--pr", "7", "--api-url", api_url, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symaudit: error: --api-url "), lines
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
