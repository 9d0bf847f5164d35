"""Issue 4's "done when", end to end: the CLI in a subprocess against a Maven repository on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.maven.server import MAVEN, MavenServer, start

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "fixtures" / "packages"
WENET = str(PACKAGES / "wenet-new-runtime.apk")
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())
DIFF_SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "diff-1.json").read_text())
ABIS = ["arm64-v8a", "armeabi-v7a", "x86", "x86_64"]
TORCH_OLD = "org.pytorch:pytorch_android:1.13.1"
TORCH_NEW = "org.pytorch:pytorch_android:2.1.0"
CHANGE_LINE = (
    "`torch::jit::load(std::string const&, c10::optional<c10::Device>)` is gone; "
    "2.1.0 has `torch::jit::load(std::string const&, c10::optional<c10::Device>, bool)`"
)


@pytest.fixture
def maven() -> Iterator[MavenServer]:
    server = start()
    try:
        yield server
    finally:
        server.server.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "home")}
    env.update(SYMAUDIT_CACHE=str(tmp_path / "cache"), GRADLE_USER_HOME=str(tmp_path / "gradle"))
    for name in ("SYMAUDIT_REFERENCES", "SYMAUDIT_DEBUG", "SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS"):
        env.pop(name, None)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symaudit.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def audit(env: dict[str, str], *args: str) -> dict:
    result = run(env, "apk", WENET, "--format", "json", *args)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    return report


def test_wenet_apk_identifies_runtime_lists_compatible_versions_and_reports_the_mismatch(
    env: dict[str, str], maven: MavenServer
) -> None:
    report = audit(env, "--maven-repo", maven.url)
    libraries = {(lib["abi"], lib["name"]): lib for lib in report["libraries"]}
    for abi in ABIS:
        runtime = libraries[abi, "libpytorch_jni.so"]["reference"]
        assert runtime == {
            "coordinate": TORCH_NEW,
            "match": "exact",
            "similarity": 1.0,
            "coordinates": [TORCH_NEW],
        }
        assert libraries[abi, "libfbjni.so"]["reference"]["coordinate"] == "com.facebook.fbjni:fbjni:0.5.1"
        assert libraries[abi, "libwenet.so"]["reference"] is None
        assert libraries[abi, "libwenet.so"]["compatible_references"] == [
            "org.pytorch:pytorch_android:1.10.0",
            TORCH_OLD,
        ]
    mismatches = [f for f in report["findings"] if f["rule"] == "libtorch-version-mismatch"]
    assert [(f["abi"], f["library"]) for f in mismatches] == [(abi, "libwenet.so") for abi in ABIS]
    assert all(f["shipped"] == TORCH_NEW and f["built_against"][-1] == TORCH_OLD for f in mismatches)
    assert "libwenet.so needs org.pytorch:pytorch_android 1.10.0 .. 1.13.1" in mismatches[0]["message"]
    unresolved = [f for f in report["findings"] if f["rule"] == "unresolved-symbol"]
    assert len(unresolved) == 4
    for finding in unresolved:
        suggestion = finding["suggestion"]
        assert suggestion["symbol"] == finding["symbol"] + "b"  # the trailing bool (wenet#2573)
        assert suggestion["library"] == "libpytorch_jni.so" and suggestion["coordinate"] == TORCH_NEW
    assert not any(f["rule"] == "references-unavailable" for f in report["findings"])

    text = run(env, "apk", WENET, "--maven-repo", maven.url, "--abi", "arm64-v8a")
    assert text.returncode == 1
    assert CHANGE_LINE in text.stdout


def test_warm_cache_sends_no_request_and_offline_gives_the_same_report(
    env: dict[str, str], maven: MavenServer
) -> None:
    first = audit(env, "--maven-repo", maven.url)
    sent = len(maven.requests)
    assert sent > 0
    warm = audit(env, "--maven-repo", maven.url)
    assert len(maven.requests) == sent
    offline = audit(env, "--offline")
    env_offline = audit({**env, "SYMAUDIT_OFFLINE": "1"}, "--maven-repo", maven.url)
    assert len(maven.requests) == sent
    assert first == warm == offline == env_offline


def test_offline_without_cache_still_audits_and_reports_references_unavailable(
    env: dict[str, str], maven: MavenServer
) -> None:
    report = audit(env, "--offline", "--maven-repo", maven.url)
    assert maven.requests == []
    rules = {f["rule"] for f in report["findings"]}
    assert "references-unavailable" in rules and "unresolved-symbol" in rules
    assert "libtorch-version-mismatch" not in rules
    note = next(f for f in report["findings"] if f["rule"] == "references-unavailable")
    assert note["severity"] == "info" and "offline" in note["message"]
    assert all(lib["reference"] is None for lib in report["libraries"])


def test_unreachable_repository_is_not_an_error(env: dict[str, str]) -> None:
    result = run(env, "apk", WENET, "--format", "json", "--maven-repo", "http://127.0.0.1:9")
    assert result.returncode == 1, result.stderr  # the unresolved symbol, not a crash
    report = json.loads(result.stdout)
    assert "references-unavailable" in {f["rule"] for f in report["findings"]}


def test_gradle_cache_folder_needs_no_network(env: dict[str, str], tmp_path: Path) -> None:
    files = tmp_path / "gradle" / "caches" / "modules-2" / "files-2.1"
    for aar in MAVEN.rglob("*.aar"):
        data = aar.read_bytes()
        version = aar.parent.name
        module = aar.parent.parent
        group = str(module.parent.relative_to(MAVEN)).replace(os.sep, ".")
        target = files / group / module.name / version / hashlib.sha1(data).hexdigest() / aar.name
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
    report = audit(env, "--offline")
    assert {f["rule"] for f in report["findings"]} >= {"libtorch-version-mismatch", "unresolved-symbol"}
    assert "references-unavailable" not in {f["rule"] for f in report["findings"]}


def test_diff_two_fixture_runtimes(env: dict[str, str]) -> None:
    old = ROOT / "fixtures/libs/arm64-v8a/runtime-old/libpytorch_jni.so"
    new = ROOT / "fixtures/libs/arm64-v8a/runtime-new/libpytorch_jni.so"
    result = run(env, "diff", str(old), str(new), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, DIFF_SCHEMA)
    assert data["schema"] == "symaudit.diff/1"
    [change] = data["exports"]["changed"]
    assert change["name"] == "torch::jit::load"
    assert [s["symbol"] for s in change["added"]] == [s["symbol"] + "b" for s in change["removed"]]
    text = run(env, "diff", str(old), str(new))
    assert "~ torch::jit::load" in text.stdout
    assert "+ torch::jit::load(std::string const&, c10::optional<c10::Device>, bool)" in text.stdout


def test_diff_two_maven_coordinates_and_refs_commands(env: dict[str, str], maven: MavenServer) -> None:
    result = run(env, "diff", TORCH_OLD, TORCH_NEW, "--maven-repo", maven.url, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, DIFF_SCHEMA)
    assert data["a"]["label"] == f"{TORCH_OLD}!jni/arm64-v8a/libpytorch_jni.so"
    assert [c["name"] for c in data["exports"]["changed"]] == ["torch::jit::load"]
    fetched = run(env, "refs", "fetch", "org.pytorch:pytorch_android_lite", "--maven-repo", maven.url)
    assert fetched.returncode == 0, fetched.stderr
    assert "org.pytorch:pytorch_android_lite:1.13.1" in fetched.stdout and "2.1.0" in fetched.stdout
    listed = run(env, "refs", "list")
    assert TORCH_OLD in listed.stdout and "org.pytorch:pytorch_android_lite:2.1.0" in listed.stdout
    sent = len(maven.requests)
    shown = run(env, "refs", "show", "org.pytorch:pytorch_android_lite:2.1.0", "--abi", "x86", "--offline")
    assert (
        shown.returncode == 0 and "x86/libpytorch_jni_lite.so" in shown.stdout and "arm64" not in shown.stdout
    )
    assert len(maven.requests) == sent


def test_refs_fetch_errors_are_one_line(env: dict[str, str], maven: MavenServer) -> None:
    missing = run(env, "refs", "fetch", "org.pytorch:pytorch_android:9.9.9", "--maven-repo", maven.url)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "not found" in missing.stderr
    offline = run(env, "refs", "fetch", TORCH_NEW, "--offline")
    assert offline.returncode == 2 and "offline" in offline.stderr
    bad = run(env, "refs", "fetch", "not-a-coordinate")
    assert bad.returncode == 2 and "not a Maven coordinate" in bad.stderr


def test_diff_two_packages_picks_abi_and_library(env: dict[str, str]) -> None:
    new, old = str(PACKAGES / "wenet-new-runtime.apk"), str(PACKAGES / "clean.apk")
    result = run(env, "diff", new, old, "--abi", "x86", "--library", "libwenet.so", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["a"]["label"] == f"{new}!lib/x86/libwenet.so" and data["b"]["abi"] == "x86"
    assert [c["name"] for c in data["imports"]["changed"]] == ["torch::jit::load"]
    ambiguous = run(env, "diff", new, old, "--abi", "x86")
    assert ambiguous.returncode == 0  # the runtime library is the default choice
    missing = run(env, "diff", new, old, "--library", "libnope.so")
    assert missing.returncode == 2 and "no library libnope.so" in missing.stderr
