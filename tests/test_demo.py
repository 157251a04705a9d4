"""`asgbench demo --quick` end to end on the tiny suite, reuse on a second run, and the acceptance checks as
paired differences from per-image outputs, on result files built so that each claim's answer is known."""
from __future__ import annotations

import shutil
import tempfile

import numpy as np
import pandas as pd
import pytest

from asgbench.demo import run_demo
from asgbench.demo.plan import FULL, QUICK
from asgbench.demo.report import acceptance
from asgbench.results import load_results, read_predictions
from asgbench.tables import collect, run_outputs
from asgbench.tasks.paired import ScoredImages, paired_difference
from result_files import make_result, write_scored_run

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
    # 2 models x 2 pre-training seeds x (2 probe tasks x 2 fractions + zero-shot + 1 segmentation run)
    assert len(runs) == 2 * 2 * (2 * 2 + 1 + 1)
    # the asg family names each checkpoint by its architecture and its tag; every seed of a model shares its name
    assert set(runs["model"]) == {"asg-r18.random", "asg-r18.full"}
    assert sorted(runs.groupby("model")["pretrain_seed"].unique().map(sorted).map(tuple)) == [(0, 1), (0, 1)]
    assert runs.groupby("model")["recipe"].nunique().tolist() == [1, 1]
    assert set(runs.loc[runs["model"] == "asg-r18.random", "group"]) == {"init"}
    assert set(runs.loc[runs["model"] == "asg-r18.full", "group"]) == {"CNN"}
    seg = runs[runs["task"] == "siim-seg"]
    assert set(seg["eval_protocol"]) == {"segmentation-demo"}
    assert "IRA+ARSA+IRL+ERL (rules)" in (results / "ablation.md").read_text()
    # every claim was computed from the runs' per-image outputs, and holds exactly when its interval is above 0;
    # 2 probe tasks, segmentation against random init and both models against the empty mask, zero-shot
    assert len(checks) == 6 and all(check.interval is not None for check in checks)
    assert [check.holds for check in checks] == [check.interval[0] > 0 for check in checks]
    # and each is repeated on each pre-training seed alone
    assert all([seed.seed for seed in check.per_seed] == [0, 1] and all(s.interval is not None for s in check.per_seed)
               for check in checks)
    assert "1 seeds" not in (results / "linear-probe.md").read_text()
    assert "asg-r18.full, asg-r18.random: 2 seeds) show the mean" in (results / "linear-probe.md").read_text()
    # a case whose answer is known, on these real runs: random init against itself gains exactly nothing
    stored = list(load_results(workdir / "runs-quick"))
    itself = acceptance(collect(stored), QUICK, {"full": "asg-r18.random", "random": "asg-r18.random"},
                        run_outputs(stored, workdir / "runs-quick"))
    compared = [check for check in itself if "above random init" in check.claim]
    # pooled over two pre-training seeds each side draws its runs independently (seed k of one model has nothing to
    # do with seed k of another), so only the point difference is exactly 0; each seed against itself is 0 exactly
    assert len(compared) == 3 and all(check.difference == 0 and check.interval[0] <= 0 <= check.interval[1]
                                      and not check.holds for check in compared)
    assert all(seed.difference == 0 and seed.interval == (0.0, 0.0) and not seed.holds
               for check in compared for seed in check.per_seed)
    text = readme.read_text()
    assert "\nold\n" not in text and "text that stays" in text and "IRA+ARSA+IRL+ERL (rules)" in text
    assert "Demo plan `quick`" in text

    first_summary = (results / "summary.md").read_text().splitlines()[0]
    again: list[str] = []
    run_demo(workdir, plan=QUICK, cpus=2, results=tmp_path / "results", readme=None, say=again.append)
    assert all("reused" in line for line in again if line.strip().startswith(("full-seed", "random-seed")))
    assert sum(line.strip().startswith(("full-seed", "random-seed")) for line in again) == 4
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
N = 400


def _scored(targets: np.ndarray, scores: np.ndarray, prefix: str = "img") -> ScoredImages:
    return ScoredImages(tuple(f"{prefix}{i:05d}" for i in range(N)), tuple(f"p{i // 2:05d}" for i in range(N)),
                        targets.astype(np.int8), scores.astype(np.float32))


def _acceptance_runs(folder) -> list[dict]:
    """Full ASG and random init on the same test images, built so that each claim's answer is known."""
    rng = np.random.default_rng(0)
    truth = (rng.random((N, 1)) < 0.4).astype(np.int8)
    results = []

    def write(model: str, task: str, fraction: int, seed: int, images: ScoredImages) -> None:
        results.append(write_scored_run(folder, make_result(model, task, fraction, seed, 0.5), images))

    # rsna-lp: full ASG is random init's scores moved slightly towards the truth on every image: a small gain
    # that each run's own CI cannot separate but the paired difference can
    base = truth + 1.5 * rng.standard_normal((N, 1))
    write("asg-r18.random", "rsna-lp", 1, 0, _scored(truth, base))
    write("asg-r18.full", "rsna-lp", 1, 0, _scored(truth, base + 0.12 * (2 * truth - 1)))
    # covidx-lp, three seeds: full ASG puts a few more images right than wrong: higher, not significantly
    classes = rng.integers(0, 3, N)
    onehot = np.eye(3)[classes]
    for seed in range(3):
        noise = rng.standard_normal((N, 3))
        worse = noise + 0.9 * onehot
        better = worse.copy()
        changed = rng.choice(N, 40, replace=False)              # 24 images put right, 16 put wrong
        better[changed[:24]] += 3 * onehot[changed[:24]]
        better[changed[24:]] -= 3 * onehot[changed[24:]]
        write("asg-r18.random", "covidx-lp", 1, seed, _scored(onehot, worse, "cxr"))
        write("asg-r18.full", "covidx-lp", 1, seed, _scored(onehot, better, "cxr"))
    # siim-seg: the same per-image Dice for both: no gain at all
    dice = ScoredImages(tuple(f"siim{i:05d}" for i in range(N)), tuple(f"q{i:05d}" for i in range(N)),
                        np.zeros((N, 0), np.int8), rng.random((N, 1)).astype(np.float32))
    write("asg-r18.full", "siim-seg", 1, 0, dice)
    write("asg-r18.random", "siim-seg", 1, 0, dice)
    # rsna-zs: scores unrelated to the truth: AUC near chance
    write("asg-r18.full", "rsna-zs", 100, 0, _scored(truth, rng.standard_normal((N, 1))))
    # nih-lp: random init's result came without predictions: the claim cannot be computed
    results.append(make_result("asg-r18.random", "nih-lp", 1, 0, 0.55))
    labels = (rng.random((N, 14)) < 0.3).astype(np.int8)
    write("asg-r18.full", "nih-lp", 1, 0, _scored(labels, labels + rng.standard_normal((N, 14))))
    return results


def test_acceptance_claims_are_paired_differences_that_hold_only_when_their_interval_says_so(tmp_path):
    results = _acceptance_runs(tmp_path)
    every = acceptance(collect(results), FULL, NAMES, run_outputs(results, tmp_path))
    checks = {check.claim.split(" ")[0].rstrip(":"): check for check in every if "empty mask" not in check.claim}
    # these segmentation outputs hold per-image Dice without the true masks: the empty-mask claims say so
    floors = [check for check in every if "empty mask" in check.claim]
    assert len(floors) == 2 and all(not c.holds and "not tested" in c.measured for c in floors)
    assert set(checks) == {"rsna-lp", "covidx-lp", "siim-seg", "rsna-zs", "nih-lp"}   # no runs, no claim
    assert {task: check.holds for task, check in checks.items()} == \
        {"rsna-lp": True, "covidx-lp": False, "siim-seg": False, "rsna-zs": False, "nih-lp": False}

    by_model = {(r["spec"]["model"], r["task"]["name"]): r for r in results if r["spec"]["seed"] == 0}
    rsna = [by_model[(model, "rsna-lp")] for model in ("asg-r18.full", "asg-r18.random")]
    full, untrained = (ScoredImages.from_predictions(read_predictions(tmp_path, r["run_id"]), r) for r in rsna)
    paired = paired_difference("auc", full, untrained)          # the single-run comparison the regression gate uses
    assert checks["rsna-lp"].difference == pytest.approx(paired.difference, abs=1e-12)
    assert checks["rsna-lp"].interval == pytest.approx(paired.interval(), abs=1e-12)
    assert checks["rsna-lp"].interval[0] > 0
    # what "95 % CIs apart" said before: the runs' own intervals overlap, so it would not have held
    assert rsna[0]["headline"]["ci95"][0] < rsna[1]["headline"]["ci95"][1]
    assert checks["rsna-lp"].measured.startswith(f"{100 * paired.difference:+.1f} [")

    covidx = checks["covidx-lp"]
    assert covidx.difference > 0 and covidx.interval[0] < 0 < covidx.interval[1]      # ahead, not significantly
    assert checks["siim-seg"].difference == 0 and checks["siim-seg"].interval == (0.0, 0.0)
    assert checks["rsna-zs"].interval[0] < 0 < checks["rsna-zs"].interval[1]          # chance is inside the CI
    assert checks["nih-lp"].interval is None and "no per-image outputs" in checks["nih-lp"].measured


def test_a_new_suite_removes_what_was_computed_from_the_old_one(tmp_path):
    from asgbench.demo import DERIVED_STAMP, _forget_derived

    suite = tmp_path / "suite-tiny"
    suite.mkdir()
    (suite / "SUITE.json").write_text('{"generator_version": 5}')
    derived = [tmp_path / "pretrain-suite-tiny", tmp_path / "models-quick", tmp_path / "runs-quick", tmp_path / "cache"]

    def make_derived() -> None:
        for folder in derived:
            (folder / "kept").mkdir(parents=True, exist_ok=True)

    said: list[str] = []
    make_derived()
    _forget_derived(tmp_path, suite, QUICK, said.append)           # computed from an unknown suite: stale
    assert not any(folder.exists() for folder in derived) and (tmp_path / DERIVED_STAMP).is_file()
    make_derived()
    _forget_derived(tmp_path, suite, QUICK, said.append)           # the same suite: everything stays
    assert all(folder.is_dir() for folder in derived) and len(said) == 1
    (suite / "SUITE.json").write_text('{"generator_version": 6}')
    _forget_derived(tmp_path, suite, QUICK, said.append)           # rewritten: checkpoints and runs are stale
    assert not any(folder.exists() for folder in derived) and "suite changed" in said[-1] and len(said) == 2


def test_the_full_demo_trains_two_decoders_per_checkpoint_and_one_probe(tmp_path):
    """Segmentation decoders are a draw of their own, so every checkpoint gets two; probes and zero-shot keep one."""
    from asgbench.demo import _grids
    from asgbench.demo.pretraining import Trained, checkpoint_of

    trained = [Trained(run, checkpoint_of(tmp_path, run), 1.0, False) for run in FULL.pretrainings()]
    grids = _grids(FULL, trained)
    segmentation = [g for g in grids if set(g.tasks) & set(FULL.segmentation_tasks)]
    others = [g for g in grids if not set(g.tasks) & set(FULL.segmentation_tasks)]
    assert len(segmentation) == len(trained) and others
    assert all(g.seeds == (0, 1) and set(g.tasks) <= set(FULL.segmentation_tasks) for g in segmentation)
    assert all(g.seeds == (0,) for g in others)
    runs = sum(len(g.tasks) * len(g.fractions) * len(g.seeds) for g in grids)
    assert runs == 159 + 51          # 159 runs with one decoder seed, 51 more for the second
