"""Hostile inputs around the package: folder links that leave the folder, nesting past any real
layout, huge or deep values in the config and baseline, an output that names an input."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.hostile import elves, payloads
from tests.hostile.bounded import assert_held, run_bounded


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return payloads.write(tmp_path / "app.apk", payloads.apk(payloads.with_library({})))


def _one_line_input_error(outcome_stderr: str, *words: str) -> None:
    assert outcome_stderr.startswith("symaudit: error: ") and outcome_stderr.strip().count("\n") == 0
    for word in words:
        assert word in outcome_stderr


def test_folder_link_to_a_file_outside_is_reported_never_read_or_hashed(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_bytes(elves.plain() + b"secret")
    folder = tmp_path / "jniLibs" / "arm64-v8a"
    folder.mkdir(parents=True)
    (folder / "libok.so").write_bytes(elves.plain())
    os.symlink(secret, folder / "libleak.so")
    os.symlink("libok.so", folder / "libalias.so")  # inside the folder: read through, as before
    outcome = assert_held(run_bounded("apk", str(tmp_path / "jniLibs"), "--format", "json"), exits=(1,))
    report = json.loads(outcome.stdout)
    leak = {lib["name"]: lib for lib in report["libraries"]}["libleak.so"]
    assert leak["sha256"] is None and leak["size"] == 0 and "outside the folder" in leak["error"]
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in outcome.stdout
    assert str(secret.stat().st_size) not in {str(lib["size"]) for lib in report["libraries"]}
    alias = {lib["name"]: lib for lib in report["libraries"]}["libalias.so"]
    assert alias["error"] is None


def test_folder_nested_1200_deep_is_a_one_line_input_error(tmp_path: Path) -> None:
    root = tmp_path / "deep"
    (root / "arm64-v8a").mkdir(parents=True)
    (root / "arm64-v8a" / "libok.so").write_bytes(elves.plain())
    chain = [root]
    for _ in range(1200):  # os.makedirs and shutil.rmtree recurse: build and remove by hand
        chain.append(chain[-1] / "d")
        chain[-1].mkdir()
    try:
        outcome = assert_held(run_bounded("apk", str(root)), exits=(2,))
        _one_line_input_error(outcome.stderr, "nested more than 64 deep")
    finally:
        for folder in reversed(chain[1:]):
            folder.rmdir()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fail-on = " + "[" * 100_000 + "]" * 100_000 + "\n", ("invalid TOML", "nested too deeply")),
        ("min-sdk = " + "9" * 5000 + "\n", ("invalid TOML", "4300")),
    ],
    ids=["nested-100000", "int-5000-digits"],
)
def test_deep_or_huge_config_values_are_one_line_input_errors(
    tmp_path: Path, package: Path, text: str, words: tuple[str, ...]
) -> None:
    config = tmp_path / "symaudit.toml"
    config.write_text(text)
    outcome = assert_held(run_bounded("apk", str(package), "--config", str(config)), exits=(2,))
    _one_line_input_error(outcome.stderr, str(config), *words)


@pytest.mark.parametrize("reader", ["baseline", "comment"])
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, ("nested too deeply",)),
        ('{"schema": ' + "9" * 5000 + "}", ("4300",)),
    ],
    ids=["nested-100000", "int-5000-digits"],
)
def test_deep_or_huge_report_values_are_one_line_input_errors(
    tmp_path: Path, package: Path, text: str, words: tuple[str, ...], reader: str
) -> None:
    """A JSON report read back, as ``--baseline`` or by ``symaudit comment``."""
    report = tmp_path / "report.json"
    report.write_text(text)
    args = {
        "baseline": ("apk", str(package), "--baseline", str(report)),
        "comment": ("comment", str(report), "--dry-run", "--repo", "o/r", "--pr", "1"),
    }[reader]
    outcome = assert_held(run_bounded(*args), exits=(2,))
    _one_line_input_error(outcome.stderr, str(report), *words)


@pytest.mark.parametrize("spelling", ["same", "relative", "link"])
def test_an_output_naming_the_input_is_refused_and_the_input_kept(
    tmp_path: Path, package: Path, spelling: str
) -> None:
    before = package.read_bytes()
    target = {"same": str(package), "relative": package.name, "link": str(tmp_path / "alias.apk")}[spelling]
    if spelling == "link":
        os.symlink(package, target)
    outcome = assert_held(
        run_bounded("apk", str(package), "--format", "json", "-o", target, cwd=tmp_path), exits=(2,)
    )
    _one_line_input_error(outcome.stderr, "is an input of this run")
    assert package.read_bytes() == before
