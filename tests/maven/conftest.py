from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from symaudit.http import Http, RetryPolicy
from symaudit.maven.cache import Cache
from symaudit.maven.client import MavenClient
from tests.maven.server import MavenServer, start


@pytest.fixture
def maven() -> Iterator[MavenServer]:
    server = start()
    try:
        yield server
    finally:
        server.released.set()
        server.server.stop()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(tmp_path: Path, sleeps: Sleeps, maven: MavenServer):  # type: ignore[no-untyped-def]
    def make(
        offline: bool = False, repos: list[str] | None = None, timeout: float = 5.0, **kwargs: object
    ) -> MavenClient:
        return MavenClient(
            repos or [maven.url],
            Cache(tmp_path / "cache"),
            offline=offline,
            http=lambda: Http(
                timeout=(timeout, timeout), retry=RetryPolicy(attempts=3, backoff=0.25), sleep=sleeps
            ),
            gradle_home=tmp_path / "gradle",
            maven_local=tmp_path / "m2",
            **kwargs,  # type: ignore[arg-type]
        )

    return make
