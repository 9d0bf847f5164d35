"""How an AAR's findings differ from an app's: an AAR is not what the device loads."""

from __future__ import annotations

from dataclasses import replace

from symaudit.analysis.context import AbiContext
from symaudit.containers.base import PackageKind
from symaudit.findings import Finding, Severity
from symaudit.rules.core import MISSING_LIBRARY


def outside_aar(context: AbiContext, finding: Finding) -> Finding:
    """A library an AAR needs may come from another dependency of the app (fbjni, the C++
    runtime): a warning here; in the app's APK it is an error."""
    if context.package_kind is not PackageKind.AAR or finding.rule != MISSING_LIBRARY.id:
        return finding
    return replace(
        finding,
        severity=Severity.WARNING,
        message=f"{finding.message} (not in this AAR: the app must package it from another dependency)",
        hint=(
            f"Make sure the app gets {finding.needed} for this ABI: declare the dependency that ships it in "
            "this library's POM, or check the app with `symaudit apk`, where a missing library is an error."
        ),
    )
