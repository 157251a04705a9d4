"""Sweeps: a grid of (model x task x fraction x draw x seed), run in this process or on Ray workers.

The grid is expanded and resolved in the driver, so finished run_ids are skipped before any worker starts and
a killed sweep, run again, does only what is missing. Each run goes through :func:`asgbench.run.run` on a
worker (:mod:`asgbench.sweep_exec`), whose finished files travel back to the driver and are written into
``--out`` there (:mod:`asgbench.sweep_outbox`); a failing run is recorded (``<out>/.failed/<run_id>.json``, with
its error, where result readers never look) and the others go on; the record is removed when the run later
succeeds. Locally Ray is started on 127.0.0.1 without a dashboard; ``address`` joins a cluster instead.
"""
from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL
from asgbench.data.splits.protocol import FRACTIONS
from asgbench.errors import ConfigError
from asgbench.preflight import check_runs
from asgbench.results import result_path
from asgbench.run import RunContext, RunSpec, resolve
from asgbench.sweep_exec import Events, Placement, run_in_process, run_on_ray, worker_count
from asgbench.sweep_outbox import FAILED_DIR, NodePaths, RunPayload, deliver
from asgbench.tasks.protocols import kind_of
from asgbench.tasks.specs import TASKS

__all__ = ["FAILED_DIR", "SweepReport", "SweepSpec", "expand", "group_runs", "sweep", "sweep_spec_from"]


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
    node_paths: dict[str, NodePaths] = field(default_factory=dict)  # node IP (or "*") -> its paths to the inputs


@dataclass
class SweepReport:
    planned: int
    skipped: list[str]
    done: list[str]
    failed: dict[str, str]
    seconds: float
    nodes: dict[str, int] = field(default_factory=dict)   # where the runs ran ("<ip>/<node id>") -> how many


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


def sweep(spec: SweepSpec | Sequence[SweepSpec], context: RunContext, *, address: str | None = None, cpus_per_trial: float = 1.0,
          gpus_per_trial: float = 0.0, total_cpus: int | None = None, group_by: str = "features",
          progress: Callable[[int, int, int, int], None] | None = None) -> SweepReport:
    """Run the grid (or the union of several grids, in one session); ``progress(done, running, failed, total)``
    is called as runs start and finish."""
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
    if not planned:
        return SweepReport(len(skipped), skipped, [], {}, time.perf_counter() - started)
    if gpus_per_trial and context.device == "cpu":
        raise ConfigError("--gpus-per-trial needs --device cuda")
    out = Path(context.out).resolve()
    # workers may not run in this directory: every path they get is absolute
    context_fields = {k: (str(Path(v).resolve()) if isinstance(v, Path) else v) for k, v in asdict(context).items()}
    groups = [[{"run_id": r.run_id,
                "spec": {**asdict(r.spec), "overrides": list(r.spec.overrides),
                         "checkpoint": str(Path(r.spec.checkpoint).resolve()) if r.spec.checkpoint else None}}
               for r in group]
              for group in group_runs(planned, group_by)]
    tally = _Tally(out, len(planned), progress)
    placement = Placement(address, cpus_per_trial, gpus_per_trial, total_cpus)
    node_paths = _merged_node_paths(grids)
    if address is None and worker_count(placement, len(groups)) == 1:
        run_in_process(groups, context_fields, out, node_paths, tally.events())
    else:
        run_on_ray(groups, context_fields, out, node_paths, placement, tally.events())
    return SweepReport(len(skipped) + len(planned), skipped, tally.done, tally.failed, time.perf_counter() - started,
                       dict(tally.nodes))


class _Tally:
    """The driver's side of the events: each payload written into ``out`` as it arrives, and counted."""

    def __init__(self, out: Path, total: int, progress: Callable[[int, int, int, int], None] | None):
        self.out, self.total, self.progress = out, total, progress
        self.running = 0
        self.done: list[str] = []
        self.failed: dict[str, str] = {}
        self.nodes: Counter[str] = Counter()

    def events(self) -> Events:
        return Events(started=self._started, finished=self._finished)

    def _started(self, run_id: str) -> None:
        self.running += 1
        self._tell()

    def _finished(self, payload: RunPayload) -> None:
        self.running -= 1
        try:
            deliver(payload, self.out)
        except Exception as exc:  # noqa: BLE001 - a payload that cannot be written fails its run, not the sweep
            payload = RunPayload(payload.run_id, payload.node, failure={"run_id": payload.run_id, "error": str(exc)})
            deliver(payload, self.out)
        if payload.ok:
            self.done.append(payload.run_id)
            self.nodes[payload.node] += 1
        else:
            self.failed[payload.run_id] = (payload.failure or {}).get("error", "failed")
        self._tell()

    def _tell(self) -> None:
        if self.progress:
            self.progress(len(self.done), self.running, len(self.failed), self.total)


def _merged_node_paths(grids: list[SweepSpec]) -> dict[str, NodePaths]:
    merged: dict[str, NodePaths] = {}
    for grid in grids:
        merged.update(grid.node_paths)
    return merged


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
