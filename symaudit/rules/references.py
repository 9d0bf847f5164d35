"""Rules that compare packaged libraries with the reference builds published on Maven."""

from __future__ import annotations

from symaudit.findings import Horizon, Rule, Severity, define_rule

REFERENCES_UNAVAILABLE = define_rule(
    "references-unavailable",
    Severity.INFO,
    "Reference builds of a packaged runtime could not be had; the rest was audited without them",
    """
## What it finds
The package ships libraries of a known reference family (`libpytorch_jni.so`,
`libpytorch_jni_lite.so`, `libtorch*.so`, `libfbjni.so`), but some of the reference AARs from
Maven (`org.pytorch:pytorch_android`, `org.pytorch:pytorch_android_lite`,
`com.facebook.fbjni:fbjni`) could not be had: `--offline` (or `SYMAUDIT_OFFLINE=1`) with
nothing in the Gradle, Maven or symaudit cache, or the repository could not be reached. The
finding's `problems` lists each failure on one line.
## Why it matters
Without references symaudit cannot say which runtime version is shipped, which versions a
consumer like `libwenet.so` was built against, or report `libtorch-version-mismatch`. Every
other check ran as usual: this finding never fails a build.
## Example
`symaudit apk app.apk --offline` on a machine that never fetched the references.
## Fix
Run once with network access (or `symaudit refs fetch org.pytorch:pytorch_android`), point
`--maven-repo` at a reachable mirror, or build the app once with Gradle so its cache holds the
AARs.
""",
    horizon=Horizon.NOT_CHECKED,
    not_checked="reference builds",
)

LIBTORCH_VERSION_MISMATCH = define_rule(
    "libtorch-version-mismatch",
    Severity.ERROR,
    "A library built against one libtorch/fbjni release, packaged with another that lacks its imports",
    """
## What it finds
A packaged library importing libtorch or fbjni symbols (`torch::`, `c10::`, `at::`, `caffe2::`,
`facebook::jni::`) that the packaged runtime does not define, while some published reference
build defines all of them. `built_against` lists the reference coordinates that fit the library's
imports, `shipped` the coordinate the packaged runtime was identified as.
## Why it matters
The library was compiled against the headers of another release than the one packaged. bionic
fails the load with `cannot locate symbol` on the first signature that changed between them.
## Example
`libwenet.so` was built against pytorch_android 1.13.1 headers and imports
`torch::jit::load(std::string const&, c10::optional<c10::Device>)`; the APK ships
pytorch_android 2.1.0, where only the overload with a trailing `bool` exists (wenet#2573).
## Fix
Rebuild the library against the headers of the shipped release (the AAR's `headers/`), or ship
a release listed in `built_against`. Keep the compile-time and run-time coordinates in one
Gradle variable so they cannot drift apart.
""",
)

RULES: tuple[Rule, ...] = (REFERENCES_UNAVAILABLE, LIBTORCH_VERSION_MISMATCH)
