"""Benchmark: what asgbench costs at the real datasets' sizes, on this machine's CPUs.

Every number comes from the project's own code paths on synthetic inputs of real shape:

* ``store``: ``build_store`` on synthetic PNG / DICOM / JPEG files of the real resolutions, one process and
  two; the build rate per core and the bytes per image on disk, extrapolated to the datasets' image counts;
* ``probe``: ``run_linear_probe`` (its whole lr x wd grid, early stopping, thresholds and test bootstrap) on
  random features of NIH and CheXpert size, read from the feature cache as a real run reads them; each
  fraction at two epoch caps gives the fixed cost and the cost per epoch;
* ``bootstrap``: the patient bootstrap of a run's scores (macro AUC CI, the run's whole scoring, a paired
  comparison) at the NIH test list's size, half and double;
* ``encode``: the frozen encoder's forward pass (``features.extract``), ResNet-50 and ViT-B at 224 px;
* ``seg``: one segmentation epoch (``run_segmentation``, the registered protocol) on a ResNet-50 U-Net and the
  ViT-B the registry uses, a few batches measured and put per 1,000 images;
* ``leaderboard``: the whole leaderboard's cost per task in CPU-hours, extrapolated from the above.

Each measurement runs in a fresh process (its peak resident memory is its own), at two or three sizes; the
printed exponent is log(time ratio) / log(size ratio): about 1 is linear, above ~1.2 is a defect.
Run: ``nice -n 10 python benchmarks/bench_real_sizes.py --part all`` (about 45 minutes on 2 shared cores);
``--part probe,bootstrap --scale 0.01`` for a quick look. Times are CPU seconds of the measured process (all its
threads); on a machine shared with other work they still vary by up to ~2x between repeats.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

PARTS = ("store", "probe", "bootstrap", "encode", "seg", "leaderboard")
FRACTIONS = (1, 10, 100)
PROBE_DATASETS = ("nih", "chexpert")
SPLIT_PROTOCOL = "asgbench-v1"
FEATURE_DIM = 2048                    # ResNet-50's; the widest feature on the leaderboard (ViT-B: 768)
PROBE_LABELS = 14                     # NIH's 14 findings; CheXpert's task has 5, so its figure is an upper bound
CHEXPERT_TEST_IMAGES = 500            # the official CheXpert test set is not public metadata: assumed 500 images
COVIDX_LISTS = (67_863, 8_473, 8_482)  # train / val / test: the reference's inference from BenchX's lists
DATASET_IMAGES = {"NIH ChestX-ray14": 112_120, "CheXpert": 224_316, "MIMIC-CXR": 377_110, "RSNA pneumonia": 26_684,
                  "SIIM pneumothorax": 12_047, "COVIDx CXR-4": 84_818}


# -- measuring one job in its own process ----------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """One timed call: its wall and CPU seconds (all threads, and finished child processes), the process's peak
    and starting resident memory. CPU seconds are what CPU-hours are made of, and what a machine shared with
    other work still measures fairly; wall seconds are shown beside them."""

    seconds: float
    cpu: float
    peak_mb: float
    base_mb: float
    detail: dict = field(default_factory=dict)


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Stopwatch:
    """Handed to a job so that its setup (inputs, imports) stays out of the timed part."""

    def __init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.wall, self.cpu, self.base_mb = time.perf_counter(), cpu_seconds(), _rss_mb()


def timed(call: Callable[[], object]) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds) of ``call()``: for the parts of one job."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = call()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(job: Callable[[Stopwatch], dict]) -> Measured:
    watch = Stopwatch()
    detail = job(watch)
    return Measured(time.perf_counter() - watch.wall, cpu_seconds() - watch.cpu, _peak_mb(), watch.base_mb, detail)


def measure(job: Callable[[Stopwatch], dict], isolate: bool) -> Measured:
    """``job`` timed in a fresh process (``isolate``), or in this one (peak memory is then this process's)."""
    if not isolate:
        return _timed(job)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_timed, job).result()


def exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """Growth exponent between the smallest and the largest size: 1 linear, 2 quadratic (NaN if unmeasurable)."""
    if min(seconds) <= 0 or sizes[-1] == sizes[0]:
        return float("nan")
    return math.log(seconds[-1] / seconds[0]) / math.log(sizes[-1] / sizes[0])


def seconds_list(values: Sequence[float], digits: int = 1) -> str:
    return " / ".join(f"{v:,.{digits}f}" for v in values)


def scaled(count: int, scale: float, least: int = 4) -> int:
    return max(least, round(count * scale))


def mb(value: float) -> str:
    return f"{value:,.0f}"


# -- real sizes, from the committed split manifests ------------------------------------------------------------
@dataclass(frozen=True)
class ListSizes:
    """One dataset's list sizes (the 100 % training list, its 1 % and 10 % draws, val, test) and patients."""

    dataset: str
    train: int
    train_1pct: int
    train_10pct: int
    val: int
    test: int
    images_per_patient: float
    prevalence: tuple[float, ...]

    def fraction(self, percent: int) -> int:
        return {1: self.train_1pct, 10: self.train_10pct, 100: self.train}[percent]

    @property
    def cover(self) -> int:
        """Images whose features a linear-probe run reads: the whole training list, val and test."""
        return self.train + self.val + self.test

    def scaled(self, scale: float) -> ListSizes:
        return replace(self, train=scaled(self.train, scale, 32), train_1pct=scaled(self.train_1pct, scale, 8),
                       train_10pct=scaled(self.train_10pct, scale, 16), val=scaled(self.val, scale, 32),
                       test=scaled(self.test, scale, 32))


def list_sizes(dataset: str) -> ListSizes:
    """The asgbench-v1 lists of ``dataset`` as committed (CheXpert's test list: the assumed official size)."""
    from asgbench.data.splits import read_manifest

    _, manifest = read_manifest(dataset, SPLIT_PROTOCOL)
    lists = manifest.lists
    train = lists["train"]
    test = lists["test"].images or CHEXPERT_TEST_IMAGES
    patients = sum(lists[name].patients for name in ("train", "val", "test"))
    prevalence = tuple(count / train.images for count in train.positives.values())
    return ListSizes(dataset, train.images, lists["train_1pct_d0"].images, lists["train_10pct_d0"].images,
                     lists["val"].images, test, (train.images + lists["val"].images + lists["test"].images) / patients,
                     prevalence)


# -- part: image store -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageFormat:
    """A dataset's file format at its real resolution (height x width)."""

    name: str
    suffix: str
    height: int
    width: int
    datasets: tuple[str, ...]
    note: str


IMAGE_FORMATS = (
    ImageFormat("png-1024", ".png", 1024, 1024, ("NIH ChestX-ray14", "COVIDx CXR-4"), "NIH: 8-bit PNG, 1024x1024"),
    ImageFormat("dicom-1024", ".dcm", 1024, 1024, ("RSNA pneumonia", "SIIM pneumothorax"),
                "RSNA / SIIM: JPEG-baseline DICOM, 1024x1024"),
    ImageFormat("jpeg-2320x2828", ".jpg", 2828, 2320, ("CheXpert",), "CheXpert full resolution (assumed ~2320x2828)"),
    ImageFormat("jpeg-2544x3056", ".jpg", 3056, 2544, ("MIMIC-CXR",), "MIMIC-CXR-JPG (~3,000 px a side)"),
)
DISTINCT_SOURCES = 6                  # distinct files per format; the rest are hard links to them


def radiograph_like(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field plus grain: compresses and decodes about like a radiograph, costs nothing to make."""
    from PIL import Image

    coarse = Image.fromarray(rng.uniform(40, 215, (12, 10)).astype(np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    return np.clip(smooth + rng.normal(0, 6, (height, width)), 0, 255).astype(np.uint8)


def write_source(path: Path, pixels: np.ndarray, n: int) -> None:
    from PIL import Image

    from asgbench.data.synthetic.dicom import DicomIdentity, kaggle_uids, write_dicom

    if path.suffix == ".dcm":
        study, series, sop = kaggle_uids(n, 1517875201, 3 * n + 2)
        write_dicom(path, pixels, DicomIdentity(f"p{n}", study, series, sop))
    elif path.suffix == ".jpg":
        Image.fromarray(pixels).save(path, quality=95)
    else:
        Image.fromarray(pixels).save(path)


def synthetic_index(root: Path, fmt: ImageFormat, count: int, seed: int = 0):
    """A DatasetIndex of ``count`` files of ``fmt`` under ``root`` (distinct sources, hard-linked copies)."""
    from asgbench.data.index import DatasetIndex

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = root / f"img{i:06d}{fmt.suffix}"
        if not path.exists():
            if i < DISTINCT_SOURCES:
                write_source(path, radiograph_like(fmt.height, fmt.width, rng), i)
            else:
                os.link(root / f"img{i % DISTINCT_SOURCES:06d}{fmt.suffix}", path)
        paths.append(path.name)
    frame = pd.DataFrame({"image_id": [p.split(".")[0] for p in paths], "path": paths,
                          "patient_id": [f"p{i}" for i in range(count)], "view": "PA", "frontal": True,
                          "official_split": "train"})
    return DatasetIndex(fmt.name, root, frame, (), "synthetic")


def store_build_job(index, cache: str, workers: int, watch: Stopwatch) -> dict:
    from asgbench.data.store import IMAGES_FILE, INDEX_FILE, build_store

    shutil.rmtree(cache, ignore_errors=True)
    watch.start()
    store = build_store(index, cache_dir=Path(cache), workers=workers)
    disk = sum((store.directory / name).stat().st_size for name in (IMAGES_FILE, INDEX_FILE))
    return {"images": len(store), "bytes": disk}


@dataclass(frozen=True)
class StoreCost:
    fmt: ImageFormat
    counts: tuple[int, ...]
    cpu: tuple[float, ...]            # CPU seconds of the one-process builds
    wall: tuple[float, ...]
    cpu_two: float                    # CPU seconds of the largest build with two processes (theirs included)
    peak_mb: float
    bytes_per_image: float

    @property
    def rate_per_core(self) -> float:
        """Images per CPU-second, one process: the build rate per core."""
        return self.counts[-1] / self.cpu[-1]

    @property
    def rate_two(self) -> float:
        return self.counts[-1] / self.cpu_two

    @property
    def growth(self) -> float:
        return exponent(self.counts, self.cpu)


def run_store(work: Path, scale: float, isolate: bool) -> list[StoreCost]:
    counts = (scaled(64, scale, 8), scaled(192, scale, 16))
    costs = []
    for fmt in IMAGE_FORMATS:
        index = synthetic_index(work / "store-sources" / fmt.name, fmt, counts[-1])
        subsets = [replace(index, frame=index.frame.iloc[:n].reset_index(drop=True)) for n in counts]
        cache = str(work / "store-cache")
        single = [measure(partial(store_build_job, sub, cache, 1), isolate) for sub in subsets]
        double = measure(partial(store_build_job, subsets[-1], cache, 2), isolate)
        costs.append(StoreCost(fmt, counts, tuple(m.cpu for m in single), tuple(m.seconds for m in single), double.cpu,
                               max(m.peak_mb for m in single), single[-1].detail["bytes"] / counts[-1]))
        shutil.rmtree(cache, ignore_errors=True)
    return costs


def report_store(costs: list[StoreCost]) -> None:
    rows = [[c.fmt.note, seconds_list(c.counts, 0), seconds_list(c.cpu), seconds_list(c.wall), f"{c.rate_per_core:,.1f}",
             f"{c.rate_two:,.1f}", f"{c.bytes_per_image / 1024:,.1f}", mb(c.peak_mb), f"{c.growth:.2f}"] for c in costs]
    print("\n## Image store build (build_store, 256 px canonical store)")
    print(tabulate(rows, headers=["input", "images", "CPU s (1 process)", "wall s", "img per CPU-s (1 process)",
                                  "img per CPU-s (2 processes)", "KiB per image on disk", "peak RSS MB", "exponent"],
                   tablefmt="github"))
    rows = []
    for c in costs:
        for name in c.fmt.datasets:
            n = DATASET_IMAGES[name]
            rows.append([name, f"{n:,}", f"{n * c.bytes_per_image / 2**30:,.1f}", f"{n / c.rate_per_core / 3600:,.2f}",
                         f"{n / c.rate_per_core / 3600 / 2:,.2f}"])
    print("\nExtrapolated to the datasets' image counts (EXTRAPOLATION; files read from the page cache, so a cold "
          "disk adds its read time):")
    print(tabulate(rows, headers=["dataset", "images", "store GiB", "CPU-h", "wall h, 2 workers on 2 idle cores"],
                   tablefmt="github"))
    print("(2 processes: their start-up, importing the decoders in each worker, is in the small builds measured "
          "here and amortised over a real dataset's chunks.)")


# -- part: linear probe ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeederConfig:
    """What the feature cache key reads of an encoder config."""

    name: str
    architecture: str
    input: object


class FeatureStub:
    """Stands in for an image store: the feature cache needs its key and which ids it holds, never pixels."""

    def __init__(self, key: str, image_ids: Sequence[str]) -> None:
        self.key = key
        self.positions = {image_id: i for i, image_id in enumerate(image_ids)}

    def batch(self, image_ids: Sequence[str]) -> np.ndarray:
        return np.zeros((len(image_ids), 1, 1), dtype=np.uint8)

    def content_boxes(self, image_ids: Sequence[str]) -> np.ndarray:
        return np.zeros((len(image_ids), 4), dtype=np.int64)


def _feeder_type():
    import torch
    from torch import nn

    class RandomFeatures(nn.Module):
        """An 'encoder' whose features are seeded Gaussian rows, handed out in order; it also records each row's
        projection on a few random directions, from which labels with a learnable signal are drawn."""

        def __init__(self, dim: int, labels: int, seed: int) -> None:
            from asgbench.encoders.config import InputSpec

            super().__init__()
            self.backbone = nn.Identity()
            self.config = FeederConfig("random-features", f"random-features-{dim}", InputSpec())
            self.dim, self.rng = dim, np.random.default_rng(seed)
            self.directions = self.rng.normal(0, 1 / math.sqrt(dim), (dim, labels)).astype(np.float32)
            self.projections: list[np.ndarray] = []

        @property
        def feature_dim(self) -> int:
            return self.dim

        def preprocess(self, images: torch.Tensor, boxes=None) -> torch.Tensor:
            return images.float()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = self.rng.standard_normal((len(x), self.dim), dtype=np.float32)
            self.projections.append(rows @ self.directions)
            return torch.from_numpy(rows)

    return RandomFeatures


@dataclass(frozen=True)
class ProbeInputs:
    """A feature cache entry of random features for one dataset's lists, and the labels that go with it."""

    sizes: ListSizes
    cache_root: Path
    labels_file: Path
    store_key: str


def _ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:07d}" for i in range(count)]


def _draw(sizes: ListSizes, percent: int, draw: int) -> list[str]:
    """The training list of a fraction: a seeded subset of the 100 % list (every draw costs the same)."""
    train = _ids("tr", sizes.train)
    if percent == 100:
        return train
    picked = np.random.default_rng(draw).permutation(sizes.train)[: sizes.fraction(percent)]
    return [train[i] for i in np.sort(picked)]


def cover_ids(sizes: ListSizes) -> list[str]:
    return [*_ids("tr", sizes.train), *_ids("va", sizes.val), *_ids("te", sizes.test)]


def prepare_probe(work: Path, sizes: ListSizes, labels: int, seed: int = 0) -> ProbeInputs:
    """Write the feature cache entry (through ``cached_features``, as a real first run does) and the labels."""
    from asgbench.tasks.features import cached_features

    folder = work / f"probe-{sizes.dataset}-{sizes.cover}"
    store_key = hashlib.sha256(f"bench|{sizes}".encode()).hexdigest()
    feeder = _feeder_type()(FEATURE_DIM, labels, seed)
    ids = cover_ids(sizes)
    cached_features(feeder, FeatureStub(store_key, ids), ids, folder)
    scores = np.concatenate(feeder.projections) + np.random.default_rng(seed + 1).normal(0, 1.5, (len(ids), labels))
    prevalence = np.resize(np.asarray(sizes.prevalence), labels)
    cuts = [np.quantile(scores[:, j], 1 - prevalence[j]) for j in range(labels)]
    targets = (scores > np.asarray(cuts)).astype(np.float64)
    labels_file = folder / "targets.npy"
    np.save(labels_file, targets)
    return ProbeInputs(sizes, folder, labels_file, store_key)


def _selection(name: str, ids: list[str]):
    from asgbench.data.splits import SplitSelection

    return SplitSelection("bench", SPLIT_PROTOCOL, "1", name, tuple(ids), "", Path("."))


def _split(name: str, ids: list[str], targets: np.ndarray, images_per_patient: float):
    """A split list whose patients hold ``images_per_patient`` consecutive images each, as in the real lists."""
    from asgbench.tasks.data import SplitData

    patients = [f"{name}-p{int(i / images_per_patient)}" for i in range(len(ids))]
    return SplitData(_selection(name, ids), pd.DataFrame({"image_id": ids, "patient_id": patients}), targets)


def probe_task_data(inputs: ProbeInputs, percent: int, draw: int):
    """TaskData over the cached random features: the lists, targets and patients a real run would load."""
    from asgbench.tasks.data import TaskData
    from asgbench.tasks.specs import TASKS

    sizes = inputs.sizes
    targets = np.load(inputs.labels_file)
    position = {image_id: i for i, image_id in enumerate(cover_ids(sizes))}
    train = _draw(sizes, percent, draw)
    lists = {"train": train, "val": _ids("va", sizes.val), "test": _ids("te", sizes.test)}
    splits = {name: _split(name, ids, targets[[position[i] for i in ids]], sizes.images_per_patient)
              for name, ids in lists.items()}
    full = _selection("train", _ids("tr", sizes.train))
    task = replace(TASKS.get("nih-lp"), labels=tuple(f"finding{j}" for j in range(targets.shape[1])))
    return TaskData(task, Path("."), None, splits, full, FeatureStub(inputs.store_key, cover_ids(sizes)))


def probe_fit_job(inputs: ProbeInputs, percent: int, caps: tuple[int, ...], seed: int, watch: Stopwatch) -> dict:
    """Runs of the linear-probe protocol on one (fraction, draw 0, seed), one per epoch cap in ``caps``, one
    after the other in this process: the first reads the feature cache cold, as a run's first read does."""
    from asgbench.tasks.linear_probe import run_linear_probe
    from asgbench.tasks.protocols import ProtocolJob, protocol_for

    data = probe_task_data(inputs, percent, draw=0)
    encoder = _feeder_type()(FEATURE_DIM, 1, 0)
    job = ProtocolJob(seed=seed, cache_root=inputs.cache_root)
    watch.start()
    walls, cpus, epochs, auc = [], [], [], float("nan")
    for cap in caps:
        spec = replace(protocol_for("linear_probe"), max_epochs=cap)
        outcome, wall, cpu = timed(lambda: run_linear_probe(encoder, data, spec, job))
        assert outcome.extra["feature_cache"]["hit"], "the feature cache entry was not found"
        walls.append(wall)
        cpus.append(cpu)
        epochs.append(outcome.selection["epochs_run"])
        auc = outcome.headline["value"]
    return {"wall": walls, "cpu": cpus, "epochs": epochs, "auc": auc}


@dataclass(frozen=True)
class ProbeCost:
    """One dataset's linear-probe run cost per fraction, in CPU seconds: a fixed part (cold feature read, the
    lists, thresholds, the test bootstrap) plus a part per epoch; and the peak memory."""

    sizes: ListSizes
    epochs: tuple[int, int]
    runs: dict[int, Measured]         # per fraction: caps (low cold, low warm, high warm)
    growth_sizes: tuple[int, ...]
    growth_cpu: tuple[float, ...]

    def per_epoch(self, percent: int) -> float:
        cpu, (low, high) = self.runs[percent].detail["cpu"], self.epochs
        return max(0.0, (cpu[2] - cpu[1]) / (high - low))

    def fixed(self, percent: int) -> float:
        return max(0.0, self.runs[percent].detail["cpu"][0] - self.epochs[0] * self.per_epoch(percent))

    def run_seconds(self, percent: int, epochs: int) -> float:
        return self.fixed(percent) + epochs * self.per_epoch(percent)

    @property
    def growth(self) -> float:
        return exponent(self.growth_sizes, self.growth_cpu)


def run_probe(work: Path, dataset: str, scale: float, epochs: tuple[int, int], isolate: bool) -> ProbeCost:
    sizes = list_sizes(dataset).scaled(scale)
    low, high = epochs
    inputs = prepare_probe(work, sizes, PROBE_LABELS)
    runs = {p: measure(partial(probe_fit_job, inputs, p, (low, low, high), 0), isolate) for p in FRACTIONS}
    shutil.rmtree(inputs.cache_root, ignore_errors=True)
    growth_sizes, growth_cpu = [], []
    for share in (0.25, 0.5):
        smaller = prepare_probe(work, sizes.scaled(share), PROBE_LABELS)
        growth_sizes.append(smaller.sizes.cover)
        growth_cpu.append(measure(partial(probe_fit_job, smaller, 100, (low,), 0), isolate).detail["cpu"][0])
        shutil.rmtree(smaller.cache_root, ignore_errors=True)
    growth_sizes.append(sizes.cover)
    growth_cpu.append(runs[100].detail["cpu"][0])
    return ProbeCost(sizes, epochs, runs, tuple(growth_sizes), tuple(growth_cpu))


def report_probe(costs: list[ProbeCost]) -> None:
    low, high = costs[0].epochs
    print(f"\n## Linear probe (run_linear_probe: 2 lr x 3 wd heads at once, batch 256, {FEATURE_DIM}-d features, "
          f"{PROBE_LABELS} labels, features from the cache)")
    rows = []
    for c in costs:
        for p in FRACTIONS:
            run = c.runs[p]
            rows.append([c.sizes.dataset, f"{p} %", f"{c.sizes.fraction(p):,}", f"{c.sizes.val:,} / {c.sizes.test:,}",
                         seconds_list(run.detail["cpu"]), seconds_list(run.detail["wall"]), f"{c.fixed(p):.1f}",
                         f"{c.per_epoch(p):.2f}", mb(run.peak_mb), mb(run.base_mb)])
    print(tabulate(rows, headers=["dataset", "fraction", "train", "val / test",
                                  f"CPU s at {low} (cold) / {low} / {high} epochs", "wall s", "fixed CPU s",
                                  "CPU s per epoch", "peak RSS MB", "RSS before MB"], tablefmt="github"))
    rows = [[c.sizes.dataset, seconds_list(c.growth_sizes, 0), seconds_list(c.growth_cpu), f"{c.growth:.2f}"]
            for c in costs]
    print(f"\nScaling (100 % list at {low} epochs, every list scaled together):")
    print(tabulate(rows, headers=["dataset", "images (train+val+test)", "CPU s", "exponent"], tablefmt="github"))
    rows = []
    for c in costs:
        for cap in PROBE_EPOCHS:
            grid = sum(runs * c.run_seconds(p, cap) for p, runs in RUNS_PER_FRACTION.items())
            rows.append([c.sizes.dataset, cap, f"{c.run_seconds(100, cap) / 60:.1f}", f"{grid / 3600:.2f}"])
    print("\nThe whole grid for one model (EXTRAPOLATION from the fits above, features already cached; 1 % and 10 %: "
          "3 draws x 3 seeds, 100 %: 3 seeds; every head runs until the last one stops):")
    print(tabulate(rows, headers=["dataset", "epochs per run", "one 100 % run, CPU-min", "grid CPU-h"],
                   tablefmt="github"))


RUNS_PER_FRACTION = {1: 9, 10: 9, 100: 3}   # the sweep's grid: draws 0-2 x seeds 0-2; the 100 % list has one draw


# -- part: bootstrap ---------------------------------------------------------------------------------------------
def bootstrap_inputs(images: int, labels: int, images_per_patient: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    targets = (rng.random((images, labels)) < rng.uniform(0.01, 0.2, labels)).astype(np.float64)
    scores = (rng.random((images, labels)) + 0.5 * targets).astype(np.float32)
    patients = [f"p{int(i / images_per_patient)}" for i in range(images)]
    return targets, scores, patients


def bootstrap_job(way: str, images: int, labels: int, images_per_patient: float, watch: Stopwatch) -> dict:
    """One way a run's test scores are bootstrapped (1,000 patient resamples, fresh caches)."""
    from asgbench.tasks import metrics as m
    from asgbench.tasks import paired
    from asgbench.tasks.scoring import score_classification
    from asgbench.tasks.specs import TASKS

    m.resample_counts.cache_clear()
    m._patient_draws.cache_clear()
    targets, scores, patients = bootstrap_inputs(images, labels, images_per_patient)
    watch.start()
    if way == "macro AUC CI":
        return {"value": m.bootstrap_macro_auc(targets, scores, patients=patients).value}
    if way == "a run's scoring (AUC, ACC, F1 CIs)":
        task = replace(TASKS.get("nih-lp"), labels=tuple(f"finding{j}" for j in range(labels)))
        metrics, _ = score_classification(task, targets, scores, patients, thresholds=np.full(labels, 0.75))
        return {"value": metrics["auc"]["value"]}
    ids = tuple(f"i{k:07d}" for k in range(images))
    first = paired.ScoredImages(ids, tuple(patients), targets.astype(np.int8), scores)
    second = first.with_scores(np.clip(scores + 0.1 * targets, 0, None))
    runs = [paired.resample_run("auc", scored) for scored in (first, second)]
    return {"value": paired.pooled_difference(runs[1:], runs[:1]).difference}


BOOTSTRAP_WAYS = ("macro AUC CI", "a run's scoring (AUC, ACC, F1 CIs)", "paired difference of two runs (AUC)")


@dataclass(frozen=True)
class BootstrapCost:
    way: str
    images: tuple[int, ...]
    runs: tuple[Measured, ...]

    @property
    def growth(self) -> float:
        return exponent(self.images, [r.cpu for r in self.runs])


def run_bootstrap(scale: float, isolate: bool) -> list[BootstrapCost]:
    nih = list_sizes("nih")
    sizes = tuple(scaled(round(nih.test * f), scale, 32) for f in (0.5, 1, 2))
    costs = []
    for way in BOOTSTRAP_WAYS:
        runs = [measure(partial(bootstrap_job, way, n, PROBE_LABELS, nih.images_per_patient), isolate) for n in sizes]
        costs.append(BootstrapCost(way, sizes, tuple(runs)))
    return costs


def report_bootstrap(costs: list[BootstrapCost]) -> None:
    print(f"\n## Patient bootstrap (1,000 resamples, {PROBE_LABELS} labels; the NIH test list, half and double)")
    rows = [[c.way, seconds_list(c.images, 0), seconds_list([r.cpu for r in c.runs], 2),
             seconds_list([r.seconds for r in c.runs], 2), " / ".join(mb(r.peak_mb) for r in c.runs), f"{c.growth:.2f}"]
            for c in costs]
    print(tabulate(rows, headers=["what", "test images", "CPU s", "wall s", "peak RSS MB", "exponent"],
                   tablefmt="github"))


# -- parts: encoder forward and segmentation (they need images: a small real store) -------------------------
SEG_MODELS = ("random-r50", "random-vit")


def image_store(work: Path, count: int):
    """A real store of ``count`` canonical images (from 1024 px PNGs), as every protocol reads them."""
    from asgbench.data.store import build_store

    index = synthetic_index(work / "model-sources", IMAGE_FORMATS[0], count)
    return index, build_store(index, cache_dir=work / "model-store", workers=1)


def seg_task_data(index, store, train: int, held_out: int):
    """TaskData for RSNA-style box masks over the store's images: ``train`` images, then val (= test) after them."""
    from asgbench.tasks.data import TaskData
    from asgbench.tasks.specs import TASKS

    ids = store.image_ids
    rng = np.random.default_rng(0)
    boxes = [((x, y, x + 200, y + 260),) if rng.random() < 0.3 else () for x, y in rng.integers(100, 600, (len(ids), 2))]
    frame = pd.DataFrame({"image_id": ids, "patient_id": [f"p{i}" for i in range(len(ids))], "boxes": boxes})
    parts = {"train": frame.iloc[:train], "val": frame.iloc[-held_out:], "test": frame.iloc[-held_out:]}
    splits = {}
    for name, rows in parts.items():
        split = _split(name, rows["image_id"].tolist(), np.zeros((len(rows), 1)), 1)
        splits[name] = replace(split, rows=rows.reset_index(drop=True))
    return TaskData(TASKS.get("rsna-seg"), index.root, index, splits, splits["train"].selection, store)


def encode_cpu(encoder, store, counts: tuple[int, ...]) -> list[float]:
    """CPU seconds of the feature pass (``features.extract``) over the first ``count`` images, per count."""
    from asgbench.tasks.features import extract

    extract(encoder, store, store.image_ids[:2])        # first-call set-up out of the timing
    return [timed(lambda n=n: extract(encoder, store, store.image_ids[:n]))[2] for n in counts]


def seg_epoch_cpu(encoder, data, spec) -> dict:
    """One epoch of ``run_segmentation``: CPU seconds of its training loop (from the progress calls after each
    batch, first batch estimated as the mean of the others) and of the whole run (val, test included)."""
    from asgbench.tasks import segmentation
    from asgbench.tasks.protocols import ProtocolJob

    marks: list[float] = []
    outcome, _, total = timed(lambda: segmentation.run_segmentation(
        encoder, data, spec, ProtocolJob(seed=0, progress=lambda *_: marks.append(cpu_seconds()))))
    steps = np.diff(marks)
    step = float(steps.mean()) if len(steps) else float("nan")
    return {"loop": step * len(marks), "step": step, "total": total, "head": outcome.selection["decoder"]}


def model_job(index, store_dir: Path, model: str, encode_counts: tuple[int, ...], seg_counts: tuple[int, ...],
              held_out: int, watch: Stopwatch) -> dict:
    """One model's forward pass and segmentation epoch, in one process (the model is built once)."""
    import torch

    from asgbench.data.store import ImageStore
    from asgbench.encoders import create_encoder
    from asgbench.tasks import segmentation
    from asgbench.tasks.protocols import protocol_for
    from asgbench.tasks.seg_models import SegmentationModel

    torch.manual_seed(0)
    store = ImageStore(store_dir)
    encoder = create_encoder(model, seed=0)
    watch.start()
    out: dict = {"threads": torch.get_num_threads(), "encode": encode_cpu(encoder, store, encode_counts) if encode_counts
                 else []}
    if seg_counts:
        # the registered protocol as a sweep runs it (augmentation on: the encoder runs at every step); one epoch
        spec = replace(protocol_for("segmentation"), max_epochs=1, patience=1)
        out["seg"] = [seg_epoch_cpu(encoder, seg_task_data(index, store, n, held_out), spec) for n in seg_counts]
        head = SegmentationModel(encoder, decoder_channels=spec.decoder_channels, upernet_channels=spec.upernet_channels,
                                 head=spec.segmentation_head)
        images = store.batch(store.image_ids[-held_out:])
        out["predict"] = timed(lambda: segmentation.predict(head, encoder, images, spec.batch_size, "cpu",
                                                            spec.threshold))[2] / held_out
        out["batch"] = spec.batch_size
    return out


@dataclass(frozen=True)
class RateCost:
    """CPU seconds of one model's feature pass at two list sizes."""

    model: str
    images: tuple[int, ...]
    cpu: tuple[float, ...]
    peak_mb: float

    @property
    def per_image(self) -> float:
        return self.cpu[-1] / self.images[-1]

    @property
    def growth(self) -> float:
        return exponent(self.images, self.cpu)


@dataclass(frozen=True)
class SegCost:
    """CPU seconds of segmentation per image: a training step's share (encoder forward + decoder step) and a
    prediction (val every epoch, test once)."""

    model: str
    head: str
    images: tuple[int, ...]
    loop_cpu: tuple[float, ...]       # the training loop of one epoch, per list size
    train_per_image: float
    predict_per_image: float
    peak_mb: float

    @property
    def growth(self) -> float:
        return exponent(self.images, self.loop_cpu)

    def epoch_seconds(self, train: int, val: int) -> float:
        return train * self.train_per_image + val * self.predict_per_image


def run_models(work: Path, scale: float, parts: tuple[str, ...], isolate: bool) -> tuple[list[RateCost], list[SegCost]]:
    batch = 16                                          # the segmentation protocol's
    encode_counts = (scaled(16, scale, 4), scaled(48, scale, 8)) if "encode" in parts else ()
    seg_counts = (max(2, round(2 * scale)) * batch, max(3, round(3 * scale)) * batch) if "seg" in parts else ()
    held_out = scaled(16, scale, 4)
    index, store = image_store(work, max((*encode_counts, *seg_counts)) + held_out)
    encode, seg = [], []
    for model in SEG_MODELS:
        run = measure(partial(model_job, index, store.directory, model, encode_counts, seg_counts, held_out), isolate)
        if encode_counts:
            encode.append(RateCost(model, encode_counts, tuple(run.detail["encode"]), run.peak_mb))
        if seg_counts:
            epochs = run.detail["seg"]
            seg.append(SegCost(model, epochs[-1]["head"], seg_counts, tuple(e["loop"] for e in epochs),
                               epochs[-1]["step"] / run.detail["batch"], run.detail["predict"], run.peak_mb))
    return encode, seg


def report_models(encode: list[RateCost], seg: list[SegCost]) -> None:
    if encode:
        print("\n## Frozen encoder forward pass (features.extract, 224 px, batch 64)")
        rows = [[c.model, seconds_list(c.images, 0), seconds_list(c.cpu), f"{1 / c.per_image:.2f}",
                 f"{c.per_image * 100_000 / 3600:.1f}", mb(c.peak_mb), f"{c.growth:.2f}"] for c in encode]
        print(tabulate(rows, headers=["model", "images", "CPU s", "img per CPU-s", "CPU-h per 100k images",
                                      "peak RSS MB (process)", "exponent"], tablefmt="github"))
    if seg:
        print("\n## Segmentation epoch (run_segmentation, the registered protocol: batch 16, augmentation on, frozen "
              "encoder, decoder widths 256-16)")
        rows = [[c.model, c.head, f"{c.train_per_image * 1000 / 3600:.2f}", f"{c.predict_per_image * 1000 / 3600:.2f}",
                 mb(c.peak_mb), seconds_list(c.images, 0), seconds_list(c.loop_cpu), f"{c.growth:.2f}"] for c in seg]
        print(tabulate(rows, headers=["model", "head", "train CPU-h per 1,000 img", "predict CPU-h per 1,000 img",
                                      "peak RSS MB (process)", "train images", "train-loop CPU s", "exponent"],
                       tablefmt="github"))


# -- part: the leaderboard ---------------------------------------------------------------------------------------
# The leaderboard's 18 models (the registry without the small variants asg-r18, asg-vit-tiny, random-r18,
# random-vit-tiny and kad-224) by cost class: the measured ResNet-50 or ViT-B at 224 px, times the pixel ratio of
# the model's input. Swin-T (MedCLIP-ViT) and CLIP ViT-B/32 (CheXzero) cost about a ResNet-50 (4.5 and 4.4 GFLOPs
# vs 4.1): an assumption, not a measurement.
LEADERBOARD = (("asg-vit", "random-vit"), ("asg-r50", "random-r50"), ("convirt", "random-r50"),
               ("gloria", "random-r50"), ("medklip", "random-r50"), ("medclip-r50", "random-r50"),
               ("medclip-vit", "random-r50"), ("kad", "random-r50"), ("mgca-r50", "random-r50"),
               ("mgca-vit", "random-vit"), ("mrm", "random-vit"), ("random-r50", "random-r50"),
               ("random-vit", "random-vit"), ("imagenet-r50", "random-r50"), ("imagenet-vit", "random-vit"),
               ("biovil", "random-r50"), ("chexzero", "random-r50"), ("biomedclip", "random-vit"))
SEG_EPOCHS = (20, 50)                 # early stop at 10 + patience 10; the protocol's cap
PROBE_EPOCHS = (40, 200)              # early stop at 20 + patience 20; the protocol's cap
ZERO_SHOT_SEEDS = 3


@dataclass(frozen=True)
class ModelCost:
    name: str
    measured_as: str
    pixels: float                     # input pixels relative to 224 x 224
    zero_shot: bool


def leaderboard_models() -> list[ModelCost]:
    from asgbench.encoders import MODELS

    out = []
    for name, measured_as in LEADERBOARD:
        config = MODELS.get(name)
        out.append(ModelCost(name, measured_as, (config.input.size / 224) ** 2, config.zero_shot is not None))
    return out


@dataclass(frozen=True)
class TaskShape:
    """A leaderboard task's list sizes and how its runs are priced."""

    name: str
    kind: str                         # probe | zero-shot | seg
    train: int
    val: int
    test: int
    probe_like: str = "nih"           # whose measured probe fits price this task's (linear in the list sizes)


def leaderboard_tasks() -> list[TaskShape]:
    nih, chexpert, rsna, siim = (list_sizes(d) for d in ("nih", "chexpert", "rsna", "siim"))
    covidx = COVIDX_LISTS
    return [TaskShape("nih-lp", "probe", nih.train, nih.val, nih.test, "nih"),
            TaskShape("chexpert-lp", "probe", chexpert.train, chexpert.val, chexpert.test, "chexpert"),
            TaskShape("rsna-lp", "probe", rsna.train, rsna.val, rsna.test),
            TaskShape("covidx-lp", "probe", *covidx),
            TaskShape("rsna-zs", "zero-shot", 0, rsna.val, rsna.test),
            TaskShape("nih-zs", "zero-shot", 0, nih.val, nih.test),
            TaskShape("chexpert-zs", "zero-shot", 0, chexpert.val, chexpert.test),
            TaskShape("siim-seg", "seg", siim.train, siim.val, siim.test),
            TaskShape("rsna-seg", "seg", rsna.train, rsna.val, rsna.test)]


def probe_run_seconds(probe: ProbeCost, task: TaskShape, percent: int, epochs: int) -> float:
    """A run's CPU seconds on ``task``, from the measured fits scaled linearly by the lists' sizes (factor 1 for
    the measured dataset itself): an epoch by train + val, the fixed part by all three lists."""
    measured = probe.sizes
    train = max(1, round(task.train * measured.fraction(percent) / measured.train))
    epoch = probe.per_epoch(percent) * (train + task.val) / (measured.fraction(percent) + measured.val)
    fixed = probe.fixed(percent) * (task.train + task.val + task.test) / measured.cover
    return fixed + epochs * epoch


def task_hours(task: TaskShape, model: ModelCost, probes: dict[str, ProbeCost], encode: dict[str, RateCost],
               seg: dict[str, SegCost], scenario: int) -> float | None:
    """CPU-hours of one model's runs of one task, ``scenario`` 0 (early stop) or 1 (the epoch cap); None where
    the model takes no part (zero-shot without a text side)."""
    encode_s = encode[model.measured_as].per_image * model.pixels
    if task.kind == "zero-shot":
        return ZERO_SHOT_SEEDS * (task.val + task.test) * encode_s / 3600 if model.zero_shot else None
    if task.kind == "probe":
        probe = probes[task.probe_like]
        heads = sum(runs * probe_run_seconds(probe, task, p, PROBE_EPOCHS[scenario])
                    for p, runs in RUNS_PER_FRACTION.items())
        return ((task.train + task.val + task.test) * encode_s + heads) / 3600
    cost, epochs = seg[model.measured_as], SEG_EPOCHS[scenario]
    total = 0.0
    for p, runs in RUNS_PER_FRACTION.items():
        train = task.train * p // 100
        one = epochs * cost.epoch_seconds(train, task.val) + task.test * cost.predict_per_image
        total += runs * one * model.pixels
    return total / 3600


STORE_DATASETS = {"nih": "NIH ChestX-ray14", "chexpert": "CheXpert", "rsna": "RSNA pneumonia",
                  "siim": "SIIM pneumothorax", "covidx": "COVIDx CXR-4"}


def store_hours(store: list[StoreCost]) -> float:
    """CPU-hours of the 256 px stores of every dataset the tasks read (built once, shared by all models)."""
    rates = {name: c.rate_per_core for c in store for name in c.fmt.datasets}
    return sum(DATASET_IMAGES[name] / rates[name] for name in STORE_DATASETS.values()) / 3600


def report_leaderboard(probes: dict[str, ProbeCost], encode: dict[str, RateCost], seg: dict[str, SegCost],
                       store: list[StoreCost], cores: int) -> None:
    models, tasks = leaderboard_models(), leaderboard_tasks()
    print("\n## The whole leaderboard in CPU-hours (EXTRAPOLATION from the measurements above, not measured)")
    print(f"{len(models)} models x {len(tasks)} tasks. Linear probe: one feature pass over train+val+test per model "
          f"and dataset, then 21 runs (1 % and 10 %: 3 draws x 3 seeds, 100 %: 3 seeds) at {PROBE_EPOCHS[0]} epochs "
          f"(an early stop) / {PROBE_EPOCHS[1]} (the cap). Zero-shot: {ZERO_SHOT_SEEDS} seeds, each scoring val + "
          f"test (text side not counted). Segmentation: 21 runs at {SEG_EPOCHS[0]} / {SEG_EPOCHS[1]} epochs, each "
          f"epoch the training list plus a val pass, test once. Wall time on this machine: CPU-h / {cores} at best.")
    r50, vit = (next(m for m in models if m.name == name) for name in SEG_MODELS)
    rows, totals = [], [0.0, 0.0]
    for task in tasks:
        scenarios = [[h for m in models if (h := task_hours(task, m, probes, encode, seg, s)) is not None]
                     for s in (0, 1)]
        one = [task_hours(task, m, probes, encode, seg, 1) for m in (r50, vit)]
        total = [sum(h) for h in scenarios]
        totals = [a + b for a, b in zip(totals, total)]
        rows.append([task.name, f"{task.train:,} / {task.val:,} / {task.test:,}", len(scenarios[0]),
                     *("—" if h is None else f"{h:,.1f}" for h in one), f"{total[0]:,.0f}", f"{total[1]:,.0f}"])
    if store:
        hours = store_hours(store)
        totals = [t + hours for t in totals]
        rows.append(["image stores (once)", "all images of 5 datasets", "—", "", "", f"{hours:,.0f}", f"{hours:,.0f}"])
    rows.append(["all", "", "", "", "", f"{totals[0]:,.0f}", f"{totals[1]:,.0f}"])
    print(tabulate(rows, headers=["task", "train / val / test", "models", "one R50 CPU-h (cap)", "one ViT-B CPU-h (cap)",
                                  "all models CPU-h (early stop)", "all models CPU-h (cap)"], tablefmt="github"))


# -- driver --------------------------------------------------------------------------------------------------
@dataclass
class Results:
    store: list[StoreCost] = field(default_factory=list)
    probe: dict[str, ProbeCost] = field(default_factory=dict)
    bootstrap: list[BootstrapCost] = field(default_factory=list)
    encode: dict[str, RateCost] = field(default_factory=dict)
    seg: dict[str, SegCost] = field(default_factory=dict)


def parse_parts(text: str) -> tuple[str, ...]:
    parts = PARTS if text == "all" else tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)} or all")
    if "leaderboard" in parts and not {"probe", "encode", "seg"} <= set(parts):
        raise SystemExit("the leaderboard part needs the probe, encode and seg parts in the same run")
    return parts


def parse_datasets(text: str, parts: tuple[str, ...]) -> tuple[str, ...]:
    datasets = tuple(d.strip() for d in text.split(",") if d.strip())
    if not set(datasets) <= set(PROBE_DATASETS):
        raise SystemExit(f"--probe-datasets: choose from {', '.join(PROBE_DATASETS)}")
    if "leaderboard" in parts and set(datasets) != set(PROBE_DATASETS):
        raise SystemExit("the leaderboard part prices its tasks from both probe datasets")
    return datasets


def run_parts(parts: tuple[str, ...], work: Path, scale: float, epochs: tuple[int, int], isolate: bool,
              probe_datasets: tuple[str, ...] = PROBE_DATASETS) -> Results:
    results = Results()
    if "encode" in parts or "seg" in parts:             # first: the slowest to start, and the likeliest to fail
        encode, seg = run_models(work, scale, parts, isolate)
        results.encode, results.seg = {c.model: c for c in encode}, {c.model: c for c in seg}
        report_models(encode, seg)
    if "store" in parts:
        results.store = run_store(work, scale, isolate)
        report_store(results.store)
    if "probe" in parts:
        results.probe = {d: run_probe(work, d, scale, epochs, isolate) for d in probe_datasets}
        report_probe(list(results.probe.values()))
    if "bootstrap" in parts:
        results.bootstrap = run_bootstrap(scale, isolate)
        report_bootstrap(results.bootstrap)
    if "leaderboard" in parts:
        report_leaderboard(results.probe, results.encode, results.seg, results.store, os.cpu_count() or 1)
    return results


def main(argv: Sequence[str] | None = None) -> Results:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="all", help=f"comma-separated: {', '.join(PARTS)}, or all")
    parser.add_argument("--scale", type=float, default=1.0, help="every size times this (0.01 for a quick run)")
    parser.add_argument("--epochs", default="2,5", help="the two epoch caps each probe run is timed at")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder, removed at the end "
                                                                  "(default: a temporary one)")
    parser.add_argument("--probe-datasets", default=",".join(PROBE_DATASETS), help="whose list sizes the probe uses")
    parser.add_argument("--inline", action="store_true", help="measure in this process (peak memory then shared)")
    args = parser.parse_args(argv)
    parts = parse_parts(args.part)
    datasets = parse_datasets(args.probe_datasets, parts)
    low, high = (int(e) for e in args.epochs.split(","))
    print(f"asgbench cost at real sizes: scale {args.scale}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-real-sizes-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run_parts(parts, work, args.scale, (low, high), not args.inline, datasets)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
