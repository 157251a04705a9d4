"""Regression checks against a stored reference: what passes, what fails, and how the report reads."""
from __future__ import annotations

import json

import pytest

from asgbench.check import (BETTER, MISSING, OK, REGRESSED, WITHIN_CI, RunIdentity, check, read_reference,
                            write_reference)
from asgbench.errors import ConfigError, DataLayoutError

from test_tables import make_result, sample_results


@pytest.fixture
def reference(tmp_path):
    path = tmp_path / "reference.json"
    write_reference(sample_results(), path, tolerance=0.02)
    return path


def _lowered(results: list[dict], run_id: str, by: float, metric: str | None = None) -> list[dict]:
    """The same results with one run's metric (default: headline) moved down by ``by``."""
    for result in results:
        if result["run_id"] == run_id:
            name = metric or result["headline"]["metric"]
            result["metrics"][name]["value"] -= by
            if name == result["headline"]["metric"]:
                result["headline"]["value"] -= by
    return results


def _status(report, run_id: str) -> str:
    return next(entry.status for entry in report.entries if entry.reference.run_id == run_id)


def test_reference_holds_one_headline_entry_per_run(reference):
    results = sample_results()
    data = json.loads(reference.read_text())
    assert data["format"] == "asgbench-reference" and len(data["entries"]) == len(results)
    first = data["entries"][0]
    assert set(first["run"]) >= {"model", "task", "fraction", "draw", "seed", "split_protocol", "protocol", "overrides"}
    assert first["tolerance"] == 0.02 and len(first["ci95"]) == 2
    entries = read_reference(reference)
    by_run = {entry.run_id: entry for entry in entries}
    ablation = by_run[next(r["run_id"] for r in results if r["encoder"]["provenance"].get("objectives") == ["ira"])]
    assert ablation.run.variant == "IRA"
    covidx = by_run[next(r["run_id"] for r in results if r["spec"]["task"] == "covidx-lp")]
    assert covidx.metric == "accuracy"


def test_the_references_own_results_pass(reference):
    report = check(reference, sample_results())
    assert report.ok
    assert {entry.status for entry in report.entries} == {OK}
    assert report.summary().startswith("PASS")
    assert not report.unreferenced


def test_a_drop_beyond_tolerance_and_ci_fails(reference):
    run_id = sample_results()[0]["run_id"]  # ci95 is value ± 0.03
    report = check(reference, _lowered(sample_results(), run_id, 0.05))
    assert not report.ok
    assert _status(report, run_id) == REGRESSED
    assert [entry.reference.run_id for entry in report.failures] == [run_id]
    rendered = report.render()
    assert "REGRESSED" in rendered and "-0.0500" in rendered and "FAIL" in rendered.splitlines()[-1]


def test_small_drops_and_drops_inside_the_ci_pass(reference):
    run_id = sample_results()[0]["run_id"]
    assert _status(check(reference, _lowered(sample_results(), run_id, 0.015)), run_id) == OK
    inside = check(reference, _lowered(sample_results(), run_id, 0.025))  # > tolerance, but above ci95 low
    assert inside.ok and _status(inside, run_id) == WITHIN_CI
    risen = check(reference, _lowered(sample_results(), run_id, -0.1))
    assert risen.ok and _status(risen, run_id) == BETTER


def test_tolerance_can_be_overridden(reference):
    run_id = sample_results()[0]["run_id"]
    results = _lowered(sample_results(), run_id, 0.05)
    assert check(reference, results, tolerance=0.06).ok
    with pytest.raises(ConfigError):
        check(reference, results, tolerance=-1)


def test_a_missing_run_fails_and_a_new_run_is_listed(reference):
    results = sample_results()
    gone = results.pop(3)
    results.append(make_result("convirt", "rsna-lp", 10, 0, 0.7))
    report = check(reference, results)
    assert not report.ok
    assert _status(report, gone["run_id"]) == MISSING
    assert report.unreferenced == (results[-1]["run_id"],)
    assert "without a reference entry" in report.summary()


def test_a_different_checkpoint_variant_is_a_different_run(reference):
    results = sample_results()
    ablated = next(r for r in results if r["encoder"]["provenance"].get("objectives") == ["ira"])
    ablated["encoder"]["provenance"]["objectives"] = ["ira", "irl"]
    report = check(reference, results)
    assert _status(report, ablated["run_id"]) == MISSING


def test_the_newest_of_duplicate_results_is_compared(reference):
    results = sample_results()
    older = results[0]
    newer = json.loads(json.dumps(older))
    newer["created"] = "2099-01-01T00:00:00+00:00"
    newer["metrics"][newer["headline"]["metric"]]["value"] -= 0.2
    report = check(reference, results + [newer])
    entry = next(e for e in report.entries if e.reference.run_id == older["run_id"])
    assert entry.status == REGRESSED and "2 results" in entry.note


def test_malformed_references_name_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataLayoutError, match="broken.json: not a JSON reference file"):
        check(broken, [])
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "asgbench-reference", "version": 1, "entries": [{"metric": "auc"}]}))
    with pytest.raises(DataLayoutError, match="wrong.json: not an asgbench reference file.*entries/0"):
        check(wrong, [])
    with pytest.raises(DataLayoutError, match="absent.json: reference file not found"):
        check(tmp_path / "absent.json", [])


def test_run_identity_reads_the_spec():
    result = make_result("mgca-vit", "siim-seg", 10, 2, 0.6, draw=1, overrides=("max_epochs=2",))
    identity = RunIdentity.of(result)
    assert identity == RunIdentity("mgca-vit", "siim-seg", 10, 1, 2, "asgbench-v1", "segmentation", ("max_epochs=2",))
    assert identity.describe() == "mgca-vit siim-seg 10% d1 s2 [asgbench-v1, segmentation, max_epochs=2]"
