"""The API level the minSdk-dependent checks judge one ABI at.

The app's minSdk when the manifest, ``--min-sdk`` or the config says (64-bit ABIs: at least their
first API level, 21). Otherwise (a folder of libraries) an assumed level: the highest API level the
ABI's packaged libraries were built for (their ``.note.android.ident``), and at least the ABI's
first API level. NDK build systems compile every library for the app's minSdk, so that level is
the lowest the app can support as built; an app that claims a lower one was not checked below it
(``min-sdk-assumed`` says so). Checks judged at an assumed level report warnings, not errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from symaudit.analysis.toolchain import android_note
from symaudit.elf.model import ElfLibrary
from symaudit.facts import abi_specs
from symaudit.findings import Severity
from symaudit.results import AppFacts


@dataclass(frozen=True, slots=True)
class Level:
    """The API level the minSdk-dependent rules judge one ABI at."""

    api: int
    assumed: bool
    """No manifest, ``--min-sdk`` or config said: see :func:`assumed_level`."""

    def words(self) -> str:
        if self.assumed:
            return f"the app's minSdk is unknown (judged at API {self.api}: pass --min-sdk)"
        return f"the app's minSdk is {self.api}"

    @property
    def severity(self) -> Severity:
        """An assumed level can only raise a hazard: the real minSdk may be higher."""
        return Severity.WARNING if self.assumed else Severity.ERROR


def known_min_sdk(abi: str, app: AppFacts | None) -> int | None:
    """The lowest API level of a device running ``abi`` for the app, when the app says."""
    min_sdk = app.min_sdk if app is not None else None
    spec = abi_specs().get(abi)
    if min_sdk is not None and spec is not None:
        return max(min_sdk, spec.first_api)
    return min_sdk


def assumed_level(abi: str, libraries: Mapping[str, ElfLibrary]) -> int:
    """The highest API level the ABI's packaged libraries were built for, at least the ABI's
    first API level."""
    spec = abi_specs().get(abi)
    built = [note.api for library in libraries.values() if (note := android_note(library)) and note.api > 0]
    return max([spec.first_api if spec is not None else 1, *built])


def judged_level(abi: str, libraries: Mapping[str, ElfLibrary], app: AppFacts | None) -> Level:
    known = known_min_sdk(abi, app)
    return Level(known, False) if known is not None else Level(assumed_level(abi, libraries), True)
