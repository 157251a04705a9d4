"""Benchmark: segmentation with a frozen encoder, its maps computed once vs. encoded again every epoch.

With the encoder frozen and augmentation off, the U-Net decoder reads the same maps in every epoch, so
asgbench computes them once per image (train and val) and trains the decoder on them. The alternative is
the usual loop, which sends every batch through the encoder again, epoch after epoch. Both ways run the
same protocol with the same seed, so their Dice must agree; the wall-time ratio is the point.
Run: ``python benchmarks/bench_segmentation.py --suite .asgbench/demo/suite-small``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

from asgbench.encoders import create_encoder
from asgbench.tasks import segmentation
from asgbench.tasks.data import load_task_data
from asgbench.tasks.protocols import SEGMENTATION, ProtocolJob, protocol_for
from asgbench.tasks.specs import TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--model", default="random-r18")
    parser.add_argument("--task", default="siim-seg")
    parser.add_argument("--fraction", type=int, default=10, choices=(1, 10, 100))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--decoder-channels", default="64,32,16,16,8",
                        help="the U-Net decoder's widths (the protocol's default 256,128,64,32,16 at 224 px takes "
                             "tens of minutes per way on 2 cores)")
    args = parser.parse_args()

    task = TASKS.get(args.task)
    data = load_task_data(task, fraction=args.fraction, data_root=args.suite)
    spec = replace(protocol_for(SEGMENTATION, "segmentation"), augment=False, max_epochs=args.epochs,
                   patience=args.epochs,
                   decoder_channels=tuple(int(c) for c in args.decoder_channels.split(",")))
    rows, times = [], []
    for way, budget in (("maps computed once (asgbench)", segmentation.ENCODING_CACHE_BYTES), ("encoder every epoch", 0)):
        segmentation.ENCODING_CACHE_BYTES = budget
        encoder = create_encoder(args.model)
        started = time.perf_counter()
        outcome = segmentation.run_segmentation(encoder, data, spec, ProtocolJob(seed=0, device="cpu"))
        seconds = time.perf_counter() - started
        rows.append([way, f"{seconds:.1f} s", f"{outcome.metrics['dice']['value']:.4f}", outcome.selection["encodings_reused"]])
        times.append(seconds)
    print(f"{args.model} on {args.task} ({len(data.splits['train'].image_ids)} training images, {args.epochs} epochs, "
          f"frozen encoder, no augmentation, decoder {args.decoder_channels})")
    print(tabulate(rows, headers=["way", "wall time", "test Dice", "maps reused"], tablefmt="github"))
    print(f"maps computed once: {times[1] / times[0]:.1f}x faster than encoding every epoch")


if __name__ == "__main__":
    main()
