"""Bad input, end to end in a real subprocess: one line on stderr naming the file and the problem,
exit 2, never a traceback; a broken library *inside* a package is a ``corrupt-library`` finding
(exit 1) and the rest of the package is still audited.

Every case starts from the committed fixtures and damages a copy; none needs the toolchain.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from containers.builders import central_entries, set_flag, zeros_deflated
from containers.unprivileged import NOBODY, shared_folder

from tests.required import built, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SCHEMA = json.loads((ROOT / "symaudit" / "schemas" / "report-1.json").read_text())
ARM64_FBJNI = "lib/arm64-v8a/libfbjni.so"
LOADER_FIELDS = ("soname", "needed", "machine", "elf_class", "exports", "imports", "load_group", "error")
LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 7080\n"
)


def problems(report: dict) -> list[dict]:
    """Findings other than infos (``ndk-not-found`` is an info on every machine without an NDK)."""
    return [f for f in report["findings"] if f["severity"] != "info"]


def _fixture(relative: str) -> Path:
    return built(FIXTURES / relative)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


# No network, no reference lookups, no NDK from this machine: the same findings everywhere.
# SYMAUDIT_DEBUG would turn the one-line errors under test into tracebacks.
QUIET_ENV = {"SYMAUDIT_OFFLINE": "1", "SYMAUDIT_REFERENCES": "0"}
UNSET_ENV = ("SYMAUDIT_DEBUG", "SYMAUDIT_MAVEN_REPOS", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "ANDROID_HOME")


def _environment() -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(ROOT)}
    for name in UNSET_ENV:
        env.pop(name, None)
    return env


def run(*args: str | Path) -> Result:
    env = _environment()
    done = subprocess.run(
        [sys.executable, "-m", "symaudit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def _main_in_process(args: list[str]) -> Result:
    from symaudit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return Result(code, out.getvalue(), err.getvalue())


def run_unprivileged(*args: str | Path) -> Result:
    """``run`` as a user that file modes apply to. Root reads any file, and ``nobody`` may not
    reach this interpreter, so as root the CLI's ``main`` runs in a forked child that has dropped
    to ``nobody`` (the pattern of ``tests/containers/unprivileged.py``), after one privileged run
    has imported every module it needs."""
    argv = [str(arg) for arg in args]
    if os.geteuid() != 0:
        return run(*argv)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _environment().items():
            patch.setenv(name, value)
        for name in UNSET_ENV:
            patch.delenv(name, raising=False)
        return _forked_as_nobody(argv)


def _forked_as_nobody(argv: list[str]) -> Result:
    _main_in_process(argv)  # imports the lazily imported modules while they are readable
    files = [tempfile.TemporaryFile() for _ in ("stdout", "stderr", "status")]
    child = os.fork()
    if child == 0:  # never returns into pytest
        code = 70
        try:
            os.dup2(files[0].fileno(), 1)
            os.dup2(files[1].fileno(), 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            try:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            except OSError as exc:
                files[2].write(f"cannot drop root privileges: {exc}".encode())
                files[2].flush()
                os._exit(code)
            try:
                from symaudit.cli import main

                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    texts = []
    for handle in files:
        handle.seek(0)
        texts.append(handle.read().decode())
        handle.close()
    if texts[2]:
        skip_or_fail(f"running as root and {texts[2]}; root reads any file, so no permission error")
    return Result(os.waitstatus_to_exitcode(status), texts[0], texts[1])


def assert_input_error(result: Result, path: str | Path, problem: str) -> str:
    """Exit 2 and exactly one stderr line naming ``path`` and ``problem``; returns the line."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("symaudit: error: "), line
    assert "internal error" not in line
    assert str(path) in line, line
    assert problem in line, line
    assert result.stdout == ""
    return line


def audit_json(*args: str | Path, unprivileged: bool = False) -> tuple[int, dict]:
    result = (run_unprivileged if unprivileged else run)(*args, "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    return result.returncode, report


def corrupt(report: dict) -> list[tuple[str, str, str]]:
    return sorted(
        (f["abi"], f["library"], f["message"]) for f in report["findings"] if f["rule"] == "corrupt-library"
    )


def healthy(report: dict) -> int:
    return sum(1 for lib in report["libraries"] if lib["error"] is None)


def assert_only_broken(report: dict, abi: str, library: str, problem: str) -> None:
    """``library`` in ``abi`` is the one corrupt library, for ``problem``; everything else parsed."""
    [(found_abi, found_library, message)] = corrupt(report)
    assert (found_abi, found_library) == (abi, library)
    assert problem in message, message
    broken = [(lib["abi"], lib["name"]) for lib in report["libraries"] if lib["error"]]
    assert broken == [(abi, library)]
    assert healthy(report) == len(report["libraries"]) - 1 > 0


def folder_copy(tmp: Path) -> Path:
    """A copy of ``clean-folder`` (``<abi>/lib*.so`` for four ABIs) that a test may damage."""
    copy = tmp / "jniLibs"
    shutil.copytree(_fixture("packages/clean-folder"), copy)
    return copy


def library_count(folder: Path) -> int:
    return sum(1 for path in folder.glob("*/lib*.so") if path.is_file())


# --- paths that are not an input --------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "app-release.apk"
    assert_input_error(run("apk", missing), missing, "no such file or directory")


def test_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "jniLibs"
    empty.mkdir()
    assert_input_error(run("libs", empty), empty, "no native libraries found (expected <abi>/lib*.so)")


def test_folder_without_abi_folders(tmp_path: Path) -> None:
    folder = tmp_path / "build"
    (folder / "intermediates").mkdir(parents=True)
    shutil.copy(_fixture("packages/clean-folder/arm64-v8a/libfbjni.so"), folder / "intermediates")
    shutil.copy(_fixture("packages/clean-folder/arm64-v8a/libwenet.so"), folder)
    assert_input_error(run("libs", folder), folder, "no native libraries found (expected <abi>/lib*.so)")


def test_text_file_given_to_apk_is_not_a_zip(tmp_path: Path) -> None:
    text = tmp_path / "app.apk"
    text.write_text("<html>404 Not Found</html>\n")
    assert_input_error(run("apk", text), text, "not a zip archive")


def test_fifo_named_so_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "libpipe.so"
    os.mkfifo(fifo)
    assert_input_error(run("libs", fifo), fifo, "not a regular file")


def test_directory_named_like_a_library(tmp_path: Path) -> None:
    alone = tmp_path / "lib.so"
    alone.mkdir()
    assert_input_error(run("libs", alone), alone, "no native libraries found")
    # inside an ABI folder it is not a library at all: the real ones are audited as usual
    folder = folder_copy(tmp_path)
    (folder / "arm64-v8a" / "libdir.so").mkdir()
    code, report = audit_json("libs", folder)
    assert code == 0 and problems(report) == []
    assert len(report["libraries"]) == library_count(folder)
    assert "libdir.so" not in {lib["name"] for lib in report["libraries"]}


# --- damaged zips -----------------------------------------------------------------------------


@pytest.mark.parametrize("keep", ["half", "all-but-eocd-tail", "first-100-bytes"])
def test_truncated_apk(tmp_path: Path, keep: str) -> None:
    data = _fixture("packages/clean.apk").read_bytes()
    size = {"half": len(data) // 2, "all-but-eocd-tail": len(data) - 10, "first-100-bytes": 100}[keep]
    cut = tmp_path / "app.apk"
    cut.write_bytes(data[:size])
    assert_input_error(run("apk", cut), cut, "corrupt or truncated zip archive")


def test_encrypted_library_is_a_finding_and_the_rest_is_audited(tmp_path: Path) -> None:
    data = _fixture("packages/clean.apk").read_bytes()
    encrypted = tmp_path / "app.apk"
    encrypted.write_bytes(set_flag(data, ARM64_FBJNI, 0x1))  # general purpose bit 0: encrypted
    code, report = audit_json("apk", encrypted)
    assert code == 1
    assert_only_broken(report, "arm64-v8a", "libfbjni.so", "encrypted")
    [finding] = [f for f in report["findings"] if f["rule"] == "corrupt-library"]
    assert "libwenet.so" in finding["affected"]  # it needs the unreadable library


def _with_member(data: bytes, name: str, payload: bytes, declared_size: int, crc: int) -> bytes:
    """``data`` with member ``name`` replaced, written by zipfile and then given a declared
    uncompressed size and CRC of our choosing, in both its local and its central header."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename == name:
                target.writestr(name, b"", zipfile.ZIP_DEFLATED)
            else:
                target.writestr(info, source.read(info))
    # swap the empty deflate stream for ``payload``: rebuild by hand from the central directory
    built = out.getvalue()
    entries = central_entries(built)
    central, local = entries[name]
    name_length, extra_length = struct.unpack_from("<HH", built, local + 26)
    start = local + 30 + name_length + extra_length
    (old_size,) = struct.unpack_from("<I", built, local + 18)
    patched = bytearray(built[:start] + payload + built[start + old_size :])
    shift = len(payload) - old_size
    struct.pack_into("<III", patched, local + 14, crc, len(payload), declared_size)
    directory = central + shift
    struct.pack_into("<III", patched, directory + 16, crc, len(payload), declared_size)
    # every member after the replaced one moved by ``shift``
    end = patched.rindex(b"PK\x05\x06")
    count, _, position = struct.unpack_from("<HII", patched, end + 10)
    struct.pack_into("<I", patched, end + 16, position + shift)
    position += shift
    for _ in range(count):
        (offset,) = struct.unpack_from("<I", patched, position + 42)
        if offset > local:
            struct.pack_into("<I", patched, position + 42, offset + shift)
        lengths = struct.unpack_from("<HHH", patched, position + 28)
        position += 46 + sum(lengths)
    return bytes(patched)


def test_zip_bomb_declaring_a_small_size_is_a_corrupt_library(tmp_path: Path) -> None:
    """64 MiB of zeros declared as 7 KiB: inflating stops at the declared size, the CRC fails,
    and the one library is reported; memory stays bounded by the declaration."""
    bomb, crc = zeros_deflated(64)
    apk = tmp_path / "bomb.apk"
    apk.write_bytes(_with_member(_fixture("packages/clean.apk").read_bytes(), ARM64_FBJNI, bomb, 7080, crc))
    code, report = audit_json("apk", apk)
    assert code == 1
    assert_only_broken(report, "arm64-v8a", "libfbjni.so", "bad CRC-32")


@pytest.mark.parametrize("declared", [64 << 20, 0xFFFF_FFF0], ids=["honest-64MiB", "4GiB"])
def test_zip_bomb_expanding_past_the_bound_stops_the_run(tmp_path: Path, declared: int) -> None:
    """Beyond 16 MiB a member may inflate at most 200x (containers/limits.py): a package that
    breaks that is hostile as a whole, so the run stops with exit 2 rather than one finding."""
    bomb, crc = zeros_deflated(64)
    apk = tmp_path / "bomb.apk"
    apk.write_bytes(
        _with_member(_fixture("packages/clean.apk").read_bytes(), ARM64_FBJNI, bomb, declared, crc)
    )
    line = assert_input_error(run("apk", apk), apk, "zip bomb?")
    assert ARM64_FBJNI in line and "over 200x its compressed size" in line


# --- broken libraries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty file (0 bytes)"), (LFS_POINTER, "not an ELF file (bad magic)")],
    ids=["empty", "lfs-pointer"],
)
def test_so_file_that_is_not_elf_is_a_corrupt_library(tmp_path: Path, content: bytes, problem: str) -> None:
    """A file named ``.so`` is a library the user meant to ship: "corrupt library" (with the hint
    about interrupted copies and LFS pointers) says more than "not a zip archive" would."""
    broken = tmp_path / "libfbjni.so"
    broken.write_bytes(content)
    code, report = audit_json("libs", broken)
    assert code == 1
    assert corrupt(report) == [
        ("unknown", "libfbjni.so", f'"libfbjni.so" is not a loadable ELF shared object: {problem}')
    ]
    # beside real libraries, and in a folder, the others are still audited
    real = _fixture("packages/clean-folder/arm64-v8a/libc++_shared.so")
    code, report = audit_json("libs", broken, real)
    assert code == 1 and corrupt(report)[0][1] == "libfbjni.so"
    assert [lib["name"] for lib in report["libraries"] if lib["error"] is None] == ["libc++_shared.so"]
    folder = folder_copy(tmp_path)
    (folder / "x86" / "libfbjni.so").write_bytes(content)
    code, report = audit_json("libs", folder)
    assert code == 1
    assert_only_broken(report, "x86", "libfbjni.so", problem)


def test_text_file_named_so_among_other_inputs(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a library\n")
    real = _fixture("packages/clean-folder/arm64-v8a/libfbjni.so")
    assert_input_error(run("libs", real, text), text, "not an ELF shared object")


def _section(data: bytes, wanted: str) -> tuple[int, int]:
    """(offset, size) of an ELF64 little-endian section, read by hand from the section headers."""
    shoff, _, _, _, _, shentsize, shnum, shstrndx = struct.unpack_from("<QIHHHHHH", data, 0x28)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx][4]
    for sh_name, _, _, _, offset, size in headers:
        end = data.index(b"\0", names + sh_name)
        if data[names + sh_name : end].decode() == wanted:
            return offset, size
    raise AssertionError(f"no {wanted} section")


def test_library_truncated_inside_dynsym(tmp_path: Path) -> None:
    folder = folder_copy(tmp_path)
    library = folder / "arm64-v8a" / "libfbjni.so"
    data = library.read_bytes()
    offset, size = _section(data, ".dynsym")
    library.write_bytes(data[: offset + size // 2])
    code, report = audit_json("libs", folder)
    assert code == 1
    assert_only_broken(report, "arm64-v8a", "libfbjni.so", "truncated")
    [finding] = [f for f in report["findings"] if f["rule"] == "corrupt-library"]
    assert "libwenet.so" in finding["affected"]
    assert {f["abi"] for f in problems(report)} == {"arm64-v8a"}  # the other ABIs are clean


def _library_record(report: dict, abi: str, name: str) -> dict:
    [record] = [lib for lib in report["libraries"] if (lib["abi"], lib["name"]) == (abi, name)]
    # what the loader uses; annotations read from sections (the compiler in .comment) may go
    return {key: record[key] for key in LOADER_FIELDS}


@pytest.mark.parametrize(
    ("field", "value"),
    [("<Q", 0xDEAD_BEEF_0000), ("<H", 0xFFFF)],
    ids=["e_shoff-past-the-end", "e_shnum-garbage"],
)
def test_garbage_section_headers_are_refused_like_the_loader_does(
    tmp_path: Path, field: str, value: int
) -> None:
    # bionic's ElfReader::ReadSectionHeaders checks e_shoff + e_shnum * sizeof(Shdr) against the
    # file ("has invalid shdr offset/size: %zu/%zu"), for every app (issue 11).
    folder = folder_copy(tmp_path)
    _, before = audit_json("libs", folder)
    library = folder / "arm64-v8a" / "libfbjni.so"
    data = bytearray(library.read_bytes())
    struct.pack_into(field, data, 0x28 if field == "<Q" else 0x3C, value)
    library.write_bytes(bytes(data))
    code, after = audit_json("libs", folder)
    refused = [f for f in problems(after) if f["rule"] == "corrupt-library"]
    assert code == 1 and [(f["abi"], f["library"], f["reason"]) for f in refused] == [
        ("arm64-v8a", "libfbjni.so", "section-headers-out-of-range")
    ]
    shoff, shnum = struct.unpack_from("<Q", data, 0x28)[0], struct.unpack_from("<H", data, 0x3C)[0]
    assert refused[0]["message"] == f'dlopen failed: "libfbjni.so" has invalid shdr offset/size: {shoff}/{shnum * 64}'
    # the other ABIs' copies, and the neighbours, are audited as before
    assert {f["abi"] for f in problems(after)} == {"arm64-v8a"}
    assert _library_record(after, "x86_64", "libfbjni.so") == _library_record(before, "x86_64", "libfbjni.so")


def test_library_without_section_headers_is_refused_as_bionic_refuses_it(tmp_path: Path) -> None:
    # All section-header fields zeroed: bionic's VerifyElfHeader stops at e_shentsize 0 for apps
    # targeting 26+ (a folder's targetSdk is unknown), and ReadSectionHeaders would refuse it next.
    folder = folder_copy(tmp_path)
    shutil.copy(_fixture("libs/arm64-v8a/stripped/libfbjni.so"), folder / "arm64-v8a" / "libfbjni.so")
    code, report = audit_json("libs", folder)
    refused = [f for f in problems(report) if f["rule"] == "corrupt-library"]
    assert code == 1 and [(f["abi"], f["library"], f["reason"]) for f in refused] == [
        ("arm64-v8a", "libfbjni.so", "e-shentsize")
    ]
    assert refused[0]["message"].startswith(
        'dlopen failed: "libfbjni.so" has unsupported e_shentsize: 0x0 (expected 0x40)'
    )
    # Everything else is still audited (what needs libfbjni.so fails with it, as on the device).
    assert {f["rule"] for f in problems(report)} <= {"corrupt-library", "missing-library", "unresolved-symbol"}


# --- folders on disk ---------------------------------------------------------------------------


def test_symlink_loops_in_a_folder(tmp_path: Path) -> None:
    folder = folder_copy(tmp_path)
    abi = folder / "arm64-v8a"
    os.symlink(".", abi / "again")  # a folder linking to itself: not followed, not listed twice
    os.symlink("..", abi / "up")
    code, report = audit_json("libs", folder)
    assert code == 0 and problems(report) == []
    assert len(report["libraries"]) == library_count(folder)
    os.symlink("libloop.so", abi / "libloop.so")  # a library linking to itself
    code, report = audit_json("libs", folder)
    assert code == 1
    assert_only_broken(report, "arm64-v8a", "libloop.so", "symlink loop")
    assert_input_error(run("libs", abi / "libloop.so"), abi / "libloop.so", "symlink loop")


def test_unreadable_library_is_a_finding_unreadable_input_an_error() -> None:
    with shared_folder() as shared:
        folder = shared / "jniLibs"
        shutil.copytree(_fixture("packages/clean-folder"), folder)
        library = folder / "x86_64" / "libwenet.so"
        library.chmod(0)
        code, report = audit_json("libs", folder, unprivileged=True)
        assert code == 1
        assert_only_broken(report, "x86_64", "libwenet.so", "permission denied")
        assert_input_error(run_unprivileged("libs", library), library, "permission denied")
        (folder / "x86").chmod(0)
        line = assert_input_error(
            run_unprivileged("libs", folder), folder, "cannot list folder: permission denied"
        )
        assert f"{folder}: x86: " in line  # the folder that cannot be listed


# --- options ----------------------------------------------------------------------------------


def test_output_into_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "report.json"
    line = assert_input_error(
        run("apk", _fixture("packages/clean.apk"), "--format", "json", "--output", target),
        target,
        "cannot write report",
    )
    assert "no such file or directory" in line.lower()
    assert not target.parent.exists()


def test_output_that_is_a_folder_and_other_usage_errors_are_one_line(tmp_path: Path) -> None:
    apk = _fixture("packages/clean.apk")
    assert_input_error(run("apk", apk, "--output", tmp_path), tmp_path, "is a directory")
    assert_input_error(run("apk", apk, "--format", "yaml"), "--format", "'yaml' is not one of")
    assert_input_error(run("apk"), "apk --help", "Missing argument 'PATH'")


@pytest.mark.parametrize("abi", ["arm64", "riscv64"], ids=["not-an-abi-name", "abi-not-in-package"])
def test_abi_the_package_does_not_have(abi: str) -> None:
    """Auditing nothing would print OK and pass CI: a requested ABI without libraries is an error."""
    apk = _fixture("packages/clean.apk")
    line = assert_input_error(run("apk", apk, "--abi", abi), apk, f"no native library for ABI {abi}")
    assert "arm64-v8a" in line  # what the package does have
    assert run("apk", apk, "--abi", "arm64-v8a", "--abi", abi).returncode == 2
