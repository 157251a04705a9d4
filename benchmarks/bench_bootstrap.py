"""Benchmark: the bootstrap CI of a macro AUC, all 1,000 resamples at once vs. ranking each resample.

Every classification run reports its macro AUC with a 95 % percentile interval over 1,000 patient
resamples. The obvious way ranks every resample again (``bootstrap(lambda i: macro_auc(...))``);
asgbench counts how often each image occurs in each resample and takes the Mann-Whitney sum over sorted
scores for all resamples in one pass per label (``bootstrap_macro_auc``). Both use the same resamples, so
their intervals must agree; the wall-time ratio is the point. The test list is shaped like the demo's NIH
one (720 images, 14 labels, several images per patient); no data is read.
Run: ``python benchmarks/bench_bootstrap.py``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from tabulate import tabulate

from asgbench.tasks import metrics as m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=720)
    parser.add_argument("--labels", type=int, default=14)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each way (distinct seeds); the mean is shown")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    targets = rng.random((args.images, args.labels)) < rng.uniform(0.01, 0.2, args.labels)
    scores = (rng.random((args.images, args.labels)) + 0.5 * targets).astype(np.float32)
    patients = [f"p{i // 2 + (i % 7 == 0)}" for i in range(args.images)]
    ways = {
        "all resamples at once (asgbench)": lambda seed: m.bootstrap_macro_auc(targets, scores, patients=patients, seed=seed),
        "rank each resample": lambda seed: m.bootstrap(lambda i: m.macro_auc(targets[i], scores[i]), args.images,
                                                       patients=patients, seed=seed),
    }
    rows, seconds = [], {}
    for name, way in ways.items():
        started = time.perf_counter()
        intervals = [way(1000 + r) for r in range(args.repeats)]       # fresh seeds: no cached resamples reused
        seconds[name] = (time.perf_counter() - started) / args.repeats
        rows.append([name, f"{seconds[name] * 1000:.0f} ms", f"{intervals[0].low:.6f}", f"{intervals[0].high:.6f}"])
    print(f"macro AUC over {args.labels} labels, {args.images} test images, 1,000 patient resamples")
    print(tabulate(rows, headers=["way", "time per interval", "95 % CI low", "95 % CI high"], tablefmt="github"))
    fast, slow = seconds["all resamples at once (asgbench)"], seconds["rank each resample"]
    print(f"all at once: {slow / fast:.1f}x faster than ranking each resample")


if __name__ == "__main__":
    main()
