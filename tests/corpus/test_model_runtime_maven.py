"""``symaudit model MODEL --runtime GROUP:ARTIFACT:VERSION`` on the real PyTorch Android AARs,
served by a Maven repository on 127.0.0.1 made of the pinned corpus (real maven-metadata.xml
shape, real AAR bytes, their checksums), then offline from symaudit's cache.

Expected values: which ABIs the AAR ships (its zip listing), the release's bytecode limit (the
versions.h rows of symaudit/data/torch_runtime_versions.json, read at the release tags), the
model's bytecode version (the fixture's ``bytecode.pkl``, written by torch), the release that
first registers scaled_dot_product_attention (the same data file's documented row).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.corpus.maven import ROOT, gradle_home, jni, maven_corpus, serve_corpus, write_apk

MODELS = ROOT / "fixtures" / "models"
SDPA = "aten::scaled_dot_product_attention"
DATA = json.loads((ROOT / "symaudit" / "data" / "torch_runtime_versions.json").read_text())


@pytest.fixture(scope="module")
def aars() -> dict[str, Path]:
    return maven_corpus()


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "home")}
    env.update(SYMAUDIT_CACHE=str(tmp_path / "cache"), GRADLE_USER_HOME=str(tmp_path / "gradle"))
    for name in ("SYMAUDIT_DEBUG", "SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS"):
        env.pop(name, None)
    return env


def model(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symaudit.cli", "model", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def abis(aar: Path) -> set[str]:
    with zipfile.ZipFile(aar) as archive:
        return {
            name.split("/")[1]
            for name in archive.namelist()
            if name.startswith("jni/") and name.endswith(".so")
        }


def limit(version: str) -> int:
    rows = [row for row in DATA["versions"] if row["since"] == version]
    assert len(rows) == 1 and rows[0]["tag"] == f"v{version}"
    value: int = rows[0]["max_bytecode_version"]
    return value


def bytecode_version(path: Path) -> int:
    """``bytecode.pkl`` is the protocol-2 pickle of a tuple whose first item is the version."""
    with zipfile.ZipFile(path) as archive:
        [member] = [n for n in archive.namelist() if n.endswith("/bytecode.pkl")]
        data = archive.read(member)
    assert data[:2] == b"\x80\x02"
    at = 3 if data[2:3] in (b"(", b"]") else 2  # after a MARK or an EMPTY_LIST, or right away
    assert data[at : at + 1] == b"K"  # BININT1: the version
    return data[at + 1]


@pytest.mark.parametrize(
    ("coordinate", "release"),
    [("org.pytorch:pytorch_android_lite:1.12.2", "1.12.0"), ("org.pytorch:pytorch_android:1.13.1", "1.13.1")],
)
def test_sdpa_model_against_a_maven_release_names_the_operator_and_judges_the_bytecode(
    aars: dict[str, Path], env: dict[str, str], httpserver: Any, coordinate: str, release: str
) -> None:
    served = serve_corpus(httpserver, aars, ranges=False)
    url = httpserver.url_for("/").rstrip("/")
    done = model(
        env, str(MODELS / "sdpa.ptl"), "--runtime", coordinate, "--maven-repo", url, "--format", "json"
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    shipped = abis(aars[coordinate])
    missing = [f for f in data["findings"] if f["rule"] == "model-operator-missing"]
    assert {(f["abi"], f["symbol"]) for f in missing} == {(abi, SDPA) for abi in shipped}
    since = DATA["operators"][SDPA]["since"]
    assert all(f"first appeared in libtorch {since}" in f["hint"] for f in missing)
    [entry] = data["models"]
    assert entry["bytecode_version"] == bytecode_version(MODELS / "sdpa.ptl")
    for runtime in entry["runtimes"]:
        assert runtime["reference"] == coordinate
        assert runtime["max_bytecode_version"] == limit(release)
        assert runtime["version_check"].startswith("versions checked against libtorch")
    too_new = bytecode_version(MODELS / "sdpa.ptl") > limit(release)
    assert any(f["rule"] == "model-bytecode-too-new" for f in data["findings"]) == too_new
    group, artifact, version = coordinate.split(":")
    assert f"/{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}.aar" in served

    text = model(env, str(MODELS / "sdpa.ptl"), "--runtime", coordinate, "--offline")
    assert text.returncode == 1 and SDPA in text.stdout and since in text.stdout, text.stdout + text.stderr


def test_a_model_newer_than_the_release_gets_the_bytecode_finding_offline_from_the_cache(
    aars: dict[str, Path], env: dict[str, str], httpserver: Any
) -> None:
    coordinate = "org.pytorch:pytorch_android_lite:1.9.0"
    serve_corpus(httpserver, aars, ranges=False)
    url = httpserver.url_for("/").rstrip("/")
    newer = bytecode_version(MODELS / "plain.ptl")
    assert newer > limit("1.9.0") >= bytecode_version(MODELS / "plain_v5.ptl")
    first = model(
        env, str(MODELS / "plain.ptl"), "--runtime", coordinate, "--maven-repo", url, "--format", "json"
    )
    assert first.returncode == 1, first.stderr
    asked = len(httpserver.log)
    offline = model(env, str(MODELS / "plain.ptl"), "--runtime", coordinate, "--offline", "--format", "json")
    assert len(httpserver.log) == asked  # the AAR and the version list come from the cache
    assert offline.returncode == 1, offline.stderr
    for done in (first, offline):
        findings = json.loads(done.stdout)["findings"]
        assert {(f["rule"], f["abi"]) for f in findings} == {
            ("model-bytecode-too-new", abi) for abi in abis(aars[coordinate])
        }
        assert all(f"loads up to {limit('1.9.0')}" in f["message"] for f in findings)
    older = model(env, str(MODELS / "plain_v5.ptl"), "--runtime", coordinate, "--offline")
    assert older.returncode == 0, older.stdout + older.stderr


def test_an_unpublished_coordinate_is_one_line_naming_the_published_versions(
    aars: dict[str, Path], env: dict[str, str], httpserver: Any
) -> None:
    """Maven Central has no pytorch_android_lite 1.13.1 (its metadata lists 1.9.0 and 1.12.2 for
    lite); the repository here lists the pinned lite versions, which are those."""
    serve_corpus(httpserver, aars, ranges=False)
    url = httpserver.url_for("/").rstrip("/")
    done = model(
        env,
        str(MODELS / "sdpa.ptl"),
        "--runtime",
        "org.pytorch:pytorch_android_lite:1.13.1",
        "--maven-repo",
        url,
    )
    assert done.returncode == 2 and done.stdout == ""
    published = sorted(
        (c.rsplit(":", 1)[1] for c in aars if ":pytorch_android_lite:" in c),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    assert done.stderr == (
        "symaudit: error: org.pytorch:pytorch_android_lite:1.13.1: not published; "
        f"org.pytorch:pytorch_android_lite has {', '.join(published)}\n"
    )
    offline = model(
        env, str(MODELS / "sdpa.ptl"), "--runtime", "org.pytorch:pytorch_android_lite:1.12.2", "--offline"
    )
    assert offline.returncode == 2 and len(offline.stderr.splitlines()) == 1, offline.stderr
    assert "org.pytorch:pytorch_android_lite:1.12.2" in offline.stderr and "offline" in offline.stderr


def test_a_packaged_runtime_identified_offline_gets_its_release_limits(
    aars: dict[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    """``--runtime APK``: the packaged libraries are identified against the references a Gradle
    build left in its cache (the corpus AARs), so the versions are judged as for a coordinate."""
    coordinate = "org.pytorch:pytorch_android_lite:1.9.0"
    env = {**env, "GRADLE_USER_HOME": str(gradle_home(tmp_path / "gradle", aars))}
    env.pop("SYMAUDIT_REFERENCES", None)
    apk = write_apk(tmp_path / "lite.apk", jni(aars[coordinate]))
    done = model(env, str(MODELS / "plain.ptl"), "--runtime", str(apk), "--offline", "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert {(f["rule"], f["abi"]) for f in data["findings"]} == {
        ("model-bytecode-too-new", abi) for abi in abis(aars[coordinate])
    }
    [entry] = data["models"]
    assert {r["reference"] for r in entry["runtimes"]} == {coordinate}
    unidentified = model(
        {**env, "SYMAUDIT_REFERENCES": "0"},
        str(MODELS / "plain.ptl"),
        "--runtime",
        str(apk),
        "--format",
        "json",
    )
    assert unidentified.returncode == 0, unidentified.stderr
    runtimes = json.loads(unidentified.stdout)["models"][0]["runtimes"]
    assert all("operator presence only" in r["version_check"] for r in runtimes)


def test_a_flatbuffer_model_against_a_release_built_without_flatbuffer_support(
    aars: dict[str, Path], env: dict[str, str], httpserver: Any
) -> None:
    """pytorch_android_lite 1.12.2 accepts bytecode 9 by its versions.h, but its libraries were
    built without the flatbuffer loader: they hold its refusal message (grepped here)."""
    coordinate = "org.pytorch:pytorch_android_lite:1.12.2"
    with zipfile.ZipFile(aars[coordinate]) as archive:
        libraries = [n for n in archive.namelist() if n.endswith("/libpytorch_jni_lite.so")]
        assert all(b"Flatbuffer input file but the build hasn't" in archive.read(n) for n in libraries)
    serve_corpus(httpserver, aars, ranges=False)
    url = httpserver.url_for("/").rstrip("/")
    flatbuffer = MODELS / "sdpa_flatbuffer.ptl"
    done = model(env, str(flatbuffer), "--runtime", coordinate, "--maven-repo", url, "--format", "json")
    assert done.returncode == 1, done.stderr
    findings = {(f["rule"], f["abi"]) for f in json.loads(done.stdout)["findings"]}
    shipped = abis(aars[coordinate])
    assert json.loads((MODELS / "sdpa_flatbuffer.torch.json").read_text())["bytecode_version"] == limit(
        "1.12.0"
    )
    assert findings == {
        (rule, abi) for abi in shipped for rule in ("model-bytecode-too-new", "model-operator-missing")
    }
