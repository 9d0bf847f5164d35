"""An audit downloads only the newest reference versions the machine does not already hold."""

from __future__ import annotations

from symaudit.maven.coordinates import Coordinate
from symaudit.references.store import ReferenceStore
from tests.maven.server import MavenServer


def _module() -> Coordinate:
    from symaudit.references.families import modules_for

    (module,) = [m for m in modules_for(["libpytorch_jni.so"]) if m.artifact == "pytorch_android"]
    return module


def test_only_the_newest_versions_are_downloaded_then_all_once_fetched(
    make_client, maven: MavenServer
) -> None:
    client = make_client()
    module = _module()
    loaded = ReferenceStore(client).load((module,), newest=1)
    assert [m.coordinate.version for m in loaded.manifests] == ["2.1.0"]
    aars = [r for r in maven.requests if r.endswith(".aar")]
    assert len(aars) == 1 and "2.1.0" in aars[0]
    assert any("2 older version(s) not downloaded (1.10.0, 1.13.1)" in p for p in loaded.problems)
    # `refs fetch` (no budget) brings the rest; a budgeted audit then uses every held version.
    ReferenceStore(client).load((module,))
    before = len(maven.requests)
    again = ReferenceStore(make_client()).load((module,), newest=1)
    assert sorted(m.coordinate.version for m in again.manifests) == ["1.10.0", "1.13.1", "2.1.0"]
    assert not [p for p in again.problems if "not downloaded" in p]
    assert not [r for r in maven.requests[before:] if r.endswith(".aar")]
