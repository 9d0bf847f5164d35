"""Inputs on disk: a folder of ``<abi>/lib*.so`` (FOLDER) and ``.so`` files named one by one (FILES).

Symlinks to files inside the folder are read through (``libfoo.so -> libfoo.so.1`` is how NDK
builds ship); a link that leads out of the folder is listed but never read, hashed or measured
(its library becomes a ``corrupt-library`` finding that says so). Folders are walked without
following links, so a link loop can neither hang the listing nor list a library twice. Files are opened non-blocking and must be regular, so a FIFO named ``x.so``
cannot hang a read either.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
from collections.abc import Sequence
from typing import IO, Any, BinaryIO, NoReturn

from symaudit.containers import layout, limits
from symaudit.containers.base import ClosingPackage, LibraryEntry, Mapped, PackageKind, library_order, shown
from symaudit.containers.digests import HAS_PREAD, PendingDigest
from symaudit.errors import InputError, MemberError

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def describe_os_error(exc: OSError, path: str) -> str:
    """``permission denied``, ``symlink loop``, ``broken symlink (points to x)``: the problem in
    words, for a message that already names ``path``."""
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        try:
            return f"broken symlink (points to {shown(os.readlink(path))})"
        except OSError:
            return "broken symlink"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def open_regular(path: str, label: str, error: type[InputError]) -> BinaryIO:
    """``path`` opened for reading, or ``error("<label>: <problem>")``."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise error(f"{label}: {describe_os_error(exc, path)}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise error(f"{label}: {describe_os_error(exc, path)}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{label}: not a regular file")
    return os.fdopen(fd, "rb")


def _bound(limit: int | None) -> int:
    return limits.MAX_MEMBER_BYTES if limit is None else min(limit, limits.MAX_MEMBER_BYTES)


def _check_size(size: int, label: str, limit: int | None = None) -> None:
    """InputError past ``MAX_MEMBER_BYTES`` (as for a zip member), MemberError past ``limit``."""
    bound = _bound(limit)
    if size > bound:
        if bound == limits.MAX_MEMBER_BYTES:
            raise InputError(f"{label}: file size exceeds {limits.describe_size(bound)}")
        raise MemberError(f"{label}: larger than the {bound}-byte limit of this read")


def read_regular(path: str, label: str, limit: int | None = None) -> bytes:
    """The whole file in one read, bounded: MemberError for a file that cannot be read, and the
    size bounds of :func:`_check_size` on what the read gives."""
    with open_regular(path, label, MemberError) as fp:
        try:
            size = os.fstat(fp.fileno()).st_size
            data = fp.read(min(size, _bound(limit)) + 1)
        except OSError as exc:
            raise MemberError(f"{label}: {describe_os_error(exc, path)}") from None
    _check_size(len(data), label, limit)
    return data


def _size(path: str, root: str | None = None) -> int:
    """0 for a library that cannot be stat'ed (its read reports why: broken link, loop) or that
    links outside the folder ``root`` (its size is not the package's business)."""
    if root is not None and escapes(root, path):
        return 0
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


MAX_FOLDER_DEPTH = 64
"""Folders nested in a folder input: an unzipped AAB is 5 deep (``base/lib/<abi>/``); a deeper
tree is not a package, and its paths would soon pass PATH_MAX."""
MAX_FOLDER_FILES = 1_000_000
"""Files listed in a folder input (as for zip entries)."""


def _walk(root: str) -> list[str]:
    """Every non-folder under ``root`` as a ``/``-separated relative path; an unreadable folder
    is an InputError, not a silent gap in the library list. Iterative (no recursion limit to
    reach), bounded in depth and count; links to folders are listed as files, never entered."""

    def fail(exc: OSError, where: str) -> NoReturn:
        inner = os.path.relpath(where, root)
        label = root if inner == "." else f"{root}: {shown(inner)}"
        raise InputError(f"{label}: cannot list folder: {describe_os_error(exc, where)}")

    found: list[str] = []
    pending: list[tuple[str, str, int]] = [(root, "", 0)]
    while pending:
        folder, prefix, depth = pending.pop()
        try:
            with os.scandir(folder) as listing:
                for item in listing:
                    if item.is_dir(follow_symlinks=False):
                        if depth + 1 > MAX_FOLDER_DEPTH:
                            raise InputError(
                                f"{root}: folders nested more than {MAX_FOLDER_DEPTH} deep "
                                f"(at {shown(prefix + item.name)}): not a package layout"
                            )
                        pending.append((item.path, f"{prefix}{item.name}/", depth + 1))
                    else:
                        found.append(prefix + item.name)
                        if len(found) > MAX_FOLDER_FILES:
                            raise InputError(f"{root}: more than {MAX_FOLDER_FILES} files")
        except OSError as exc:
            fail(exc, folder)
    found.sort()
    return found


def escapes(root: str, path: str) -> bool:
    """Whether ``path`` (under ``root``) resolves, through symlinks, to something outside
    ``root``: such a link is listed but never read, hashed or measured."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep)


class FolderPackage(ClosingPackage):
    """A folder such as ``build/jniLibs`` or an unzipped package: libraries under ABI folders."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.kind = PackageKind.FOLDER
        self._digest = None
        self._files = _walk(path)
        top = os.path.basename(os.path.abspath(path))
        self._entries = sorted(
            (
                LibraryEntry(
                    abi=abi,
                    path=member,
                    name=member.rpartition("/")[2],
                    size=_size(os.path.join(path, member), path),
                )
                for abi, member in layout.libraries_of(
                    PackageKind.FOLDER, ((member, member) for member in self._files), top_dir=top
                )
            ),
            key=library_order,
        )
        if not self._entries:
            raise InputError(f"{path}: no native libraries found (expected <abi>/lib*.so)")

    def libraries(self) -> list[LibraryEntry]:
        return list(self._entries)

    def read(self, entry: LibraryEntry) -> bytes:
        return self.read_member(entry.path)

    def read_mapped(self, entry: LibraryEntry) -> Mapped | None:
        return map_file(self._inside(entry.path), f"{self.path}: {shown(entry.path)}")

    def members(self) -> list[str]:
        return list(self._files)

    def _inside(self, path: str) -> str:
        """The file of member ``path``; MemberError for a name outside the folder or a symlink
        that leads out of it (``lib/arm64-v8a/libx.so -> /etc/shadow`` is never read)."""
        parts = path.split("/")
        if os.path.isabs(path) or ".." in parts or "" in parts:
            raise MemberError(f"{self.path}: {shown(path)}: no such member")
        full = os.path.join(self.path, *parts)
        if escapes(self.path, full):
            raise MemberError(
                f"{self.path}: {shown(path)}: a symlink to a file outside the folder (not followed)"
            )
        return full

    def read_member(self, path: str, limit: int | None = None) -> bytes:
        return read_regular(self._inside(path), f"{self.path}: {shown(path)}", limit)

    def open_member(self, path: str, limit: int | None = None) -> IO[bytes]:
        """The file itself, opened (regular files only); ``limit`` and the size bound checked
        on its size."""
        full = self._inside(path)
        label = f"{self.path}: {shown(path)}"
        fp = open_regular(full, label, MemberError)
        try:
            _check_size(os.fstat(fp.fileno()).st_size, label, limit)
        except BaseException:
            fp.close()
            raise
        return fp


def map_file(path: str, label: str, digest: Any = None) -> Mapped | None:
    """A regular file mapped read-only, bounded as :func:`read_regular`, with its sha256 queued on
    the hash worker (or ``digest``, the input's own when the file is the whole input); None where
    files cannot be hashed by positional reads or mapped (the caller reads it instead)."""
    if not HAS_PREAD:
        return None
    with open_regular(path, label, MemberError) as fp:
        try:
            size = os.fstat(fp.fileno()).st_size
        except OSError as exc:
            raise MemberError(f"{label}: {describe_os_error(exc, path)}") from None
        _check_size(size, label)
        if size == 0:
            return None
        try:
            mapping = mmap.mmap(fp.fileno(), size, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None  # the plain read reports whatever is wrong
        return Mapped(memoryview(mapping), mapping, digest or PendingDigest(fp.fileno(), label))


class FilesPackage(ClosingPackage):
    """Loose ``.so`` files: no ABI folder, so the ELF machine decides each library's ABI."""

    def __init__(self, paths: Sequence[str], sha256: str | PendingDigest | None) -> None:
        self.path = paths[0] if len(paths) == 1 else ", ".join(paths)
        self.kind = PackageKind.FILES
        self._digest = sha256
        self._entries = sorted(
            (
                LibraryEntry(abi=None, path=path, name=os.path.basename(path), size=_size(path))
                for path in paths
            ),
            key=library_order,
        )

    def libraries(self) -> list[LibraryEntry]:
        return list(self._entries)

    def read(self, entry: LibraryEntry) -> bytes:
        return read_regular(entry.path, entry.path)

    def read_mapped(self, entry: LibraryEntry) -> Mapped | None:
        # One file given: the input's own digest (already being computed) is the library's.
        whole = self._digest if len(self._entries) == 1 and not isinstance(self._digest, str) else None
        return map_file(entry.path, entry.path, whole)

    def members(self) -> list[str]:
        return []

    def read_member(self, path: str, limit: int | None = None) -> bytes:
        raise MemberError(f"{path}: no such member (loose files have no members)")

    def open_member(self, path: str, limit: int | None = None) -> IO[bytes]:
        raise MemberError(f"{path}: no such member (loose files have no members)")
