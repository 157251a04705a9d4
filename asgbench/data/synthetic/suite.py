"""Write the whole synthetic suite: one folder per dataset in its exact real layout, plus SUITE.json.

Each dataset is written into a temporary folder and renamed into place when complete, so an interrupted
run never leaves a half-written dataset that a later run would mistake for a finished one.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from asgbench.data.synthetic.context import PRESETS, DatasetCounts, SynthContext
from asgbench.data.synthetic.writers import chexpert, covidx, mimic, nih, rsna, siim
from asgbench.errors import ConfigError

SUITE_FILE = "SUITE.json"
GENERATOR_VERSION = 8
DATASET_ORDER = ("mimic", "chexpert", "rsna", "covidx", "nih", "siim")
TRUTH_DIR = "_truth"
SPLITS_DIR = "splits"  # <data-root>/splits/<dataset>/<protocol>/: read first by asgbench.data.splits


@dataclass(frozen=True)
class SuiteManifest:
    generator_version: int
    size: str
    seed: int
    datasets: dict[str, DatasetCounts]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SuiteManifest:
        raw = json.loads(text)
        datasets = {name: DatasetCounts(**counts) for name, counts in raw["datasets"].items()}
        return cls(raw["generator_version"], raw["size"], raw["seed"], datasets)


def read_manifest(out: Path) -> SuiteManifest | None:
    path = Path(out) / SUITE_FILE
    if not path.is_file():
        return None
    return SuiteManifest.from_json(path.read_text())


def is_suite(root: Path) -> bool:
    """True when ``root`` (a suite folder or one dataset folder in it) was written by ``asgbench data synth``."""
    root = Path(root)
    return (root / SUITE_FILE).is_file() or (root.parent / SUITE_FILE).is_file()


def _writer(name: str, truth_dir: Path) -> Callable[[SynthContext], DatasetCounts]:
    writers = {
        "mimic": lambda ctx: mimic.write(ctx, truth_dir=truth_dir, scene_graph_root=truth_dir / "imagenome"),
        "chexpert": chexpert.write,
        "rsna": rsna.write,
        "covidx": covidx.write,
        "nih": nih.write,
        "siim": siim.write,
    }
    return writers[name]


def synthesize(
    out: str | Path,
    size: str = "tiny",
    seed: int = 0,
    *,
    workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    reuse: bool = True,
) -> SuiteManifest:
    """Write (or, when an identical suite is already there, reuse) the synthetic suite under ``out``."""
    if size not in PRESETS:
        raise ConfigError(f"unknown suite size {size!r}; expected one of {', '.join(PRESETS)}")
    out = Path(out)
    existing = read_manifest(out)
    if reuse and existing and (existing.size, existing.seed, existing.generator_version) == (size, seed, GENERATOR_VERSION) \
            and all((out / name).is_dir() for name in DATASET_ORDER) and (out / SPLITS_DIR).is_dir():
        return existing
    out.mkdir(parents=True, exist_ok=True)
    (out / SUITE_FILE).unlink(missing_ok=True)
    preset = PRESETS[size]
    truth_tmp = out / f".{TRUTH_DIR}.partial"
    shutil.rmtree(truth_tmp, ignore_errors=True)
    counts: dict[str, DatasetCounts] = {}
    for name in DATASET_ORDER:
        final, partial = out / name, out / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        ctx = SynthContext(
            root=partial, dataset=name, preset=preset, seed=seed, workers=workers,
            progress=(lambda n, name=name: progress(name, n)) if progress else None,
        )
        counts[name] = _writer(name, truth_tmp)(ctx)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
    shutil.rmtree(out / TRUTH_DIR, ignore_errors=True)
    shutil.rmtree(out / "chest-imagenome", ignore_errors=True)
    os.replace(truth_tmp / "imagenome" / "chest-imagenome", out / "chest-imagenome")
    shutil.rmtree(truth_tmp / "imagenome")
    os.replace(truth_tmp, out / TRUTH_DIR)
    build_suite_splits(out)
    manifest = SuiteManifest(GENERATOR_VERSION, size, seed, counts)
    tmp = out / f".{SUITE_FILE}.tmp"
    tmp.write_text(manifest.to_json())
    os.replace(tmp, out / SUITE_FILE)
    return manifest


def build_suite_splits(out: Path) -> None:
    """The suite's own split lists, built by the same protocol code from its own metadata."""
    from asgbench.data.splits import SPLIT_PROTOCOLS, build_splits

    for protocol in SPLIT_PROTOCOLS.names():
        for name in SPLIT_PROTOCOLS.get(protocol).datasets():
            build_splits(name, protocol, root=out / name, out=out / SPLITS_DIR / name / protocol, origin="synthetic")


def expected_images(size: str) -> int:
    """Roughly how many image files a suite of ``size`` holds (for progress bars)."""
    p = PRESETS[size]
    return int(p.mimic_studies * 1.27) + p.chexpert_train + p.chexpert_valid + p.rsna + p.covidx_train + p.covidx_test \
        + p.nih + p.siim + p.siim_unlabelled_test
