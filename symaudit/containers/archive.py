"""Zip packages (APK, AAB, AAR, plain zip) read in place: bounded member reads, one-line errors.

Nothing is extracted under a member's name: a member that inflates past ``limits.SPILL_ABOVE``
goes, as it inflates, to an unnamed temporary file. ``zipfile`` trusts the central directory
and raises a handful of unrelated exception types on corrupt input; everything it can raise is
caught here and turned into an ``InputError`` (the archive as a whole) or a ``MemberError`` (one member). The exception
lists below were found by mutating real archives byte by byte, not by reading the docs.
"""

from __future__ import annotations

import errno
import hashlib
import io
import mmap
import os
import struct
import tempfile
import zipfile
import zlib
from typing import IO, Any

from symaudit.containers import layout, limits
from symaudit.containers.base import ClosingPackage, LibraryEntry, Mapped, PackageKind, library_order, shown
from symaudit.containers.digests import HAS_PREAD, PendingDigest, SharedFd
from symaudit.errors import InputError, MemberError

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_MAGIC = b"PK\x03\x04"
_ENCRYPTED = 0x1
# What ZipFile() raises on a damaged central directory: BadZipFile for most damage,
# NotImplementedError for an absurd "version needed", UnicodeDecodeError (a ValueError) for a
# name flagged UTF-8 that is not, OSError/ValueError for offsets beyond either end of the file.
_OPEN_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    OSError,
    ValueError,
    EOFError,
    struct.error,
)
# What opening and reading one member raises: BadZipFile (bad CRC, bad local header), zlib.error
# (corrupt deflate stream), EOFError (data cut short), RuntimeError (encryption flag),
# NotImplementedError (local-header-only features), ValueError (negative seek in a nested APK,
# undecodable local name), OSError (I/O error under the archive), OverflowError (a zip64 local
# header offset past what seek() takes).
_MEMBER_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    OSError,
    OverflowError,
)
_METHOD_NAMES = {9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 95: "xz"}


class NotAZip(Exception):
    """ZipFile() refused the bytes; the caller decides whether that means "not a zip" or "corrupt"."""


class DuplicateEntry(NotAZip):
    """A zip with two entries of one name. zipfile keeps both (the later one wins a lookup by
    name, while a walk of the entries sees both); libziparchive's ``OpenArchive`` fails with
    ``kDuplicateEntry`` ("Duplicate entries in archive"), so Android installs no such package."""


def _duplicate_name(infos: list[zipfile.ZipInfo]) -> str | None:
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:
            return info.filename
        seen.add(info.filename)
    return None


def _member_problem(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile) and str(exc).startswith("Bad CRC-32"):
        return "bad CRC-32 (corrupt data)"
    if isinstance(exc, zipfile.BadZipFile):
        return f"corrupt zip entry ({exc})"
    if isinstance(exc, zlib.error):
        return f"corrupt deflate data ({exc})"
    if isinstance(exc, EOFError):
        return "truncated data"
    if isinstance(exc, RuntimeError):
        return "encrypted"
    if isinstance(exc, NotImplementedError):
        return f"unsupported zip feature ({exc})"
    if (isinstance(exc, OSError) and exc.errno == errno.EINVAL) or isinstance(exc, OverflowError):
        return "corrupt zip entry (offset outside the file)"
    if isinstance(exc, OSError):
        return f"read error ({exc.strerror or exc})"
    return f"corrupt zip entry ({exc})"


class ZipArchive:
    """One zip, on a file or in memory, labelled for messages (``app.apks: splits/base.apk``)."""

    def __init__(self, label: str, fp: IO[bytes], size: int) -> None:
        """Takes ownership of ``fp`` only on success; raises ``NotAZip``."""
        try:
            self._zip = zipfile.ZipFile(fp)
        except _OPEN_ERRORS as exc:
            detail = str(exc) or type(exc).__name__
            if detail == "File is not a zip file":
                detail = "no end of central directory record"
            raise NotAZip(detail) from exc
        self.label = label
        self.size = size
        self._fp = fp
        self._infos = self._zip.infolist()
        self._digests: dict[str, PendingDigest] = {}
        self._hash_fd: SharedFd | None = None
        duplicate = _duplicate_name(self._infos)
        if duplicate is not None:
            self._zip.close()
            raise DuplicateEntry(
                f"two entries named {shown(duplicate)}: Android's zip reader (libziparchive) "
                "refuses an archive with duplicate entry names, so no device installs it"
            )

    @classmethod
    def from_bytes(cls, label: str, data: bytes) -> ZipArchive:
        return cls(label, io.BytesIO(data), len(data))

    def infos(self) -> list[zipfile.ZipInfo]:
        return self._infos

    def info(self, member: str) -> zipfile.ZipInfo:
        try:
            return self._zip.getinfo(member)
        except KeyError:
            raise MemberError(f"{self.label}: {shown(member)}: no such member") from None

    def data_offset(self, info: zipfile.ZipInfo) -> int | None:
        """Where a stored member's bytes start, from its *local* header (REFERENCE.md §6.1).

        The central directory's extra field is not the local one: zipalign pads only the local.
        None for deflated members and for a local header that is not there (the read of such a
        member fails later, as a ``MemberError``).
        """
        if info.compress_type != zipfile.ZIP_STORED or info.header_offset < 0:
            return None
        try:
            self._fp.seek(info.header_offset)
            header = self._fp.read(_LOCAL_HEADER.size)
        except (OSError, ValueError):
            return None
        if len(header) != _LOCAL_HEADER.size:
            return None
        magic, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        if magic != _LOCAL_MAGIC:
            return None
        return int(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)

    def entry(self, abi: str, info: zipfile.ZipInfo, container: str | None = None) -> LibraryEntry:
        return LibraryEntry(
            abi=abi,
            path=info.filename,
            name=info.filename.rpartition("/")[2],
            size=info.file_size,
            compressed=info.compress_type != zipfile.ZIP_STORED,
            data_offset=self.data_offset(info),
            container=container,
        )

    def read(self, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
        """The member's bytes, never more than the zip-bomb bound (InputError) or ``limit``
        (MemberError: the caller's own cap, not a verdict on the archive).

        One ``read()`` of the declared size plus one byte: zipfile stops at the declared size
        and checks the CRC there, a deflated stream is inflated with that as its ``max_length``,
        and a result longer than the bound, or of another length than declared, proves the
        declaration wrong. Only stored and deflated members are read: Android's own zip reader
        supports no other method, and zipfile would inflate bzip2/lzma without an output bound.
        """
        spooled = self.open_member(info, limit)
        try:
            if isinstance(spooled, io.BytesIO):
                return spooled.getvalue()
            return spooled.read()
        finally:
            spooled.close()

    def open_member(self, info: zipfile.ZipInfo, limit: int | None = None, digest: Any = None) -> IO[bytes]:
        """The member's bytes as a file positioned at 0: a ``BytesIO`` up to
        :data:`limits.SPILL_ABOVE`, else an unnamed temporary file. Bounded and checked exactly as
        :meth:`read`; ``digest`` (a hashlib object), when given, is fed every byte."""
        where = f"{self.label}: {shown(info.filename)}"
        if info.flag_bits & _ENCRYPTED:
            raise MemberError(f"{where}: encrypted")
        method = info.compress_type
        if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            name = _METHOD_NAMES.get(method)
            raise MemberError(
                f"{where}: unsupported compression method {method}" + (f" ({name})" if name else "")
            )
        bound, too_big = limits.member_bound(
            min(info.compress_size, self.size), method == zipfile.ZIP_DEFLATED
        )
        error: type[InputError] = InputError
        if limit is not None and limit < bound:
            bound, too_big, error = limit, f"larger than the {limit}-byte limit of this read", MemberError
        want = min(info.file_size, bound)
        if method == zipfile.ZIP_STORED:
            want = min(want, self.size)
        out: IO[bytes] = io.BytesIO()
        produced = 0
        try:
            try:
                with self._zip.open(info) as member:
                    # One byte past what is wanted proves a lying size or a bomb; chunks keep the
                    # bytes produced (and held) at most one chunk past the bound.
                    while produced <= want:
                        chunk = member.read(min(limits.INFLATE_CHUNK, want + 1 - produced))
                        if not chunk:
                            break
                        produced += len(chunk)
                        if digest is not None:
                            digest.update(chunk)
                        if isinstance(out, io.BytesIO) and produced > limits.SPILL_ABOVE:
                            out = _spill(out)
                        out.write(chunk)
            except _MEMBER_ERRORS as exc:
                raise MemberError(f"{where}: {_member_problem(exc)}") from exc
            if produced > bound:
                raise error(f"{where}: {too_big}")
            if produced != info.file_size:
                # zipfile checks the CRC, not the size: a central directory may overstate it.
                raise MemberError(
                    f"{where}: holds {produced} bytes, not the {info.file_size} its header declares"
                )
        except BaseException:
            out.close()
            raise
        out.seek(0)
        return out

    def _stored_span(self, info: zipfile.ZipInfo) -> tuple[int, int] | None:
        """Where a plain stored member's bytes are in the file, when they can be read in place."""
        if info.flag_bits & _ENCRYPTED or info.compress_type != zipfile.ZIP_STORED or info.file_size == 0:
            return None
        start = self.data_offset(info)
        if start is None or start + info.file_size > self.size:
            return None
        return start, start + info.file_size

    def _fileno(self) -> int | None:
        try:
            return self._fp.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation: a nested APK held in memory
            return None

    def hash_ahead(self, infos: list[zipfile.ZipInfo]) -> None:
        """Queue the digests of these stored members, in this order, before they are read: the
        hash worker then runs ahead of the parser instead of behind it."""
        if not HAS_PREAD:
            return
        for info in infos:
            self._digest(info)

    def _digest(self, info: zipfile.ZipInfo) -> PendingDigest | None:
        """The (queued) sha256 and CRC check of a stored member, None when it has no plain span."""
        digest = self._digests.get(info.filename)
        if digest is not None:
            return digest
        span = self._stored_span(info)
        fd = self._fileno()
        if span is None or fd is None:
            return None
        if self._hash_fd is None:
            self._hash_fd = SharedFd(fd)
        where = f"{self.label}: {shown(info.filename)}"
        digest = self._digests[info.filename] = PendingDigest(self._hash_fd, where, span, info.CRC, MemberError)
        return digest

    def read_mapped(self, info: zipfile.ZipInfo) -> Mapped | None:
        """A stored member's bytes mapped from the file, with their sha256; ``None`` when the
        member is not a plain stored one (the caller then uses :meth:`read`).

        The CRC-32 and sha256 are computed from ``pread`` chunks by the hash worker, so hashing
        neither waits for nor makes the whole library resident; the parser touches only the pages
        of the tables it reads. A 100 MB libtorch costs a few MB of memory instead of 100.
        """
        if not HAS_PREAD:
            return None  # Windows: no os.pread; the buffered read is correct, only slower
        if (
            info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > limits.SPILL_ABOVE
            and not info.flag_bits & _ENCRYPTED
        ):
            return self._inflate_mapped(info)
        span = self._stored_span(info)
        fd = self._fileno()
        if span is None or fd is None:
            return None
        start, end = span
        try:
            base = start - start % mmap.ALLOCATIONGRANULARITY
            mapping = mmap.mmap(fd, end - base, offset=base, access=mmap.ACCESS_READ)
        except (OSError, ValueError, OverflowError):
            return None  # the buffered read reports whatever is wrong
        digest = self._digest(info)
        assert digest is not None
        return Mapped(memoryview(mapping)[start - base :], mapping, digest)

    def _inflate_mapped(self, info: zipfile.ZipInfo) -> Mapped | None:
        """A large deflated member inflated to an unnamed temporary file and mapped from it."""
        digest = hashlib.sha256()
        spooled = self.open_member(info, digest=digest)
        try:
            if isinstance(spooled, io.BytesIO):  # smaller than it declared: read() reports it
                return None
            mapping = mmap.mmap(spooled.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        finally:
            spooled.close()  # the mapping keeps the unlinked file's pages
        return Mapped(memoryview(mapping), mapping, _Known(digest.hexdigest()))

    def close(self) -> None:
        for digest in self._digests.values():
            digest.cancel()
        if self._hash_fd is not None:
            self._hash_fd.let_go()
            self._hash_fd = None
        self._zip.close()
        self._fp.close()


def _spill(memory: io.BytesIO) -> IO[bytes]:
    """Moves what was inflated so far to an unnamed temporary file (nothing in the package names
    it, and it disappears when closed)."""
    spilled = tempfile.TemporaryFile(prefix="symaudit-")
    spilled.write(memory.getbuffer())
    memory.close()
    return spilled


class _Known:
    """A digest computed already (while the member was inflated)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def value(self) -> str:
        return self._value


class ZipPackage(ClosingPackage):
    """APK, AAB, AAR or plain zip: one archive, libraries where ``layout`` says its kind keeps them."""

    def __init__(
        self, path: str, kind: PackageKind, sha256: str | PendingDigest | None, archive: ZipArchive
    ) -> None:
        self.path = path
        self.kind = kind
        self._digest = sha256
        self._archive = archive
        self._entries: list[LibraryEntry] | None = None
        self._infos: dict[LibraryEntry, zipfile.ZipInfo] = {}

    def libraries(self) -> list[LibraryEntry]:
        if self._entries is None:
            found = layout.libraries_of(self.kind, ((i.filename, i) for i in self._archive.infos()))
            for abi, info in found:
                self._infos[self._archive.entry(abi, info)] = info
            self._entries = sorted(self._infos, key=library_order)
        return list(self._entries)

    def read(self, entry: LibraryEntry) -> bytes:
        info = self._infos.get(entry) or self._archive.info(entry.path)
        return self._archive.read(info)

    def read_mapped(self, entry: LibraryEntry) -> Mapped | None:
        info = self._infos.get(entry) or self._archive.info(entry.path)
        return self._archive.read_mapped(info)

    def hash_ahead(self, entries: list[LibraryEntry]) -> None:
        """Start hashing these libraries, in the order they will be read."""
        self._archive.hash_ahead([self._infos[e] for e in entries if e in self._infos])

    def members(self) -> list[str]:
        return [info.filename for info in self._archive.infos()]

    def read_member(self, path: str, limit: int | None = None) -> bytes:
        return self._archive.read(self._archive.info(path), limit)

    def open_member(self, path: str, limit: int | None = None) -> IO[bytes]:
        return self._archive.open_member(self._archive.info(path), limit)

    def close(self) -> None:
        self._archive.close()


def open_zip_file(path: str, fp: IO[bytes]) -> ZipArchive:
    """Raises ``NotAZip``; ``fp`` stays the caller's to close then."""
    return ZipArchive(path, fp, os.fstat(fp.fileno()).st_size)
