"""No false positives on a real runtime: every operator of models exported by a torch release
is found in that release's libtorch_cpu.so.

Run with a Python that has torch installed (a development dependency only):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch==2.13.0
    /tmp/torchenv/bin/python scripts/check_real_libtorch.py [--wheel torch-2.13.0-....whl]

Without ``--wheel`` it runs ``pip download torch==<installed version> --no-deps`` (which may
take the file from a local wheel cache). ``libtorch_cpu.so`` is read from the wheel in memory.
The models exercise many operators: convolution, batch norm, an encoder layer with attention,
``F.scaled_dot_product_attention``, list and int arithmetic, control flow; each is saved as a
full TorchScript ``.pt`` and a lite ``.ptl``. For every model it also checks that the operators
symaudit reads equal what torch itself reports (``torch.jit.export_opnames`` for lite models).
Exit 0 when every operator is found and the lists agree.
"""

from __future__ import annotations

import argparse
import glob
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symaudit.elf.reader import read_elf  # noqa: E402
from symaudit.torchmodel.reader import read_model  # noqa: E402
from symaudit.torchmodel.runtime import registered_operators  # noqa: E402


def _wheel(version: str, given: str | None, work: Path) -> Path:
    if given:
        return Path(given)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", f"torch=={version}", "--no-deps", "-d", str(work)],
        check=True,
    )
    return Path(glob.glob(str(work / "torch-*.whl"))[0])


def _models(work: Path) -> dict[str, bytes]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(4, 8, 3, padding=1)
            self.norm = nn.BatchNorm1d(8)
            self.encoder = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
            self.gru = nn.GRU(8, 8, batch_first=True)
            self.head = nn.Linear(8, 3)

        def forward(self, x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
            y = F.gelu(self.norm(self.conv(x)), approximate="tanh").transpose(1, 2)
            y = self.encoder(y)
            y, _ = self.gru(y)
            y = F.scaled_dot_product_attention(y, y, y, is_causal=True)
            total = 0
            for n in lengths:
                if n > 1:
                    total += n // 2
            out = self.head(y).log_softmax(-1)
            if total > 3:
                out = out * 2.0
            return out[:, : max(lengths)]

    torch.manual_seed(0)
    scripted = torch.jit.script(Mixed().eval())
    traced_linear = torch.jit.trace(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), torch.zeros(1, 4))
    out: dict[str, bytes] = {}
    for name, module in (("mixed", scripted), ("traced", traced_linear)):
        full, lite = work / f"{name}.pt", work / f"{name}.ptl"
        module.save(str(full))
        module._save_for_lite_interpreter(str(lite))
        out[full.name] = full.read_bytes()
        out[lite.name] = lite.read_bytes()
        expected = set(torch.jit.export_opnames(module))
        got = {op.qualified for op in read_model(out[lite.name]).operators}
        if got != expected:
            print(
                f"{lite.name}: symaudit reads {sorted(got ^ expected)} differently from torch.jit.export_opnames"
            )
            out["__mismatch__"] = b""
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="a torch wheel of the installed version (default: pip download it)")
    args = parser.parse_args(argv)
    version = torch.__version__.split("+")[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = _wheel(version, args.wheel, work)
        with zipfile.ZipFile(wheel) as archive:
            member = next(n for n in archive.namelist() if n.endswith("/lib/libtorch_cpu.so"))
            data = archive.read(member)
        library = read_elf(data, "libtorch_cpu.so")
        runtime = registered_operators(data, library)
        print(f"{wheel.name}: {member}: {len(runtime)} operator overloads, {len(runtime.names)} names")
        models = _models(work)
    failed = models.pop("__mismatch__", None) is not None
    for name, blob in sorted(models.items()):
        model = read_model(blob)
        missing = [op.qualified for op in model.operators if not runtime.has(op)]
        status = "all found" if not missing else f"NOT FOUND: {', '.join(missing)}"
        print(
            f"torch {torch.__version__} {name} ({model.kind.value}, {model.operator_source.value}, "
            f"{len(model.operators)} operators): {status}"
        )
        failed = failed or bool(missing)
    print("result:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
