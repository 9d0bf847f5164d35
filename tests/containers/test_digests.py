"""The hash worker: digests of stored members and whole files, in the order an audit needs them."""

from __future__ import annotations

import hashlib
import os
import sys
import zlib
from pathlib import Path

import pytest

from symaudit.containers import digests, open_package
from symaudit.containers.digests import HashQueue, PendingDigest, SharedFd
from symaudit.errors import InputError, MemberError

APK = Path(__file__).resolve().parents[2] / "fixtures" / "packages" / "clean.apk"

pytestmark = pytest.mark.skipif(not digests.HAS_PREAD, reason="positional reads are POSIX-only")


def _file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = bytes(range(256)) * (size // 256)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


def test_the_worker_takes_digests_in_the_order_they_were_queued(tmp_path: Path) -> None:
    path, data = _file(tmp_path, 1 << 20)
    queue = HashQueue(threaded=False)
    with open(path, "rb") as fp:
        whole = PendingDigest(fp.fileno(), "whole", queue=queue)
        shared = SharedFd(fp.fileno())
        first = PendingDigest(shared, "first", (0, 4096), zlib.crc32(data[:4096]), MemberError, queue)
        second = PendingDigest(shared, "second", (4096, 8192), zlib.crc32(data[4096:8192]), MemberError, queue)
        shared.let_go()
    queue.drain(chunk=64 << 10)
    assert queue.finished == ["whole", "first", "second"]
    assert first.value() == hashlib.sha256(data[:4096]).hexdigest()
    assert second.value() == hashlib.sha256(data[4096:8192]).hexdigest()
    assert whole.value() == hashlib.sha256(data).hexdigest()


def test_a_digest_nobody_started_is_computed_by_the_thread_that_needs_it(tmp_path: Path) -> None:
    path, data = _file(tmp_path, 1 << 20)
    queue = HashQueue(threaded=False)  # no worker: only the caller can compute it
    with open(path, "rb") as fp:
        whole = PendingDigest(fp.fileno(), "whole", queue=queue)
        member = PendingDigest(fp.fileno(), "member", (0, 100), zlib.crc32(data[:100]), MemberError, queue)
    assert member.value() == hashlib.sha256(data[:100]).hexdigest()
    queue.drain(chunk=64 << 10)
    assert queue.finished == ["whole"]  # the member was no longer the worker's to do
    assert whole.value() == hashlib.sha256(data).hexdigest()


def test_a_bad_crc_a_short_member_and_a_closed_package_are_errors(tmp_path: Path) -> None:
    path, data = _file(tmp_path, 8192)
    queue = HashQueue(threaded=False)
    with open(path, "rb") as fp:
        bad_crc = PendingDigest(fp.fileno(), "m1", (0, 100), zlib.crc32(data[:100]) ^ 1, MemberError, queue)
        short = PendingDigest(fp.fileno(), "m2", (8000, 9000), 0, MemberError, queue)
        cancelled = PendingDigest(fp.fileno(), "m3", (0, 10), zlib.crc32(data[:10]), MemberError, queue)
        cancelled.cancel()
    queue.drain()
    with pytest.raises(MemberError, match="m1: bad CRC-32"):
        bad_crc.value()
    with pytest.raises(MemberError, match="m2: truncated"):
        short.value()
    with pytest.raises(InputError, match="m3: closed before it was hashed"):
        cancelled.value()


def test_every_descriptor_is_closed_once_its_digests_are_done(tmp_path: Path) -> None:
    path, _ = _file(tmp_path, 8192)
    queue = HashQueue(threaded=False)
    with open(path, "rb") as fp:
        shared = SharedFd(fp.fileno())
        PendingDigest(shared, "a", (0, 10), None, MemberError, queue)
        PendingDigest(shared, "b", (10, 20), None, MemberError, queue)
    shared.let_go()  # the archive closes before the worker ran
    os.fstat(shared.fd)  # still open: the queued digests hold it
    queue.drain()
    with pytest.raises(OSError):
        os.fstat(shared.fd)


def test_an_audit_queues_its_libraries_ahead_and_restores_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    with open_package([str(APK)]) as package:
        entries = package.libraries()
        package.hash_ahead(entries)  # type: ignore[attr-defined]
        queued = package._archive._digests  # type: ignore[attr-defined]  # noqa: SLF001
        assert set(queued) == {entry.path for entry in entries}
        for entry in entries:
            mapped = package.read_mapped(entry)  # type: ignore[attr-defined]
            try:
                assert mapped.digest is queued[entry.path]  # the queued digest, not a second one
                assert mapped.digest.value() == hashlib.sha256(package.read(entry)).hexdigest()
            finally:
                mapped.release()
        package.sha256  # noqa: B018 - waits for the whole-file digest
    worker = digests._QUEUE._worker  # noqa: SLF001
    if worker is not None:
        worker.join(5)
    assert sys.getswitchinterval() == before
