"""``scripts/fetch_corpus.py`` against a real HTTP server on 127.0.0.1 serving a tarball built here."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest
from pytest_httpserver import HTTPServer

ROOT = Path(__file__).resolve().parents[2]
AAR_BYTES = b"PK\x05\x06" + bytes(18)  # an empty zip is enough: the script never opens the AAR


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_corpus", ROOT / "scripts" / "fetch_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fetch_corpus = _load_script()


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


TARBALL = _tarball(
    {
        "package/package.json": b'{"name": "demo-engine", "version": "1.0.0"}',
        "package/android/demo-release.aar": AAR_BYTES,
        "package/../../escape.aar": b"never written",
    }
)
PIN = fetch_corpus.Pin(
    "demo-engine",
    "1.0.0",
    _integrity(TARBALL),
    (
        fetch_corpus.Member(
            "package/android/demo-release.aar",
            "demo-engine-1.0.0-release.aar",
            hashlib.sha256(AAR_BYTES).hexdigest(),
        ),
    ),
)
URL_PATH = "/demo-engine/-/demo-engine-1.0.0.tgz"


def _serve(httpserver: HTTPServer, body: bytes = TARBALL) -> None:
    httpserver.expect_request(URL_PATH).respond_with_data(body, content_type="application/octet-stream")


def test_verified_tarball_fills_the_cache_and_a_second_run_stays_offline(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    _serve(httpserver)
    argv = ["--registry", httpserver.url_for("/"), "--cache", str(cache)]

    assert fetch_corpus.main(argv, pins=(PIN,), maven_pins=()) == 0

    assert (cache / "demo-engine-1.0.0-release.aar").read_bytes() == AAR_BYTES
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["files"] == [
        {
            "name": "demo-engine-1.0.0-release.aar",
            "package": "demo-engine@1.0.0",
            "member": "package/android/demo-release.aar",
            "sha256": hashlib.sha256(AAR_BYTES).hexdigest(),
        }
    ]
    assert sorted(p.name for p in cache.iterdir()) == ["demo-engine-1.0.0-release.aar", "manifest.json"]
    assert not (tmp_path / "escape.aar").exists()
    assert len(httpserver.log) == 1

    httpserver.clear()  # nothing is served any more: the second run must not ask
    assert fetch_corpus.main(argv, pins=(PIN,), maven_pins=()) == 0
    assert len(httpserver.log) == 0
    assert "up to date" in capsys.readouterr().err


def test_integrity_mismatch_exits_1_naming_the_url_and_caches_nothing(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    _serve(httpserver, TARBALL[:-1] + bytes([TARBALL[-1] ^ 1]))

    code = fetch_corpus.main(
        ["--registry", httpserver.url_for("/"), "--cache", str(cache)], pins=(PIN,), maven_pins=()
    )

    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1
    assert httpserver.url_for(URL_PATH) in err
    assert "integrity mismatch" in err
    assert not cache.exists() or list(cache.iterdir()) == []


def test_http_error_exits_1_naming_the_url(
    httpserver: HTTPServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYMAUDIT_NPM_REGISTRY", httpserver.url_for("/"))
    monkeypatch.setenv("SYMAUDIT_CORPUS", str(tmp_path / "cache"))
    httpserver.expect_request(URL_PATH).respond_with_data("gone", status=404)

    assert fetch_corpus.main([], pins=(PIN,), maven_pins=()) == 1

    assert capsys.readouterr().err.strip() == f"fetch_corpus: {httpserver.url_for(URL_PATH)}: HTTP 404"
    assert not (tmp_path / "cache" / "manifest.json").exists()


def test_oversized_body_is_refused(httpserver: HTTPServer, tmp_path: Path) -> None:
    _serve(httpserver)
    import requests

    with requests.Session() as session, pytest.raises(fetch_corpus.CorpusError, match="limit"):
        fetch_corpus.download(httpserver.url_for(URL_PATH), session, limit=len(TARBALL) - 1)


MAVEN_AAR = b"PK\x05\x06" + bytes(18) + b"maven"
MAVEN_PIN = fetch_corpus.MavenPin("org.demo", "demo_android", "1.0.0", hashlib.sha256(MAVEN_AAR).hexdigest())
MAVEN_PATH = "/maven2/org/demo/demo_android/1.0.0/demo_android-1.0.0.aar"


def test_maven_artifact_is_verified_by_its_pinned_sha256_and_cached(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    httpserver.expect_request(MAVEN_PATH).respond_with_data(MAVEN_AAR)
    argv = ["--maven-repo", httpserver.url_for("/maven2"), "--cache", str(cache)]

    assert fetch_corpus.main(argv, pins=(), maven_pins=(MAVEN_PIN,)) == 0

    assert (cache / "org.demo-demo_android-1.0.0.aar").read_bytes() == MAVEN_AAR
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["files"] == [
        {
            "name": "org.demo-demo_android-1.0.0.aar",
            "coordinate": "org.demo:demo_android:1.0.0",
            "sha256": MAVEN_PIN.sha256,
        }
    ]
    httpserver.clear()
    assert fetch_corpus.main(argv, pins=(), maven_pins=(MAVEN_PIN,)) == 0
    assert len(httpserver.log) == 0 and "up to date" in capsys.readouterr().err


def test_maven_artifact_with_another_sha256_is_refused_and_not_cached(
    httpserver: HTTPServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    httpserver.expect_request(MAVEN_PATH).respond_with_data(MAVEN_AAR + b"tampered")

    code = fetch_corpus.main(
        ["--maven-repo", httpserver.url_for("/maven2"), "--cache", str(cache)],
        pins=(),
        maven_pins=(MAVEN_PIN,),
    )

    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert httpserver.url_for(MAVEN_PATH) in err and "sha256 mismatch" in err
    assert not (cache / MAVEN_PIN.name).exists() and not (cache / "manifest.json").exists()
