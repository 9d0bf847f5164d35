from __future__ import annotations

import os
from pathlib import Path

import pytest

from symaudit.containers import PackageKind, limits, open_package
from symaudit.errors import InputError, MemberError

from .builders import elf, write
from .unprivileged import error_of, shared_folder


def _lib(root: Path, member: str, data: bytes) -> Path:
    path = root / member
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, data)


def test_libraries_under_abi_folders_at_any_depth(tmp_path: Path) -> None:
    _lib(tmp_path, "jniLibs/arm64-v8a/liba.so", elf("a", 100))
    _lib(tmp_path, "jniLibs/x86/libb.so", elf("b", 200))
    _lib(tmp_path, "obj/local/armeabi/libold.so", elf("old", 300))
    _lib(tmp_path, "misc/libnot.so", elf("not"))
    _lib(tmp_path, "libroot.so", elf("root"))
    _lib(tmp_path, "jniLibs/arm64-v8a/wrap.sh", b"#!/bin/sh")
    _lib(tmp_path, "jniLibs/arm64-v8a/deeper/libdeep.so", elf("deep"))
    with open_package([str(tmp_path)]) as package:
        assert package.kind is PackageKind.FOLDER
        assert package.path == str(tmp_path)
        entries = package.libraries()
        assert [(e.abi, e.path, e.name, e.size, e.compressed, e.data_offset) for e in entries] == [
            ("arm64-v8a", "jniLibs/arm64-v8a/liba.so", "liba.so", 100, False, None),
            ("armeabi", "obj/local/armeabi/libold.so", "libold.so", 300, False, None),
            ("x86", "jniLibs/x86/libb.so", "libb.so", 200, False, None),
        ]
        assert [package.read(e) for e in entries] == [elf("a", 100), elf("old", 300), elf("b", 200)]
        assert sorted(package.members()) == [
            "jniLibs/arm64-v8a/deeper/libdeep.so",
            "jniLibs/arm64-v8a/liba.so",
            "jniLibs/arm64-v8a/wrap.sh",
            "jniLibs/x86/libb.so",
            "libroot.so",
            "misc/libnot.so",
            "obj/local/armeabi/libold.so",
        ]
        assert package.read_member("jniLibs/arm64-v8a/wrap.sh") == b"#!/bin/sh"


def test_folder_that_is_itself_an_abi_folder(tmp_path: Path) -> None:
    _lib(tmp_path, "arm64-v8a/liba.so", elf("a"))
    with open_package([str(tmp_path / "arm64-v8a")]) as package:
        assert [(e.abi, e.path) for e in package.libraries()] == [("arm64-v8a", "liba.so")]


@pytest.mark.parametrize("layout", [[], ["README.md"], ["libs/liba.so"], ["arm64-v8a/liba.so.1"]])
def test_folder_without_abi_libraries_is_an_input_error(tmp_path: Path, layout: list[str]) -> None:
    for member in layout:
        _lib(tmp_path, member, elf(member))
    with pytest.raises(InputError) as error:
        open_package([str(tmp_path)])
    assert str(error.value) == f"{tmp_path}: no native libraries found (expected <abi>/lib*.so)"


def test_symlinked_library_is_read_through(tmp_path: Path) -> None:
    _lib(tmp_path, "arm64-v8a/libfoo.so.1", elf("foo", 700))
    (tmp_path / "arm64-v8a" / "libfoo.so").symlink_to("libfoo.so.1")
    with open_package([str(tmp_path)]) as package:
        [entry] = package.libraries()
        assert (entry.path, entry.size) == ("arm64-v8a/libfoo.so", 700)
        assert package.read(entry) == elf("foo", 700)


def test_symlink_loop_and_dangling_link_fail_only_when_read(tmp_path: Path) -> None:
    abi = tmp_path / "arm64-v8a"
    _lib(tmp_path, "arm64-v8a/libok.so", elf("ok"))
    (abi / "liba.so").symlink_to("libb.so")
    (abi / "libb.so").symlink_to("liba.so")
    (abi / "libgone.so").symlink_to("libmissing.so")
    # A folder link back up the tree: the walk must not follow it.
    (abi / "up").symlink_to("..", target_is_directory=True)
    with open_package([str(tmp_path)]) as package:
        entries = {e.name: e for e in package.libraries()}
        assert sorted(entries) == ["liba.so", "libb.so", "libgone.so", "libok.so"]
        assert entries["liba.so"].size == 0
        for name in ("liba.so", "libb.so"):
            with pytest.raises(MemberError) as error:
                package.read(entries[name])
            assert str(error.value) == f"{tmp_path}: arm64-v8a/{name}: symlink loop"
        with pytest.raises(MemberError) as error:
            package.read(entries["libgone.so"])
        assert (
            str(error.value) == f"{tmp_path}: arm64-v8a/libgone.so: broken symlink (points to libmissing.so)"
        )
        assert package.read(entries["libok.so"]) == elf("ok")


def test_fifo_named_like_a_library_does_not_block(tmp_path: Path) -> None:
    _lib(tmp_path, "x86/libok.so", elf("ok"))
    os.mkfifo(tmp_path / "x86" / "libpipe.so")
    with open_package([str(tmp_path)]) as package:
        pipe = next(e for e in package.libraries() if e.name == "libpipe.so")
        with pytest.raises(MemberError) as error:
            package.read(pipe)
        assert str(error.value) == f"{tmp_path}: x86/libpipe.so: not a regular file"


def test_unreadable_library_is_a_member_error() -> None:
    with shared_folder() as folder:
        _lib(folder, "x86/libok.so", elf("ok"))
        _lib(folder, "x86/libsecret.so", elf("secret")).chmod(0)

        def read_all() -> None:
            with open_package([str(folder)]) as package:
                for entry in package.libraries():
                    package.read(entry)

        assert error_of(read_all) == f"{folder}: x86/libsecret.so: permission denied"


def test_unreadable_subfolder_is_an_input_error() -> None:
    with shared_folder() as folder:
        _lib(folder, "x86/libok.so", elf("ok"))
        _lib(folder, "hidden/arm64-v8a/libh.so", elf("h"))
        (folder / "hidden").chmod(0)
        assert error_of(lambda: open_package([str(folder)])) == (
            f"{folder}: hidden: cannot list folder: permission denied"
        )
        (folder / "hidden").chmod(0o755)
        folder.chmod(0o311)  # enterable, not listable
        assert (
            error_of(lambda: open_package([str(folder)]))
            == f"{folder}: cannot list folder: permission denied"
        )


def test_read_member_stays_inside_the_folder(tmp_path: Path) -> None:
    _lib(tmp_path, "in/x86/liba.so", elf("a"))
    write(tmp_path / "secret.txt", b"s")
    with open_package([str(tmp_path / "in")]) as package:
        for path in ("../secret.txt", "/etc/passwd", "x86//liba.so"):
            with pytest.raises(MemberError) as error:
                package.read_member(path)
            assert str(error.value) == f"{tmp_path / 'in'}: {path}: no such member"
        assert package.read_member("x86/liba.so", limit=len(elf("a"))) == elf("a")
        with pytest.raises(MemberError) as error:
            package.read_member("x86/liba.so", limit=10)
        assert (
            str(error.value) == f"{tmp_path / 'in'}: x86/liba.so: larger than the 10-byte limit of this read"
        )


def test_file_over_the_absolute_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1 GiB cap is lowered to 1 KiB: writing a 1 GiB file would slow the suite for nothing."""
    monkeypatch.setattr(limits, "MAX_MEMBER_BYTES", 1024)
    path = write(tmp_path / "libbig.so", elf("big", 1025))
    with open_package([str(path)]) as package, pytest.raises(InputError) as error:
        package.read(package.libraries()[0])
    assert not isinstance(error.value, MemberError)
    assert str(error.value) == f"{path}: file size exceeds 1 KiB"


def test_loose_file_removed_after_opening(tmp_path: Path) -> None:
    path = write(tmp_path / "libgone.so", elf("gone"))
    with open_package([str(path), str(write(tmp_path / "libother.so", elf("o")))]) as package:
        path.unlink()
        gone = next(e for e in package.libraries() if e.name == "libgone.so")
        with pytest.raises(MemberError) as error:
            package.read(gone)
        assert str(error.value) == f"{path}: no such file or directory"
