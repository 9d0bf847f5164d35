"""Platform identification and the 16 KB rules on real NDK binaries, checked against llvm-readelf.

hermes-engine 0.11.0 was built with NDK r21b: its 64-bit libraries are 4 KB aligned (they must be
flagged) and its libc++_shared.so carries an r21b note. Expected values come from
``llvm-readelf -n``, ``--string-dump=.comment`` and ``-l``, and from the zip's own local headers.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

from tests.corpus.aars import HERMES_CPPRUNTIME, HERMES_RELEASE, RN, audit_json, jni_libraries

SIXTY_FOUR = ("arm64-v8a", "x86_64")


def _readelf(readelf: str, path: Path, *args: str) -> str:
    return subprocess.run(
        [readelf, *args, str(path)], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def _note(readelf: str, path: Path) -> tuple[int | None, str | None, str | None]:
    """(API level, NDK version, build number) from the Android note llvm-readelf -n dumps (as hex)."""
    text = _readelf(readelf, path, "-n")
    section = text.split(".note.android.ident", 1)
    match = re.search(r"description data:\s*((?:[0-9a-f]{2}\s*)+)", section[1]) if len(section) > 1 else None
    if match:
        desc = bytes.fromhex(match.group(1))
    else:
        # llvm-readelf refuses notes in a section aligned to 2 (hermes' x86 builds); the loader
        # and symaudit read them through PT_NOTE. Take the section's raw bytes instead.
        dump = _readelf(readelf, path, "-x", ".note.android.ident")
        words = [w for line in dump.splitlines() if line.strip().startswith("0x") for w in line.split()[1:5]]
        raw = bytes.fromhex("".join(w for w in words if re.fullmatch(r"[0-9a-f]{1,8}", w)))
        if len(raw) < 20:
            return None, None, None
        desc = raw[20:]

    def c_string(raw: bytes) -> str | None:
        return raw.split(b"\0", 1)[0].decode() or None

    return int.from_bytes(desc[:4], "little"), c_string(desc[4:68]), c_string(desc[68:132])


def _clang(readelf: str, path: Path) -> str | None:
    text = _readelf(readelf, path, "--string-dump=.comment")
    match = re.search(r"clang version ([\d.]+)", text)
    return match.group(1) if match else None


def _load_aligns(readelf: str, path: Path) -> list[int]:
    text = _readelf(readelf, path, "-lW")
    return [int(line.split()[-1], 16) for line in text.splitlines() if line.strip().startswith("LOAD")]


def test_identification_matches_llvm_readelf(corpus: dict[str, Path], readelf: str, tmp_path: Path) -> None:
    aar = corpus[HERMES_CPPRUNTIME]
    _, report = audit_json("aar", str(aar), "--min-sdk", "21")
    libraries = jni_libraries(aar)
    assert report["libraries"], "the AAR has libraries"
    for lib in report["libraries"]:
        path = tmp_path / f"{lib['abi']}-{lib['name']}"
        path.write_bytes(libraries[(lib["abi"], lib["name"])])
        api, version, build = _note(readelf, path)
        assert api is not None, "hermes' libc++_shared.so carries an Android note"
        assert lib["ndk"]["api"] == api
        assert lib["ndk"]["release"] == version == "r21b"
        assert lib["ndk"]["build"] == build
        assert lib["ndk"]["clang"] == _clang(readelf, path)
        assert lib["stl"] == "c++_shared"


def test_16k_rules_match_llvm_readelf_and_zip_offsets(
    corpus: dict[str, Path], readelf: str, tmp_path: Path
) -> None:
    # An APK made of the release bundle, libraries stored (not deflated) as they come, unaligned.
    libraries = jni_libraries(corpus[RN]) | jni_libraries(corpus[HERMES_RELEASE])
    apk = tmp_path / "app.apk"
    with zipfile.ZipFile(apk, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("AndroidManifest.xml", b"")  # an APK, for the container reader
        archive.writestr("classes.dex", b"dex\n035\0")
        for (abi, name), data in sorted(libraries.items()):
            archive.writestr(f"lib/{abi}/{name}", data)
    _, report = audit_json("apk", str(apk), "--min-sdk", "21")
    load = {(f["abi"], f["library"]) for f in report["findings"] if f["rule"] == "load-align-16k"}
    zip_align = {
        (f["abi"], f["library"]): f["offset"] for f in report["findings"] if f["rule"] == "zip-align-16k"
    }

    expected_load = set()
    for (abi, name), data in libraries.items():
        path = tmp_path / f"{abi}-{name}"
        path.write_bytes(data)
        aligns = _load_aligns(readelf, path)
        if abi in SIXTY_FOUR and any(a < 16384 for a in aligns):
            expected_load.add((abi, name))
    assert load == expected_load
    assert ("arm64-v8a", "libhermes.so") in load  # REFERENCE: hermes 0.11's 64-bit libs are 4 KB aligned

    raw = apk.read_bytes()
    expected_zip = {}
    with zipfile.ZipFile(apk) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            if len(parts) != 3 or parts[0] != "lib" or parts[1] not in SIXTY_FOUR:
                continue
            at = info.header_offset
            offset = (
                at
                + 30
                + int.from_bytes(raw[at + 26 : at + 28], "little")
                + int.from_bytes(raw[at + 28 : at + 30], "little")
            )
            if offset % 16384:
                expected_zip[(parts[1], parts[2])] = offset
    assert zip_align == expected_zip
