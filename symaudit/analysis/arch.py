"""ELF machine and class against the ABI directory a library sits in."""

from __future__ import annotations

from symaudit.analysis.platform_libs import abi_for_machine, abi_specs, machine_name
from symaudit.elf.model import ElfLibrary
from symaudit.findings import Finding
from symaudit.rules.core import WRONG_ARCH


def wrong_arch(abi: str, name: str, path: str, library: ElfLibrary, loose: bool = False) -> Finding | None:
    """A ``wrong-arch`` finding worded as bionic words the refusal, or None when it matches.

    Unknown ABI directory names are not judged here: nothing says what they should hold. A
    ``loose`` library (a file named on the command line, no ABI directory) is judged by its
    machine alone: one that no current Android ABI runs (EM_S390) can be loaded by no device.
    """
    spec = abi_specs().get(abi)
    if spec is None and loose and abi_for_machine(library.machine, library.bits) is None:
        got = machine_name(library.machine)
        got = "e_machine" if "?" in got else got
        return Finding(
            rule=WRONG_ARCH.id,
            severity=WRONG_ARCH.severity,
            abi=abi,
            library=name,
            path=path,
            message=f'dlopen failed: "{name}" is for {got} ({library.machine}), {library.bits}-bit, '
            "which no Android ABI runs",
            hint="Android loads arm64-v8a, armeabi-v7a, x86, x86_64 and riscv64 libraries only: "
            f"build {name} for one of them.",
        )
    if spec is None:
        return None
    # bionic's ElfReader::VerifyElfHeader checks the ELF class before the machine.
    if library.bits != spec.bits:
        message = f'"{name}" is {library.bits}-bit instead of {spec.bits}-bit'
    elif library.machine != spec.machine:
        got = machine_name(library.machine)
        message = f'"{name}" is for {got} ({library.machine}) instead of {spec.machine_name} ({spec.machine})'
    else:
        return None
    return WRONG_ARCH.finding(
        abi,
        name,
        f"dlopen failed: {message}",
        f"Put the {abi} build of {name} in lib/{abi}/ (check abiFilters and where prebuilt "
        "libraries in jniLibs/ come from).",
        path=path,
    )
