"""A fake of the few GitHub REST endpoints ``symaudit comment`` uses, served on 127.0.0.1.

It keeps the pull request's comments, pages them ``page_size`` at a time with a ``Link`` header
as GitHub does, checks the bearer token, records every request, and can be told to answer the
next requests with canned failures (rate limits, 5xx, 401).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

COMMENTS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<pr>\d+)/comments$")
COMMENT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    server: HTTPServer
    token: str
    repo: str = "octo/app"
    pr: int = 7
    page_size: int = 30
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    failures: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    next_id: int = 1000
    fail_after_create: int = 0
    """POSTs that create the comment and still answer 502 (a gateway timing out behind GitHub)."""

    def install(self) -> FakeGitHub:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self.handle)
        return self

    @property
    def api_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def add_comment(self, body: str, login: str = "someone") -> dict[str, Any]:
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.example/{self.repo}/pull/{self.pr}#issuecomment-{self.next_id}",
        }
        self.comments.append(comment)
        return comment

    def fail_next(self, status: int, headers: dict[str, str] | None = None, message: str = "") -> None:
        self.failures.append((status, headers or {}, {"message": message}))

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) if request.data else None
        self.requests.append(
            Recorded(request.method, request.path, dict(request.args), dict(request.headers), body)
        )
        if self.failures:
            status, headers, payload = self.failures.pop(0)
            return self._json(payload, status, headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json({"message": "Bad credentials"}, 401)
        match = COMMENTS.match(request.path)
        if match and match["repo"] == self.repo and int(match["pr"]) == self.pr:
            if request.method == "GET":
                return self._page(int(request.args.get("page", "1")))
            if request.method == "POST":
                created = self.add_comment(body["body"], "github-actions[bot]")
                if self.fail_after_create:
                    self.fail_after_create -= 1
                    return self._json({"message": "Bad Gateway"}, 502)
                return self._json(created, 201)
        match = COMMENT.match(request.path)
        if match and match["repo"] == self.repo and request.method == "PATCH":
            for comment in self.comments:
                if comment["id"] == int(match["id"]):
                    comment["body"] = body["body"]
                    return self._json(comment, 200)
        return self._json({"message": "Not Found"}, 404)

    def _page(self, page: int) -> Response:
        start = (page - 1) * self.page_size
        items = self.comments[start : start + self.page_size]
        headers = {}
        if start + self.page_size < len(self.comments):
            url = self.server.url_for(f"/repos/{self.repo}/issues/{self.pr}/comments")
            headers["Link"] = f'<{url}?per_page=100&page={page + 1}>; rel="next"'
        return self._json(items, 200, headers)

    @staticmethod
    def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(payload), status=status, headers=headers or {}, content_type="application/json"
        )

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("POST", "PATCH")]
