"""Hostile repository data and credentials: nothing escapes the cache, no secret reaches a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symaudit.errors import InputError, NetworkError
from symaudit.http import redact
from symaudit.maven.client import parse_metadata
from symaudit.maven.coordinates import Coordinate
from tests.maven.server import MavenServer, body, status

TORCH = Coordinate.parse("org.pytorch:pytorch_android")
METADATA = "/org/pytorch/pytorch_android/maven-metadata.xml"


def _metadata(*versions: str) -> bytes:
    listed = "".join(f"<version>{v}</version>" for v in versions)
    return f"<metadata><versioning><versions>{listed}</versions></versioning></metadata>".encode()


@pytest.mark.parametrize("version", ["../../../../escape", "..", "1.0/../../x", "a\\..\\b", "1.0\n"])
def test_a_version_that_is_a_path_is_refused_before_it_reaches_the_cache(version: str) -> None:
    with pytest.raises(InputError):
        TORCH.with_version(version)


def test_metadata_listing_a_traversing_version_is_rejected(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    maven.always[METADATA] = body(_metadata("2.1.0", "../../../../../../escape"))
    maven.always[f"{METADATA}.sha1"] = status(404)
    with pytest.raises(NetworkError, match="not a valid maven-metadata.xml"):
        make_client().versions(TORCH)
    with pytest.raises(NetworkError, match=r"version '\.\./x'"):
        parse_metadata(_metadata("../x"), "u")
    assert not any(p.name.startswith("escape") for p in tmp_path.rglob("*"))


def test_repository_credentials_are_not_written_to_the_cache(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    host = maven.url.split("//", 1)[1]
    client = make_client(repos=[f"http://alice:s3cret@{host}"])
    assert "2.1.0" in client.versions(TORCH)
    for path in (tmp_path / "cache").rglob("*.json"):
        assert "s3cret" not in path.read_text(), path
    # and the stored list still counts as fresh for the same repositories: no second request
    sent = len(maven.requests)
    client.versions(TORCH)
    assert len(maven.requests) == sent
    assert json.loads((tmp_path / "cache/versions/org.pytorch/pytorch_android.json").read_text())


@pytest.mark.parametrize("port", ["99999", "abc"])
def test_redact_survives_an_invalid_port(port: str) -> None:
    assert redact(f"https://alice:s3cret@host:{port}/x") == f"https://***@host:{port}/x"


def test_odd_folder_names_in_the_local_caches_are_skipped(make_client, tmp_path: Path) -> None:
    (tmp_path / "m2/org/pytorch/pytorch_android/2.1.0 copy").mkdir(parents=True)
    (tmp_path / "gradle/caches/modules-2/files-2.1/org.pytorch/pytorch_android/x y").mkdir(parents=True)
    assert make_client(offline=True).versions(TORCH) == []


@pytest.mark.parametrize(
    "url",
    ["https://alice:pa/ss@repo.example/m2/x.aar", "https://alice:s3cret@repo.example/m2/x.aar?a=1"],
)
def test_redact_hides_a_password_even_with_a_raw_slash(url: str) -> None:
    shown = redact(url)
    assert "alice" not in shown and "pa/ss" not in shown and "s3cret" not in shown
    assert shown.startswith("https://***@repo.example/")


def test_an_artifact_over_the_size_limit_is_abandoned_and_not_cached(
    make_client, maven: MavenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from symaudit.maven import client as client_module

    monkeypatch.setattr(client_module, "MAX_ARTIFACT_BYTES", 1000)
    with pytest.raises(NetworkError) as caught:
        make_client().resolve(Coordinate.parse("org.pytorch:pytorch_android:2.1.0"))
    assert "limit" in str(caught.value) or "abandoned" in str(caught.value)
    cache = tmp_path / "cache"
    assert not [p for p in cache.rglob("*.aar")] if cache.exists() else True
