"""Every report format ``--format`` offers, by name: the one registry of them.

A format is a module with ``render(report) -> str``; adding one is that module and one entry here
(a function that imports it and renders). The module is imported when its format is asked for:
a run that writes JSON does not load the text report's table library.
Formats that group findings and fold long lists also take ``verbose`` (list everything).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symaudit.results import Report

Render = Callable[..., str]
"""``render(report)``, and ``render(report, verbose=...)`` for the grouped formats."""


def _text(report: Report, verbose: bool = False) -> str:
    from symaudit.report import text

    return text.render(report, verbose=verbose)


def _json(report: Report) -> str:
    from symaudit.report import json

    return json.render(report)


def _sarif(report: Report) -> str:
    from symaudit.report import sarif

    return sarif.render(report)


def _markdown(report: Report, verbose: bool = False) -> str:
    from symaudit.report import markdown

    return markdown.render(report, verbose=verbose)


def _github(report: Report, verbose: bool = False) -> str:
    from symaudit.report import github

    return github.render(report, verbose=verbose)


FORMATS: dict[str, Render] = {
    "text": _text,
    "json": _json,
    "sarif": _sarif,
    "markdown": _markdown,
    "github": _github,
}

GROUPED = frozenset({"text", "markdown", "github"})
"""Formats that group findings and fold long lists; ``verbose`` lists every name."""


def render(fmt: str, report: Report, verbose: bool = False) -> str:
    """``report`` in format ``fmt``."""
    if fmt in GROUPED:
        return FORMATS[fmt](report, verbose=verbose)
    return FORMATS[fmt](report)
