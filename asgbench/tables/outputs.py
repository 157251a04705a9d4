"""The per-image outputs behind table cells: found beside the result files, read only when a comparison needs
them, and bootstrapped once per run and metric however many comparisons the run takes part in.

Tables and plots print numbers from the result files alone; whether one row is significantly below another,
or how wide a plotted mean's interval is, needs the runs' per-image outputs (:mod:`asgbench.tasks.paired`).
A run without them (an old result, a copied file) is reported as not tested, never guessed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asgbench.errors import AsgbenchError
from asgbench.results import PREDICTIONS_SUFFIX, read_predictions
from asgbench.tasks.metrics import BOOTSTRAP_SAMPLES
from asgbench.tasks.paired import ResampledRun, ScoredImages, pooled_difference, resample_run

BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class RunOutputs:
    """Run id -> its result and the folder its predictions sit in; :meth:`resampled` reads and bootstraps them."""

    results: Mapping[str, dict]
    folders: Mapping[str, Path]
    samples: int = BOOTSTRAP_SAMPLES
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def images(self, run_id: str) -> ScoredImages | None:
        """The run's per-image outputs; None when it has none (or they cannot be read)."""
        if run_id not in self.results or run_id not in self.folders:
            return None
        try:
            return ScoredImages.from_predictions(read_predictions(self.folders[run_id], run_id), self.results[run_id])
        except (AsgbenchError, KeyError, ValueError, OSError):
            return None

    def resampled(self, run_id: str, metric: str) -> ResampledRun | None:
        """The run's ``metric`` on its test images and their bootstrap resamples (the same resamples for every
        run on the same test list); None when its outputs are missing or cannot give ``metric``."""
        if run_id not in self.results:
            return None
        key = (run_id, metric)
        if key not in self._cache:
            self._cache[key] = self._resample(run_id, metric)
        return self._cache[key]

    def _resample(self, run_id: str, metric: str) -> ResampledRun | None:
        images = self.images(run_id)
        if images is None:
            return None
        spec = self.results[run_id]["spec"]
        try:
            return resample_run(metric, images, (int(spec["draw"]), int(spec["seed"])), samples=self.samples,
                                seed=BOOTSTRAP_SEED)
        except AsgbenchError:
            return None

    def empty_mask(self, run_id: str) -> ResampledRun | None:
        """The Dice of predicting no mask on a segmentation run's test images (1 where the image has no lesion,
        0 where it has one) on the same resamples as the run; None without outputs that record the true masks."""
        key = (run_id, "empty-mask")
        if key not in self._cache:
            self._cache[key] = self._empty_mask(run_id)
        return self._cache[key]

    def _empty_mask(self, run_id: str) -> ResampledRun | None:
        if run_id not in self.results or run_id not in self.folders:
            return None
        try:
            table = read_predictions(self.folders[run_id], run_id)
        except (AsgbenchError, OSError, ValueError):
            return None
        if "true_pixels" not in table.columns:
            return None
        empty = (table["true_pixels"].to_numpy() == 0).astype(np.float32)[:, None]
        images = ScoredImages(tuple(table["image_id"].astype(str)), tuple(table["patient_id"].astype(str)),
                              np.zeros((len(table), 0), dtype=np.int8), empty)
        return resample_run("dice", images, samples=self.samples, seed=BOOTSTRAP_SEED)

    def runs(self, run_ids: Iterable[str], metric: str) -> tuple[ResampledRun, ...] | None:
        """Every run's resampled ``metric``, or None when any of them lacks outputs."""
        runs = tuple(self.resampled(run_id, metric) for run_id in run_ids)
        return None if not runs or any(run is None for run in runs) else runs

    def mean_interval(self, run_ids: Iterable[str], metric: str, confidence: float = 0.95) -> tuple[float, float] | None:
        """The two-sided bootstrap interval of the mean of ``metric`` over these runs (test patients and runs
        resampled); None when a run lacks outputs or they are on different test lists."""
        runs = self.runs(run_ids, metric)
        if runs is None:
            return None
        try:
            return pooled_difference(runs, 0.0, seed=BOOTSTRAP_SEED).interval(confidence)
        except AsgbenchError:
            return None


NO_OUTPUTS = RunOutputs({}, {})


def run_outputs(results: Iterable[dict], folder: str | Path, samples: int = BOOTSTRAP_SAMPLES) -> RunOutputs:
    """The outputs of ``results`` whose predictions files lie anywhere under ``folder`` (where ``run`` and
    ``sweep`` write them, beside each result file)."""
    by_id = {result["run_id"]: result for result in results}
    root, folders = Path(folder), {}
    for path in sorted(root.rglob(f"*{PREDICTIONS_SUFFIX}")):
        run_id = path.name[:-len(PREDICTIONS_SUFFIX)]
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)   # temporary files, failures
        if run_id in by_id and not hidden:
            folders[run_id] = path.parent
    return RunOutputs(by_id, folders, samples)
