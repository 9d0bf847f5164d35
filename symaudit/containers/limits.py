"""How much one member may decompress to before symaudit calls it a zip bomb.

A package is untrusted input: its central directory may declare any sizes, so reads are capped by
these bounds, checked against the bytes actually produced. The names are read at call time, so a
test may lower them with ``monkeypatch.setattr(limits, "MAX_MEMBER_BYTES", ...)``.
"""

from __future__ import annotations

MAX_MEMBER_BYTES = 1 << 30
"""No member (or file in a folder) is read past 1 GiB, whatever its compression."""
RATIO_FLOOR_BYTES = 16 << 20
"""Deflated members up to 16 MiB are accepted at any ratio: zeroed tables compress very well."""
MAX_RATIO = 200
"""Beyond the floor, a member may grow at most 200x; real libraries deflate 2-5x."""
SPILL_ABOVE = 64 << 20
"""A deflated member that inflates past 64 MiB is written, as it inflates, to an unnamed
temporary file (``tempfile``: never a name taken from the package) and mapped from there, so a
1 GiB member costs disk, not memory. Smaller members are held in memory."""
INFLATE_CHUNK = 1 << 20
"""Members are inflated a chunk at a time: the bound is checked on bytes produced, and the whole
member never exists twice (one ``read(n)`` of zipfile joins its pieces at the end)."""


def describe_size(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            value = size / (1 << shift)
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{size} bytes"


def member_bound(compressed_size: int, deflated: bool) -> tuple[int, str]:
    """The largest acceptable decompressed size of a member, and the words for exceeding it.

    ``compressed_size`` should already be capped at the archive's size, so that a lying central
    directory cannot widen the ratio bound past what the file could hold.
    """
    if deflated:
        ratio_bound = max(RATIO_FLOOR_BYTES, MAX_RATIO * compressed_size)
        if ratio_bound < MAX_MEMBER_BYTES:
            return ratio_bound, (
                f"decompressed size exceeds {describe_size(ratio_bound)}, over {MAX_RATIO}x its "
                f"compressed size of {describe_size(compressed_size)} (zip bomb?)"
            )
    return MAX_MEMBER_BYTES, f"decompressed size exceeds {describe_size(MAX_MEMBER_BYTES)} (zip bomb?)"
