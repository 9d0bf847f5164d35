"""Rules about the platform a library meets on the device: C++ runtime, API levels, page size,
loader-refused ELF features. Severities that depend on the app's minSdk are the errors' worst
case; the analysis lowers them when the app's minSdk makes the feature safe."""

from __future__ import annotations

from symaudit.findings import Horizon, Rule, Severity, define_rule

STL_MIXED = define_rule(
    "stl-mixed",
    Severity.ERROR,
    "More than one C++ runtime in one ABI",
    """
## What it finds
Two or more C++ runtimes in one ABI directory: `libc++_shared.so` next to
`libgnustl_shared.so` or `libstlport_shared.so`, or a library that links libc++ statically and
exports `std::__ndk1` symbols next to a packaged `libc++_shared.so`. Several static copies that
each export `std::` (and no shared runtime) are reported as a warning.
## Why it matters
An app may use exactly one C++ runtime per ABI. Two copies of `std::` mean two heaps for
exceptions and RTTI, two `std::string` layouts and, depending on load order, symbols bound to
the wrong copy: crashes far from the cause.
## Example
An old AAR ships `libgnustl_shared.so`; the app's own code uses `libc++_shared.so`.
## Fix
Rebuild every library with the same NDK and `-DANDROID_STL=c++_shared`, or link one library
with `c++_static` and hide its C++ symbols (`-Wl,--exclude-libs,ALL`, a version script).
""",
)

STL_NDK_MISMATCH = define_rule(
    "stl-ndk-mismatch",
    Severity.WARNING,
    "libc++_shared.so is older than a library that needs it was built for",
    """
## What it finds
The packaged `libc++_shared.so` carries an older NDK in its `.note.android.ident` than a library
that depends on it was built with. The message names both NDK releases and the library. It is a
warning while every import of that library resolves (the resolver decides, with bionic's
lookup and version rules, not by symbol names); it is an error only when the library's load
group really lacks symbols, and then it lists those symbols, each reported by its own
`unresolved-symbol` finding.
## Why it matters
Gradle's `pickFirst 'lib/*/libc++_shared.so'` keeps the first copy in dependency order, not the
newest. Code built with newer libc++ headers may then need a symbol the older copy lacks
(`cannot locate symbol "_ZNSt6__ndk122__libcpp_verbose_abortEPKcz"`); when nothing is missing
today, the next rebuild of that library may still bring such an import.
## Example
`libdriftdemo.so` was built with NDK r26b; the APK's `libc++_shared.so` comes from an AAR built
with r21b.
## Fix
Ship the `libc++_shared.so` of the newest NDK any library was built with (take it from that
NDK, or from the dependency built with it), or rebuild the older dependencies with one NDK.
""",
)

API_LEVEL_ABOVE_MIN_SDK = define_rule(
    "api-level-above-min-sdk",
    Severity.WARNING,
    "A library built for a higher API level than the app's minSdk",
    """
## What it finds
A library whose `.note.android.ident` records an API level (`__ANDROID_API__`, the
`--target=...<api>` it was compiled for) above the app's `minSdkVersion`. It is a warning: whether
the library loads on the older devices is decided by resolution, not by the level it was built
for. Its platform imports are judged against the platform symbol table, and each one the
devices at minSdk lack is a `platform-symbol-unavailable` error; this finding says how many.
## Why it matters
Headers of a newer API level let code call functions older devices do not have
(`cannot locate symbol "aligned_alloc"` below API 28), and the compiler no longer warns about
them. Even when every import exists today, the next change may add one that does not.
## Example
`libfoo.so` was compiled with `--target=aarch64-linux-android26`; the app's minSdk is 21.
## Fix
Build the library with the app's minSdk (`ANDROID_PLATFORM`/`minSdkVersion` in CMake or
`externalNativeBuild`), or raise the app's minSdk.
""",
    horizon=Horizon.BELOW_API,
    api_fact="api",
)

PLATFORM_SYMBOL_UNAVAILABLE = define_rule(
    "platform-symbol-unavailable",
    Severity.ERROR,
    "A platform symbol that devices at the app's minSdk do not have",
    """
## What it finds
An import that no packaged library of the load group defines and that a platform library of the
group (`libc.so`, `libm.so`, `liblog.so`, ...) exports only from an API level above the app's
minSdk (64-bit ABIs: at least API 21), on that ABI: `libc.so exports _Unwind_Resume from API 30;
the app supports API 21`. The levels come from symaudit's platform symbol table, generated from
the map files the device libraries are built with (bionic's `libc/libc.map.txt` and the others,
each pinned to a commit); no NDK is needed. They are what a device exports, which is sometimes
more than the NDK's stubs show (entries tagged `apex`/`llndk`, and 32-bit ARM's unwinder, which
libc exported privately before API 30). Versioned references (`malloc@LIBC`) must match the
version node, as bionic matches them. When the minSdk is unknown it is judged at the assumed
level (see `min-sdk-assumed`) and reported as a warning. An import that no platform library of
the group exports at any level is an `unresolved-symbol` instead.
## Why it matters
On a device older than the API level that introduced it the load fails with
`cannot locate symbol "..."`.
## Example
`libjscexecutor.so` of react-native 0.70.6, with jsc-android 250231, imports `_Unwind_Resume`;
libc exports the unwinder from API 30 (node `LIBC_R`), so the app crashes on Android 10 and
older (react-native PR #36062).
## Fix
Raise minSdk to the level named, link the missing code into a packaged library (for the
unwinder: build with the NDK's default flags, which link it statically), or call the function
through `dlsym` / `__builtin_available` with a fallback.
""",
    horizon=Horizon.BELOW_API,
    api_fact="introduced",
    device='dlopen failed: cannot locate symbol "{symbol}" referenced by "{library}"...',
)

PLATFORM_SYMBOL_UNCHECKED = define_rule(
    "platform-symbol-unchecked",
    Severity.INFO,
    "Imports the platform symbol table cannot judge",
    """
## What it finds
Imports that no packaged library of the load group defines and that are in no platform table,
while the group reaches a platform library whose table stops before the newest API level
(`libandroid.so`, `libjnigraphics.so` and `libamidi.so` end at API 30, `libicu.so` and
`libneuralnetworks.so` at 33: their public sources stop there) or has no table. Such an import
may be one of that library's later additions, so it is not called a crash; the verdict names it
as not checked.
## Why it matters
If the symbol is not a later addition the library fails to load with `cannot locate symbol`;
if it is, it fails below the API level that added it.
## Example
A library needs `libandroid.so` and imports `AChoreographer_postVsyncCallback` (API 33).
## Fix
Check the symbols against the NDK's newest stubs (`--ndk`), or raise minSdk to the level that
added them.
""",
    horizon=Horizon.NOT_CHECKED,
    not_checked="imports newer than the platform table",
)

MIN_SDK_ASSUMED = define_rule(
    "min-sdk-assumed",
    Severity.INFO,
    "The app's minSdk is unknown: API levels were judged at an assumed level",
    """
## What it finds
Neither a manifest, `--min-sdk` nor the config's `min-sdk` gives the app's minSdk (a folder of
libraries, an AAR without `uses-sdk`). The minSdk-dependent rules (`platform-symbol-unavailable`,
`gnu-hash-without-sysv-hash`, `relr-before-api-28`, `elf-tls-before-api-29`) then judge each ABI
at the highest API level its packaged libraries were built for (their `.note.android.ident`),
and at least the ABI's first API level (21 for 64-bit ABIs), and report warnings, not errors.
This one info names the levels; the verdict names devices below them as not checked (none
when every ABI was judged at its first API level: every device running it was judged).
## Why it matters
An app that supports older devices than its libraries were built for fails on those devices in
ways this audit did not check.
## Example
`symaudit libs build/intermediates/merged_native_libs/release/out/lib`.
## Fix
Pass `--min-sdk N`, or set `min-sdk` in `.symaudit.toml`.
""",
    horizon=Horizon.NOT_CHECKED,
    not_checked="devices below the assumed minSdk (pass --min-sdk)",
)

NDK_NOT_FOUND = define_rule(
    "ndk-not-found",
    Severity.INFO,
    "Retired: no NDK was found (platform symbols are now judged from symaudit's own table)",
    """
## What it finds
Nothing any more. Earlier releases raised it when no Android NDK was found, because platform
symbols were then presumed available. Platform symbols are now judged from symaudit's platform
symbol table with or without an NDK; an NDK only cross-checks the table (`ndk-stubs-differ`).
The id stays reserved so baselines and ignore lists that name it keep working.
## Why it matters
It does not.
## Example
None.
## Fix
None needed.
""",
)

NDK_STUBS_DIFFER = define_rule(
    "ndk-stubs-differ",
    Severity.INFO,
    "The NDK's stubs and symaudit's platform symbol table disagree",
    """
## What it finds
With an NDK (`--ndk`, `ANDROID_NDK_HOME`, ... or `local.properties`), each platform import of the
package is also looked up in the NDK's stubs (`sysroot/usr/lib/<triple>/<api>/lib*.so`). Where
the first API level whose stub exports it differs from the table's stub-visible level, one info
says so, listing the symbols. The verdict follows the table, which records what devices export.
## Why it matters
A difference means an NDK older or newer than the table's sources, or a table to fix.
## Example
An NDK r21 has no stubs above API 30, so an API 31 function is absent from them.
## Fix
Nothing in the app; report the difference if the NDK is current.
""",
)

PRIVATE_PLATFORM_LIBRARY = define_rule(
    "private-platform-library",
    Severity.ERROR,
    "DT_NEEDED on a non-public system library",
    """
## What it finds
A DT_NEEDED entry naming a system library that is not part of the NDK's public API
(`libcutils.so`, `libutils.so`, `libbinder.so`, `libandroid_runtime.so`, `libcrypto.so`,
`libssl.so`, ...).
## Why it matters
Since Android 7.0 (API 24) apps cannot link against private platform libraries: the load fails
with `library "libcutils.so" ... is not accessible for the namespace`. The exempt list that
tolerated a few of them for targetSdk < 24 is gone on current devices.
## Example
A prebuilt links `libcrypto.so` from an old AOSP tree instead of shipping BoringSSL.
## Fix
Ship your own copy (e.g. BoringSSL/OpenSSL built with the NDK, renamed), or use an NDK API.
""",
    device=(
        'dlopen failed: library "{needed}" needed or dlopened by "{library}" is not accessible '
        'for the namespace "classloader-namespace"'
    ),
)

LOAD_ALIGN_16K = define_rule(
    "load-align-16k",
    Severity.ERROR,
    "A 64-bit library with a PT_LOAD alignment below 16 KB",
    """
## What it finds
A library for `arm64-v8a` or `x86_64` with a PT_LOAD segment whose `p_align` is below 16384
(or not a power of two). The message also gives the first-LOAD verdict that Google's
`check_elf_alignment.sh` prints.
## Why it matters
Devices with 16 KB pages refuse it (`program alignment (4096) cannot be smaller than system page
size (16384)`), and Google Play rejects updates targeting Android 15+ whose 64-bit libraries are
not 16 KB aligned.
## Example
A library built with NDK r26 and default flags has `p_align` 0x1000.
## Fix
Build with NDK r28 or newer (16 KB by default), or link with `-Wl,-z,max-page-size=16384`
(and `-Wl,-z,common-page-size=16384` for NDK r22 and older); package with AGP 8.5.1+.
""",
    horizon=Horizon.PAGE_16K,
    device='dlopen failed: "{library}" program alignment ({min_alignment}) cannot be smaller than system page size (16384)',
)

ZIP_ALIGN_16K = define_rule(
    "zip-align-16k",
    Severity.ERROR,
    "A stored library whose data is not 16 KB aligned in the APK",
    """
## What it finds
A 64-bit library stored uncompressed in an APK whose data does not start at a multiple of
16384, so it cannot be mapped straight from the APK on a 16 KB device. Also a compressed library
in an app with `android:extractNativeLibs="false"`, which the device cannot map at all.
## Why it matters
Libraries stored uncompressed are loaded straight from the APK; on 16 KB devices that needs 16 KB
alignment, and Google Play checks it.
## Example
An APK re-signed after `zipalign -p 4` (4 KB page alignment only).
## Fix
Align with `zipalign -P 16 -f 4` (build-tools 35+) before signing, or use AGP 8.5.1+ which does
it; or set `packaging.jniLibs.useLegacyPackaging = true` to compress and extract libraries.
""",
    horizon=Horizon.PAGE_16K,
)

TEXT_RELOCATIONS = define_rule(
    "text-relocations",
    Severity.ERROR,
    "A library with text relocations (DT_TEXTREL)",
    """
## What it finds
A library with `DT_TEXTREL` or `DF_TEXTREL`: the loader must write into its code pages.
An error when the app's minSdk or targetSdk is 23 or higher, a warning below.
## Why it matters
From API 23 the loader refuses text relocations for apps targeting API 23+:
`"libfoo.so" has text relocations`.
## Example
32-bit x86 assembly that references a global by absolute address, linked with `-z notext`.
## Fix
Build all code as position independent (`-fPIC`), fix hand-written assembly to use PC-relative
or GOT addressing, and drop `-z notext`/`-Wl,--no-warn-shared-textrel`.
""",
    device='dlopen failed: "{library}" has text relocations',
)

MISSING_SONAME = define_rule(
    "missing-soname",
    Severity.WARNING,
    "A library without DT_SONAME",
    """
## What it finds
A packaged library with no `DT_SONAME`.
## Why it matters
Libraries that link against it record its path as given on the link line in DT_NEEDED, and
bionic takes such names literally from API 23; for apps targeting API 23+ a missing SONAME is
also an error on older releases of the loader.
## Example
A library linked with a custom build that omits `-Wl,-soname,libfoo.so`.
## Fix
Link with `-Wl,-soname,lib<name>.so` (the NDK's CMake and ndk-build do this by default).
""",
)

EXECUTABLE_STACK = define_rule(
    "executable-stack",
    Severity.WARNING,
    "A library that asks for an executable stack",
    """
## What it finds
A library whose `PT_GNU_STACK` has the execute flag set.
## Why it matters
An executable stack makes exploits easier; some devices and SELinux policies refuse it, and
the request usually comes from an assembly file that lacks a `.note.GNU-stack` section.
## Example
An assembly source without `.section .note.GNU-stack,"",%progbits`.
## Fix
Add the `.note.GNU-stack` section to assembly sources, or link with `-Wl,-z,noexecstack`.
""",
)

GNU_HASH_WITHOUT_SYSV_HASH = define_rule(
    "gnu-hash-without-sysv-hash",
    Severity.ERROR,
    "Only DT_GNU_HASH, in an app that supports devices below API 23",
    """
## What it finds
A library with `DT_GNU_HASH` and no `DT_HASH`, in an app whose minSdk is below 23.
## Why it matters
The loader of Android 5.x (API 21-22) only understands the SysV hash table and cannot look up
the library's symbols.
## Example
A library linked with `-Wl,--hash-style=gnu`.
## Fix
Link with `-Wl,--hash-style=both` (the NDK's default for minSdk below 23).
""",
    horizon=Horizon.BELOW_API,
    below_api=23,
    device='dlopen failed: empty/missing DT_HASH/DT_GNU_HASH in "{library}" (new hash type from the future?)',
)

RELR_BEFORE_API_28 = define_rule(
    "relr-before-api-28",
    Severity.ERROR,
    "RELR relocations in an app that supports devices that cannot apply them",
    """
## What it finds
A library with `DT_ANDROID_RELR` in an app whose minSdk is below 28, or with standard `DT_RELR`
in an app whose minSdk is below 30.
## Why it matters
Older loaders skip the packed relative relocations they do not know; the library's pointers
are then never relocated and it crashes at start.
## Example
A library linked with `-Wl,-z,pack-relative-relocs` for an app with minSdk 24.
## Fix
Link without RELR (drop `-z pack-relative-relocs` / `--pack-dyn-relocs=relr`) or raise minSdk;
the NDK only enables RELR when the target API allows it.
""",
    horizon=Horizon.BELOW_API,
    api_fact="needs_api",
)

ELF_TLS_BEFORE_API_29 = define_rule(
    "elf-tls-before-api-29",
    Severity.ERROR,
    "ELF TLS (PT_TLS) in an app that supports devices below API 29",
    """
## What it finds
A library with a `PT_TLS` segment (native ELF thread-local storage) in an app whose minSdk is
below 29.
## Why it matters
Before Android 10 the loader does not support ELF TLS; loading fails on those devices.
## Example
`thread_local` variables compiled with `-fno-emulated-tls` for minSdk 24.
## Fix
Build for the app's minSdk: below 29 the NDK's clang uses emulated TLS (`__emutls_*`) by
default; do not force `-fno-emulated-tls`.
""",
    horizon=Horizon.BELOW_API,
    below_api=29,
)


RULES: tuple[Rule, ...] = (
    STL_MIXED,
    STL_NDK_MISMATCH,
    API_LEVEL_ABOVE_MIN_SDK,
    PLATFORM_SYMBOL_UNAVAILABLE,
    PLATFORM_SYMBOL_UNCHECKED,
    MIN_SDK_ASSUMED,
    NDK_STUBS_DIFFER,
    NDK_NOT_FOUND,
    PRIVATE_PLATFORM_LIBRARY,
    LOAD_ALIGN_16K,
    ZIP_ALIGN_16K,
    TEXT_RELOCATIONS,
    MISSING_SONAME,
    EXECUTABLE_STACK,
    GNU_HASH_WITHOUT_SYSV_HASH,
    RELR_BEFORE_API_28,
    ELF_TLS_BEFORE_API_29,
)
