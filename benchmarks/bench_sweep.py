"""Benchmark: `asgbench sweep` against the obvious alternative, the same runs one after another in one process.

Grids:
- ``demo``: the demo's linear-probe grid (its four tasks x 1/10/100 % x seeds 0, 1, 2) for two of the demo's
  models (its untrained and its full-ASG ResNet-18 of pre-training seed 0, from ``<demo workdir>/models-full``; ``make demo`` writes
  them) on the demo's suite;
- ``ci``: the CI gate's grid (``CI_SWEEP`` in the Makefile: random-r18 x nih-lp x 100 %, 2 CPUs per worker).
Each grid runs from cold feature caches (the image stores, which ``make demo`` has built, are shared:
``--stores``) three ways: the loop (``asgbench.run.run`` per spec in this process), the sweep
with one CPU per worker (Ray workers unless only one fits), and the sweep with every CPU in one worker (in this
process). Prints wall times and the ratio loop / sweep (> 1: the sweep is faster).
Run (after ``make demo``): ``python benchmarks/bench_sweep.py``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from asgbench.demo.plan import FULL, FULL_ASG, RANDOM, Pretraining
from asgbench.demo.pretraining import checkpoint_of
from asgbench.run import RunContext, run
from asgbench.sweep import SweepSpec, expand, sweep


@dataclass(frozen=True)
class Grid:
    spec: SweepSpec
    cpus_per_worker: tuple[float, ...]


def grids(cpus: int, demo_models: Path) -> dict[str, Grid]:
    plan = FULL
    checkpoints = {model.model: str(checkpoint_of(demo_models, Pretraining(model, plan.pretrain_seeds[0])).resolve())
                   for model in (RANDOM, FULL_ASG)}
    return {
        # three probe seeds, as the grid was first measured (the demo itself now varies the pre-training seed)
        "demo": Grid(SweepSpec(models=tuple(checkpoints), tasks=plan.probe_tasks, fractions=plan.fractions,
                               seeds=(0, 1, 2), checkpoints=checkpoints), (1.0, float(cpus))),
        "ci": Grid(SweepSpec(models=("random-r18",), tasks=("nih-lp",), fractions=(100,), seeds=(0,)), (float(cpus),)),
    }


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--demo-models", type=Path, default=Path(".asgbench/demo/models-full"))
    parser.add_argument("--stores", type=Path, default=Path(".asgbench/demo/cache/stores"),
                        help="prebuilt image stores every way reads (a missing folder: each way builds its own)")
    parser.add_argument("--grid", choices=("demo", "ci"), action="append", help="repeatable (default: both)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    rows = []
    for name in args.grid or ["demo", "ci"]:
        grid = grids(args.cpus, args.demo_models)[name]
        specs = expand(grid.spec)
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)

            def context(way: str) -> RunContext:
                cache = scratch / f"cache-{way}"
                if args.stores.is_dir() and not cache.exists():
                    cache.mkdir()
                    (cache / "stores").symlink_to(args.stores.resolve())
                return RunContext(data_root=args.suite.resolve(), out=scratch / way, cache_dir=cache)

            loop = timed(lambda: [run(spec, context("loop")) for spec in specs])
            rows.append([name, len(specs), "loop in one process", f"{loop:.0f}", "1.00"])
            for per_worker in grid.cpus_per_worker:
                way = f"sweep-{per_worker:g}"
                seconds = timed(lambda: sweep(grid.spec, context(way), cpus_per_trial=per_worker, total_cpus=args.cpus))
                workers = int(args.cpus // per_worker)
                how = f"sweep, {workers} Ray workers x {per_worker:g} CPU" if workers > 1 else f"sweep, in process ({per_worker:g} CPUs)"
                rows.append([name, len(specs), how, f"{seconds:.0f}", f"{loop / seconds:.2f}"])
    print(f"{args.cpus} CPUs, cold feature caches, suite {args.suite}")
    print(tabulate(rows, headers=["grid", "runs", "way", "wall s", "loop / this"], tablefmt="github"))


if __name__ == "__main__":
    main()
