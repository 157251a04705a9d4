"""Benchmark: a sweep on Ray vs. the same runs one after another in one process.

The grid (default: random-r18 x rsna-lp, covidx-lp, nih-lp x 10 / 100 % x seed 0) runs twice from cold caches: sequentially with ``asgbench.run.run`` in this process, then as Ray
Tune trials with one CPU each on a local Ray. Prints both wall times and their ratio.
Run: ``python benchmarks/bench_sweep.py --suite .asgbench/demo/suite-small``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from asgbench.run import RunContext, run
from asgbench.sweep import SweepSpec, expand, sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--models", default="random-r18")
    parser.add_argument("--tasks", default="rsna-lp,covidx-lp,nih-lp")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    spec = SweepSpec(models=tuple(args.models.split(",")), tasks=tuple(args.tasks.split(",")), fractions=(10, 100), seeds=(0,),
                     overrides={"segmentation": ("max_epochs=3",)})
    runs = expand(spec)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sequential = RunContext(data_root=args.suite.resolve(), out=scratch / "sequential", cache_dir=scratch / "cache-sequential")
        started = time.perf_counter()
        for run_spec in runs:
            run(run_spec, sequential)
        sequential_seconds = time.perf_counter() - started

        parallel = RunContext(data_root=args.suite.resolve(), out=scratch / "ray", cache_dir=scratch / "cache-ray")
        started = time.perf_counter()
        report = sweep(spec, parallel, cpus_per_trial=1, total_cpus=args.cpus)
        ray_seconds = time.perf_counter() - started
    rows = [["one after another, one process", f"{sequential_seconds:.0f}"],
            [f"Ray Tune sweep, {args.cpus} CPUs, 1 per trial", f"{ray_seconds:.0f}"]]
    print(f"{len(runs)} runs ({args.models} x {args.tasks} x 10/100 %), cold caches, {len(report.failed)} failed")
    print(tabulate(rows, headers=["way", "wall s"], tablefmt="github"))
    print(f"speed-up: {sequential_seconds / ray_seconds:.2f}x")


if __name__ == "__main__":
    main()
