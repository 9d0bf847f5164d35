"""The platform rules, end to end on the committed fixtures (fixtures/platform, scripts/build_platform_fixtures.py).

Every rule has a scenario that triggers it and one that does not. Runs the real CLI in a
subprocess with every NDK-locating environment variable cleared, so the machine's own NDK (if
any) cannot change the verdicts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from symaudit.rules import platform as platform_rules
from tests import symaudit_cli

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "fixtures" / "platform"
PACKAGES = ROOT / "fixtures" / "packages"
FAKE_NDK = PLATFORM / "ndk"
NDK_VARIABLES = (
    "ANDROID_NDK_HOME",
    "ANDROID_NDK_ROOT",
    "ANDROID_NDK",
    "NDK_ROOT",
    "ANDROID_HOME",
    "ANDROID_SDK_ROOT",
)

Row = tuple[str, str | None, str | None, str]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return symaudit_cli.run(*args, cwd=cwd or ROOT, env=env, unset=NDK_VARIABLES)


def audit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[int, dict]:
    result = run(*args, "--format", "json", env=env, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def rows(report: dict, *, infos: bool = False) -> set[Row]:
    return {
        (f["rule"], f["abi"], f["library"], f["severity"])
        for f in report["findings"]
        if infos or f["severity"] != "info"
    }


def platform_rows(report: dict) -> set[Row]:
    """Findings of platform rules only (the link resolver's are tested elsewhere)."""
    ids = {rule.id for rule in platform_rules.RULES}
    return {row for row in rows(report, infos=True) if row[0] in ids and row[0] != "ndk-not-found"}


TRIGGERS: list[tuple[str, tuple[str, ...], set[Row]]] = [
    (
        "align-4k",
        ("--min-sdk", "21"),
        {
            ("load-align-16k", "arm64-v8a", "libalign4k.so", "error"),
            ("load-align-16k", "x86_64", "libalign4k.so", "error"),
        },  # armeabi-v7a's copy is 4 KB aligned too, and exempt
    ),
    ("exec-stack", ("--min-sdk", "21"), {("executable-stack", "arm64-v8a", "libexecstack.so", "warning")}),
    ("textrel", ("--min-sdk", "23"), {("text-relocations", "x86", "libtextrel.so", "error")}),
    ("no-soname", ("--min-sdk", "21"), {("missing-soname", "arm64-v8a", "libnosoname.so", "warning")}),
    (
        "gnu-hash",
        ("--min-sdk", "21"),
        {("gnu-hash-without-sysv-hash", "arm64-v8a", "libgnuhash.so", "error")},
    ),
    (
        "gnu-hash",
        (),  # no minSdk: judged at the assumed level (the library's API 21), a warning, and said once
        {
            ("gnu-hash-without-sysv-hash", "arm64-v8a", "libgnuhash.so", "warning"),
            ("min-sdk-assumed", None, None, "info"),
        },
    ),
    ("relr", ("--min-sdk", "28"), {("relr-before-api-28", "arm64-v8a", "librelr.so", "error")}),
    ("tls", ("--min-sdk", "24"), {("elf-tls-before-api-29", "arm64-v8a", "libtls.so", "error")}),
    ("api26", ("--min-sdk", "21"), {("api-level-above-min-sdk", "arm64-v8a", "libapi26.so", "warning")}),
    ("private", ("--min-sdk", "21"), {("private-platform-library", "arm64-v8a", "libprivate.so", "error")}),
    ("stl-gnustl", ("--min-sdk", "21"), {("stl-mixed", "arm64-v8a", "libgnustl_shared.so", "error")}),
    ("stl-static", ("--min-sdk", "21"), {("stl-mixed", "arm64-v8a", "libstaticcxx.so", "error")}),
]

CLEAN: list[tuple[str, tuple[str, ...]]] = [
    ("good", ("--min-sdk", "21")),
    ("gnu-hash", ("--min-sdk", "23")),
    ("relr", ("--min-sdk", "30")),
    ("tls", ("--min-sdk", "29")),
    ("api26", ("--min-sdk", "26")),
    ("textrel", ("--min-sdk", "21", "--ignore", "text-relocations")),
]


@pytest.mark.parametrize(("scenario", "args", "expected"), TRIGGERS, ids=[f"{t[0]}{t[1]}" for t in TRIGGERS])
def test_rule_fires(scenario: str, args: tuple[str, ...], expected: set[Row]) -> None:
    code, report = audit("libs", str(PLATFORM / scenario), *args)
    assert platform_rows(report) == expected
    assert code == (1 if any(row[3] == "error" for row in expected) else 0)
    for finding in report["findings"]:
        if finding["rule"] in {row[0] for row in expected}:
            assert finding["hint"] and finding["message"]
            assert finding["path"] or finding["library"] is None  # package-level infos name no file


@pytest.mark.parametrize(("scenario", "args"), CLEAN, ids=[f"{c[0]}{c[1]}" for c in CLEAN])
def test_rule_quiet(scenario: str, args: tuple[str, ...]) -> None:
    code, report = audit("libs", str(PLATFORM / scenario), *args)
    assert platform_rows(report) == set()
    assert code == 0


def test_good_library_on_every_abi_is_clean_and_identified() -> None:
    code, report = audit("libs", str(PLATFORM / "good"), "--min-sdk", "21")
    assert code == 0 and rows(report) == set()
    assert {lib["abi"] for lib in report["libraries"]} == {"arm64-v8a", "armeabi-v7a", "x86", "x86_64"}
    for lib in report["libraries"]:
        assert lib["ndk"] == {
            "release": "r26b",
            "build": "10909125",
            "api": 21,
            "clang": None,
            "source": "note",
        }
        assert lib["stl"] == "none"


def test_text_relocations_are_a_warning_only_for_old_apps() -> None:
    _, report = audit("libs", str(PLATFORM / "textrel"), "--min-sdk", "21")
    # A folder has no manifest, so targetSdk is unknown: modern apps target 23+, so an error.
    assert platform_rows(report) == {("text-relocations", "x86", "libtextrel.so", "error")}


def test_64_bit_libraries_are_judged_at_api_21_at_least() -> None:
    """No 64-bit device runs below API 21: a 64-bit library built for 21 is fine under minSdk 16."""
    _, report = audit("libs", str(PLATFORM / "good"), "--min-sdk", "16")
    assert {(r[0], r[1]) for r in platform_rows(report)} == {
        ("api-level-above-min-sdk", "armeabi-v7a"),
        ("api-level-above-min-sdk", "x86"),
    }


# -- C++ runtime drift and identification on the core fixtures ---------------------------------------


def test_pickfirst_old_libcxx_is_stl_ndk_mismatch() -> None:
    code, report = audit("apk", str(PACKAGES / "cxx-drift.apk"))
    assert code == 1
    mismatch = {
        (f["abi"], f["library"], f["severity"]) for f in report["findings"] if f["rule"] == "stl-ndk-mismatch"
    }
    abis = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
    assert mismatch == {
        (abi, lib, "error") for abi in abis for lib in ("libdriftdemo.so", "libpytorch_jni.so")
    }
    finding = next(f for f in report["findings"] if f["rule"] == "stl-ndk-mismatch")
    assert finding["built_with"] == "r26b" and finding["shipped"] == "r21b"
    assert finding["symbol"] == "_ZNSt6__ndk122__libcpp_verbose_abortEPKcz"


@pytest.mark.parametrize("name", ["clean.apk", "clean-old.apk"])
def test_coherent_packages_have_no_platform_findings(name: str) -> None:
    code, report = audit("apk", str(PACKAGES / name))
    assert code == 0 and platform_rows(report) == set()
    assert report["app"]["min_sdk"] == 21 and report["app"]["min_sdk_source"] == "AndroidManifest.xml"


def test_identification_fields_of_the_clean_apk() -> None:
    _, report = audit("apk", str(PACKAGES / "clean.apk"))
    by_name = {(lib["abi"], lib["name"]): lib for lib in report["libraries"]}
    cxx = by_name[("arm64-v8a", "libc++_shared.so")]
    assert cxx["stl"] == "c++_shared"
    assert cxx["ndk"]["release"] == "r26b" and cxx["ndk"]["build"] == "10909125" and cxx["ndk"]["api"] == 21
    assert cxx["ndk"]["clang"] == "17.0.2"  # from the .comment banner
    wenet = by_name[("arm64-v8a", "libwenet.so")]
    assert wenet["stl"] == "c++_shared" and wenet["ndk"]["release"] == "r21b"


def test_prefab_abi_json_feeds_identification() -> None:
    _, report = audit("aar", str(PACKAGES / "fbjni-prefab.aar"))
    libs = [lib for lib in report["libraries"] if lib["name"] == "libfbjni.so"]
    assert libs and all("prefab" in lib["ndk"]["source"] for lib in libs)


def test_stored_libraries_must_be_16k_aligned_in_an_apk() -> None:
    code, report = audit("apk", str(PLATFORM / "packages" / "unaligned.apk"))
    assert code == 1
    assert platform_rows(report) == {
        ("zip-align-16k", "arm64-v8a", "libgood.so", "error"),
        ("zip-align-16k", "x86_64", "libgood.so", "error"),
    }
    # The offsets the finding reports are the real data offsets in the zip.
    import zipfile

    raw = (PLATFORM / "packages" / "unaligned.apk").read_bytes()
    with zipfile.ZipFile(PLATFORM / "packages" / "unaligned.apk") as archive:
        for finding in (f for f in report["findings"] if f["rule"] == "zip-align-16k"):
            info = archive.getinfo(finding["path"])
            name_length, extra_length = (
                int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little"),
                int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little"),
            )
            assert finding["offset"] == info.header_offset + 30 + name_length + extra_length
            assert finding["offset"] % 16384 != 0


@pytest.mark.parametrize("name", ["aligned.apk", "compressed-extract.apk"])
def test_aligned_or_extracted_libraries_pass(name: str) -> None:
    code, report = audit("apk", str(PLATFORM / "packages" / name))
    assert code == 0 and platform_rows(report) == set()


def test_compressed_libraries_need_extract_native_libs() -> None:
    code, report = audit("apk", str(PLATFORM / "packages" / "compressed-noextract.apk"))
    assert code == 1
    assert {(r[0], r[1]) for r in platform_rows(report)} == {
        ("zip-align-16k", abi) for abi in ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
    }
    assert all(
        "extractNativeLibs" in f["message"] for f in report["findings"] if f["rule"] == "zip-align-16k"
    )


# -- platform symbols against an NDK sysroot ---------------------------------------------------------

# Levels from the platform symbol table (bionic libc.map.txt, system/logging liblog.map.txt: the
# aborter is LIBLOG_R, API 30); the fake NDK's stubs stop at API 28 and agree below that.
SYMBOLS_AT = {
    21: {"getifaddrs": 24, "aligned_alloc": 28, "__android_log_call_aborter": 30},
    24: {"aligned_alloc": 28, "__android_log_call_aborter": 30},
    28: {"__android_log_call_aborter": 30},
}


def _unavailable(report: dict) -> dict[str, int | None]:
    return {
        f["symbol"]: f["introduced"] for f in report["findings"] if f["rule"] == "platform-symbol-unavailable"
    }


@pytest.mark.parametrize("min_sdk", sorted(SYMBOLS_AT))
def test_platform_symbols_introduced_above_min_sdk(min_sdk: int) -> None:
    code, report = audit(
        "libs", str(PLATFORM / "platform-symbols"), "--min-sdk", str(min_sdk), "--ndk", str(FAKE_NDK)
    )
    assert _unavailable(report) == SYMBOLS_AT[min_sdk]
    assert code == 1
    assert "ndk-not-found" not in {f["rule"] for f in report["findings"]}


@pytest.mark.parametrize("min_sdk", sorted(SYMBOLS_AT))
def test_without_an_ndk_the_table_decides_the_same(min_sdk: int) -> None:
    code, report = audit("libs", str(PLATFORM / "platform-symbols"), "--min-sdk", str(min_sdk))
    assert code == 1 and _unavailable(report) == SYMBOLS_AT[min_sdk]
    assert "ndk-not-found" not in {f["rule"] for f in report["findings"]}
    assert "not checked" not in run("libs", str(PLATFORM / "platform-symbols"), "--min-sdk", str(min_sdk)).stdout


@pytest.mark.parametrize("variable", ["ANDROID_NDK_HOME", "ANDROID_NDK_ROOT"])
def test_ndk_from_environment(variable: str) -> None:
    _, report = audit(
        "libs", str(PLATFORM / "platform-symbols"), "--min-sdk", "21", env={variable: str(FAKE_NDK)}
    )
    assert _unavailable(report) == SYMBOLS_AT[21]


@pytest.mark.parametrize("variable", ["ANDROID_HOME", "ANDROID_SDK_ROOT"])
def test_ndk_side_by_side_in_the_sdk(tmp_path: Path, variable: str) -> None:
    sdk = tmp_path / "sdk"
    shutil.copytree(FAKE_NDK, sdk / "ndk" / "26.1.10909125")
    (sdk / "ndk" / "25.2.9519653").mkdir(parents=True)  # not an NDK: no source.properties
    _, report = audit("libs", str(PLATFORM / "platform-symbols"), "--min-sdk", "24", env={variable: str(sdk)})
    assert _unavailable(report) == SYMBOLS_AT[24]


@pytest.mark.parametrize("key", ["ndk.dir", "sdk.dir"])
def test_ndk_from_local_properties_next_to_the_input(tmp_path: Path, key: str) -> None:
    project = tmp_path / "project"
    shutil.copytree(PLATFORM / "platform-symbols", project / "libs")
    if key == "ndk.dir":
        target = FAKE_NDK
    else:
        target = tmp_path / "sdk"
        shutil.copytree(FAKE_NDK, target / "ndk" / "26.1.10909125")
    escaped = str(target).replace("\\", "\\\\").replace(":", "\\:")
    (project / "local.properties").write_text(f"# written by Android Studio\n{key}={escaped}\n")
    _, report = audit("libs", str(project / "libs"), "--min-sdk", "28")
    assert _unavailable(report) == SYMBOLS_AT[28]


def test_explicit_ndk_wins_and_a_bad_one_is_an_input_error(tmp_path: Path) -> None:
    result = run(
        "libs",
        str(PLATFORM / "platform-symbols"),
        "--ndk",
        str(tmp_path),
        env={"ANDROID_NDK_HOME": str(FAKE_NDK)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert str(tmp_path) in result.stderr and "not an Android NDK" in result.stderr


def test_every_platform_rule_is_documented() -> None:
    result = run("rules")
    assert result.returncode == 0
    for rule in platform_rules.RULES:
        assert rule.id in result.stdout
        for heading in ("## What it finds", "## Why it matters", "## Example", "## Fix"):
            assert heading in rule.doc, (rule.id, heading)


def test_platform_symbols_available_at_min_sdk_are_quiet_with_an_ndk() -> None:
    # libgood.so imports malloc@LIBC and __android_log_print: both in the API 21 stubs.
    code, report = audit("libs", str(PLATFORM / "good"), "--min-sdk", "21", "--ndk", str(FAKE_NDK))
    assert code == 0 and rows(report, infos=True) == set()
