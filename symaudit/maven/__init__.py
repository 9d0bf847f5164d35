"""Maven artifacts: coordinates in, verified local files out (Gradle and Maven caches first)."""

from __future__ import annotations
