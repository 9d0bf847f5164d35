"""Setting up the reference lookups of one run from options, environment and settings."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from symaudit.maven.cache import Cache, default_root
from symaudit.maven.client import MavenClient, Progress, choose_repos, offline_from_env
from symaudit.references.analysis import ReferenceAudit
from symaudit.references.families import modules_for
from symaudit.references.store import ReferenceStore

log = logging.getLogger(__name__)


def maven_client(
    repos: Sequence[str],
    offline: bool,
    config_repos: Sequence[str],
    env: Mapping[str, str],
    progress: Progress | None = None,
) -> MavenClient:
    return MavenClient(
        choose_repos(repos, env, config_repos),
        Cache(default_root(env)),
        offline=offline or offline_from_env(env),
        progress=progress,
    )


NEWEST_DOWNLOADED = 3
"""Versions per module an audit downloads beyond what the machine already holds (see
:meth:`ReferenceStore.load`)."""


def reference_audit(names: Iterable[str], client: MavenClient | None) -> ReferenceAudit:
    """The references a package with these library file names needs, loaded (no client: none)."""
    modules = modules_for(names)
    if client is None or not modules:
        return ReferenceAudit(modules=modules)
    loaded = ReferenceStore(client).load(modules, newest=NEWEST_DOWNLOADED)
    log.debug(
        "references: %d manifests, %d problems, %d requests",
        len(loaded.manifests),
        len(loaded.problems),
        client.requests_sent,
    )
    return ReferenceAudit(loaded.manifests, loaded.problems, modules)
