"""Benchmark: reading training batches from the preprocessed store vs decoding the original files each time.

Both paths yield the same canonical 256x256 uint8 images; the store decodes every file once (build time
reported separately) and then serves batches from a memmap. Run: ``python benchmarks/bench_store.py``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

from asgbench.data.datasets import read_index
from asgbench.data.images import load_canonical
from asgbench.data.store import build_store
from asgbench.data.synthetic.suite import synthesize


def batches(ids: list[str], batch_size: int, rng: np.random.Generator):
    order = rng.permutation(len(ids))
    for start in range(0, len(order), batch_size):
        yield [ids[i] for i in order[start : start + batch_size]]


def measure(suite: Path, dataset: str, epochs: int, batch_size: int, cache: Path) -> list[object]:
    index = read_index(dataset, suite / dataset)
    ids = index.frame.loc[index.frame["path"].notna(), "image_id"].tolist()
    paths = dict(zip(index.frame["image_id"], index.frame["path"]))

    start = time.perf_counter()
    store = build_store(index, ids, cache_dir=cache, workers=1)
    build_seconds = time.perf_counter() - start

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    checksum_decode = 0
    for _ in range(epochs):
        for batch in batches(ids, batch_size, rng):
            images = np.stack([load_canonical(index.root / paths[i]) for i in batch])
            checksum_decode += int(images[:, 128, 128].sum())
    decode_seconds = time.perf_counter() - start

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    checksum_store = 0
    for _ in range(epochs):
        for batch in batches(ids, batch_size, rng):
            images = store.batch(batch)
            checksum_store += int(images[:, 128, 128].sum())
    store_seconds = time.perf_counter() - start
    assert checksum_decode == checksum_store, "store and decoding disagree"
    n = len(ids) * epochs
    return [dataset, len(ids), f"{n / decode_seconds:,.0f}", f"{n / store_seconds:,.0f}",
            f"{decode_seconds / store_seconds:,.0f}x", f"{build_seconds:.1f} s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/bench/suite-tiny"))
    parser.add_argument("--datasets", default="rsna,siim,nih,chexpert,mimic")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    synthesize(args.suite, "tiny", 0)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for dataset in args.datasets.split(","):
            rows.append(measure(args.suite, dataset, args.epochs, args.batch_size, Path(cache)))
    print(tabulate(rows, headers=["dataset", "images", "decode files (img/s)", "store (img/s)", "store speed-up",
                                  "one-time store build (1 process)"], tablefmt="github"))


if __name__ == "__main__":
    main()
