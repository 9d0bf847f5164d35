"""Packages whose members inflate far past their size: memory stays bounded (a large member is
spilled to an unnamed temporary file and mapped), a bomb is refused as soon as it passes its
bound, and a package Android itself refuses (duplicate entry names) is an input error."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hostile import payloads
from tests.hostile.bounded import assert_held, run_bounded


def test_a_3_mb_zip_bomb_is_refused_without_holding_what_it_inflates(tmp_path: Path) -> None:
    # It reached 1.2 GB before the refusal: the bound (200x) was checked after one big read.
    package = payloads.write(tmp_path / "bomb.apk", payloads.zip_bomb_apk())
    assert package.stat().st_size < 4 << 20
    outcome = assert_held(run_bounded("apk", str(package)), exits=(2,))
    assert "zip bomb" in outcome.stderr and outcome.stderr.strip().count("\n") == 0
    assert outcome.peak_bytes < 256 << 20, outcome.describe()


def test_a_library_inflating_to_1000_mib_is_spilled_and_mapped_not_held(tmp_path: Path) -> None:
    package = payloads.write(tmp_path / "big.apk", payloads.big_library_apk())
    assert package.stat().st_size < 10 << 20
    outcome = assert_held(run_bounded("apk", str(package), "--format", "json"))
    libraries = {lib["name"]: lib for lib in json.loads(outcome.stdout)["libraries"]}
    assert libraries["libhuge.so"]["error"] is None and libraries["libhuge.so"]["size"] == (1000 << 20) + 368
    assert libraries["libhuge.so"]["sha256"]
    assert outcome.peak_bytes < 256 << 20, outcome.describe()


def test_diff_of_a_package_with_a_1000_mib_library_maps_it_not_holds_it(tmp_path: Path) -> None:
    package = payloads.write(tmp_path / "big.apk", payloads.big_library_apk())
    outcome = assert_held(
        run_bounded("diff", str(package), str(package), "--library", "libhuge.so", "--format", "json")
    )
    assert json.loads(outcome.stdout)["a"]["sha256"] == json.loads(outcome.stdout)["b"]["sha256"]
    assert outcome.peak_bytes < 256 << 20, outcome.describe()


def test_a_1000_mib_library_in_a_split_apk_of_an_apk_set_is_spilled_too(tmp_path: Path) -> None:
    inner = payloads.big_library_apk()
    package = payloads.write(
        tmp_path / "big.apks", payloads.apk({"splits/base-arm64_v8a.apk": inner}, payloads.STORED)
    )
    outcome = assert_held(run_bounded("apk", str(package), "--format", "json"))
    libraries = {lib["name"]: lib for lib in json.loads(outcome.stdout)["libraries"]}
    assert libraries["libhuge.so"]["error"] is None
    assert outcome.peak_bytes < 256 << 20, outcome.describe()


def test_duplicate_entry_names_are_refused_as_android_does(tmp_path: Path) -> None:
    # zipfile keeps both entries: the verdict depended on which of the two a lookup found.
    package = payloads.write(tmp_path / "dup.apk", payloads.duplicate_names_apk())
    outcome = assert_held(run_bounded("apk", str(package)), exits=(2,))
    assert "two entries named lib/arm64-v8a/libdup.so" in outcome.stderr
    assert "libziparchive" in outcome.stderr and outcome.stderr.strip().count("\n") == 0
