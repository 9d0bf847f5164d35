"""Maven coordinates (``group:artifact[:version][@ext]``) and where they live in a repository."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from symaudit.errors import InputError

_PART = re.compile(r"[A-Za-z0-9_.\-+]+")


def valid_part(text: str) -> bool:
    """A group, artifact, version or extension that is one plain path component: never ``..``,
    a separator or a newline (a version from maven-metadata.xml becomes a cache path)."""
    return _PART.fullmatch(text) is not None and ".." not in text and text != "."


@dataclass(frozen=True, slots=True, order=True)
class Coordinate:
    group: str
    artifact: str
    version: str | None = None
    extension: str = "aar"

    @classmethod
    def parse(cls, text: str) -> Coordinate:
        """``org.pytorch:pytorch_android:2.1.0`` (version optional; ``@jar`` picks the extension)."""
        body, _, extension = text.strip().partition("@")
        parts = body.split(":")
        if len(parts) not in (2, 3) or not all(valid_part(p) for p in parts):
            raise InputError(f"{text}: not a Maven coordinate (expected group:artifact[:version])")
        if extension and not valid_part(extension):
            raise InputError(f"{text}: not a Maven coordinate (bad extension {extension!r})")
        version = parts[2] if len(parts) == 3 else None
        return cls(parts[0], parts[1], version, extension or "aar")

    @classmethod
    def looks_like(cls, text: str) -> bool:
        """True for ``a:b`` or ``a:b:c`` text that is not a path (``C:\\x`` has one part of 1 char)."""
        parts = text.split("@", 1)[0].split(":")
        return len(parts) in (2, 3) and all(_PART.fullmatch(p) for p in parts) and len(parts[0]) > 1

    def with_version(self, version: str) -> Coordinate:
        if not valid_part(version):
            raise InputError(f"{self}: {version!r} is not a Maven version")
        return replace(self, version=version)

    @property
    def module(self) -> str:
        return f"{self.group}:{self.artifact}"

    def __str__(self) -> str:
        return f"{self.module}:{self.version}" if self.version else self.module

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.{self.extension}"

    @property
    def module_path(self) -> str:
        """``org/pytorch/pytorch_android``: the folder of every version and the metadata."""
        return f"{self.group.replace('.', '/')}/{self.artifact}"

    @property
    def path(self) -> str:
        """``org/pytorch/pytorch_android/2.1.0/pytorch_android-2.1.0.aar``."""
        if self.version is None:
            raise ValueError(f"{self}: no version")
        return f"{self.module_path}/{self.version}/{self.file_name}"


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions the way people read them: 1.9.0 < 1.10.0 < 1.13.1 < 2.1.0; a qualifier
    (``-SNAPSHOT``, ``-rc1``) sorts before the release it qualifies."""
    key: list[tuple[int, int | str]] = []
    for part in re.split(r"[.\-]", version):
        if part.isdigit():
            key.append((1, int(part)))
        else:
            key.append((0, part))
    key.append((1, -1))
    return tuple(key)
