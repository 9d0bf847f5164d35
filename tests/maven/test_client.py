"""The Maven client against a real HTTP server on 127.0.0.1, with the faults of issue 4."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from symaudit.errors import NetworkError
from symaudit.http import NotFoundError, redact
from symaudit.maven.client import OfflineError, choose_repos, parse_metadata
from symaudit.maven.coordinates import Coordinate, version_key
from tests.maven.server import MAVEN, MavenServer, body, hanging, status, truncated

TORCH_210 = Coordinate.parse("org.pytorch:pytorch_android:2.1.0")
AAR_210 = "/org/pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar"
METADATA = "/org/pytorch/pytorch_android/maven-metadata.xml"
SHA256_210 = (MAVEN / AAR_210.lstrip("/")).with_suffix(".aar.sha256").read_text().split()[0]


def cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_download_is_verified_cached_and_a_warm_run_sends_no_request(make_client, maven: MavenServer) -> None:
    client = make_client()
    artifact = client.resolve(TORCH_210)
    assert artifact.sha256 == SHA256_210 and artifact.origin == "download"
    assert maven.requests == [f"{AAR_210}.sha256", AAR_210]
    assert artifact.path is not None and hashlib.sha256(artifact.path.read_bytes()).hexdigest() == SHA256_210
    warm = make_client()
    again = warm.resolve(TORCH_210)
    assert again.sha256 == SHA256_210 and again.origin == "cache"
    assert len(maven.requests) == 2 and warm.requests_sent == 0


def test_versions_come_from_metadata_then_from_the_cache_for_a_day(make_client, maven: MavenServer) -> None:
    assert make_client().versions(TORCH_210) == ["1.10.0", "1.13.1", "2.1.0"]
    assert maven.requests == [METADATA, f"{METADATA}.sha1"]
    assert make_client().versions(TORCH_210) == ["1.10.0", "1.13.1", "2.1.0"]
    assert len(maven.requests) == 2
    stale = make_client(clock=lambda: 4e9)
    stale.versions(TORCH_210)
    assert len(maven.requests) == 4


def test_500_then_success_is_retried(make_client, maven: MavenServer, sleeps: list[float]) -> None:
    maven.faults[AAR_210] = [status(500), status(503)]
    assert make_client().resolve(TORCH_210).sha256 == SHA256_210
    assert maven.requests.count(AAR_210) == 3 and len(sleeps) == 2


def test_429_waits_what_retry_after_asks(make_client, maven: MavenServer, sleeps: list[float]) -> None:
    maven.faults[AAR_210] = [status(429, {"Retry-After": "7"})]
    assert make_client().resolve(TORCH_210).sha256 == SHA256_210
    assert sleeps == [7.0]


def test_retries_are_bounded_and_the_error_is_one_line(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    maven.always[AAR_210] = status(502)
    with pytest.raises(NetworkError) as info:
        make_client().resolve(TORCH_210)
    assert str(info.value) == f"{maven.url}{AAR_210}: HTTP 502 BAD GATEWAY"
    assert maven.requests.count(AAR_210) == 3
    assert not any(name.endswith(".aar") for name in cache_files(tmp_path / "cache"))


def test_checksum_mismatch_discards_the_file_and_names_url_and_both_digests(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    maven.always[f"{AAR_210}.sha256"] = body(b"0" * 64 + b"  pytorch_android-2.1.0.aar\n")
    with pytest.raises(NetworkError) as info:
        make_client().resolve(TORCH_210)
    message = str(info.value)
    assert f"{maven.url}{AAR_210}" in message and "0" * 64 in message and SHA256_210 in message
    assert "\n" not in message
    assert cache_files(tmp_path / "cache") == []  # no half file, no .part left behind


def test_truncated_body_is_retried_then_succeeds(make_client, maven: MavenServer) -> None:
    maven.faults[AAR_210] = [truncated(AAR_210)]
    assert make_client().resolve(TORCH_210).sha256 == SHA256_210
    assert maven.requests.count(AAR_210) == 2


def test_always_truncated_body_fails_cleanly_without_a_cache_entry(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    maven.always[AAR_210] = truncated(AAR_210)
    with pytest.raises(NetworkError, match="cut short|interrupted"):
        make_client().resolve(TORCH_210)
    assert cache_files(tmp_path / "cache") == []


def test_hanging_response_times_out(make_client, maven: MavenServer, tmp_path: Path) -> None:
    maven.always[f"{AAR_210}.sha256"] = hanging(1.5)
    with pytest.raises(NetworkError, match="timed out"):
        make_client(timeout=0.3).resolve(TORCH_210)
    assert cache_files(tmp_path / "cache") == []


def test_unknown_version_is_not_found(make_client, maven: MavenServer) -> None:
    with pytest.raises(NotFoundError, match="org.pytorch:pytorch_android:9.9.9: not found in"):
        make_client().resolve(TORCH_210.with_version("9.9.9"))
    assert all(path.startswith("/org/pytorch/pytorch_android/9.9.9/") for path in maven.requests)


def test_corrupt_metadata_is_a_clear_error(make_client, maven: MavenServer) -> None:
    maven.always[METADATA] = body(b"<metadata><versioning><versions><version>1.0")
    maven.always[f"{METADATA}.sha1"] = status(404)
    with pytest.raises(NetworkError) as info:
        make_client().versions(TORCH_210)
    assert str(info.value).startswith(f"{maven.url}{METADATA}: not a valid maven-metadata.xml")


def test_sha1_is_used_when_no_sha256_is_published(make_client, maven: MavenServer) -> None:
    maven.always[f"{AAR_210}.sha256"] = status(404)
    assert make_client().resolve(TORCH_210).sha256 == SHA256_210
    assert maven.requests == [f"{AAR_210}.sha256", f"{AAR_210}.sha1", AAR_210]


def test_offline_sends_no_request(make_client, maven: MavenServer) -> None:
    client = make_client(offline=True)
    with pytest.raises(OfflineError):
        client.resolve(TORCH_210)
    assert client.versions(TORCH_210) == []
    assert maven.requests == []


def test_gradle_cache_is_used_first_and_needs_no_network(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    data = (MAVEN / AAR_210.lstrip("/")).read_bytes()
    folder = tmp_path / "gradle/caches/modules-2/files-2.1/org.pytorch/pytorch_android/2.1.0"
    target = folder / hashlib.sha1(data).hexdigest() / "pytorch_android-2.1.0.aar"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    client = make_client(offline=True)
    artifact = client.resolve(TORCH_210)
    assert (artifact.origin, artifact.path, artifact.sha256) == ("gradle", target, SHA256_210)
    assert client.versions(TORCH_210) == ["2.1.0"] and maven.requests == []


def test_maven_local_repository_is_used(make_client, maven: MavenServer, tmp_path: Path) -> None:
    source = MAVEN / AAR_210.lstrip("/")
    target = tmp_path / "m2" / AAR_210.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    assert make_client(offline=True).resolve(TORCH_210).origin == "maven-local"
    assert maven.requests == []


def test_second_repository_is_tried_when_the_first_lacks_the_artifact(
    make_client, maven: MavenServer
) -> None:
    maven.always["/empty/org/pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar.sha256"] = status(404)
    client = make_client(repos=[f"{maven.url}/empty", maven.url])
    assert client.resolve(TORCH_210).sha256 == SHA256_210


def test_credentials_never_reach_a_message(make_client, maven: MavenServer) -> None:
    host = maven.url.split("//", 1)[1]
    secret = f"http://alice:s3cret@{host}"
    maven.always[f"{AAR_210}.sha256"] = status(403)
    with pytest.raises(NetworkError) as info:
        make_client(repos=[secret]).resolve(TORCH_210)
    assert "s3cret" not in str(info.value) and "alice" not in str(info.value)
    assert f"http://***@{host}{AAR_210}.sha256: HTTP 403" in str(info.value)
    assert redact("https://u:p@h:8080/x?y") == "https://***@h:8080/x?y"


def test_repositories_come_from_the_option_then_the_environment_then_the_config() -> None:
    assert choose_repos(["https://a/"], {"SYMAUDIT_MAVEN_REPOS": "https://b"}, ["https://c"]) == (
        "https://a",
    )
    assert choose_repos([], {"SYMAUDIT_MAVEN_REPOS": "https://b, https://d"}, ["https://c"]) == (
        "https://b",
        "https://d",
    )
    assert choose_repos([], {}, ["https://c"]) == ("https://c",)
    assert choose_repos([], {}, []) == ("https://repo.maven.apache.org/maven2",)


def test_metadata_parsing_and_version_order() -> None:
    data = (MAVEN / METADATA.lstrip("/")).read_bytes()
    assert parse_metadata(data, "u") == ["1.10.0", "1.13.1", "2.1.0"]
    with pytest.raises(NetworkError, match="DOCTYPE"):
        parse_metadata(b"<!DOCTYPE x [<!ENTITY a 'b'>]><metadata/>", "u")
    assert sorted(["2.1.0", "1.10.0", "1.9.0", "1.13.1-SNAPSHOT", "1.13.1"], key=version_key) == [
        "1.9.0",
        "1.10.0",
        "1.13.1-SNAPSHOT",
        "1.13.1",
        "2.1.0",
    ]


def test_concurrent_downloads_never_expose_a_half_file(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    import threading

    results: list[str] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            results.append(make_client().resolve(TORCH_210).sha256)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [SHA256_210] * 4
    assert [name for name in cache_files(tmp_path / "cache") if name.endswith(".part")] == []
    cached = tmp_path / "cache" / "artifacts/org.pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == SHA256_210


def test_a_trickling_download_is_abandoned_at_the_deadline(
    make_client, maven: MavenServer, tmp_path: Path
) -> None:
    from tests.maven.server import trickling

    maven.always[AAR_210] = trickling(pieces=50, pause=0.05)  # each byte well within the timeout
    client = make_client(timeout=1.0)
    client.http.deadline = 0.5  # type: ignore[attr-defined]
    with pytest.raises(NetworkError, match="longer than"):
        client.resolve(TORCH_210)
    assert not [p for p in cache_files(tmp_path / "cache") if p.endswith(".aar")]
