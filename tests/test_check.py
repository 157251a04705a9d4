"""The regression gate's decisions on result folders: each status, the reference file, the command line.

The runs here are result files with per-image predictions written the way ``asgbench run`` writes them;
the gate on real runs of real degradations is exercised in tests/test_gate_drill.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from asgbench.check import (BETTER, IDENTICAL, INCONSISTENT, MISSING, OK, REGRESSED, UNDERPOWERED, GateSettings, check,
                            read_reference, stored_runs, write_reference)
from asgbench.cli import main
from asgbench.errors import ConfigError, DataLayoutError
from asgbench.results import write_result
from asgbench.tasks.paired import point_value
from asgbench.tasks.scoring import predictions_table

from test_tables import make_result

LABELS = ("Pneumonia",)


def _outputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, 1)) < 0.3).astype(int)
    scores = (0.6 * targets + rng.random((n, 1))).astype(np.float32)
    patients = [f"p{i // 2}" for i in range(n)]
    return targets, scores, patients


def write_run(folder, targets, scores, patients, *, model="random-r50", seed=0, stated_value=None):
    """A result file and its predictions for rsna-lp (one binary class), the metric computed from them."""
    from asgbench.tasks.paired import ScoredImages

    ids = [f"img{i}.dcm" for i in range(len(targets))]
    images = ScoredImages(tuple(ids), tuple(patients), targets.astype(np.int8), scores.astype(np.float32))
    value = point_value("auc", images)
    result = make_result(model, "rsna-lp", 100, seed, stated_value if stated_value is not None else value)
    result["task"]["labels"] = list(LABELS)
    write_result(folder, result, predictions_table(ids, list(patients), LABELS, targets, scores, False))
    return result


@pytest.fixture
def reference_run(tmp_path):
    targets, scores, patients = _outputs(600)
    folder = tmp_path / "reference-runs"
    write_run(folder, targets, scores, patients)
    path = tmp_path / "ci.json"
    entries = write_reference(stored_runs(folder), path)
    return path, entries, (targets, scores, patients)


def _check(tmp_path, reference, targets, scores, patients, **kwargs):
    folder = tmp_path / "new-runs"
    write_run(folder, targets, scores, patients, **kwargs)
    report = check(reference, stored_runs(folder))
    return report, report.entries[0]


def test_an_unchanged_rerun_is_identical_and_passes(tmp_path, reference_run):
    path, entries, (targets, scores, patients) = reference_run
    assert entries[0].status == OK and entries[0].detectable < 0.05       # 600 images make a gate
    report, entry = _check(tmp_path, path, targets, scores, patients)
    assert report.ok and entry.status == IDENTICAL and entry.difference == 0.0


def test_shuffled_scores_are_a_regression(tmp_path, reference_run):
    path, _, (targets, scores, patients) = reference_run
    shuffled = np.random.default_rng(1).permutation(scores)
    report, entry = _check(tmp_path, path, targets, shuffled, patients)
    assert not report.ok and entry.status == REGRESSED
    assert entry.interval[1] < -0.01 and entry.difference < -0.2
    assert "REGRESSED" in report.render() and report.render().rstrip().splitlines()[-1].startswith("FAIL")


def test_a_drop_the_gate_says_it_detects_is_flagged_and_noise_below_the_margin_is_not(tmp_path, reference_run):
    from asgbench.gate_power import degraded

    path, entries, (targets, scores, patients) = reference_run
    reference = read_reference(path)[0][0]
    detectable = entries[0].detectable
    flagged = 0
    for trial in range(5):                       # the stated drop is caught at least 4 times in 5 (80 % power)
        lam = 0.0
        worse = reference.images
        while reference.value - point_value("auc", worse) < detectable + 0.01:
            lam += 0.05
            worse = degraded(reference.images, lam, seed=50 + trial)
        _, entry = _check(tmp_path / f"t{trial}", path, targets, worse.scores, patients)
        flagged += entry.status == REGRESSED
    assert flagged >= 4
    tiny = np.random.default_rng(3).normal(0, 1e-3, scores.shape).astype(np.float32)
    report, entry = _check(tmp_path / "tiny", path, targets, scores + tiny, patients)
    assert report.ok and entry.status == OK and entry.difference != 0


def test_a_clear_improvement_is_better_and_passes(tmp_path, reference_run):
    path, _, (targets, scores, patients) = reference_run
    report, entry = _check(tmp_path, path, targets, scores + 2.0 * targets.astype(np.float32), patients)
    assert report.ok and entry.status == BETTER


def test_an_edited_metric_in_a_result_file_is_inconsistent(tmp_path, reference_run):
    path, _, (targets, scores, patients) = reference_run
    report, entry = _check(tmp_path, path, targets, scores, patients, stated_value=0.0)
    assert not report.ok and entry.status == INCONSISTENT and "predictions give" in entry.note


def test_missing_run_or_predictions_fail(tmp_path, reference_run):
    path, _, (targets, scores, patients) = reference_run
    report = check(path, [])
    assert not report.ok and report.entries[0].status == MISSING
    folder = tmp_path / "new-runs"
    result = write_run(folder, targets, scores, patients)
    (folder / f"{result['run_id']}.predictions.parquet").unlink()
    entry = check(path, stored_runs(folder)).entries[0]
    assert entry.status == MISSING and "predictions" in entry.note


def test_a_reference_too_small_to_detect_the_drop_refuses_to_be_a_gate(tmp_path):
    targets, scores, patients = _outputs(24)
    folder = tmp_path / "runs"
    write_run(folder, targets, scores, patients)
    entries = write_reference(stored_runs(folder), tmp_path / "small.json")
    assert entries[0].status == UNDERPOWERED and entries[0].detectable > 0.05
    report = check(tmp_path / "small.json", stored_runs(folder))
    assert not report.ok and report.entries[0].status == UNDERPOWERED and "reference too small" in report.entries[0].note
    relaxed = check(tmp_path / "small.json", stored_runs(folder), GateSettings(must_detect=1.0))
    assert relaxed.ok or relaxed.entries[0].detectable == float("inf")


def test_reference_files_are_validated(tmp_path, reference_run):
    path, _, _ = reference_run
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["entries"][0]["predictions_sha256"] and len(data["entries"][0]["predictions"]["scores"]) == 600
    old = dict(data, version=1)
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(DataLayoutError, match="holds no per-image predictions"):
        read_reference(tmp_path / "old.json")
    data["entries"][0]["predictions"]["scores"][0][0] += 0.5
    (tmp_path / "tampered.json").write_text(json.dumps(data))
    with pytest.raises(DataLayoutError, match="do not match their sha256"):
        read_reference(tmp_path / "tampered.json")
    with pytest.raises(DataLayoutError, match="not found"):
        read_reference(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="margin"):
        GateSettings(margin=-0.1)


def test_check_command_exit_codes_and_table(tmp_path, reference_run, capsys):
    path, _, (targets, scores, patients) = reference_run
    folder = tmp_path / "new-runs"
    write_run(folder, targets, np.random.default_rng(1).permutation(scores), patients)
    assert main(["check", "--reference", str(path), "--results", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "95% CI (paired)" in out and "detectable drop" in out and "FAIL" in out
    write_run(tmp_path / "same", targets, scores, patients)
    assert main(["check", "--reference", str(path), "--results", str(tmp_path / "same")]) == 0


def test_feature_fingerprints_ignore_float_noise_and_catch_real_changes():
    from asgbench.tasks.fingerprint import TOLERANCE, feature_fingerprint, fingerprint_change

    rng = np.random.default_rng(0)
    features = np.abs(rng.standard_normal((300, 512))).astype(np.float32)   # post-ReLU features, like a pooled CNN's
    reference = feature_fingerprint(features)
    jitter = features * (1 + 1e-6 * rng.standard_normal(features.shape)).astype(np.float32)  # another CPU's rounding
    assert fingerprint_change(reference, feature_fingerprint(jitter)) < TOLERANCE / 100
    shifted = features + 0.01 * rng.standard_normal(features.shape).astype(np.float32) + 0.01
    assert fingerprint_change(reference, feature_fingerprint(shifted)) > TOLERANCE
    assert fingerprint_change(reference, feature_fingerprint(features[:-1])) == float("inf")
