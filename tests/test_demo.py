"""`asgbench demo --quick` end to end on the tiny suite, reuse on a second run, and the acceptance checks."""
from __future__ import annotations

import shutil
import tempfile

import pandas as pd
import pytest

from asgbench.demo import run_demo
from asgbench.demo.plan import FULL, QUICK
from asgbench.demo.report import acceptance
from asgbench.tables import RUN_COLUMNS

README = """# project

<!-- asgbench:demo-summary -->
old
<!-- /asgbench:demo-summary -->

text that stays

<!-- asgbench:demo-ablation -->
<!-- /asgbench:demo-ablation -->
"""


@pytest.fixture
def ray_tmp(monkeypatch):
    folder = tempfile.mkdtemp(prefix="asgray-")
    monkeypatch.setenv("RAY_TMPDIR", folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_quick_demo_pretrains_sweeps_and_renders_then_reuses_everything(tiny_suite, tmp_path, ray_tmp):
    workdir = tmp_path / "demo"
    shutil.copytree(tiny_suite, workdir / "suite-tiny")       # the session's suite: synthesis is tested elsewhere
    readme = tmp_path / "README.md"
    readme.write_text(README)
    lines: list[str] = []
    checks = run_demo(workdir, plan=QUICK, cpus=2, results=tmp_path / "results", readme=readme, say=lines.append)

    results = tmp_path / "results"
    for name in ("linear-probe.md", "ablation.md", "zero-shot.md", "segmentation.md", "summary.md", "results.csv",
                 "label-efficiency-rsna-lp.png"):
        assert (results / name).is_file(), name
    frame = pd.read_csv(results / "results.csv")
    runs = frame.drop_duplicates("run_id")
    # 2 models x (2 probe tasks x 2 fractions + zero-shot + 1 segmentation run)
    assert len(runs) == 2 * (2 * 2 + 1 + 1)
    # the asg family names each checkpoint by its architecture and its tag
    assert set(runs["model"]) == {"asg-r18.random", "asg-r18.full"}
    assert set(runs.loc[runs["model"] == "asg-r18.random", "group"]) == {"init"}
    assert set(runs.loc[runs["model"] == "asg-r18.full", "group"]) == {"CNN"}
    seg = runs[runs["task"] == "siim-seg"]
    assert set(seg["eval_protocol"]) == {"segmentation-demo"}
    assert "IRA+ARSA+IRL+ERL (rules)" in (results / "ablation.md").read_text()
    assert len(checks) == 4 and all(isinstance(check.holds, bool) for check in checks)
    text = readme.read_text()
    assert "\nold\n" not in text and "text that stays" in text and "IRA+ARSA+IRL+ERL (rules)" in text
    assert "Demo plan `quick`" in text

    first_summary = (results / "summary.md").read_text().splitlines()[0]
    again: list[str] = []
    run_demo(workdir, plan=QUICK, cpus=2, results=tmp_path / "results", readme=None, say=again.append)
    assert any("reused" in line for line in again if line.strip().startswith("full "))
    assert any(f"{len(runs)} runs: {len(runs)} reused, 0 ran" in line for line in again)
    # a rerun that only reuses reports what the results cost when they were computed, not its own seconds
    steps = lambda line: line.split("; ", 1)[1].rsplit(", total", 1)[0]  # noqa: E731
    assert steps((results / "summary.md").read_text().splitlines()[0]) == steps(first_summary)


def test_step_ledger_keeps_the_time_of_the_last_run_that_did_work(tmp_path):
    from asgbench.demo.ledger import StepLedger

    ledger = StepLedger(tmp_path / "timings.json")
    assert ledger.record("evaluation", 600.0, did_work=True) == 600.0
    assert ledger.record("evaluation", 2.0, did_work=False) == 600.0      # reused: the measured cost stays
    assert ledger.record("suite", 1.5, did_work=False) == 1.5             # never measured before: this is all we know
    assert ledger.record("evaluation", 420.0, did_work=True) == 420.0     # recomputed: the new cost
    assert StepLedger(tmp_path / "timings.json").read() == {"evaluation": 420.0, "suite": 1.5}
    (tmp_path / "bad.json").write_text("not json")
    assert StepLedger(tmp_path / "bad.json").read() == {}


NAMES = {"full": "asg-r18.full", "random": "asg-r18.random"}


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = {column: "" for column in RUN_COLUMNS}
    return pd.DataFrame([{**base, "headline": True, "draw": 0, "split_protocol": "asgbench-v1", **row} for row in rows])


def test_acceptance_compares_full_asg_with_random_init_by_confidence_interval():
    rows = []
    for seed in (0, 1):
        rows += [
            {"run_id": f"a{seed}", "model": "asg-r18.full", "task": "rsna-lp", "fraction": 1, "seed": seed, "metric": "auc",
             "value": 0.80, "ci_low": 0.72, "ci_high": 0.88},
            {"run_id": f"b{seed}", "model": "asg-r18.random", "task": "rsna-lp", "fraction": 1, "seed": seed, "metric": "auc",
             "value": 0.55, "ci_low": 0.45, "ci_high": 0.65},
            {"run_id": f"c{seed}", "model": "asg-r18.full", "task": "nih-lp", "fraction": 1, "seed": seed, "metric": "auc",
             "value": 0.60, "ci_low": 0.52, "ci_high": 0.68},
            {"run_id": f"d{seed}", "model": "asg-r18.random", "task": "nih-lp", "fraction": 1, "seed": seed, "metric": "auc",
             "value": 0.55, "ci_low": 0.47, "ci_high": 0.63},
        ]
    rows += [{"run_id": "e", "model": "asg-r18.full", "task": "rsna-zs", "fraction": 100, "seed": 0, "metric": "auc",
              "value": 0.7, "ci_low": 0.49, "ci_high": 0.8},
             {"run_id": "f", "model": "asg-r18.full", "task": "siim-seg", "fraction": 1, "seed": 0, "metric": "dice",
              "value": 0.3, "ci_low": 0.2, "ci_high": 0.4},
             {"run_id": "g", "model": "asg-r18.random", "task": "siim-seg", "fraction": 1, "seed": 0, "metric": "dice",
              "value": 0.2, "ci_low": 0.1, "ci_high": 0.3}]
    checks = {check.claim.split(" ")[0].rstrip(":"): check for check in acceptance(_frame(rows), FULL, NAMES)}
    assert checks["rsna-lp"].holds and "80.0 [72.0–88.0] vs 55.0 [45.0–65.0]" == checks["rsna-lp"].measured
    assert not checks["nih-lp"].holds                       # higher, but the intervals overlap
    assert checks["siim-seg"].holds
    assert not checks["rsna-zs"].holds                      # the interval still contains 0.5
    assert set(checks) == {"rsna-lp", "nih-lp", "siim-seg", "rsna-zs"}   # tasks without runs are not judged
