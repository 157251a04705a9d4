"""The main job on the embedded default: the synthetic suite, written (or reused) and verified end to end.

Each step reuses what an earlier run already produced, so a second ``make demo`` is quick.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from asgbench.data.synthetic.suite import DATASET_ORDER, expected_images, synthesize
from asgbench.data.verify import verify_dataset


def run_demo(workdir: Path, *, size: str = "small", seed: int = 0, say: Callable[[str], None] = print) -> None:
    start = time.perf_counter()
    suite = workdir / f"suite-{size}"
    say(f"[1/2] synthetic suite '{size}' in {suite} (reused if already there)")
    from tqdm import tqdm

    with tqdm(total=expected_images(size), unit="img", desc="      synth", leave=False) as bar:
        manifest = synthesize(suite, size, seed, progress=lambda dataset, n: bar.update(n))
    say(f"      done in {time.perf_counter() - start:.0f} s")
    say("[2/2] verify every dataset of the suite as a user's download would be verified")
    for name in DATASET_ORDER:
        report = verify_dataset(name, suite / name)
        written = manifest.datasets[name]
        status = "ok" if (report.rows, report.images_missing) == (written.index_rows, 0) else "MISMATCH"
        positives = ", ".join(f"{label} {count.positive}" for label, count in list(report.labels.items())[:4])
        say(f"      {name:9s} {status}: {report.rows} images found of {written.index_rows} written, "
            f"{report.patients} patients, {report.decoded} decoded; {positives}, ...")
    say(f"demo finished in {time.perf_counter() - start:.0f} s")
