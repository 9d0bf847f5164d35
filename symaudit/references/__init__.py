"""Reference builds from Maven: which libtorch/fbjni a package ships, which one a consumer was
built against, and what changed between them."""

from __future__ import annotations
