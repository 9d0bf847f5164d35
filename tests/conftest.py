"""Every test runs without reaching Maven: reference lookups are off unless a test turns them on
(tests/maven and tests/references do, against a server on 127.0.0.1), and the caches they would
use point into a temporary folder, so a developer's ~/.gradle never changes a result."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_maven(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("symaudit-caches")
    monkeypatch.setenv("SYMAUDIT_REFERENCES", "0")
    monkeypatch.setenv("SYMAUDIT_CACHE", str(root / "symaudit"))
    monkeypatch.setenv("GRADLE_USER_HOME", str(Path(root) / "gradle"))
    monkeypatch.delenv("SYMAUDIT_MAVEN_REPOS", raising=False)
    monkeypatch.delenv("SYMAUDIT_OFFLINE", raising=False)
