"""APK sets (bundletool ``.apks``): the libraries sit in APKs nested inside the set.

A nested APK is read into memory (bounded like any member) and opened there, never extracted;
library offsets are inside that APK, because that is the file a device installs and aligns.
"""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from typing import IO

from symaudit.containers import layout
from symaudit.containers.archive import NotAZip, ZipArchive
from symaudit.containers.base import ClosingPackage, LibraryEntry, Mapped, PackageKind, library_order, shown
from symaudit.containers.digests import PendingDigest
from symaudit.errors import InputError, MemberError

NESTED_CACHE_BYTES = 256 << 20
"""Nested APKs kept open at once: a set's libraries are read ABI by ABI, alternating between the
split and the standalone APKs; beyond this budget the least recently used APK is dropped."""
NESTED_SEPARATOR = "!/"
"""``splits/base-master.apk!/AndroidManifest.xml``: Android's own notation for a path in an APK."""


class ApksPackage(ClosingPackage):
    def __init__(self, path: str, sha256: str | PendingDigest | None, archive: ZipArchive) -> None:
        self.path = path
        self.kind = PackageKind.APKS
        self._digest = sha256
        self._archive = archive
        self._open: OrderedDict[str, ZipArchive] = OrderedDict()
        self._entries: list[LibraryEntry] | None = None
        self._places: dict[LibraryEntry, tuple[str, zipfile.ZipInfo]] = {}

    def _nested_names(self) -> list[str]:
        return [info.filename for info in self._archive.infos() if info.filename.endswith(".apk")]

    def _nested(self, name: str) -> ZipArchive:
        """The opened nested APK; a MemberError when it cannot be read or is not a zip."""
        inner = self._open.get(name)
        if inner is not None:
            self._open.move_to_end(name)
            return inner
        info = self._archive.info(name)
        spooled = self._archive.open_member(info)  # in memory, or an unnamed file past SPILL_ABOVE
        try:
            inner = ZipArchive(f"{self.path}: {shown(name)}", spooled, info.file_size)
        except NotAZip as exc:
            spooled.close()
            raise MemberError(
                f"{self.path}: {shown(name)}: nested APK is not a valid zip archive ({exc})"
            ) from None
        self._open[name] = inner
        held = sum(archive.size for archive in self._open.values())
        while held > NESTED_CACHE_BYTES and len(self._open) > 1:
            _, dropped = self._open.popitem(last=False)
            held -= dropped.size
            dropped.close()
        return inner

    def _listed(self, name: str) -> ZipArchive:
        """A nested APK whose libraries must be listed: if it cannot be read, the set's library
        list would be incomplete, so that stops the run (InputError) instead of one finding."""
        try:
            return self._nested(name)
        except MemberError as exc:
            raise InputError(f"{exc} (its libraries cannot be listed)") from None

    def libraries(self) -> list[LibraryEntry]:
        if self._entries is None:
            for name in self._nested_names():
                inner = self._listed(name)
                members = ((info.filename, info) for info in inner.infos())
                for abi, info in layout.libraries_of(PackageKind.APK, members):
                    self._places[inner.entry(abi, info, container=name)] = (name, info)
            self._entries = sorted(self._places, key=library_order)
        return list(self._entries)

    def read(self, entry: LibraryEntry) -> bytes:
        place = self._places.get(entry)
        if place is None:
            if entry.container is None:
                raise MemberError(f"{self.path}: {shown(entry.path)}: no such member")
            return self.read_member(f"{entry.container}{NESTED_SEPARATOR}{entry.path}")
        name, info = place
        return self._nested(name).read(info)

    def read_mapped(self, entry: LibraryEntry) -> Mapped | None:
        """As :meth:`ZipArchive.read_mapped` in the nested APK: a large deflated library is
        spilled to an unnamed temporary file and mapped, never held (None: use :meth:`read`)."""
        place = self._places.get(entry)
        if place is None:
            return None
        name, info = place
        return self._nested(name).read_mapped(info)

    def members(self) -> list[str]:
        """The set's own members, then every nested APK's as ``<apk>!/<member>``."""
        names = [info.filename for info in self._archive.infos()]
        for name in self._nested_names():
            names.extend(f"{name}{NESTED_SEPARATOR}{info.filename}" for info in self._listed(name).infos())
        return names

    def read_member(self, path: str, limit: int | None = None) -> bytes:
        name, separator, member = path.partition(NESTED_SEPARATOR)
        if separator and name.endswith(".apk"):
            inner = self._nested(name)
            return inner.read(inner.info(member), limit)
        return self._archive.read(self._archive.info(path), limit)

    def open_member(self, path: str, limit: int | None = None) -> IO[bytes]:
        name, separator, member = path.partition(NESTED_SEPARATOR)
        if separator and name.endswith(".apk"):
            inner = self._nested(name)
            return inner.open_member(inner.info(member), limit)
        return self._archive.open_member(self._archive.info(path), limit)

    def close(self) -> None:
        for inner in self._open.values():
            inner.close()
        self._open.clear()
        self._archive.close()
