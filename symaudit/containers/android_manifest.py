"""App facts from AndroidManifest.xml: minSdkVersion, targetSdkVersion, extractNativeLibs.

APKs carry the manifest as binary XML (AXML, REFERENCE.md §6.4); AARs as plain text XML.
Attributes are found by their framework resource id, not their name, because obfuscators rename
attribute names but cannot change the ids the platform reads.

A small reader of our own rather than a dependency: symaudit needs four attributes, and the
maintained AXML parsers on PyPI (androguard, pyaxmlparser) pull in large dependency trees and
parse whole resource tables. The reader is bounded: every offset and count is checked against
the chunk that holds it, and malformed input raises :class:`ManifestError`.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

from symaudit.containers.base import Package
from symaudit.errors import SymauditError
from symaudit.results import AppFacts

__all__ = ["AppFacts", "ManifestError", "app_facts", "parse_manifest"]

ATTR_MIN_SDK = 0x0101020C
ATTR_TARGET_SDK = 0x01010270
ATTR_EXTRACT_NATIVE_LIBS = 0x010104EA

_RES_XML = 0x0003
_RES_STRING_POOL = 0x0001
_RES_XML_RESOURCE_MAP = 0x0180
_RES_XML_START_ELEMENT = 0x0102

_TYPE_STRING = 0x03
_TYPE_INT_DEC = 0x10
_TYPE_INT_HEX = 0x11
_TYPE_INT_BOOLEAN = 0x12
_NO_INDEX = 0xFFFFFFFF
_UTF8_FLAG = 0x100

ANDROID_NS = "http://schemas.android.com/apk/res/android"


class ManifestError(Exception):
    """The manifest cannot be read; the message says why."""


def _strings(data: bytes, offset: int, size: int) -> list[str]:
    if size < 28 or offset + size > len(data):
        raise ManifestError("string pool extends past the end of the file")
    count, _styles, flags, strings_start = struct.unpack_from("<IIII", data, offset + 8)
    if count > (size - 28) // 4:
        raise ManifestError("string pool count is larger than the pool")
    offsets = struct.unpack_from(f"<{count}I", data, offset + 28)
    base = offset + strings_start
    end = offset + size
    utf8 = bool(flags & _UTF8_FLAG)
    result = []
    for rel in offsets:
        pos = base + rel
        if pos >= end:
            raise ManifestError("string offset outside the string pool")
        result.append(_utf8_at(data, pos, end) if utf8 else _utf16_at(data, pos, end))
    return result


def _utf8_at(data: bytes, pos: int, end: int) -> str:
    def length(at: int) -> tuple[int, int]:
        first = data[at]
        if first & 0x80:
            return ((first & 0x7F) << 8) | data[at + 1], at + 2
        return first, at + 1

    _chars, pos = length(pos)
    nbytes, pos = length(pos)
    if pos + nbytes > end:
        raise ManifestError("string extends past the string pool")
    return data[pos : pos + nbytes].decode("utf-8", "replace")


def _utf16_at(data: bytes, pos: int, end: int) -> str:
    (units,) = struct.unpack_from("<H", data, pos)
    pos += 2
    if units & 0x8000:
        (low,) = struct.unpack_from("<H", data, pos)
        units = ((units & 0x7FFF) << 16) | low
        pos += 2
    if pos + units * 2 > end:
        raise ManifestError("string extends past the string pool")
    return data[pos : pos + units * 2].decode("utf-16-le", "replace")


def parse_binary_manifest(data: bytes) -> AppFacts:
    """Read the attributes symaudit needs from a binary (AXML) AndroidManifest.xml."""
    try:
        return _parse_binary(data)
    except (struct.error, IndexError) as exc:
        raise ManifestError(f"truncated binary XML ({exc})") from exc


def _parse_binary(data: bytes) -> AppFacts:
    if len(data) < 8:
        raise ManifestError("too small for binary XML")
    chunk_type, header_size, total = struct.unpack_from("<HHI", data, 0)
    if chunk_type != _RES_XML or header_size < 8:
        raise ManifestError("not binary XML (no XML chunk header)")
    total = min(total, len(data))
    strings: list[str] = []
    resource_ids: tuple[int, ...] = ()
    found: dict[str, object] = {}
    pos = header_size
    while pos + 8 <= total:
        ctype, hsize, csize = struct.unpack_from("<HHI", data, pos)
        if csize < 8 or pos + csize > total:
            raise ManifestError(f"chunk at offset {pos} has a bad size ({csize})")
        if ctype == _RES_STRING_POOL:
            strings = _strings(data, pos, csize)
        elif ctype == _RES_XML_RESOURCE_MAP:
            resource_ids = struct.unpack_from(f"<{(csize - hsize) // 4}I", data, pos + hsize)
        elif ctype == _RES_XML_START_ELEMENT:
            _start_element(data, pos, hsize, csize, strings, resource_ids, found)
        pos += csize
    return AppFacts(
        package=found.get("package"),  # type: ignore[arg-type]
        min_sdk=found.get("min_sdk"),  # type: ignore[arg-type]
        target_sdk=found.get("target_sdk"),  # type: ignore[arg-type]
        extract_native_libs=found.get("extract_native_libs"),  # type: ignore[arg-type]
    )


def _start_element(
    data: bytes,
    pos: int,
    hsize: int,
    csize: int,
    strings: list[str],
    resource_ids: tuple[int, ...],
    found: dict[str, object],
) -> None:
    body = pos + hsize
    _ns, name_idx, attr_start, attr_size, attr_count = struct.unpack_from("<IIHHH", data, body)
    element = strings[name_idx] if name_idx < len(strings) else ""
    if attr_size < 20 or body + attr_start + attr_count * attr_size > pos + csize:
        raise ManifestError(f"element <{element}> has attributes past its chunk")
    for index in range(attr_count):
        at = body + attr_start + index * attr_size
        _ans, aname, raw, _vsize, _res0, vtype, value = struct.unpack_from("<IIIHBBI", data, at)
        res_id = resource_ids[aname] if aname < len(resource_ids) else None
        attr_name = strings[aname] if aname < len(strings) else ""
        if element == "manifest" and attr_name == "package" and raw != _NO_INDEX and raw < len(strings):
            found["package"] = strings[raw]
        elif element == "uses-sdk" and res_id in (ATTR_MIN_SDK, ATTR_TARGET_SDK):
            key = "min_sdk" if res_id == ATTR_MIN_SDK else "target_sdk"
            found[key] = _sdk_value(vtype, value, raw, strings)
        elif element == "application" and res_id == ATTR_EXTRACT_NATIVE_LIBS:
            if vtype == _TYPE_INT_BOOLEAN:
                found["extract_native_libs"] = value != 0


def _sdk_value(vtype: int, value: int, raw: int, strings: list[str]) -> int | None:
    if vtype in (_TYPE_INT_DEC, _TYPE_INT_HEX):
        return value
    if vtype == _TYPE_STRING and raw != _NO_INDEX and raw < len(strings):
        text = strings[raw]
        # A preview codename ("VanillaIceCream") has no number; callers treat None as unknown.
        return int(text) if text.isdigit() else None
    return None


def parse_text_manifest(data: bytes) -> AppFacts:
    """Read the same attributes from a plain-text manifest (AARs ship these)."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ManifestError(f"not well-formed XML ({exc})") from exc

    def attr(element: ElementTree.Element | None, name: str) -> str | None:
        return None if element is None else element.get(f"{{{ANDROID_NS}}}{name}")

    uses_sdk = root.find("uses-sdk")
    application = root.find("application")
    min_sdk, target_sdk = attr(uses_sdk, "minSdkVersion"), attr(uses_sdk, "targetSdkVersion")
    extract = attr(application, "extractNativeLibs")
    return AppFacts(
        package=root.get("package"),
        min_sdk=int(min_sdk) if min_sdk and min_sdk.isdigit() else None,
        target_sdk=int(target_sdk) if target_sdk and target_sdk.isdigit() else None,
        extract_native_libs=None if extract is None else extract.strip().lower() == "true",
    )


def parse_manifest(data: bytes) -> AppFacts:
    """Binary XML (APK), aapt2 protobuf (App Bundle) or text (AAR), whichever ``data`` is."""
    if data[:2] == b"\x03\x00":
        return parse_binary_manifest(data)
    if data[:1] == b"\x0a":  # protobuf field 1 (XmlNode.element), length-delimited
        return parse_proto_manifest(data)
    return parse_text_manifest(data)


# -- aapt2 protobuf XML (frameworks/base/tools/aapt2/Resources.proto: XmlNode, XmlElement,
# XmlAttribute, Item, Primitive), as bundletool stores base/manifest/AndroidManifest.xml ----------

_MAX_PROTO_DEPTH = 64


def _proto_fields(data: bytes, start: int, end: int) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one message; varints as int, length-delimited as bytes."""
    fields: list[tuple[int, int, int | bytes]] = []
    position = start

    def varint() -> int:
        nonlocal position
        result = shift = 0
        while True:
            if position >= end or shift > 63:
                raise ManifestError("truncated protobuf varint")
            byte = data[position]
            position += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while position < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.append((number, wire, varint()))
        elif wire == 2:
            length = varint()
            if position + length > end:
                raise ManifestError("protobuf field runs past its message")
            fields.append((number, wire, data[position : position + length]))
            position += length
        elif wire == 5:
            position += 4
        elif wire == 1:
            position += 8
        else:
            raise ManifestError(f"unsupported protobuf wire type {wire}")
    return fields


def _proto_attribute_value(raw: bytes) -> tuple[str, int | None, str | None, int | bool | None]:
    """(name, resource id, string value, compiled primitive) of one XmlAttribute."""
    name, resource_id, text, primitive = "", None, None, None
    for number, _, value in _proto_fields(raw, 0, len(raw)):
        if number == 2 and isinstance(value, bytes):
            name = value.decode("utf-8", "replace")
        elif number == 3 and isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
        elif number == 5 and isinstance(value, int):
            resource_id = value
        elif number == 6 and isinstance(value, bytes):
            for item_number, _, item in _proto_fields(value, 0, len(value)):
                if item_number == 7 and isinstance(item, bytes):  # Item.prim
                    for prim_number, _, prim in _proto_fields(item, 0, len(item)):
                        if prim_number in (6, 7) and isinstance(prim, int):  # int decimal / hex
                            primitive = prim - (1 << 32) if prim >= 1 << 31 else prim
                        elif prim_number == 8 and isinstance(prim, int):  # boolean
                            primitive = bool(prim)
    return name, resource_id, text, primitive


def parse_proto_manifest(data: bytes) -> AppFacts:
    found: dict[str, object] = {}
    package: str | None = None

    def element(raw: bytes, depth: int) -> None:
        nonlocal package
        if depth > _MAX_PROTO_DEPTH:
            raise ManifestError("manifest nests too deeply")
        name = ""
        attributes: list[bytes] = []
        children: list[bytes] = []
        for number, _, value in _proto_fields(raw, 0, len(raw)):
            if not isinstance(value, bytes):
                continue
            if number == 3:
                name = value.decode("utf-8", "replace")
            elif number == 4:
                attributes.append(value)
            elif number == 5:
                children.append(value)
        for attribute in attributes:
            attr_name, resource_id, text, primitive = _proto_attribute_value(attribute)
            if name == "manifest" and attr_name == "package":
                package = text
            key = {
                ATTR_MIN_SDK: "min_sdk",
                ATTR_TARGET_SDK: "target_sdk",
                ATTR_EXTRACT_NATIVE_LIBS: "extract_native_libs",
            }.get(resource_id or -1)
            if key is None:
                continue
            if key == "extract_native_libs":
                found[key] = primitive if isinstance(primitive, bool) else (text or "").lower() == "true"
            elif isinstance(primitive, int) and not isinstance(primitive, bool):
                found[key] = primitive
            elif text and text.isdigit():
                found[key] = int(text)
        for child in children:
            for number, _, value in _proto_fields(child, 0, len(child)):
                if number == 1 and isinstance(value, bytes):
                    element(value, depth + 1)

    try:
        for number, _, value in _proto_fields(data, 0, len(data)):
            if number == 1 and isinstance(value, bytes):
                element(value, 0)
    except RecursionError as exc:  # pragma: no cover - bounded by _MAX_PROTO_DEPTH
        raise ManifestError("manifest nests too deeply") from exc
    return AppFacts(
        package=package,
        min_sdk=found.get("min_sdk"),  # type: ignore[arg-type]
        target_sdk=found.get("target_sdk"),  # type: ignore[arg-type]
        extract_native_libs=found.get("extract_native_libs"),  # type: ignore[arg-type]
    )


MANIFEST_LIMIT = 8 * 1024 * 1024
"""Largest manifest read (real ones are a few KB to a few hundred KB)."""

_MANIFEST_PATHS = (
    "AndroidManifest.xml",  # APK, AAR, and the base split of an APKS when listed first
    "base/manifest/AndroidManifest.xml",  # AAB
)


def _manifest_path(members: list[str]) -> str | None:
    present = set(members)
    for path in _MANIFEST_PATHS:
        if path in present:
            return path
    # APKS: the base (master) split's manifest, then any split's.
    nested = sorted(m for m in members if m.endswith("!/AndroidManifest.xml"))
    nested.sort(key=lambda m: (0 if "base-master" in m or "/base.apk" in m else 1, m))
    return nested[0] if nested else None


def app_facts(package: Package, min_sdk: int | None = None, fallback: int | None = None) -> AppFacts | None:
    """The app facts of a package (``None`` when it has no manifest and no override).

    ``min_sdk`` (``--min-sdk``) wins over the manifest; ``fallback`` (the config's ``min-sdk``)
    applies only when the manifest does not say. A manifest that cannot be read is not an input
    error: the audit goes on without it and ``problem`` says why.
    """
    facts: AppFacts | None = None
    path = _manifest_path(package.members())
    if path is not None:
        try:
            data = package.read_member(path, MANIFEST_LIMIT)
            facts = replace(parse_manifest(data), min_sdk_source=None)
            if facts.min_sdk is not None:
                facts = replace(facts, min_sdk_source=path)
        except (ManifestError, SymauditError) as exc:
            facts = AppFacts(problem=f"{path}: {exc}")
    if min_sdk is not None:
        facts = replace(facts or AppFacts(), min_sdk=min_sdk, min_sdk_source="--min-sdk")
    elif fallback is not None and (facts is None or facts.min_sdk is None):
        facts = replace(facts or AppFacts(), min_sdk=fallback, min_sdk_source="config min-sdk")
    return facts
