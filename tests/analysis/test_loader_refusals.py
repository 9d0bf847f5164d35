"""Every refusal of bionic's ElfReader and soinfo::prelink_image a packaged library can trigger,
in bionic's words (linker_phdr.cpp, linker.cpp @ aosp-mirror/platform_bionic main), with the
targetSdk gate bionic applies (``DL_ERROR_AFTER(26, ...)``).

The fixtures are ``fixtures/platform/refused/arm64-v8a/``: copies of ``libgood.so`` built by
``scripts/build_platform_fixtures.py`` with clang-19/lld-19 and edited after linking (EDITS), next
to the unedited ``libgood.so``, which must still be audited.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from tests.analysis.test_platform_rules_cli import PLATFORM, audit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import axml  # noqa: E402

REFUSED = PLATFORM / "refused"

# file -> (reason, bionic's message with the file name, targetSdk gate)
EXPECTED = {
    "libnoshdr.so": ("no-section-headers", '"libnoshdr.so" has no section headers', None),
    "libbadshoff.so": (
        "section-headers-out-of-range",
        '"libbadshoff.so" has invalid shdr offset/size: 956397711104/1088',  # 0xdeadbeef00, 17 * 64
        None,
    ),
    "libshentsize.so": ("e-shentsize", '"libshentsize.so" has unsupported e_shentsize: 0x20 (expected 0x40)', 26),
    "libshstrndx.so": ("e-shstrndx", '"libshstrndx.so" has invalid e_shstrndx', 26),
    "libnohash.so": (
        "no-hash-table",
        'empty/missing DT_HASH/DT_GNU_HASH in "libnohash.so" (new hash type from the future?)',
        None,
    ),
    "libnostrtab.so": ("no-dt-strtab", 'empty/missing DT_STRTAB in "libnostrtab.so"', None),
    "libnosymtab.so": ("no-dt-symtab", 'empty/missing DT_SYMTAB in "libnosymtab.so"', None),
    "libsyment.so": ("bad-dt-syment", 'invalid DT_SYMENT: 16 in "libsyment.so"', None),
}


def _apk(path: Path, target_sdk: int, names: list[str]) -> Path:
    manifest = axml.binary_xml(axml.manifest("org.example.refused", min_sdk=21, target_sdk=target_sdk))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:  # extracted: no zip alignment
        archive.writestr("AndroidManifest.xml", manifest)
        for name in names:
            archive.write(REFUSED / "arm64-v8a" / name, f"lib/arm64-v8a/{name}")
    return path


def _by_library(report: dict, rule: str) -> dict[str, dict]:
    return {f["library"]: f for f in report["findings"] if f["rule"] == rule}


def test_every_refusal_is_reported_in_bionics_words_and_the_neighbour_is_audited() -> None:
    code, report = audit("libs", str(REFUSED), "--min-sdk", "21")
    assert code == 1
    corrupt = _by_library(report, "corrupt-library")
    assert set(corrupt) == set(EXPECTED)
    for name, (reason, message, gate) in EXPECTED.items():
        finding = corrupt[name]
        assert finding["reason"] == reason and finding["severity"] == "error", name
        assert finding["message"].startswith(f"dlopen failed: {message}"), finding["message"]
        if gate is not None:  # no manifest: the targetSdk is unknown, so the gated refusal is fatal
            assert f"fatal for apps targeting API {gate}+" in finding["message"]
    good = next(lib for lib in report["libraries"] if lib["name"] == "libgood.so")
    assert good["error"] is None and good["exports"] > 0 and good["load_group"]
    assert not [f for f in report["findings"] if f["library"] == "libgood.so"]


def test_a_path_in_dt_needed_is_opened_literally() -> None:
    _, report = audit("libs", str(REFUSED), "--min-sdk", "21")
    finding = _by_library(report, "missing-library")["libneedpath.so"]
    assert finding["needed"] == "deps/liblog.so" and finding["reason"] == "path-in-needed"
    assert finding["message"] == 'dlopen failed: library "deps/liblog.so" not found: needed by libneedpath.so'
    assert finding["severity"] == "error"


def test_garbage_e_shoff_inside_an_apk_is_reported_while_its_neighbour_is_audited(tmp_path: Path) -> None:
    apk = _apk(tmp_path / "app.apk", 34, ["libbadshoff.so", "libgood.so"])
    code, report = audit("apk", str(apk))
    assert code == 1
    assert [(f["rule"], f["library"], f["reason"]) for f in report["findings"] if f["severity"] == "error"] == [
        ("corrupt-library", "libbadshoff.so", "section-headers-out-of-range")
    ]
    good = next(lib for lib in report["libraries"] if lib["name"] == "libgood.so")
    assert good["error"] is None and good["ndk"] is not None and good["load_group"][0] == "libgood.so"


@pytest.mark.parametrize("name", ["libshentsize.so", "libshstrndx.so"])
def test_header_refusals_are_warnings_below_target_sdk_26(tmp_path: Path, name: str) -> None:
    reason, message, gate = EXPECTED[name]
    _, old = audit("apk", str(_apk(tmp_path / "old.apk", 25, [name])))
    finding = _by_library(old, "corrupt-library")[name]
    assert finding["severity"] == "warning" and finding["reason"] == reason
    assert finding["message"].startswith(
        f"{message} and will not work when the app moves to targetSdkVersion {gate} or later"
    )
    loaded = next(lib for lib in old["libraries"] if lib["name"] == name)
    assert loaded["error"] is None and loaded["load_group"]  # bionic loads it: so is it audited
    _, new = audit("apk", str(_apk(tmp_path / "new.apk", 26, [name])))
    finding = _by_library(new, "corrupt-library")[name]
    assert finding["severity"] == "error"
    assert finding["message"] == f"dlopen failed: {message} (fatal for apps targeting API 26+; the app targets 26)"


def test_the_class_is_checked_before_the_machine(tmp_path: Path) -> None:
    # A 32-bit ARM library in arm64-v8a: bionic's VerifyElfHeader rejects the class first.
    source = PLATFORM / "good" / "armeabi-v7a" / "libgood.so"
    folder = tmp_path / "lib" / "arm64-v8a"
    folder.mkdir(parents=True)
    (folder / "libgood.so").write_bytes(source.read_bytes())
    _, report = audit("libs", str(tmp_path / "lib"), "--min-sdk", "21")
    wrong = _by_library(report, "wrong-arch")["libgood.so"]
    assert wrong["message"] == 'dlopen failed: "libgood.so" is 32-bit instead of 64-bit'


def test_a_gnu_unique_definition_is_no_export(tmp_path: Path) -> None:
    # bionic's is_symbol_global_and_defined (linker_relocate.h) accepts GLOBAL and WEAK only; it warns
    # "unexpected ST_BIND value: 10" and ignores a GNU_UNIQUE definition (REFERENCE.md 1.4).
    from symaudit.elf.reader import read_elf

    unique = (PLATFORM / "unique" / "arm64-v8a" / "libunique.so").read_bytes()
    good = (PLATFORM / "good" / "arm64-v8a" / "libgood.so").read_bytes()
    assert "good_entry" in read_elf(good, "libgood.so").exports
    assert "good_entry" not in read_elf(unique, "libunique.so").exports
    others = [name for name in read_elf(good, "libgood.so").exports.names if name != "good_entry"]
    assert others == list(read_elf(unique, "libunique.so").exports.names)
