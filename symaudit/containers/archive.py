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
import threading
import zipfile
import zlib
from typing import IO, Any

from symaudit.containers import layout, limits
from symaudit.containers.base import ClosingPackage, LibraryEntry, PackageKind, library_order, shown
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
_HASH_CHUNK = 1 << 20


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


def sha256_of(fp: IO[bytes], path: str) -> str:
    digest = hashlib.sha256()
    try:
        fp.seek(0)
        while chunk := fp.read(_HASH_CHUNK):
            digest.update(chunk)
    except OSError as exc:
        raise InputError(f"{path}: read error ({exc.strerror or exc})") from None
    return digest.hexdigest()


HAS_PREAD = hasattr(os, "pread")
"""Positional reads (POSIX); without them digests are computed in the caller's thread."""


def hash_range(fd: int, start: int, end: int | None) -> tuple[str, int, int]:
    """(sha256, CRC-32, bytes read) of ``fd`` from ``start`` to ``end`` (None: end of file),
    read with ``pread``: the file offset does not move, and nothing stays resident."""
    digest = hashlib.sha256()
    crc = 0
    position = start
    while end is None or position < end:
        want = _HASH_CHUNK if end is None else min(_HASH_CHUNK, end - position)
        chunk = os.pread(fd, want, position)
        if not chunk:
            break
        digest.update(chunk)
        if end is not None:
            crc = zlib.crc32(chunk, crc)
        position += len(chunk)
    return digest.hexdigest(), crc, position - start


class PendingDigest:
    """The sha256 of a file, or of a stored member's span of it, computed on a thread while the
    libraries are parsed.

    hashlib and zlib release the GIL on large buffers, so on a multi-core machine hashing a 50 MB
    APK costs no wall time. The thread reads a duplicate of the caller's descriptor with
    ``pread``: it never moves the caller's file offset, and closing the package does not close it.
    For a member, ``span`` is its data and ``crc`` the CRC-32 its zip header declares: a short
    read or another CRC makes :meth:`value` raise ``error``.
    """

    def __init__(
        self,
        fd: int,
        where: str,
        span: tuple[int, int] | None = None,
        crc: int | None = None,
        error: type[InputError] = InputError,
    ) -> None:
        self._fd = os.dup(fd)
        self._where = where
        self._span = span
        self._crc = crc
        self._error_type = error
        self._result: str | None = None
        self._error: InputError | None = None
        self._thread = threading.Thread(target=self._run, name="symaudit-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        start, end = self._span or (0, None)
        try:
            digest, crc, read = hash_range(self._fd, start, end)
            if end is not None and read < end - start:
                self._error = self._error_type(f"{self._where}: truncated")
            elif self._crc is not None and crc != self._crc:
                self._error = self._error_type(f"{self._where}: bad CRC-32 (corrupt data)")
            else:
                self._result = digest
        except OSError as exc:
            self._error = self._error_type(f"{self._where}: read error ({exc.strerror or exc})")
        finally:
            os.close(self._fd)

    def value(self) -> str:
        """The sha256; raises the error given at construction when the data is not as declared."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


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

    def read_mapped(self, info: zipfile.ZipInfo) -> Mapped | None:
        """A stored member's bytes mapped from the file, with their sha256; ``None`` when the
        member is not a plain stored one (the caller then uses :meth:`read`).

        The CRC-32 and sha256 are computed from ``pread`` chunks on a thread, so hashing neither
        waits for nor makes the whole library resident; the parser touches only the pages of the
        tables it reads. A 100 MB libtorch costs a few MB of memory instead of 100.
        """
        if not HAS_PREAD:
            return None  # Windows: no os.pread; the buffered read is correct, only slower
        if (
            info.compress_type == zipfile.ZIP_DEFLATED
            and info.file_size > limits.SPILL_ABOVE
            and not info.flag_bits & _ENCRYPTED
        ):
            return self._inflate_mapped(info)
        if info.flag_bits & _ENCRYPTED or info.compress_type != zipfile.ZIP_STORED or info.file_size == 0:
            return None
        start = self.data_offset(info)
        if start is None or start + info.file_size > self.size:
            return None
        end = start + info.file_size
        try:
            fd = self._fp.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation: a nested APK held in memory
            return None
        try:
            base = start - start % mmap.ALLOCATIONGRANULARITY
            mapping = mmap.mmap(fd, end - base, offset=base, access=mmap.ACCESS_READ)
        except (OSError, ValueError, OverflowError):
            return None  # the buffered read reports whatever is wrong
        where = f"{self.label}: {shown(info.filename)}"
        return Mapped(
            memoryview(mapping)[start - base :],
            mapping,
            PendingDigest(fd, where, (start, end), info.CRC, MemberError),
        )

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


class Mapped:
    """Bytes of one library mapped read-only from the package file, and their digest (being
    computed); ``release`` unmaps them."""

    def __init__(self, view: memoryview, mapping: mmap.mmap, digest: PendingDigest | _Known) -> None:
        self.view = view
        self.digest = digest
        self._mapping = mapping

    def release(self) -> None:
        self.view.release()
        try:
            self._mapping.close()
        except BufferError:
            pass  # a view is still alive somewhere: the mapping goes when it does


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
