"""Every report format ``--format`` offers, by name: the one registry of them.

A format is a module with ``render(report) -> str``; adding one is that module and one entry here.
Formats that group findings and fold long lists also take ``verbose`` (list everything).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from symaudit.report import github, json, markdown, sarif, text
from symaudit.results import Report

Render = Callable[[Report], str]

FORMATS: dict[str, Render] = {
    "text": text.render,
    "json": json.render,
    "sarif": sarif.render,
    "markdown": markdown.render,
    "github": github.render,
}

GROUPED: dict[str, Callable[..., str]] = {
    "text": text.render,
    "markdown": markdown.render,
    "github": github.render,
}
"""Formats that group findings and fold long lists; ``verbose`` lists every name."""


def render(fmt: str, report: Report, verbose: bool = False) -> str:
    """``report`` in format ``fmt``."""
    grouped = GROUPED.get(fmt)
    return (partial(grouped, verbose=verbose) if grouped else FORMATS[fmt])(report)
