"""Setting up the reference lookups of one run from options, environment and settings."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from symaudit.errors import InputError
from symaudit.http import DEFAULT_BUDGET, Budget, Http
from symaudit.maven.cache import Cache, default_root
from symaudit.maven.client import MavenClient, Progress, choose_repos, offline_from_env
from symaudit.references.analysis import ReferenceAudit
from symaudit.references.families import modules_for
from symaudit.references.store import ReferenceStore

log = logging.getLogger(__name__)


BUDGET_ENV = "SYMAUDIT_NETWORK_BUDGET"


def network_budget(option: float | None, env: Mapping[str, str], config: float | None) -> float:
    """Seconds an audit may spend on the network: ``--network-budget``, else
    ``SYMAUDIT_NETWORK_BUDGET``, else ``network-budget`` of the config, else one minute."""
    if option is not None:
        return option
    text = env.get(BUDGET_ENV, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 <= value <= 86400:
            raise InputError(f"{BUDGET_ENV}={text[:40]}: expected a number of seconds from 0 to 86400")
        return value
    return config if config is not None else DEFAULT_BUDGET


def maven_client(
    repos: Sequence[str],
    offline: bool,
    config_repos: Sequence[str],
    env: Mapping[str, str],
    progress: Progress | None = None,
    budget: float | None = None,
) -> MavenClient:
    """The run's client; ``budget`` (None: unbounded, for ``refs``) caps its time on the network,
    after which the rest of the run uses local caches only."""
    http: Callable[[], Http] = Http if budget is None else (lambda: Http(budget=Budget(budget)))
    return MavenClient(
        choose_repos(repos, env, config_repos),
        Cache(default_root(env)),
        offline=offline or offline_from_env(env),
        progress=progress,
        http=http,
    )


NEWEST_DOWNLOADED = 3
"""Versions per module an audit downloads beyond what the machine already holds (see
:meth:`ReferenceStore.load`)."""


def reference_audit(
    names: Iterable[str], client: MavenClient | None, abis: Sequence[str] | None = None
) -> ReferenceAudit:
    """The references a package with these library file names needs, loaded (no client: none);
    with ``abis`` (the package's), only those ABIs' libraries of each reference are fetched."""
    modules = modules_for(names)
    if client is None or not modules:
        return ReferenceAudit(modules=modules)
    loaded = ReferenceStore(client).load(modules, newest=NEWEST_DOWNLOADED, abis=abis)
    log.debug(
        "references: %d manifests, %d problems, %d requests, %d bytes received",
        len(loaded.manifests),
        len(loaded.problems),
        client.requests_sent,
        client.bytes_received,
    )
    return ReferenceAudit(loaded.manifests, loaded.problems, modules)
