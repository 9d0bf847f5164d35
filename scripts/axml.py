"""Writers for the two compiled forms of AndroidManifest.xml that packages carry.

* :func:`binary_xml`: Android binary XML (AXML), as ``aapt2 link`` writes it into an APK
  (REFERENCE.md §6.4): an XML chunk holding a UTF-16 string pool, a resource map and the node
  chunks.
* :func:`proto_xml`: aapt2's protobuf ``XmlNode`` (``frameworks/base/tools/aapt2/Resources.proto``),
  as an App Bundle stores ``<module>/manifest/AndroidManifest.xml``.

Both take the same small :class:`Element` tree, so an APK's and an AAB's manifest cannot drift.
Only what the fixtures need is supported: one android namespace, attribute values that are
strings, decimal integers or booleans, and no text nodes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

ANDROID_NS = "http://schemas.android.com/apk/res/android"
ANDROID_PREFIX = "android"

# Framework attribute resource ids (android.R.attr), REFERENCE.md §6.4.
ATTR_MIN_SDK_VERSION = 0x0101020C
ATTR_TARGET_SDK_VERSION = 0x01010270
ATTR_EXTRACT_NATIVE_LIBS = 0x010104EA

_RES_STRING_POOL = 0x0001
_RES_XML = 0x0003
_RES_XML_START_NAMESPACE = 0x0100
_RES_XML_END_NAMESPACE = 0x0101
_RES_XML_START_ELEMENT = 0x0102
_RES_XML_END_ELEMENT = 0x0103
_RES_XML_RESOURCE_MAP = 0x0180

_TYPE_STRING = 0x03
_TYPE_INT_DEC = 0x10
_TYPE_INT_BOOLEAN = 0x12
_NO_INDEX = 0xFFFFFFFF

Value = str | int | bool


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Value
    resource_id: int | None = None
    """A framework attribute (``android:`` namespace) when set; a plain attribute otherwise."""

    @property
    def namespace(self) -> str | None:
        return ANDROID_NS if self.resource_id is not None else None


@dataclass(frozen=True)
class Element:
    name: str
    attributes: tuple[Attribute, ...] = ()
    children: tuple[Element, ...] = ()

    def walk(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.walk()

    def sorted_attributes(self) -> list[Attribute]:
        """aapt2's order: no namespace first, then by resource id, then by name."""
        return sorted(
            self.attributes,
            key=lambda a: (a.namespace or "", a.resource_id or 0, a.name),
        )


def manifest(
    package: str,
    min_sdk: int | None = None,
    target_sdk: int | None = None,
    extract_native_libs: bool | None = None,
    split: str | None = None,
) -> Element:
    """A minimal ``<manifest>``: ``uses-sdk`` and ``application`` only when there is something to say."""
    attributes = [Attribute("package", package)]
    if split is not None:
        attributes.append(Attribute("split", split))
    children: list[Element] = []
    sdk = []
    if min_sdk is not None:
        sdk.append(Attribute("minSdkVersion", min_sdk, ATTR_MIN_SDK_VERSION))
    if target_sdk is not None:
        sdk.append(Attribute("targetSdkVersion", target_sdk, ATTR_TARGET_SDK_VERSION))
    if sdk:
        children.append(Element("uses-sdk", tuple(sdk)))
    if extract_native_libs is not None:
        children.append(
            Element(
                "application",
                (Attribute("extractNativeLibs", extract_native_libs, ATTR_EXTRACT_NATIVE_LIBS),),
            )
        )
    return Element("manifest", tuple(attributes), tuple(children))


# --- binary XML -------------------------------------------------------------------------------


class _StringPool:
    """Strings in first-use order, framework attribute names first: the resource map gives the id
    of string *i* at index *i*, so those names must occupy the pool's first slots."""

    def __init__(self, root: Element) -> None:
        self.strings: list[str] = []
        self.index: dict[str, int] = {}
        self.resource_ids: list[int] = []
        framework = sorted(
            {(a.resource_id, a.name) for e in root.walk() for a in e.attributes if a.resource_id is not None}
        )
        for resource_id, name in framework:
            self.add(name)
            self.resource_ids.append(resource_id)
        self.add(ANDROID_PREFIX)
        self.add(ANDROID_NS)
        for element in root.walk():
            self.add(element.name)
            for attribute in element.sorted_attributes():
                self.add(attribute.name)
                if isinstance(attribute.value, str):
                    self.add(attribute.value)

    def add(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.strings)
            self.strings.append(text)
        return self.index[text]

    def chunk(self) -> bytes:
        data = bytearray()
        offsets = []
        for text in self.strings:
            offsets.append(len(data))
            units = text.encode("utf-16-le")
            count = len(units) // 2
            if count >= 0x8000:
                data += struct.pack("<HH", 0x8000 | (count >> 16), count & 0xFFFF)
            else:
                data += struct.pack("<H", count)
            data += units + b"\0\0"
        data += b"\0" * (-len(data) % 4)
        header_size = 28
        strings_start = header_size + 4 * len(offsets)
        size = strings_start + len(data)
        header = struct.pack(
            "<HHIIIIII", _RES_STRING_POOL, header_size, size, len(offsets), 0, 0, strings_start, 0
        )
        return header + struct.pack(f"<{len(offsets)}I", *offsets) + bytes(data)

    def resource_map(self) -> bytes:
        ids = self.resource_ids
        return struct.pack(f"<HHI{len(ids)}I", _RES_XML_RESOURCE_MAP, 8, 8 + 4 * len(ids), *ids)


def _node(chunk_type: int, line: int, body: bytes) -> bytes:
    return struct.pack("<HHIII", chunk_type, 16, 16 + len(body), line, _NO_INDEX) + body


def _attribute(pool: _StringPool, attribute: Attribute) -> bytes:
    ns = pool.index[ANDROID_NS] if attribute.namespace else _NO_INDEX
    value = attribute.value
    if isinstance(value, bool):
        raw, vtype, data = _NO_INDEX, _TYPE_INT_BOOLEAN, 0xFFFFFFFF if value else 0
    elif isinstance(value, int):
        raw, vtype, data = _NO_INDEX, _TYPE_INT_DEC, value & 0xFFFFFFFF
    else:
        raw = data = pool.index[value]
        vtype = _TYPE_STRING
    return struct.pack("<IIIHBBI", ns, pool.index[attribute.name], raw, 8, 0, vtype, data)


def binary_xml(root: Element) -> bytes:
    """``root`` as binary XML (AXML), with the android namespace declared on the root."""
    pool = _StringPool(root)
    prefix, uri = pool.index[ANDROID_PREFIX], pool.index[ANDROID_NS]
    nodes = [_node(_RES_XML_START_NAMESPACE, 1, struct.pack("<II", prefix, uri))]
    line = 1

    def emit(element: Element) -> None:
        nonlocal line
        line += 1
        attributes = element.sorted_attributes()
        body = struct.pack(
            "<IIHHHHHH", _NO_INDEX, pool.index[element.name], 20, 20, len(attributes), 0, 0, 0
        ) + b"".join(_attribute(pool, a) for a in attributes)
        nodes.append(_node(_RES_XML_START_ELEMENT, line, body))
        for child in element.children:
            emit(child)
        nodes.append(
            _node(_RES_XML_END_ELEMENT, line, struct.pack("<II", _NO_INDEX, pool.index[element.name]))
        )

    emit(root)
    nodes.append(_node(_RES_XML_END_NAMESPACE, line, struct.pack("<II", prefix, uri)))
    body = pool.chunk() + pool.resource_map() + b"".join(nodes)
    return struct.pack("<HHI", _RES_XML, 8, 8 + len(body)) + body


# --- protobuf XmlNode -------------------------------------------------------------------------
# XmlNode      { XmlElement element = 1; }
# XmlElement   { repeated XmlNamespace namespace_declaration = 1; string namespace_uri = 2;
#                string name = 3; repeated XmlAttribute attribute = 4; repeated XmlNode child = 5; }
# XmlNamespace { string prefix = 1; string uri = 2; }
# XmlAttribute { string namespace_uri = 1; string name = 2; string value = 3;
#                uint32 resource_id = 5; Item compiled_item = 6; }
# Item         { Primitive prim = 7; }
# Primitive    { int32 int_decimal_value = 6; bool boolean_value = 8; }


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _proto_attribute(attribute: Attribute) -> bytes:
    value = attribute.value
    out = b""
    if attribute.namespace:
        out += _field_bytes(1, attribute.namespace.encode())
    out += _field_bytes(2, attribute.name.encode())
    out += _field_bytes(3, (str(value).lower() if isinstance(value, bool) else str(value)).encode())
    if attribute.resource_id is not None:
        out += _field_varint(5, attribute.resource_id)
        if isinstance(value, bool):
            primitive = _field_varint(8, int(value))
        elif isinstance(value, int):
            primitive = _field_varint(6, value & 0xFFFFFFFF)
        else:
            primitive = b""
        if primitive:
            out += _field_bytes(6, _field_bytes(7, primitive))
    return out


def _proto_element(element: Element, declare_android: bool) -> bytes:
    out = b""
    if declare_android:
        out += _field_bytes(
            1, _field_bytes(1, ANDROID_PREFIX.encode()) + _field_bytes(2, ANDROID_NS.encode())
        )
    out += _field_bytes(3, element.name.encode())
    for attribute in element.sorted_attributes():
        out += _field_bytes(4, _proto_attribute(attribute))
    for child in element.children:
        out += _field_bytes(5, _field_bytes(1, _proto_element(child, False)))
    return out


def proto_xml(root: Element) -> bytes:
    """``root`` as aapt2's protobuf ``XmlNode``, the manifest format inside an App Bundle."""
    return _field_bytes(1, _proto_element(root, True))
