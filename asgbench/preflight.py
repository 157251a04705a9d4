"""Every input a run can be checked on before any work: names, numbers, folders, files; all problems at once.

A run on real data takes hours; a typo found after the features were extracted costs them. These checks read
no image and build no model, and the first pass imports neither torch nor pandas, so a typo is rejected in
about a second. Only when the names are right does the second pass resolve the model (importing torch) to
find its released weights. Every problem found is reported in one message, so an input is fixed in one go.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from asgbench.errors import AsgbenchError, ConfigError
from asgbench.run_spec import RunContext, RunSpec

DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")
MIN_FREE_BYTES = 200 * 2**20   # below this a results or cache folder cannot take even one small run


def _name_problem(check) -> str | None:
    try:
        check()
    except AsgbenchError as exc:
        return str(exc)
    return None


def writable_folder_problem(folder: Path, what: str) -> str | None:
    """Whether ``folder`` exists as a writable folder or can be created, with room for a run's files."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{what} {folder}: {existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{what} {folder}: {existing} is not writable"
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        return f"{what} {folder}: only {free / 2**20:.0f} MiB free on its disk (need at least {MIN_FREE_BYTES // 2**20} MiB)"
    return None


def _number_problems(spec: RunSpec, context: RunContext) -> list[str]:
    from asgbench.data.splits.protocol import FRACTIONS

    problems = []
    for name, value in (("--fraction", spec.fraction), ("--draw", spec.draw), ("--seed", spec.seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be a whole number, not {value!r}")
    if isinstance(spec.fraction, int) and spec.fraction not in FRACTIONS:
        problems.append(f"--fraction must be one of {', '.join(map(str, FRACTIONS))}, not {spec.fraction}")
    if isinstance(spec.draw, int) and spec.draw < 0:
        problems.append(f"--draw must be >= 0, not {spec.draw}")
    if isinstance(spec.seed, int) and not 0 <= spec.seed < 2**32:
        problems.append(f"--seed must be between 0 and 2**32 - 1, not {spec.seed}")
    if not DEVICE.match(str(context.device)):
        problems.append(f"--device must be cpu, cuda, cuda:N or mps, not {context.device!r}")
    return problems


def _name_problems(spec: RunSpec) -> tuple[list[str], object | None]:
    """Problems with the names (model, task, protocols, transform, overrides) and the task, when it is known."""
    from asgbench.data.splits import SPLIT_PROTOCOLS
    from asgbench.encoders import MODEL_FAMILIES, MODELS
    from asgbench.encoders.config import TRANSFORMS
    from asgbench.tasks.protocols import protocol_for
    from asgbench.tasks.specs import TASKS

    problems = []
    base = str(spec.model).partition(".")[0]
    if base not in MODEL_FAMILIES:
        problems.append(_name_problem(lambda: MODELS.canonical(base)))
    task = None
    if (problem := _name_problem(lambda: TASKS.canonical(spec.task))) is not None:
        problems.append(problem)
    else:
        task = TASKS.get(spec.task)
        problems.append(_name_problem(lambda: protocol_for(task.kind, spec.eval_protocol, tuple(spec.overrides))))
    if spec.split_protocol is not None:
        problems.append(_name_problem(lambda: SPLIT_PROTOCOLS.canonical(spec.split_protocol)))
    if spec.transform not in TRANSFORMS:
        problems.append(f"unknown transform {spec.transform!r}; expected one of {', '.join(TRANSFORMS)}")
    return [p for p in problems if p], task


def _path_problems(spec: RunSpec, context: RunContext, task) -> list[str]:
    from asgbench.config import cache_dir, dataset_root

    problems = []
    if context.data_root is not None and not Path(context.data_root).is_dir():
        problems.append(f"--data-root {context.data_root}: no such folder (expected one sub-folder per dataset)")
    elif task is not None:
        try:
            root = dataset_root(task.dataset, context.data_root)
            if not root.is_dir():
                problems.append(f"{root}: no {task.dataset} folder there (`asgbench ls datasets` shows the files "
                                f"expected)")
        except ConfigError as exc:
            problems.append(str(exc))
    if spec.checkpoint is not None:
        path = Path(spec.checkpoint)
        if not path.exists():
            problems.append(f"--checkpoint {path}: no such file")
        elif not os.access(path, os.R_OK):
            problems.append(f"--checkpoint {path}: not readable")
    problems.append(writable_folder_problem(Path(context.out), "--out"))
    problems.append(writable_folder_problem(cache_dir(context.cache_dir), "cache folder"))
    return [p for p in problems if p]


def _weights_problem(spec: RunSpec) -> str | None:
    """The second pass: the model resolved (torch is imported) to see that its released weights are at hand."""
    from asgbench.encoders import resolve_model

    return _name_problem(lambda: resolve_model(spec.model, spec.checkpoint))


def run_problems(spec: RunSpec, context: RunContext) -> list[str]:
    """Every problem with one run's inputs (empty when it may start)."""
    names, task = _name_problems(spec)
    problems = _number_problems(spec, context) + names + _path_problems(spec, context, task)
    if not problems:
        problems += [p for p in (_weights_problem(spec),) if p]
    return problems


def check_runs(many: list[tuple[RunSpec, RunContext]]) -> None:
    """Raise one ConfigError listing every distinct problem of these runs (a sweep checks its whole grid)."""
    problems = list(dict.fromkeys(p for spec, context in many for p in run_problems(spec, context)))
    if problems:
        raise ConfigError("; ".join(problems))
