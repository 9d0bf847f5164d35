"""``symaudit refs matrix`` on a real consumer against the real PyTorch Android AARs, served by a
Maven repository on 127.0.0.1. Every cell is checked against an ``llvm-nm-19`` oracle: the
consumer's undefined dynamic symbols minus what the release's libraries of that ABI define."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.corpus.maven import ABIS, ROOT, gradle_home, jni, serve_corpus, write_apk
from tests.corpus.test_maven_corpus import CONSUMER, TORCH_1_10, aars, consumer, scratch  # noqa: F401
from tests.required import need_tools

NM = "llvm-nm-19"
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "matrix-1.json").read_text())


def _nm(path: Path, *flags: str) -> list[tuple[str, str]]:
    done = subprocess.run(
        [NM, "-D", *flags, str(path)], capture_output=True, text=True, check=True, timeout=600
    )
    out = []
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[-2], parts[-1].split("@", 1)[0]))
    return out


def _oracle(
    releases: dict[str, Path],
    consumer: dict[str, bytes],  # noqa: F811
    work: Path,
) -> dict[tuple[str, str], set[str]]:
    """(coordinate, abi) -> the consumer's undefined symbols that the release's libraries of that
    ABI do not define (global or weak), by llvm-nm-19."""
    need_tools(NM)
    undefined: dict[str, set[str]] = {}
    for abi, blob in consumer.items():
        path = work / f"consumer-{abi}.so"
        path.write_bytes(blob)
        undefined[abi] = {name for kind, name in _nm(path, "--undefined-only") if kind in ("U", "w", "v")}
        assert undefined[abi], abi
    answer: dict[tuple[str, str], set[str]] = {}
    for coordinate, aar in releases.items():
        for abi in consumer:
            defined: set[str] = set()
            for (lib_abi, name), blob in jni(aar).items():
                if lib_abi != abi:
                    continue
                path = work / f"{coordinate.replace(':', '_')}-{abi}-{name}"
                path.write_bytes(blob)
                # Upper case: global; w/v: weak. Lower case letters are local symbols (not exports).
                defined |= {
                    n for kind, n in _nm(path, "--defined-only") if kind.isupper() or kind in ("w", "v")
                }
            answer[coordinate, abi] = undefined[abi] - defined
    return answer


@pytest.fixture(scope="module")
def oracle(
    aars: dict[str, Path],  # noqa: F811
    consumer: dict[str, bytes],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:
    return _oracle(aars, consumer, tmp_path_factory.mktemp("nm"))


def _env(root: Path, gradle: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(root / "home")}
    env.update(SYMAUDIT_CACHE=str(root / "cache"), GRADLE_USER_HOME=str(gradle or root / "gradle"))
    for name in ("SYMAUDIT_REFERENCES", "SYMAUDIT_DEBUG", "SYMAUDIT_OFFLINE", "SYMAUDIT_MAVEN_REPOS"):
        env.pop(name, None)
    return env


def _matrix(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symaudit.cli", "refs", "matrix", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def _matrix_json(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``refs matrix ARGS --format json``: exit 0, and the matrix, valid against its schema."""
    done = _matrix(env, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(data, SCHEMA)
    return data


def _check_against_oracle(
    data: dict[str, Any], oracle: dict[tuple[str, str], set[str]], modules: set[str]
) -> int:
    checked = 0
    for release in data["releases"]:
        for abi, cell in release["cells"].items():
            if cell["status"] == "not-checked":
                continue
            missing = oracle[release["coordinate"], abi]
            assert cell["missing"] == len(missing), (release["coordinate"], abi)
            assert cell["status"] == ("resolves" if not missing else "missing")
            assert (cell["example"] in missing) if missing else cell["example"] is None
            checked += 1
    assert {r["module"] for r in data["releases"]} == modules
    return checked


def test_matrix_of_a_real_consumer_agrees_with_llvm_nm(
    aars: dict[str, Path],  # noqa: F811
    consumer: dict[str, bytes],  # noqa: F811
    oracle: dict[tuple[str, str], set[str]],
    tmp_path: Path,
    httpserver: Any,
) -> None:
    serve_corpus(httpserver, aars, ranges=True)
    url = httpserver.url_for("/").rstrip("/")
    env = _env(tmp_path)
    library = tmp_path / "arm64" / CONSUMER
    library.parent.mkdir()
    library.write_bytes(consumer["arm64-v8a"])

    data = _matrix_json(env, str(library), "--maven-repo", url)
    # DT_NEEDED libpytorch_jni.so: pytorch_android, and fbjni that every runtime brings.
    assert data["modules"] == ["org.pytorch:pytorch_android", "com.facebook.fbjni:fbjni"]
    assert data["abis"] == ["arm64-v8a"] and data["problems"] == []
    served = {c for c in aars if "pytorch_android_lite" not in c}
    assert {r["coordinate"] for r in data["releases"]} == served  # every published (served) release
    assert _check_against_oracle(data, oracle, {c.rsplit(":", 1)[0] for c in served}) == len(served)
    cells = {r["coordinate"]: r["cells"]["arm64-v8a"] for r in data["releases"]}
    assert cells[TORCH_1_10]["status"] == "resolves"  # the premise: built against 1.10.0 headers
    assert cells["org.pytorch:pytorch_android:1.13.1"]["status"] == "missing"

    # The package: the consumer is found among the runtime's own libraries, every ABI is a column.
    apk = write_apk(
        tmp_path / "app.apk", {**jni(aars[TORCH_1_10]), **{(a, CONSUMER): b for a, b in consumer.items()}}
    )
    data = _matrix_json(env, str(apk), "--maven-repo", url)
    assert data["consumer"]["library"] == CONSUMER and data["abis"] == sorted(ABIS)
    assert _check_against_oracle(data, oracle, {c.rsplit(":", 1)[0] for c in served}) == len(served) * len(
        ABIS
    )

    text = _matrix(env, str(apk), "--maven-repo", url)
    assert text.returncode == 0, text.stderr
    row = next(
        line for line in text.stdout.splitlines() if line.startswith("org.pytorch:pytorch_android:1.13.1 ")
    )
    assert row.split()[1:] == ["1", "missing"] * len(ABIS)
    assert "lacks torch::jit::SimpleValue::attr(" in text.stdout
    markdown = _matrix(env, str(apk), "--maven-repo", url, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.splitlines()[2].startswith("| release")
    assert any(
        line.startswith("| org.pytorch:pytorch_android:1.10.0") and line.count("resolves") == 4
        for line in markdown.stdout.splitlines()
    )


def test_matrix_offline_says_which_cells_were_not_checked(
    aars: dict[str, Path],  # noqa: F811
    consumer: dict[str, bytes],  # noqa: F811
    oracle: dict[tuple[str, str], set[str]],
    tmp_path: Path,
    httpserver: Any,
) -> None:
    serve_corpus(httpserver, aars, ranges=False)
    url = httpserver.url_for("/").rstrip("/")
    library = tmp_path / CONSUMER
    library.write_bytes(consumer["x86_64"])
    # A first run on a cache of its own only learns the version lists (its AARs are not kept).
    first = _env(tmp_path / "first")
    done = _matrix(first, str(library), "--maven-repo", url, "--format", "json")
    assert done.returncode == 0, done.stderr
    # Offline, with that version list and only 1.10.0 in a Gradle cache: the others are not checked.
    offline = _env(tmp_path / "second", gradle_home(tmp_path / "gradle", {TORCH_1_10: aars[TORCH_1_10]}))
    shutil.copytree(tmp_path / "first" / "cache" / "versions", tmp_path / "second" / "cache" / "versions")
    asked = len(httpserver.log)
    data = _matrix_json(offline, str(library), "--offline")
    assert len(httpserver.log) == asked
    cells = {r["coordinate"]: r["cells"]["x86_64"] for r in data["releases"]}
    assert set(cells) == {c for c in aars if "pytorch_android_lite" not in c}
    assert cells.pop(TORCH_1_10)["status"] == "resolves"
    for coordinate, cell in cells.items():
        assert cell["status"] == "not-checked" and cell["missing"] is None, coordinate
        assert "offline" in cell["reason"]
    text = _matrix(offline, str(library), "--offline")
    assert "not checked" in text.stdout and "offline" in text.stdout
