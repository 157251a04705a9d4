"""Benchmark: which parts of ASG pre-training on a CPU are bit-reproducible, and what changes the weights.

The same `asgbench pretrain train` (the demo's config, seed 0, a few steps on the tiny synthetic suite) is run
in fresh processes that differ only in their environment, and every exported tensor is compared with a reference
run. The environment variables stand in for another machine: a different thread count splits reductions
differently, and a CPU without AVX-512 takes other kernels in PyTorch's own vectorised code
(``ATEN_CPU_CAPABILITY``), in oneDNN's convolutions (``DNNL_MAX_CPU_ISA``) and in MKL's BLAS
(``MKL_ENABLE_INSTRUCTIONS``). Run: ``python benchmarks/bench_pretrain_reproducibility.py`` (about 3 minutes
on 2 cores); ``--steps`` trains longer.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

# what each run changes against the reference (one thread, whatever the CPU offers)
VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("the same command again", {}),
    ("2 threads instead of 1", {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}),
    ("PyTorch's kernels for AVX2 (ATEN_CPU_CAPABILITY=avx2)", {"ATEN_CPU_CAPABILITY": "avx2"}),
    ("PyTorch's kernels without SIMD (ATEN_CPU_CAPABILITY=default)", {"ATEN_CPU_CAPABILITY": "default"}),
    ("oneDNN convolutions for AVX2 (DNNL_MAX_CPU_ISA=AVX2)", {"DNNL_MAX_CPU_ISA": "AVX2"}),
    ("MKL's AVX2 code path (MKL_ENABLE_INSTRUCTIONS=AVX2)", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
)
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Comparison:
    variant: str
    tensors: int
    differing: int
    max_abs_diff: float
    largest_in: str


def _cpu() -> str:
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU") if Path("/proc/cpuinfo").is_file() else "unknown CPU"
    return f"{model}, PyTorch {torch.__version__}, best kernels: {torch.backends.cpu.get_cpu_capability()}"


def _prepare(work: Path) -> Path:
    from asgbench.data.synthetic.suite import synthesize
    from asgbench.pretrain.prepare import prepare

    suite = work / "suite"
    synthesize(suite, "tiny", 0)
    annotations = work / "annotations"
    prepare(suite / "mimic", annotations, scene_graphs=suite / "chest-imagenome")
    return annotations


def _train(annotations: Path, out: Path, steps: int, environment: dict[str, str]) -> Path:
    command = [sys.executable, "-m", "asgbench", "pretrain", "train", "--config", "demo", "--quiet",
               f"annotations={annotations}", f"out={out}", "name=m", f"optim.max_epochs={steps}", "optim.batch_size=8"]
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **SINGLE_THREAD, **environment})
    if done.returncode != 0:
        raise SystemExit(f"pre-training failed with {environment}: {done.stderr.strip().splitlines()[-1:]}")
    return out / "m.safetensors"


def compare(reference: Path, other: Path, variant: str) -> Comparison:
    from safetensors.torch import load_file

    a, b = load_file(reference), load_file(other)
    gaps = {key: float((a[key].double() - b[key].double()).abs().max()) for key in a}
    worst = max(gaps, key=gaps.get)
    return Comparison(variant, len(gaps), sum(gap > 0 for gap in gaps.values()), gaps[worst], worst)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="epochs of the tiny suite (one step each at batch 8)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        annotations = _prepare(work)
        reference = _train(annotations, work / "reference", args.steps, {})
        rows = [compare(reference, _train(annotations, work / f"v{i}", args.steps, environment), variant)
                for i, (variant, environment) in enumerate(VARIANTS)]
    print(f"ASG pre-training, demo config, {args.steps} step(s), one thread unless stated; {_cpu()}")
    print(tabulate([(r.variant, f"{r.differing} / {r.tensors}", f"{r.max_abs_diff:.3g}",
                     r.largest_in if r.differing else "-") for r in rows],
                   headers=("run against the reference", "tensors that differ", "max abs diff", "largest in"),
                   tablefmt="github"))


if __name__ == "__main__":
    main()
