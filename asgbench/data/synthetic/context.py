"""What every dataset writer of the synthetic suite shares: size preset, seeds, workers, progress."""
from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asgbench.data.synthetic.jobs import ImageJob, JobResult, run_jobs


@dataclass(frozen=True)
class Preset:
    """How many items each dataset of the suite gets."""

    name: str
    mimic_studies: int
    chexpert_train: int
    chexpert_valid: int
    rsna: int
    covidx_train: int
    covidx_test: int
    nih: int
    siim: int
    siim_unlabelled_test: int


PRESETS = {
    "tiny": Preset("tiny", mimic_studies=24, chexpert_train=40, chexpert_valid=12, rsna=40, covidx_train=36,
                   covidx_test=12, nih=48, siim=40, siim_unlabelled_test=3),
    # the demo's suite. SIIM is twice the others' size: its claims are differences of 2 to 5 Dice points, which a
    # 180-image test list (95 % CIs about +-5 points) could not resolve
    "small": Preset("small", mimic_studies=2600, chexpert_train=1500, chexpert_valid=240, rsna=1500,
                    covidx_train=1200, covidx_test=300, nih=1600, siim=2400, siim_unlabelled_test=20),
    # the regression gate's suite (`make regression-check`): NIH large enough that the paired test on its 14-label
    # macro AUC detects a drop of 0.05 (about 360 test images; see asgbench.gate_power); the rest stays tiny
    "gate": Preset("gate", mimic_studies=24, chexpert_train=40, chexpert_valid=12, rsna=40, covidx_train=36,
                   covidx_test=12, nih=2400, siim=40, siim_unlabelled_test=3),
    # the demo's suite up to generator version 4: the same MIMIC corpus, downstream datasets about three times
    # larger, so that a 1 % list holds 24 to 34 images and a test list 360 to 900 (bootstrap CIs 1.7 times narrower)
    "medium": Preset("medium", mimic_studies=2600, chexpert_train=3000, chexpert_valid=720, rsna=4000,
                     covidx_train=3000, covidx_test=900, nih=4800, siim=2400, siim_unlabelled_test=20),
}


@dataclass(frozen=True)
class DatasetCounts:
    """What a writer produced, in the terms ``asgbench data verify`` reports."""

    dataset: str
    index_rows: int
    image_files: int
    patients: int
    positives: dict[str, int]
    extra: dict[str, int] = field(default_factory=dict)


@dataclass
class SynthContext:
    root: Path
    dataset: str
    preset: Preset
    seed: int
    workers: int | None = None
    progress: Callable[[int], None] | None = None

    def _sequence(self, *keys: object) -> np.random.SeedSequence:
        words = [self.seed, zlib.crc32(self.dataset.encode())] + [zlib.crc32(str(k).encode()) for k in keys]
        return np.random.SeedSequence(words)

    def rng(self, *keys: object) -> np.random.Generator:
        """An independent, reproducible random stream for ``keys`` within this dataset."""
        return np.random.default_rng(self._sequence(*keys))

    def image_seed(self, *keys: object) -> int:
        return int(self._sequence("image", *keys).generate_state(1)[0])

    def run(self, jobs: Sequence[ImageJob]) -> list[JobResult]:
        return run_jobs(self.root, jobs, workers=self.workers, progress=self.progress)
