"""What every container reader gives the rest of symaudit: library entries and their bytes.

Containers know zips, folders and ABI directory names; they know nothing about ELF. Bytes are
read one library at a time (``Package.read``) so a 4-ABI APK is never held in memory at once.
"""

from __future__ import annotations

import enum
import hashlib
import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Protocol, TypeVar

from symaudit.facts import current_abis, legacy_abis

# The five ABI directory names Android knows (symaudit/data/abis.json, REFERENCE.md §1.1).
KNOWN_ABIS = current_abis()
# Directory names that look like an ABI folder but that no current device loads from.
LEGACY_ABIS = legacy_abis()


class PackageKind(str, enum.Enum):
    APK = "apk"
    AAB = "aab"
    APKS = "apks"
    AAR = "aar"
    ZIP = "zip"
    FOLDER = "folder"
    FILES = "files"
    """One or more ``.so`` files named on the command line."""


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """A ``.so`` inside a package, before its bytes are read."""

    abi: str | None
    """ABI directory it sits in (``arm64-v8a``); None for loose files (the ELF machine decides)."""
    path: str
    """Path inside the container (``lib/arm64-v8a/libwenet.so``), or the file's path on disk."""
    name: str
    """File name (``libwenet.so``): the name DT_NEEDED entries are matched against."""
    size: int
    """Uncompressed size in bytes."""
    compressed: bool = False
    """True when deflated in the zip (needs extractNativeLibs); False when stored or a plain file."""
    data_offset: int | None = None
    """Offset of the member's data inside the archive that directly holds it (the installed APK,
    also for a split APK nested in an APKS), when stored (zip method 0); None otherwise. Computed
    from the *local* header (name and extra lengths there), as the 16 KB zip-alignment rule needs."""
    container: str | None = None
    """For nested packages (APKS): the inner archive's path (``splits/base-arm64_v8a.apk``)."""


class Package(Protocol):
    """An opened input. Use as a context manager; reads are bounded, and nothing is written
    to disk except a member inflating past ``limits.SPILL_ABOVE``, into an unnamed temporary file."""

    path: str
    """The input path as the user gave it."""
    kind: PackageKind

    @property
    def sha256(self) -> str | None:
        """sha256 of the input file; None for folders and multiple files."""

    def libraries(self) -> list[LibraryEntry]:
        """Every ``.so`` entry under a recognised native-library directory, in a stable order."""
        ...

    def read(self, entry: LibraryEntry) -> bytes:
        """The entry's bytes; raises InputError for a member that cannot be read (encrypted,
        corrupt, over the size bound) naming the package and member."""
        ...

    def members(self) -> list[str]:
        """Every member path (zip names, or relative paths in a folder); empty for loose files."""
        ...

    def read_member(self, path: str, limit: int | None = None) -> bytes:
        """Any member's bytes (manifests, models, ``abi.json``), bounded like ``read``."""
        ...

    def open_member(self, path: str, limit: int | None = None) -> IO[bytes]:
        """Any member as a file at offset 0, bounded like ``read``; large inflated members are
        in an unnamed temporary file, not in memory. The caller closes it."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Package: ...

    def __exit__(self, *exc: object) -> None: ...


def iter_abis(entries: list[LibraryEntry]) -> Iterator[str]:
    """The distinct ABIs of some entries, in first-seen order."""
    seen: set[str] = set()
    for entry in entries:
        if entry.abi is not None and entry.abi not in seen:
            seen.add(entry.abi)
            yield entry.abi


# bundletool's nested APK folders, in the order a current device prefers them.
_CONTAINER_RANKS = (("splits/", 0), ("standalones/", 1), ("universal.apk", 2))


def _container_rank(container: str | None) -> int:
    if container is None:
        return -1
    for prefix, rank in _CONTAINER_RANKS:
        if container.startswith(prefix):
            return rank
    return len(_CONTAINER_RANKS)


def library_order(entry: LibraryEntry) -> tuple[str, str, str, int, str]:
    """The stable order of ``Package.libraries()``: abi, name, path, then the nested APK.

    Equal ``(abi, name)`` entries of an APKS come split first, then standalone, then universal,
    so the first of them is the copy a device with split APK support installs.
    """
    return (entry.abi or "", entry.name, entry.path, _container_rank(entry.container), entry.container or "")


_Self = TypeVar("_Self", bound="ClosingPackage")


class ClosingPackage:
    """The context-manager half of ``Package``, for readers whose ``close`` releases everything."""

    _digest: str | None | Any = None
    """The input's sha256, or an object whose ``value()`` gives it (a digest still being computed)."""

    @property
    def sha256(self) -> str | None:
        digest = self._digest
        if digest is not None and not isinstance(digest, str):
            digest = digest.value()
            self._digest = digest
        return digest

    def close(self) -> None:
        """Nothing to release unless a reader holds files open."""

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shown(path: str) -> str:
    """``path`` fit for a one-line message: member names come from the package, and a newline
    or a terminal escape in one must not break the line the CLI prints."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def member_reason(message: str, member: str) -> str:
    """The reason of an error about ``member`` without its ``package: member:`` prefix, for a
    finding or a report field that already names the member."""
    marker = f"{member}: "
    return message.split(marker, 1)[1] if marker in message else message


class Mapped:
    """Bytes of one library mapped read-only from the file that holds them, and their digest
    (an object whose ``value()`` gives the sha256, perhaps still being computed); ``release``
    unmaps them."""

    def __init__(self, view: memoryview, mapping: mmap.mmap, digest: Any) -> None:
        self.view = view
        self.digest = digest
        self._mapping = mapping

    def release(self) -> None:
        self.view.release()
        try:
            self._mapping.close()
        except BufferError:
            pass  # a view is still alive somewhere: the mapping goes when it does


@contextmanager
def library_bytes(package: Package, entry: LibraryEntry) -> Iterator[tuple[bytes | memoryview, Callable[[], str]]]:
    """A library's bytes and a function giving their sha256, for the length of a ``with``:
    mapped from the package file (or from the unnamed file a large inflated member was spilled
    to) where the package can, read otherwise, so a 1 GiB member is never held as one ``bytes``.
    A mapped member's sha256 comes from its reading (or from ``pread`` chunks), so asking for it
    does not make the whole mapping resident."""
    read_mapped = getattr(package, "read_mapped", None)
    mapped = read_mapped(entry) if read_mapped is not None else None
    if mapped is None:
        data = package.read(entry)
        yield data, lambda: hashlib.sha256(data).hexdigest()
        return
    try:
        yield mapped.view, mapped.digest.value
    finally:
        mapped.release()
