"""``symaudit comment``: one sticky pull-request comment carrying the Markdown report.

The comment is found again by a hidden marker (paging through the pull request's comments) and
edited in place, so a pull request shows one up-to-date verdict instead of a comment per push.

The token comes from ``GITHUB_TOKEN`` only and lives in the session's headers; it is registered
as a secret of the :class:`~symaudit.http.Http` every request goes through, so no message,
exception or log line contains it, even when a server echoes it back. Timeouts, retries (5xx,
rate limits with ``Retry-After`` in seconds or as an HTTP date, ``X-RateLimit-Reset``), the
User-Agent and redaction are that client's one policy; this module adds GitHub's words.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from symaudit.errors import InputError, NetworkError
from symaudit.http import Http, Reply, RetryPolicy, check_url

log = logging.getLogger(__name__)

MARKER = "<!-- symaudit-report -->"
MAX_BODY = 65536
"""GitHub rejects comment bodies longer than this many characters."""
DEFAULT_API_URL = "https://api.github.com"
DEADLINE = 120.0
"""Longest one API request may take in all (timeouts and retries are :mod:`symaudit.http`'s)."""
ATTEMPTS = 4
MAX_WAIT_ENV = "SYMAUDIT_GITHUB_MAX_WAIT"
DEFAULT_MAX_WAIT = 60.0
"""Longest single wait for a rate limit or between retries; ``$SYMAUDIT_GITHUB_MAX_WAIT`` overrides."""
MAX_PAGES = 100


@dataclass(frozen=True, slots=True)
class Target:
    api_url: str
    repo: str
    pr: int

    @property
    def comments_url(self) -> str:
        return f"{self.api_url}/repos/{self.repo}/issues/{self.pr}/comments"

    def comment_url(self, comment_id: int) -> str:
        return f"{self.api_url}/repos/{self.repo}/issues/comments/{comment_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    action: str
    """``created`` or ``updated``."""
    comment_id: int
    html_url: str | None


def _pr_from_event(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the GitHub event (GITHUB_EVENT_PATH): {exc}") from None
    if not isinstance(event, dict):
        return None
    for key in ("pull_request", "issue"):
        item = event.get(key)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            if key == "issue" and "pull_request" not in item:
                return None  # a comment on a plain issue: there is no pull request to comment on
            return int(item["number"])
    number = event.get("number")
    return number if isinstance(number, int) else None


def resolve_target(
    repo: str | None, pr: int | None, api_url: str | None, environ: Mapping[str, str]
) -> Target:
    """Options first, then the variables GitHub Actions sets."""
    repo = repo or environ.get("GITHUB_REPOSITORY")
    if not repo:
        raise InputError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise InputError(f"--repo {repo}: expected OWNER/NAME")
    if pr is None and environ.get("GITHUB_EVENT_PATH"):
        pr = _pr_from_event(environ["GITHUB_EVENT_PATH"])
    if pr is None:
        raise InputError(
            "no pull request number: pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)"
        )
    url = check_url((api_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"), "--api-url")
    return Target(url, repo, pr)


def comment_body(markdown: str) -> str:
    """The marker, then the report; cut at a line boundary with a note when GitHub would refuse it."""
    body = f"{MARKER}\n{markdown}"
    if len(body) <= MAX_BODY:
        return body
    note = "\n\n… (truncated: the full report is in the JSON or SARIF output of this run)\n"
    cut = body.rfind("\n", 0, MAX_BODY - len(note) - 20)
    head = body[:cut]
    if head.count("<details>") > head.count("</details>"):
        head += "\n\n</details>"
    return head + note


def max_wait(environ: Mapping[str, str]) -> float:
    value = environ.get(MAX_WAIT_ENV)
    if value is None:
        return DEFAULT_MAX_WAIT
    try:
        return max(0.0, float(value))
    except ValueError:
        raise InputError(f"{MAX_WAIT_ENV}={value}: expected a number of seconds") from None


class ServerError(NetworkError):
    """GitHub answered 5xx: the request may or may not have taken effect."""


class GitHubClient:
    """The REST calls ``symaudit comment`` makes, through :class:`~symaudit.http.Http`: its
    timeouts, retries, ``Retry-After`` handling, User-Agent and redaction, with the token
    registered as a secret."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = DEFAULT_MAX_WAIT,
        attempts: int = ATTEMPTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
            # requests would quote the header with repr(), escaping what scrub() looks for.
            raise InputError("GITHUB_TOKEN holds whitespace or control characters; no token looks like that")
        self.api_url = api_url.rstrip("/")
        self._http = Http(
            retry=RetryPolicy(attempts=attempts, max_wait=max_wait),
            sleep=sleep,
            clock=clock,
            deadline=DEADLINE,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            secrets=(token,),
        )

    def close(self) -> None:
        self._http.close()

    def _error(self, text: str) -> NetworkError:
        return NetworkError(self._http.scrub(text))

    def request(
        self,
        method: str,
        url: str,
        body: Mapping[str, Any] | None = None,
        *,
        retry_server_errors: bool = True,
    ) -> Reply:
        if not url.startswith(self.api_url + "/"):
            # Never send the token to a host other than the API we were pointed at (a Link header
            # or a redirect could name one).
            raise self._error(f"{method} {url}: refusing to send the token outside {self.api_url}")
        reply = self._http.request(
            method,
            url,
            json=body,
            allow_redirects=False,
            retry_server_errors=retry_server_errors,
            rate_limited=_secondary_rate_limit,
        )
        if reply.status < 300:
            return reply
        error = self._error(_describe(method, url, reply, reply.attempts if reply.exhausted else 0))
        if reply.status >= 500:
            raise ServerError(str(error))
        raise error

    def comments(self, target: Target) -> Iterator[dict[str, Any]]:
        url: str | None = f"{target.comments_url}?per_page=100"
        pages = 0
        while url is not None and pages < MAX_PAGES:
            response = self.request("GET", url)
            pages += 1
            items = self._json(response, "GET", url)
            if not isinstance(items, list):
                raise self._error(f"GET {url}: expected a list of comments")
            yield from (item for item in items if isinstance(item, dict))
            url = response.links.get("next")

    def find_comment(self, target: Target) -> dict[str, Any] | None:
        """Our earlier comment: the oldest one that starts with the marker, a bot's first (a
        person quoting the report, or pasting it, does not start with the hidden marker; a bot
        is what posts with a workflow token)."""
        ours = [
            comment
            for comment in self.comments(target)
            if isinstance(comment.get("body"), str)
            and comment["body"].lstrip().startswith(MARKER)
            and isinstance(comment.get("id"), int)
        ]
        bots = [c for c in ours if isinstance(c.get("user"), dict) and c["user"].get("type") == "Bot"]
        return (bots or ours)[0] if ours else None

    def upsert(self, target: Target, body: str) -> Outcome:
        existing = self.find_comment(target)
        if existing is not None:
            return self._update(target, int(existing["id"]), body)
        else:
            url = target.comments_url
            try:
                # Not retried blindly: a 5xx can come after GitHub created the comment.
                response = self.request("POST", url, {"body": body}, retry_server_errors=False)
            except ServerError:
                again = self.find_comment(target)
                if again is not None:
                    return self._update(target, int(again["id"]), body)
                response = self.request("POST", url, {"body": body})
            data = self._json(response, "POST", url)
            action = "created"
            comment_id = int(data["id"]) if isinstance(data, dict) and isinstance(data.get("id"), int) else 0
        html_url = data.get("html_url") if isinstance(data, dict) else None
        return Outcome(action, comment_id, self._http.scrub(html_url) if isinstance(html_url, str) else None)

    def _update(self, target: Target, comment_id: int, body: str) -> Outcome:
        url = target.comment_url(comment_id)
        data = self._json(self.request("PATCH", url, {"body": body}), "PATCH", url)
        html_url = data.get("html_url") if isinstance(data, dict) else None
        return Outcome(
            "updated", comment_id, self._http.scrub(html_url) if isinstance(html_url, str) else None
        )

    def _json(self, reply: Reply, method: str, url: str) -> Any:
        try:
            return reply.json()
        except ValueError:
            raise self._error(f"{method} {url}: HTTP {reply.status}: the response is not JSON") from None


def _api_message(reply: Reply) -> str:
    try:
        data = reply.json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return " ".join(message.split())[:200] if isinstance(message, str) else ""


def _secondary_rate_limit(reply: Reply) -> bool:
    """A rate limit without headers: GitHub says to wait a minute (429, or 403 naming it)."""
    return reply.status == 429 or "rate limit" in _api_message(reply).lower()


def _describe(method: str, url: str, reply: Reply, attempts: int) -> str:
    """``attempts`` > 0: the response was retryable and the retries ran out."""
    status = reply.status
    said = _api_message(reply)
    said = f' (GitHub says: "{said}")' if said else ""
    prefix = f"{method} {url}: HTTP {status}"
    if attempts:
        return f"{prefix}: still failing after {attempts} attempts{said}; try again later"
    if status == 401:
        return f"{prefix}: the token in GITHUB_TOKEN was rejected (expired, revoked or empty){said}"
    if status == 403:
        return (
            f"{prefix}: the token may not write pull-request comments; give the workflow "
            f"`permissions: pull-requests: write`{said}"
        )
    if status == 404:
        return (
            f"{prefix}: repository or pull request not found, or the token cannot see it "
            f"(check --repo, --pr and the token's repository access){said}"
        )
    return f"{prefix}{said}"


def post(
    markdown: str, repo: str | None, pr: int | None, api_url: str | None, dry_run: bool, environ: Mapping[str, str]
) -> str:
    """``symaudit comment``: create or update the sticky comment holding ``markdown`` (the
    report's Markdown rendering); returns what to print. ``dry_run`` sends nothing."""
    target = resolve_target(repo, pr, api_url, environ)
    body = comment_body(markdown)
    if dry_run:
        return (
            f"would create or update the comment marked {MARKER} "
            f"on {target.repo}#{target.pr} through {target.api_url}, with this body:\n{body}\n"
        )
    token = environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise InputError("GITHUB_TOKEN is not set (in a workflow: env: GITHUB_TOKEN: ${{ github.token }})")
    client = GitHubClient(target.api_url, token, max_wait=max_wait(environ))
    try:
        outcome = client.upsert(target, body)
    finally:
        client.close()
    where = outcome.html_url or f"#{outcome.comment_id}"
    return f"symaudit: {outcome.action} comment {where} on {target.repo}#{target.pr}\n"
