"""Run one RunSpec: resolve it, derive its run_id, skip it if finished, else evaluate and write the result.

The run_id hashes everything that decides the numbers — model, checkpoint bytes, task and its version,
protocol and its version and overrides, split lists (their sha256), fraction, draw, seed and a transform other
than the model's native one — and nothing that does not (where the data lives, the device, the output folder).
A finished run_id is not recomputed unless ``force`` is set.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from asgbench import __version__
from asgbench.config import cache_dir as default_cache_dir
from asgbench.config import dataset_root
from asgbench.data.splits import SPLIT_PROTOCOLS
from asgbench.data.splits.protocol import FRACTIONS
from asgbench.encoders import create_encoder, resolve_model
from asgbench.encoders.config import InputSpec
from asgbench.errors import ConfigError
from asgbench.preflight import check_runs
from asgbench.progress import Progress, running_total
from asgbench.results import finished, result_path, write_result
from asgbench.run_lock import LockHolder, run_lock
from asgbench.run_spec import RunContext, RunSpec
from asgbench.tasks.protocols import ProtocolJob, describe, kind_of, protocol_for
from asgbench.tasks.data import TaskData, load_task_data, task_lists
from asgbench.tasks.specs import TASKS

@dataclass(frozen=True)
class ResolvedRun:
    spec: RunSpec
    run_id: str
    identity: dict
    transform: InputSpec | None = None   # the preprocessing the run uses, for its dataset


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    path: Path
    result: dict
    skipped: bool


@lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint file not found")
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def resolve(spec: RunSpec, context: RunContext) -> ResolvedRun:
    """Canonical names, normalised fractions, split hashes and checkpoint hash -> the run_id."""
    task = TASKS.get(spec.task)
    protocol = protocol_for(task.kind, spec.eval_protocol, spec.overrides)
    split_protocol = SPLIT_PROTOCOLS.canonical(spec.split_protocol)
    if spec.fraction not in FRACTIONS:
        raise ConfigError(f"--fraction must be one of {', '.join(map(str, FRACTIONS))}, not {spec.fraction}")
    if not kind_of(task.kind).trains_on_fraction:  # no training list: every fraction and draw is the same run
        spec = replace(spec, fraction=100, draw=0)
    resolved_model = resolve_model(spec.model, spec.checkpoint)
    model, checkpoint = resolved_model.name, resolved_model.checkpoint
    transform = resolved_model.config.input.select(spec.transform, task.dataset)
    spec = replace(spec, model=model, task=task.name, split_protocol=split_protocol, eval_protocol=protocol.name,
                   overrides=tuple(sorted(spec.overrides)))
    root = dataset_root(task.dataset, context.data_root)
    lists = {name: selection.sha256 for name, selection in task_lists(task, split_protocol, spec.fraction, spec.draw, root).items()}
    # These keys are frozen: renaming one would change every run_id and orphan every finished result.
    identity = {
        "model": model, "checkpoint_sha256": checkpoint_sha256(checkpoint), "task": task.name, "task_version": task.version,
        "protocol": protocol.name, "protocol_version": protocol.version, "overrides": list(spec.overrides),
        "split_protocol": split_protocol, "split_lists": lists, "fraction": spec.fraction, "draw": spec.draw, "seed": spec.seed,
    }
    if spec.transform != "native":   # only then, so that the run_ids of native runs stay as they were
        identity["transform"] = spec.transform
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    run_id = f"{model}__{task.name}__f{spec.fraction}-d{spec.draw}-s{spec.seed}__{digest}"
    return ResolvedRun(replace(spec, checkpoint=str(checkpoint) if checkpoint else None), run_id, identity, transform)


def _git() -> dict:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(device: str) -> dict:
    import numpy
    import segmentation_models_pytorch
    import sklearn
    import torch
    import transformers

    info = {"asgbench": __version__, "python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "transformers": transformers.__version__,
            "segmentation-models-pytorch": segmentation_models_pytorch.__version__, "platform": platform.platform(),
            "device": device, "threads": torch.get_num_threads()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def _public_report(report) -> dict:
    """The load report without machine paths: the checkpoint is named by its file name and sha256."""
    data = report.to_dict()
    if data.get("file"):
        data["file"] = Path(data["file"]).name
    return data


def run(spec: RunSpec, context: RunContext = RunContext(), progress: Progress | None = None) -> RunOutcome:
    """Evaluate ``spec`` unless its result exists; return the result either way. Inputs are checked first;
    one process at a time computes a run_id (a second waits, then finds the result)."""
    started = time.perf_counter()
    check_runs([(spec, context)])
    resolved = resolve(spec, context)
    out = Path(context.out)
    if not context.force and (done := finished(out, resolved.run_id)) is not None:
        return RunOutcome(resolved.run_id, result_path(out, resolved.run_id), done, True)

    def waiting(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another process"
        print(f"asgbench: {resolved.run_id} is being computed by {who}; waiting for it", file=sys.stderr, flush=True)

    with run_lock(out, resolved.run_id, waiting=waiting):
        # the run may have been finished by the process this one waited for
        if not context.force and (done := finished(out, resolved.run_id)) is not None:
            return RunOutcome(resolved.run_id, result_path(out, resolved.run_id), done, True)
        return _evaluate(resolved, context, progress, started)


def _evaluate(resolved: ResolvedRun, context: RunContext, progress: Progress | None, started: float) -> RunOutcome:
    """The run itself, under its lock: data, encoder, protocol, then the result written atomically."""
    from asgbench.tasks.features import weights_digest

    spec, out = resolved.spec, Path(context.out)
    if context.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but torch sees no CUDA device")
    task = TASKS.get(spec.task)
    kind = kind_of(task.kind)
    protocol = protocol_for(task.kind, spec.eval_protocol, spec.overrides)
    cache_root = Path(context.cache_dir) if context.cache_dir else default_cache_dir()

    data = load_run_data(resolved, context, progress)
    encoder = create_encoder(spec.model, spec.checkpoint, trust_checkpoint=context.trust_checkpoint, seed=spec.seed)
    encoder.use_transform(resolved.transform)
    state_file = partial_state_path(out, resolved.run_id)
    job = ProtocolJob(seed=spec.seed, device=context.device, cache_root=cache_root, rebuild_cache=context.rebuild_cache,
                      state_file=state_file, progress=progress)
    outcome = kind.run(encoder, data, protocol, job)
    headline_name = outcome.extra["headline"]
    headline = outcome.metrics[headline_name]
    # a resumed run counts the seconds its earlier attempts spent up to the state it resumed from
    timings = {**outcome.timings, "total_s": outcome.timings.get("earlier_attempts_s", 0.0) + time.perf_counter() - started}
    result = {
        "schema_version": 1,
        "run_id": resolved.run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec": {**{k: v for k, v in asdict(spec).items() if k != "checkpoint"}, "overrides": list(spec.overrides),
                 "checkpoint_sha256": resolved.identity["checkpoint_sha256"]},
        "task": {"name": task.name, "version": task.version, "dataset": task.dataset, "kind": task.kind,
                 "labels": list(data.task.labels), "metric": task.metric, "multiclass": data.task.multiclass,
                 "description": data.task.description},
        "eval_protocol": {"name": protocol.name, "version": protocol.version, "params": _jsonable(describe(protocol))},
        "splits": {"split_protocol": data.splits["test"].selection.protocol,
                   "version": data.splits["test"].selection.protocol_version, "lists": data.split_hashes()},
        "data": data_origin(data.splits["test"].selection.folder, dataset_root(task.dataset, context.data_root)),
        "encoder": {"name": encoder.config.name, "architecture": encoder.config.architecture,
                    "weights_sha256": encoder.report.sha256, "state_sha256": weights_digest(encoder.backbone),
                    "feature": encoder.config.feature, "transform": encoder.config.input.describe(),
                    "load_report": _public_report(encoder.report), "provenance": _jsonable(encoder.config.provenance),
                    **encoder.config.table_metadata()},
        "headline": {"metric": headline_name, "value": headline["value"], "ci95": headline["ci95"]},
        "metrics": outcome.metrics,
        "per_class": outcome.per_class,
        "counts": {"train": len(data.splits["train"]), "val": len(data.splits["val"]), "test": len(data.splits["test"]),
                   "test_patients": len(set(data.splits["test"].patients)), **outcome.counts},
        "selection": _jsonable(outcome.selection),
        "timings": timings,
        "extra": _jsonable({k: v for k, v in outcome.extra.items() if k != "headline"}),
        "environment": environment(context.device),
        "git": _git(),
    }
    path = write_result(out, result, outcome.predictions)
    state_file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        state_file.parent.rmdir()   # the last run's state gone: no empty .partial/ left behind
    return RunOutcome(resolved.run_id, path, result, False)


def data_origin(lists_folder: Path, dataset_folder: Path) -> dict:
    """Where a run's data came from: what its split lists were built from (public metadata, a user's download,
    the synthetic suite) and, for the synthetic suite, the sha256 of its SUITE.json (its seed, size, counts)."""
    from asgbench.data.splits.lists import SplitManifest
    from asgbench.data.synthetic.suite import SUITE_FILE

    origin = {"lists_built_from": SplitManifest.read(lists_folder).built_from, "synthetic_suite_sha256": None}
    for candidate in (dataset_folder / SUITE_FILE, dataset_folder.parent / SUITE_FILE):
        if candidate.is_file():
            origin["synthetic_suite_sha256"] = hashlib.sha256(candidate.read_bytes()).hexdigest()
            break
    return origin


def load_run_data(resolved: ResolvedRun, context: RunContext, progress: Progress | None = None) -> TaskData:
    """A run's lists and images, from the store its transform reads (e.g. 512 px for KAD, decoded from the
    original files), checked against what the transform needs."""
    spec, transform = resolved.spec, resolved.transform
    cache_root = Path(context.cache_dir) if context.cache_dir else default_cache_dir()
    data = load_task_data(TASKS.get(spec.task), fraction=spec.fraction, draw=spec.draw, split_protocol=spec.split_protocol,
                          data_root=context.data_root, cache_dir=cache_root, progress=running_total(progress, "decode images"),
                          store_size=transform.store)
    _check_masks_can_follow(transform, data)
    return data


def _check_masks_can_follow(transform: InputSpec, data: TaskData) -> None:
    """Segmentation hands its images and masks to the encoder without their content boxes, which is exact
    when the originals are square (SIIM, RSNA): a transform that reads the un-padded image is refused otherwise."""
    if transform.geometry == "letterbox" or not data.task.mask_source:
        return
    ids = list(dict.fromkeys(i for split in data.splits.values() for i in split.image_ids))
    boxes = data.store.content_boxes(ids)
    if not (boxes[:, 2:] == data.store.size).all():
        raise ConfigError(f"{data.task.name}: the {transform.geometry} transform reads each image without its padding, "
                          f"and this segmentation data has non-square images; use --transform standard")


def partial_state_path(out: Path, run_id: str) -> Path:
    """Where an unfinished run keeps the state it resumes from (never read as a result)."""
    return Path(out) / ".partial" / f"{run_id}.pt"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
