"""Open whatever the user named (package, folder, ``.so`` files) as a :class:`Package`.

The kind is decided by content: an APK renamed ``.zip`` or an AAB saved as ``.apk`` is still
read by what it holds (REFERENCE.md §6.2). Every failure to open is one ``InputError`` line that
names the path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import BinaryIO

from symaudit.containers import layout
from symaudit.containers.apks import ApksPackage
from symaudit.containers.archive import DuplicateEntry, NotAZip, ZipArchive, ZipPackage, open_zip_file
from symaudit.containers.base import LibraryEntry, Package, PackageKind
from symaudit.containers.digests import HAS_PREAD, PendingDigest, sha256_of
from symaudit.containers.folder import FilesPackage, FolderPackage, describe_os_error, open_regular
from symaudit.errors import InputError

__all__ = ["LibraryEntry", "Package", "PackageKind", "open_package"]

_ELF_MAGIC = b"\x7fELF"
_ZIP_MAGIC = b"PK"


def _is_folder(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as exc:
        raise InputError(f"{path}: {describe_os_error(exc, path)}") from None


def _head(path: str, fp: BinaryIO) -> bytes:
    try:
        return fp.read(len(_ELF_MAGIC))
    except OSError as exc:
        raise InputError(f"{path}: {describe_os_error(exc, path)}") from None


def _zip_or_none(path: str, fp: BinaryIO, head: bytes) -> ZipArchive | None:
    """The file as a zip, or None for a file the ELF reader should judge: one named ``*.so``
    that is neither ELF nor zip (a Git LFS pointer, an empty file) is reported as a corrupt
    library, which says more than "not a zip archive" would."""
    try:
        return open_zip_file(path, fp)
    except DuplicateEntry as exc:
        raise InputError(f"{path}: {exc}") from None
    except NotAZip as exc:
        if head.startswith(_ZIP_MAGIC):
            raise InputError(f"{path}: corrupt or truncated zip archive ({exc})") from None
        if layout.is_library_name(os.path.basename(path)):
            return None
        raise InputError(f"{path}: not a zip archive, a folder, or an ELF shared object") from None


def _open_single(path: str) -> Package:
    if _is_folder(path):
        return FolderPackage(path)
    fp = open_regular(path, path, InputError)
    try:
        head = _head(path, fp)
        archive = None if head == _ELF_MAGIC else _zip_or_none(path, fp, head)
        if archive is None:
            digest: str | PendingDigest = PendingDigest(fp.fileno(), path) if HAS_PREAD else sha256_of(fp, path)
    except BaseException:
        fp.close()
        raise
    if archive is None:
        fp.close()  # the pending digest reads a duplicate of the descriptor
        return FilesPackage([path], digest)
    # Hash on a thread while the audit runs, where positional reads allow it.
    pending: str | PendingDigest = PendingDigest(fp.fileno(), path) if HAS_PREAD else sha256_of(fp, path)
    kind = layout.detect_kind({info.filename for info in archive.infos()})
    if kind is PackageKind.APKS:
        return ApksPackage(path, pending, archive)
    return ZipPackage(path, kind, pending, archive)


def _open_files(paths: Sequence[str]) -> Package:
    for path in paths:
        if _is_folder(path):
            raise InputError(
                f"{path}: a folder must be the only input (several inputs must all be .so files)"
            )
        with open_regular(path, path, InputError) as fp:
            head = _head(path, fp)
        if head != _ELF_MAGIC and not layout.is_library_name(os.path.basename(path)):
            raise InputError(f"{path}: not an ELF shared object (several inputs must all be .so files)")
    return FilesPackage(paths, None)


def open_package(paths: Sequence[str]) -> Package:
    """Opens one package, folder or ``.so`` file, or several ``.so`` files as one FILES package.

    Zips stay open until ``close()``; listing and reading are lazy and bounded.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not paths:
        raise InputError("no input given: name a package, a folder, or .so files")
    unique = list(dict.fromkeys(paths))
    if len(unique) == 1:
        return _open_single(unique[0])
    return _open_files(unique)
