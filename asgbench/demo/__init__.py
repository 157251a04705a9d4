"""The main job on the embedded default: the synthetic suite, ASG pre-trained with each objective switched
on and off, every variant evaluated against random initialisation through a Ray sweep, and the tables.

Each step reuses what an earlier run already produced (suite, annotations, checkpoints, stores, features,
finished runs), so a second ``make demo`` only re-renders the tables.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from asgbench.data.synthetic.suite import DATASET_ORDER, SUITE_FILE, expected_images, synthesize
from asgbench.data.verify import verify_dataset
from asgbench.demo.ledger import StepLedger
from asgbench.demo.plan import FULL, PLANS, DemoPlan
from asgbench.errors import AsgbenchError


def _synthesise(workdir: Path, plan: DemoPlan, seed: int, say: Callable[[str], None]) -> Path:
    from tqdm import tqdm

    suite = workdir / f"suite-{plan.suite}"
    with tqdm(total=expected_images(plan.suite), unit="img", desc="      synth", leave=False) as bar:
        manifest = synthesize(suite, plan.suite, seed, progress=lambda dataset, n: bar.update(n))
    for name in DATASET_ORDER:
        report = verify_dataset(name, suite / name)
        written = manifest.datasets[name]
        if (report.rows, report.images_missing) != (written.index_rows, 0):
            raise AsgbenchError(f"{suite / name}: {report.rows} images found of {written.index_rows} written")
    say(f"      {suite}: {', '.join(f'{n} {manifest.datasets[n].index_rows}' for n in DATASET_ORDER)} images, verified")
    return suite


DERIVED_STAMP = "derived-from-suite.json"   # which suite the workdir's annotations, models, runs and cache came from


def _forget_derived(workdir: Path, suite: Path, plan: DemoPlan, say: Callable[[str], None]) -> None:
    """A suite written anew (another generator version or seed) invalidates everything computed from it: the
    checkpoints were pre-trained on its MIMIC images and a run's id names its checkpoint and split lists, not the
    image bytes, so a finished run on the old images would otherwise be reused as if it were current."""
    digest = hashlib.sha256((suite / SUITE_FILE).read_bytes()).hexdigest()
    stamp = workdir / DERIVED_STAMP
    derived = [workdir / f"pretrain-{suite.name}", workdir / f"models-{plan.name}", workdir / f"runs-{plan.name}",
               workdir / "cache"]
    before = json.loads(stamp.read_text()).get("suite_sha256") if stamp.is_file() else None
    if before != digest and any(path.exists() for path in derived):
        say("      the suite changed since the last demo here: removing its annotations, models, runs and cache")
        for path in derived:
            shutil.rmtree(path, ignore_errors=True)
    stamp.write_text(json.dumps({"suite": str(suite), "suite_sha256": digest}) + "\n")


def _annotations(suite: Path, workdir: Path, say: Callable[[str], None]) -> Path:
    from asgbench.pretrain.data import MANIFEST_FILE
    from asgbench.pretrain.prepare import prepare

    out = workdir / f"pretrain-{suite.name}"
    if not (out / MANIFEST_FILE).is_file():
        prepare(suite / "mimic", out, scene_graphs=suite / "chest-imagenome")
    say(f"      {out}: report triplets, tags and region-sentence alignments (rules and scene graph)")
    return out


def _warm_mimic_store(annotations: Path, cache: Path) -> None:
    """Decode the pre-training images once, before parallel trainings would each want to."""
    from asgbench.data.datasets import read_index
    from asgbench.data.store import build_store
    from asgbench.pretrain.data import read_annotations

    manifest, records = read_annotations(annotations)
    index = read_index("mimic", Path(manifest["mimic_root"]))
    ids = [r.image_id for r in records if r.split == "train"] + [r.image_id for r in records if r.split == "val"]
    build_store(index, ids, cache_dir=cache / "stores")   # the ids in the trainer's order: the same store key


def _grids(plan: DemoPlan, trained: list) -> list:
    """One sweep grid per pre-training run and task kind: its checkpoint, the tasks :meth:`DemoPlan.tasks_of` gives
    its variant (every seed of a variant shares the model name; the checkpoints keep their runs apart)."""
    from asgbench.sweep import SweepSpec

    grids = []
    for item in trained:
        model, tasks = item.model.model, set(plan.tasks_of(item.model))
        checkpoints = {model: str(item.checkpoint)}
        probe = tuple(task for task in plan.probe_tasks if task in tasks)
        zero_shot = tuple(task for task in plan.zero_shot_tasks if task in tasks)
        segmentation = tuple(task for task in plan.segmentation_tasks if task in tasks)
        if probe:
            grids.append(SweepSpec((model,), probe, plan.fractions, seeds=plan.seeds, checkpoints=checkpoints))
        if zero_shot:
            grids.append(SweepSpec((model,), zero_shot, (100,), seeds=plan.seeds[:1], checkpoints=checkpoints))
        if segmentation:
            grids.append(SweepSpec((model,), segmentation, plan.segmentation_fractions, seeds=plan.segmentation_seeds,
                                   checkpoints=checkpoints,
                                   eval_protocols={task: plan.segmentation_protocol for task in segmentation},
                                   overrides={task: plan.segmentation_overrides for task in segmentation}))
    return grids


def _sweep(plan: DemoPlan, suite: Path, trained: list, runs: Path, cache: Path, cpus: int,
           say: Callable[[str], None]):
    from asgbench.run import RunContext
    from asgbench.sweep import sweep

    context = RunContext(data_root=suite, out=runs, cache_dir=cache, device="cpu")
    last = {"said": 0.0}

    def progress(done: int, running: int, failed: int, total: int) -> None:
        if time.perf_counter() - last["said"] > 30 or done + failed == total:
            last["said"] = time.perf_counter()
            say(f"      sweep: {done} done, {running} running, {failed} failed of {total}")

    report = sweep(_grids(plan, trained), context, total_cpus=cpus, cpus_per_trial=1, group_by="features",
                   progress=progress)
    if report.failed:
        first = next(iter(report.failed.items()))
        raise AsgbenchError(f"{len(report.failed)} demo run(s) failed, e.g. {first[0]}: {first[1]} (see {runs / 'failed'})")
    say(f"      {report.planned} runs: {len(report.skipped)} reused, {len(report.done)} ran")
    return report


def _epochs_each(plan: DemoPlan) -> int:
    if plan.epochs is not None:
        return plan.epochs
    from asgbench.pretrain.config import load_config

    return load_config(plan.pretrain_config, ["annotations=unused"]).optim.max_epochs


def run_demo(workdir: Path, *, plan: DemoPlan = FULL, seed: int = 0, cpus: int | None = None,
             results: Path | None = None, readme: Path | None = None, say: Callable[[str], None] = print) -> list:
    """Run ``plan`` in ``workdir``; tables, plots and summary go to ``results`` (default
    ``<workdir>/results-<plan>``), and the demo sections of ``readme`` are rewritten only when one is given.
    Returns the acceptance checks."""
    from asgbench import tables
    from asgbench.demo.pretraining import pretrain_variants
    from asgbench.encoders import resolve_model
    from asgbench.demo.report import write_outputs
    from asgbench.results import load_results

    cpus = cpus or os.cpu_count() or 1
    workdir = Path(workdir)
    cache = workdir / "cache"
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, number: int, title: str):
        say(f"[{number}/4] {title}")
        return name, time.perf_counter()

    ledger = StepLedger(workdir / f"timings-{plan.name}.json")
    name, t = step("suite", 1, f"synthetic suite '{plan.suite}' (reused if already there)")
    suite_existed = (workdir / f"suite-{plan.suite}" / SUITE_FILE).is_file()
    suite = _synthesise(workdir, plan, seed, say)
    _forget_derived(workdir, suite, plan, say)
    timings[name] = ledger.record(name, time.perf_counter() - t, did_work=not suite_existed)

    seeds = f"{len(plan.pretrain_seeds)} seeds for full ASG and the untrained network" if len(plan.pretrain_seeds) > 1 else "one seed"
    name, t = step("pre-training", 2, f"pre-train {len(plan.variants)} variants ({seeds}), {_epochs_each(plan)} "
                                      f"epoch(s) each, {cpus} at a time")
    annotations_existed = (workdir / f"pretrain-{suite.name}").is_dir()
    annotations = _annotations(suite, workdir, say)
    _warm_mimic_store(annotations, cache)
    models = workdir / f"models-{plan.name}"
    trained = pretrain_variants(plan, annotations, models, cache, cpus=cpus, say=say)
    timings[name] = ledger.record(name, time.perf_counter() - t,
                                  did_work=not annotations_existed or not all(item.reused for item in trained))

    name, t = step("evaluation", 3, "evaluate every variant through a Ray sweep (features extracted once per model and dataset)")
    names = {item.model.tag: resolve_model(item.model.model, item.checkpoint).name for item in trained}
    runs = workdir / f"runs-{plan.name}"
    report = _sweep(plan, suite, trained, runs, cache, cpus, say)
    timings[name] = ledger.record(name, time.perf_counter() - t, did_work=bool(report.done))

    say("[4/4] tables, plots and the acceptance checks")
    rendering = time.perf_counter()
    results_read = list(load_results(runs))
    frame, outputs = tables.collect(results_read), tables.run_outputs(results_read, runs)
    timings["total"] = sum(timings.values()) + time.perf_counter() - rendering
    out = results if results is not None else workdir / f"results-{plan.name}"
    checks = write_outputs(frame, plan, names, out, timings, readme, outputs)
    for check in checks:
        say(f"      {'PASS' if check.holds else 'FAIL'} {check.claim}: {check.measured}")
    this_run = (time.perf_counter() - started) / 60
    say(f"demo finished in {this_run:.1f} min ({timings['total'] / 60:.1f} min when every step was computed); tables and plots in {out}")
    return checks


__all__ = ["run_demo", "PLANS"]
