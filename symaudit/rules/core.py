"""Rules of the core engine: what the bionic linker itself refuses."""

from __future__ import annotations

from symaudit.findings import Rule, Severity, define_rule

UNRESOLVED_SYMBOL = define_rule(
    "unresolved-symbol",
    Severity.ERROR,
    "An imported symbol that no library of the load group provides",
    """
## What it finds
A non-weak undefined dynamic symbol of a packaged library that no library in its load group
defines: the library itself, its DT_NEEDED closure (breadth-first, as bionic loads it) and the
platform libraries that closure reaches. Symbol versions are matched the way bionic matches them.
## Why it matters
Android binds every symbol when the library is loaded. One missing symbol fails the whole
`System.loadLibrary` with `UnsatisfiedLinkError: dlopen failed: cannot locate symbol "..."`.
## Example
`libwenet.so` was compiled against libtorch 1.13 headers and imports
`torch::jit::load(std::string const&, c10::optional<c10::Device>)`; the packaged
`libpytorch_jni.so` is 2.1, which only has the overload with a trailing `bool`.
## Fix
Rebuild the importing library against the headers of the library you ship, or ship the library
version it was built against. When another packaged library defines the symbol but is not in the
load group, add it to the importer's DT_NEEDED (link against it).
""",
    device='dlopen failed: cannot locate symbol "{symbol}" referenced by "{library}"...',
)

MISSING_LIBRARY = define_rule(
    "missing-library",
    Severity.ERROR,
    "A DT_NEEDED library that is neither packaged nor a public platform library",
    """
## What it finds
A DT_NEEDED entry of a packaged library naming a library that is not in the same ABI directory
of the package and is not one of the NDK's public platform libraries. A DT_NEEDED entry that is a
path (`deps/libfoo.so`) is opened literally (targetSdk 23+, and always on 64-bit): reason
`path-in-needed`; a 32-bit app targeting less gets bionic's warning `library "%s" has invalid
DT_NEEDED entry "%s"` and the basename.
In an AAR, which is not what the device loads, it is a warning: the app may package the library
from another dependency (fbjni, the C++ runtime); in an APK, AAB or APKS it is an error.
## Why it matters
The load fails before any symbol is looked at: `dlopen failed: library "libfbjni.so" not found`.
Every library whose load group contains the needing library fails with it.
## Example
`libpytorch_jni.so` needs `libfbjni.so`, but a `packagingOptions { exclude }` dropped it.
## Fix
Package the missing library for this ABI (add the dependency that ships it, or remove the
`exclude`), or relink the needing library without the dependency.
""",
    device='dlopen failed: library "{needed}" not found: needed by {library}',
)

WRONG_ARCH = define_rule(
    "wrong-arch",
    Severity.ERROR,
    "A library whose ELF machine or class does not match its ABI directory",
    """
## What it finds
A library in `lib/<abi>/` whose `e_machine` or ELF class is not the one that ABI requires
(`arm64-v8a` needs 64-bit AArch64, `armeabi-v7a` 32-bit ARM, `x86` 32-bit i386, `x86_64`
64-bit x86-64, `riscv64` 64-bit RISC-V).
## Why it matters
The loader refuses it, checking the class before the machine (bionic's
`ElfReader::VerifyElfHeader`): `"libfoo.so" is 32-bit instead of 64-bit`, or, for the right class,
`"libfoo.so" is for EM_386 (3) instead of EM_X86_64 (62)`; every library that needs it fails too.
## Example
A 32-bit `libfbjni.so` copied into `jniLibs/arm64-v8a/`.
## Fix
Put the build for the right ABI in that directory (check `abiFilters` and the source of
prebuilt libraries in `jniLibs/`).
""",
    device="{message}",  # the analysis quotes bionic for this rule,
)

ABI_INCOMPLETE = define_rule(
    "abi-incomplete",
    Severity.WARNING,
    "A library that some ABI directories of the package have and another lacks",
    """
## What it finds
A library present in at least one ABI directory of the package but absent from another ABI
directory that the package does have. The finding's `abi` is the ABI lacking the library.
## Why it matters
A device installs the native libraries of one ABI only. On a device of the incomplete ABI,
`System.loadLibrary` of the absent library fails (`couldn't find "libfoo.so"`), or a library
that needs it fails with `library "libfoo.so" not found`.
## Example
`lib/x86/` has `libpytorch_jni.so` and `libfbjni.so` but no `libwenet.so`.
## Fix
Build the library for every ABI you ship (check `abiFilters` and `ndk.abiFilters` of every
module), or drop the incomplete ABI from the package.
""",
)

CORRUPT_LIBRARY = define_rule(
    "corrupt-library",
    Severity.ERROR,
    "A packaged .so that is not a valid ELF shared object, or one the loader refuses",
    """
## What it finds
A `.so` in a native-library directory that cannot be read as an ELF shared object the Android
loader accepts: truncated, not ELF at all, big-endian, not ET_DYN, tables pointing outside the
file, or a package member that cannot be decompressed. Also every refusal of bionic's `ElfReader`
and `soinfo::prelink_image` a packaged library can trigger, in bionic's order and words, with a
`reason` field: `e-shentsize` (`has unsupported e_shentsize: 0x%x (expected 0x%zx)`) and
`e-shstrndx` (`has invalid e_shstrndx`), fatal for apps targeting API 26+ and a warning below
(bionic's `DL_ERROR_AFTER(26)`; fatal when the targetSdk is unknown); `no-section-headers`
(`has no section headers`); `section-headers-out-of-range` (`has invalid shdr offset/size:
%zu/%zu`, e.g. a garbage `e_shoff`); `no-dynamic-section-header`, `dynamic-section-offset`,
`dynamic-section-size` (the `.dynamic` section header against PT_DYNAMIC; the last two gated at
26); `bad-dt-syment` (`invalid DT_SYMENT`); `no-hash-table` (`empty/missing DT_HASH/DT_GNU_HASH`);
`no-dt-strtab`, `no-dt-symtab`. The rest of the package is still audited.
## Why it matters
The loader rejects it (`has bad ELF magic`, `has invalid shdr offset/size`, ...), and every
library that needs it fails to load too.
## Example
A `.so` truncated by an interrupted copy, a text file named `libfoo.so`, or a library whose section
headers a packer stripped or overwrote.
## Fix
Rebuild or re-download the library and check how it reaches the package (a broken Git LFS
pointer checked in instead of the binary is a common cause); relink without post-link tools that
strip or rewrite section headers.
""",
)


RULES: tuple[Rule, ...] = (UNRESOLVED_SYMBOL, MISSING_LIBRARY, WRONG_ARCH, ABI_INCOMPLETE, CORRUPT_LIBRARY)
