from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from symaudit.containers import PackageKind, open_package
from symaudit.errors import InputError

from .builders import elf, write, zip_bytes
from .unprivileged import error_of, shared_folder

APK_MEMBERS = {
    "AndroidManifest.xml": b"\x03\x00\x08\x00",
    "classes.dex": b"dex\n035\0",
    "resources.arsc": b"\x02\x00\x0c\x00",
    "lib/arm64-v8a/libmain.so": elf("main"),
}


@pytest.mark.parametrize(
    ("members", "kind"),
    [
        (APK_MEMBERS, PackageKind.APK),
        ({"AndroidManifest.xml": b"x", "resources.arsc": b"r"}, PackageKind.APK),
        ({"AndroidManifest.xml": b"x", "classes2.dex": b"d"}, PackageKind.APK),
        # An ABI split taken out of an APK set: manifest and lib/ only.
        ({"AndroidManifest.xml": b"x", "lib/x86/liba.so": elf("a")}, PackageKind.APK),
        ({"BundleConfig.pb": b"", "base/manifest/AndroidManifest.xml": b"x"}, PackageKind.AAB),
        ({"toc.pb": b""}, PackageKind.APKS),
        ({"splits/base-master.apk": zip_bytes({"AndroidManifest.xml": b"x"})}, PackageKind.APKS),
        ({"standalones/standalone-x86.apk": zip_bytes({"a": b"b"})}, PackageKind.APKS),
        ({"universal.apk": zip_bytes({"a": b"b"})}, PackageKind.APKS),
        ({"AndroidManifest.xml": b"<manifest/>", "classes.jar": b"PK"}, PackageKind.AAR),
        # A manifest alone, or an APK nested outside bundletool's folders, is just a zip.
        ({"AndroidManifest.xml": b"x"}, PackageKind.ZIP),
        ({"apps/app.apk": zip_bytes({"a": b"b"}), "jniLibs/x86/liba.so": elf("a")}, PackageKind.ZIP),
        ({}, PackageKind.ZIP),
    ],
)
def test_zip_kind_is_decided_by_members_not_extension(
    tmp_path: Path, members: dict[str, bytes], kind: PackageKind
) -> None:
    path = write(tmp_path / "input.bin", zip_bytes(members))
    with open_package([str(path)]) as package:
        assert package.kind is kind
        assert package.path == str(path)
        assert package.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        # An APK set also lists its nested APKs' members, as "<apk>!/<member>".
        assert [name for name in package.members() if "!/" not in name] == list(members)


def test_apk_renamed_to_zip_is_still_an_apk(tmp_path: Path) -> None:
    path = write(tmp_path / "app.zip", zip_bytes(APK_MEMBERS))
    with open_package([str(path)]) as package:
        assert package.kind is PackageKind.APK
        assert [entry.path for entry in package.libraries()] == ["lib/arm64-v8a/libmain.so"]


def test_folder_input(tmp_path: Path) -> None:
    (tmp_path / "arm64-v8a").mkdir()
    (tmp_path / "arm64-v8a" / "liba.so").write_bytes(elf("a"))
    with open_package([str(tmp_path)]) as package:
        assert package.kind is PackageKind.FOLDER
        assert package.sha256 is None
        assert [(entry.abi, entry.path) for entry in package.libraries()] == [
            ("arm64-v8a", "arm64-v8a/liba.so")
        ]


def test_single_elf_file_is_a_files_package_with_its_hash(tmp_path: Path) -> None:
    path = write(tmp_path / "libone.so", elf("one", 1000))
    with open_package([str(path)]) as package:
        assert package.kind is PackageKind.FILES
        assert package.path == str(path)
        assert package.sha256 == hashlib.sha256(elf("one", 1000)).hexdigest()
        [entry] = package.libraries()
        assert (entry.abi, entry.path, entry.name, entry.size) == (None, str(path), "libone.so", 1000)
        assert package.read(entry) == elf("one", 1000)
        assert package.members() == []


def test_elf_file_is_detected_by_magic_whatever_its_name(tmp_path: Path) -> None:
    path = write(tmp_path / "renamed.bin", elf("x"))
    with open_package([str(path)]) as package:
        assert package.kind is PackageKind.FILES
        assert package.libraries()[0].name == "renamed.bin"


def test_zero_byte_so_is_read_as_empty_for_the_elf_layer_to_judge(tmp_path: Path) -> None:
    path = write(tmp_path / "libempty.so", b"")
    with open_package([str(path)]) as package:
        assert package.kind is PackageKind.FILES
        [entry] = package.libraries()
        assert entry.size == 0
        assert package.read(entry) == b""


def test_git_lfs_pointer_named_so_reaches_the_elf_layer(tmp_path: Path) -> None:
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 12\n"
    path = write(tmp_path / "liblfs.so", pointer)
    with open_package([str(path)]) as package:
        assert package.read(package.libraries()[0]) == pointer


def test_several_so_files_make_one_files_package(tmp_path: Path) -> None:
    b = write(tmp_path / "libb.so", elf("b", 300))
    a = write(tmp_path / "liba.so", elf("a", 200))
    with open_package([str(b), str(a), str(b)]) as package:
        assert package.kind is PackageKind.FILES
        assert package.sha256 is None
        assert package.path == f"{b}, {a}"
        assert [(e.name, e.path, e.size, e.abi) for e in package.libraries()] == [
            ("liba.so", str(a), 200, None),
            ("libb.so", str(b), 300, None),
        ]


def test_several_inputs_must_all_be_so_files(tmp_path: Path) -> None:
    lib = write(tmp_path / "liba.so", elf("a"))
    apk = write(tmp_path / "app.apk", zip_bytes(APK_MEMBERS))
    with pytest.raises(InputError) as error:
        open_package([str(lib), str(apk)])
    assert str(error.value) == f"{apk}: not an ELF shared object (several inputs must all be .so files)"
    with pytest.raises(InputError) as error:
        open_package([str(lib), str(tmp_path)])
    assert str(error.value) == (
        f"{tmp_path}: a folder must be the only input (several inputs must all be .so files)"
    )


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.apk"
    with pytest.raises(InputError) as error:
        open_package([str(missing)])
    assert str(error.value) == f"{missing}: no such file or directory"
    with pytest.raises(InputError) as error:
        open_package([str(write(tmp_path / "liba.so", elf("a"))), str(missing)])
    assert str(error.value) == f"{missing}: no such file or directory"


def test_broken_symlink_input_says_so(tmp_path: Path) -> None:
    link = tmp_path / "app.apk"
    link.symlink_to(tmp_path / "gone.apk")
    with pytest.raises(InputError) as error:
        open_package([str(link)])
    assert str(error.value) == f"{link}: broken symlink (points to {tmp_path / 'gone.apk'})"


def test_no_input() -> None:
    with pytest.raises(InputError) as error:
        open_package([])
    assert str(error.value) == "no input given: name a package, a folder, or .so files"


def test_text_file_is_not_a_package(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", b"hello\n")
    with pytest.raises(InputError) as error:
        open_package([str(path)])
    assert str(error.value) == f"{path}: not a zip archive, a folder, or an ELF shared object"


def test_empty_file_not_named_so_is_not_a_package(tmp_path: Path) -> None:
    path = write(tmp_path / "app.apk", b"")
    with pytest.raises(InputError) as error:
        open_package([str(path)])
    assert str(error.value) == f"{path}: not a zip archive, a folder, or an ELF shared object"


def test_zip_cut_in_half_is_a_truncated_archive(tmp_path: Path) -> None:
    data = zip_bytes(APK_MEMBERS)
    path = write(tmp_path / "app.apk", data[: len(data) // 2])
    with pytest.raises(InputError) as error:
        open_package([str(path)])
    assert str(error.value) == (
        f"{path}: corrupt or truncated zip archive (no end of central directory record)"
    )


def test_zip_with_damaged_central_directory(tmp_path: Path) -> None:
    data = bytearray(zip_bytes(APK_MEMBERS))
    data[data.index(b"PK\x01\x02")] = ord("X")
    path = write(tmp_path / "app.apk", bytes(data))
    with pytest.raises(InputError) as error:
        open_package([str(path)])
    assert (
        str(error.value)
        == f"{path}: corrupt or truncated zip archive (Bad magic number for central directory)"
    )


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "app.apk"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as error:
        open_package([str(fifo)])
    assert str(error.value) == f"{fifo}: not a regular file"


def test_unreadable_file_is_one_line_naming_it() -> None:
    with shared_folder() as folder:
        path = write(folder / "app.apk", zip_bytes(APK_MEMBERS))
        path.chmod(0)
        assert error_of(lambda: open_package([str(path)])) == f"{path}: permission denied"
        lib = write(folder / "libsecret.so", elf("secret"))
        lib.chmod(0)
        assert error_of(lambda: open_package([str(lib)])) == f"{lib}: permission denied"
