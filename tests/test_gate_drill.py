"""The regression gate on real runs: an unchanged rerun passes, real degradations fail.

These tests reuse what ``make regression-check`` leaves in ``$ASGBENCH_GATE_DIR`` (the gate suite, its feature
cache and the sweep's runs), which ``make test`` runs first and passes on; they check the committed reference
``results/reference/ci.json`` against fresh runs made here.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asgbench.check import IDENTICAL, OK, REGRESSED, check, stored_runs
from asgbench.run import RunContext, RunSpec, run
from asgbench.tasks.paired import ScoredImages, point_value

pytestmark = pytest.mark.slow
REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference" / "ci.json"
GATE = os.environ.get("ASGBENCH_GATE_DIR")
needs_gate = pytest.mark.skipif(not GATE, reason="needs ASGBENCH_GATE_DIR from `make regression-check` (make test sets it)")
SPEC = RunSpec(model="random-r18", task="nih-lp", fraction=100, seed=0)


def _statuses(folder: Path) -> dict[str, str]:
    report = check(REFERENCE, stored_runs(folder))
    return {entry.reference.run.fraction: entry.status for entry in report.entries}


def _rerun(tmp_path: Path, data_root: Path | None = None) -> Path:
    out = tmp_path / "runs"
    gate = Path(GATE)
    run(SPEC, RunContext(data_root=data_root or gate / "suite", out=out, cache_dir=gate / "cache", force=True))
    return out


def _gate_runs(tmp_path: Path) -> Path:
    """A copy of the runs `make regression-check` just made (the same spec, rerun from scratch there)."""
    out = tmp_path / "runs"
    shutil.copytree(Path(GATE) / "runs", out, ignore=shutil.ignore_patterns(".*"))
    return out


@needs_gate
def test_an_unchanged_rerun_passes(tmp_path):
    out = _gate_runs(tmp_path)
    assert _statuses(out)[100] in (IDENTICAL, OK)


@needs_gate
def test_shuffled_scores_fail(tmp_path):
    out = _gate_runs(tmp_path)
    [path] = out.glob("*.predictions.parquet")
    table = pd.read_parquet(path)
    scores = [c for c in table.columns if c.startswith("score:")]
    table[scores] = table[scores].to_numpy()[np.random.default_rng(0).permutation(len(table))]
    table.to_parquet(path, index=False)
    [result] = list(out.glob("*.json"))
    data = json.loads(result.read_text())
    data["metrics"]["auc"]["value"] = point_value("auc", ScoredImages.from_predictions(table, data))  # a consistent file
    result.write_text(json.dumps(data))
    assert _statuses(out)[100] == REGRESSED


@needs_gate
def test_labels_flipped_on_a_third_of_the_images_fail(tmp_path):
    """A data root whose NIH labels are wrong for a third of the images (a label-reading bug, say)."""
    gate = Path(GATE) / "suite"
    root = tmp_path / "data"
    root.mkdir()
    for entry in gate.iterdir():
        if entry.name != "nih":
            (root / entry.name).symlink_to(entry.resolve())
    shutil.copytree(gate / "nih", root / "nih")      # a copy: the reader does not follow linked image folders
    frame = pd.read_csv(gate / "nih" / "Data_Entry_2017_v2020.csv")
    rng = np.random.default_rng(0)
    flipped = rng.random(len(frame)) < 1 / 3
    other = frame["Finding Labels"].to_numpy()[rng.permutation(len(frame))]
    frame.loc[flipped, "Finding Labels"] = other[flipped]
    frame.to_csv(root / "nih" / "Data_Entry_2017_v2020.csv", index=False)
    out = _rerun(tmp_path, data_root=root)
    assert _statuses(out)[100] == REGRESSED


def test_the_committed_reference_is_a_gate():
    """Every entry of the committed reference detects a drop of its must-detect size (0.05) with 80 % power."""
    from asgbench.check import read_reference
    from asgbench.gate_power import detectable_drop

    entries, settings = read_reference(REFERENCE)
    assert settings.must_detect <= 0.05 and entries
    for entry in entries:
        assert detectable_drop(entry.metric, entry.images, settings.margin, settings.confidence) <= settings.must_detect
        assert entry.value > 0.55                                   # above chance (0.5 for a macro AUC)




# -- degradations a retrained probe hides: caught by the features' fingerprint, on the tiny suite --------------
TINY_SPEC = RunSpec(model="random-r18", task="nih-lp", fraction=100, seed=0)


def _tiny_run(suite: Path, out: Path, cache: Path) -> Path:
    run(TINY_SPEC, RunContext(data_root=suite, out=out, cache_dir=cache, force=True, rebuild_cache=True))
    return out


def _tiny_status(reference: Path, out: Path) -> tuple[str, str]:
    """The tiny suite has no power to detect drops (UNDERPOWERED); what matters here is CHANGED or not."""
    [entry] = check(reference, stored_runs(out)).entries
    return entry.status, entry.note


@pytest.fixture(scope="module")
def tiny_reference(tiny_suite, tmp_path_factory):
    from asgbench.check import write_reference

    folder = tmp_path_factory.mktemp("tiny-gate")
    out = _tiny_run(tiny_suite, folder / "reference-runs", folder / "cache")
    write_reference(stored_runs(out), folder / "reference.json")
    return folder / "reference.json"


def test_an_unchanged_tiny_rerun_keeps_its_features(tiny_suite, tiny_reference, tmp_path):
    from asgbench.check import UNDERPOWERED

    out = _tiny_run(tiny_suite, tmp_path / "runs", tmp_path / "cache")
    [entry] = check(tiny_reference, stored_runs(out)).entries
    # not CHANGED (which would override UNDERPOWERED, the tiny suite's lack of power) and the same outputs
    assert entry.status == UNDERPOWERED and entry.difference == 0.0, (entry.status, entry.note)


def test_noise_added_to_the_weights_is_caught(tiny_suite, tiny_reference, tmp_path, monkeypatch):
    """3x the weights' spread of noise: the probe does as well on a random network, the features do not match."""
    import torch

    import asgbench.run as run_module
    from asgbench.check import CHANGED

    original = run_module.create_encoder

    def noisy(*args, **kwargs):
        encoder = original(*args, **kwargs)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for parameter in encoder.backbone.parameters():
                if parameter.numel() > 1:
                    parameter.add_(3 * parameter.std() * torch.randn(parameter.shape, generator=generator))
        return encoder

    monkeypatch.setattr(run_module, "create_encoder", noisy)
    status, note = _tiny_status(tiny_reference, _tiny_run(tiny_suite, tmp_path / "runs", tmp_path / "cache"))
    assert status == CHANGED and "features differ" in note


def test_preprocessing_without_normalisation_is_caught(tiny_suite, tiny_reference, tmp_path, monkeypatch):
    """A preprocessing bug (the mean/std step dropped) changes the features even where the metric holds."""
    from asgbench.check import CHANGED
    from asgbench.encoders.model import Encoder
    from asgbench.encoders.transforms import transform_images

    def unnormalised(self, images, boxes=None):
        x = transform_images(images.to(self.mean.device), self.config.input, boxes)
        return x.expand(-1, self.config.input.channels, -1, -1)

    monkeypatch.setattr(Encoder, "preprocess", unnormalised)
    status, note = _tiny_status(tiny_reference, _tiny_run(tiny_suite, tmp_path / "runs", tmp_path / "cache"))
    assert status == CHANGED and "features differ" in note
