"""Sweeps: a grid of (model x task x fraction x draw x seed) run as Ray Tune trials.

The grid is expanded and resolved in the driver, so finished run_ids are skipped before Ray starts and a
killed sweep, run again, does only what is missing. Each trial calls :func:`asgbench.run.run` on one
RunSpec; a failing trial is recorded (``<out>/.failed/<run_id>.json``, with its error, where result readers never
look) and the others go on; the record is removed when the run later succeeds.
Locally Ray is started on 127.0.0.1 without a dashboard; ``address`` joins a cluster instead.
"""
from __future__ import annotations

import itertools
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL
from asgbench.data.splits.protocol import FRACTIONS
from asgbench.errors import ConfigError
from asgbench.preflight import check_runs
from asgbench.results import result_path, write_json_atomic
from asgbench.run import RunContext, RunSpec, resolve
from asgbench.tasks.protocols import kind_of
from asgbench.tasks.specs import TASKS

FAILED_DIR = ".failed"


@dataclass(frozen=True)
class SweepSpec:
    """A grid of runs. ``eval_protocols`` and ``overrides`` are keyed by task kind or task name (a task's own
    entry wins over its kind's); a missing key means the kind's default evaluation protocol, unchanged."""

    models: tuple[str, ...]
    tasks: tuple[str, ...]
    fractions: tuple[int, ...] = FRACTIONS
    draws: tuple[int, ...] = (0,)
    seeds: tuple[int, ...] = (0, 1, 2)
    split_protocol: str = DEFAULT_SPLIT_PROTOCOL
    checkpoints: dict[str, str] = field(default_factory=dict)   # model name -> checkpoint file
    eval_protocols: dict[str, str] = field(default_factory=dict)  # task kind or task name -> evaluation protocol
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task kind or task name -> protocol overrides
    transform: str = "native"         # every model's own preprocessing, or "standard" for all


@dataclass
class SweepReport:
    planned: int
    skipped: list[str]
    done: list[str]
    failed: dict[str, str]
    seconds: float


def expand(sweep: SweepSpec) -> list[RunSpec]:
    """Every RunSpec of the grid (zero-shot tasks have no training list: one per seed)."""
    specs: list[RunSpec] = []
    for model, task_name in itertools.product(sweep.models, sweep.tasks):
        task = TASKS.get(task_name)
        fractions, draws = (sweep.fractions, sweep.draws) if kind_of(task.kind).trains_on_fraction else ((100,), (0,))
        overrides = tuple(sweep.overrides.get(task.kind, ())) + tuple(sweep.overrides.get(task.name, ()))
        eval_protocol = sweep.eval_protocols.get(task.name, sweep.eval_protocols.get(task.kind))
        for fraction, draw, seed in itertools.product(fractions, draws, sweep.seeds):
            if fraction == 100 and draw != draws[0]:
                continue  # the 100 % list has one draw
            specs.append(RunSpec(model=model, task=task.name, fraction=fraction, draw=draw, seed=seed,
                                 split_protocol=sweep.split_protocol, checkpoint=sweep.checkpoints.get(model),
                                 eval_protocol=eval_protocol, overrides=overrides, transform=sweep.transform))
    return specs


def _trial(config: dict) -> None:
    """One Ray Tune trial: run its specs in order; record each failure instead of raising it."""
    from ray import tune

    from asgbench.run import run

    config = config["trial"]
    context = RunContext(**{k: (Path(v) if k in ("data_root", "out", "cache_dir") and v is not None else v)
                            for k, v in config["context"].items()})
    for item in config["runs"]:
        spec = RunSpec(**{**item["spec"], "overrides": tuple(item["spec"]["overrides"])})
        try:
            outcome = run(spec, context)
            (Path(context.out) / FAILED_DIR / f"{item['run_id']}.json").unlink(missing_ok=True)
            tune.report({"status": "done", "run_id": outcome.run_id, "value": outcome.result["headline"]["value"]})
        except Exception as exc:  # noqa: BLE001 - every failure is recorded and reported, never hidden
            message = " ".join(str(exc).split()) or type(exc).__name__
            write_json_atomic(Path(context.out) / FAILED_DIR / f"{item['run_id']}.json",
                              {"run_id": item["run_id"], "spec": item["spec"], "error": message,
                               "kind": type(exc).__name__, "traceback": traceback.format_exc()[-4000:]})
            tune.report({"status": "failed", "run_id": item["run_id"], "error": message})


def group_runs(planned: list, group_by: str) -> list[list]:
    """Trials as lists of runs: one run each, or every run that reads the same cached features together.

    ``features`` keeps a (model, checkpoint, task) in one trial, so its features are extracted once and
    the trial's worker pays its start-up once for all fractions and seeds instead of once per run.
    """
    if group_by == "run":
        return [[r] for r in planned]
    if group_by != "features":
        raise ConfigError(f"group_by must be 'run' or 'features', not {group_by!r}")
    groups: dict[tuple, list] = {}
    for r in planned:
        groups.setdefault((r.spec.model, r.spec.checkpoint, r.spec.task), []).append(r)
    return list(groups.values())


def _start_ray(address: str | None, cpus: int | None) -> None:
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # bind Ray's services to 127.0.0.1 only
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)


def sweep(spec: SweepSpec | Sequence[SweepSpec], context: RunContext, *, address: str | None = None, cpus_per_trial: float = 1.0,
          gpus_per_trial: float = 0.0, total_cpus: int | None = None, group_by: str = "run",
          progress: Callable[[int, int, int, int], None] | None = None) -> SweepReport:
    """Run the grid (or the union of several grids, in one Ray session); ``progress(done, running, failed,
    total)`` is called as runs finish."""
    started = time.perf_counter()
    planned, skipped, seen = [], [], set()
    grids = [spec] if isinstance(spec, SweepSpec) else list(spec)
    run_specs = [one for grid in grids for one in expand(grid)]
    check_runs([(run_spec, context) for run_spec in run_specs])   # the whole grid, before any work
    for run_spec in run_specs:
        resolved = resolve(run_spec, context)
        if resolved.run_id in seen:
            continue
        seen.add(resolved.run_id)
        if not context.force and result_path(context.out, resolved.run_id).is_file():
            skipped.append(resolved.run_id)
        else:
            planned.append(resolved)
    total = len(planned)
    if not planned:
        return SweepReport(len(skipped), skipped, [], {}, time.perf_counter() - started)
    if gpus_per_trial and context.device == "cpu":
        raise ConfigError("--gpus-per-trial needs --device cuda")

    import ray
    from ray import tune

    _start_ray(address, total_cpus)
    # Ray workers do not run in this directory: every path they get is absolute
    context_dict = {k: (str(Path(v).resolve()) if isinstance(v, Path) else v) for k, v in asdict(context).items()}
    space = [{"context": context_dict,
              "runs": [{"run_id": r.run_id,
                        "spec": {**asdict(r.spec), "overrides": list(r.spec.overrides),
                                 "checkpoint": str(Path(r.spec.checkpoint).resolve()) if r.spec.checkpoint else None}}
                       for r in group]}
             for group in group_runs(planned, group_by)]
    state = {"done": 0, "running": 0, "failed": 0}
    reported: dict[str, int] = {}

    class Progress(tune.Callback):
        """Counts runs, not trials: a trial reports once per run it finishes."""

        def on_trial_start(self, iteration, trials, trial, **info):
            state["running"] += len(trial.config["trial"]["runs"])
            self._tell()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            reported[trial.trial_id] = reported.get(trial.trial_id, 0) + 1
            state["running"] -= 1
            state["failed" if result.get("status") == "failed" else "done"] += 1
            self._tell()

        def on_trial_error(self, iteration, trials, trial, **info):
            unfinished = len(trial.config["trial"]["runs"]) - reported.get(trial.trial_id, 0)
            state["running"] = max(0, state["running"] - unfinished)
            state["failed"] += unfinished
            self._tell()

        def _tell(self):
            if progress:
                progress(state["done"], state["running"], state["failed"], total)

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's classic reporter honours verbose=0: no tables on stdout
    resources = {"cpu": cpus_per_trial, **({"gpu": gpus_per_trial} if gpus_per_trial else {})}
    with tempfile.TemporaryDirectory(prefix="asgbench-tune-") as storage:
        tuner = tune.Tuner(
            tune.with_resources(_trial, resources),
            param_space={"trial": tune.grid_search(space)},
            tune_config=tune.TuneConfig(num_samples=1, reuse_actors=False),
            run_config=tune.RunConfig(name="sweep", storage_path=storage, callbacks=[Progress()], verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=0)),
        )
        grid = tuner.fit()
    done, failed = [], {}
    for result in grid:
        runs = (result.config or {}).get("trial", {}).get("runs", [])
        history = result.metrics_dataframe
        reported = {} if history is None or "run_id" not in history else dict(zip(history["run_id"], history["status"]))
        for item in runs:
            run_id = item["run_id"]
            status = reported.get(run_id)
            if status == "done":
                done.append(run_id)
            elif status == "failed":
                failed[run_id] = _failure_message(Path(context.out), run_id)
            else:
                failed[run_id] = " ".join(str(result.error).split())[:500] if result.error else "did not run"
    if not address:
        ray.shutdown()
    return SweepReport(len(skipped) + total, skipped, done, failed, time.perf_counter() - started)


def _failure_message(out: Path, run_id: str) -> str:
    import json

    try:
        return json.loads((out / FAILED_DIR / f"{run_id}.json").read_text())["error"]
    except (OSError, ValueError, KeyError):
        return "failed"


def load_sweep_file(path: Path) -> dict:
    """A YAML sweep file: a mapping whose keys are :class:`SweepSpec` fields."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the sweep file ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sweep settings, found {type(data).__name__}")
    return data


def sweep_spec_from(file: Path | None = None, **flags) -> SweepSpec:
    """The sweep's settings by precedence: command-line flags (None: not given) over the file over SweepSpec's
    defaults. ``checkpoints`` and ``overrides`` merge key by key, the flags' entries winning."""
    from asgbench.config import from_mapping

    data = load_sweep_file(file) if file else {}
    given = {key: value for key, value in flags.items() if value is not None}
    for key in ("checkpoints", "eval_protocols", "overrides"):
        if key in given:
            given[key] = {**(data.get(key) or {}), **given[key]}
    merged = {**data, **given}
    merged["overrides"] = {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in (merged.get("overrides") or {}).items()}
    spec = from_mapping(SweepSpec, merged, str(file) if file else "sweep")
    if not spec.models or not spec.tasks:
        raise ConfigError("name the models and tasks: --models a,b --tasks t1,t2 (or a --config file)")
    return spec
