"""How a sweep's runs reach the driver: a worker runs into a folder on its own node (its outbox) and returns the
finished files as bytes; the driver writes them atomically into ``--out``. So a cluster needs no shared
filesystem, and a result exists in ``--out`` only once it is complete there.

A worker may see data roots, caches and checkpoints at other paths than the driver (``node_paths`` in the
sweep file). It resolves the run again with its own paths; a run_id that differs from the driver's means its
copy of the data or the checkpoint is not the driver's, and the run fails saying so instead of producing a
result under the wrong name.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import socket
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from asgbench.results import predictions_path, result_path, validate_result, write_bytes_atomic, write_json_atomic

FAILED_DIR = ".failed"
ANY_NODE = "*"


@dataclass(frozen=True)
class NodePaths:
    """Where one node sees the inputs; unset fields mean the driver's path."""

    data_root: str | None = None
    cache_dir: str | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)   # model name -> checkpoint file on that node


@dataclass(frozen=True)
class RunPayload:
    """What a worker hands back for one run: the finished files, or why it failed."""

    run_id: str
    node: str                          # "<ip>/<node id prefix>": where it ran
    result_json: str | None = None
    predictions: bytes | None = None
    failure: dict | None = None

    @property
    def ok(self) -> bool:
        return self.result_json is not None


def paths_for_node(node_paths: dict[str, NodePaths], node_ip: str) -> NodePaths:
    """The node's own entry, else the ``*`` entry, else the driver's paths."""
    return node_paths.get(node_ip) or node_paths.get(ANY_NODE) or NodePaths()


def outbox_for(out: Path, driver_host: str) -> Path:
    """A folder on the worker's node, one per driver output folder: a run interrupted there resumes there."""
    key = hashlib.sha256(f"{driver_host}:{Path(out).resolve()}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "asgbench-outbox" / key


def failure_record(run_id: str, spec: dict, exc: BaseException, node: str) -> dict:
    message = " ".join(str(exc).split()) or type(exc).__name__
    return {"run_id": run_id, "spec": spec, "error": message, "kind": type(exc).__name__, "node": node,
            "traceback": traceback.format_exc()[-4000:]}


def run_in_outbox(item: dict, context_fields: dict, paths: NodePaths, outbox: Path, node: str) -> RunPayload:
    """Worker side: run one item ({"run_id", "spec"}) into ``outbox`` and return its files (removed from the
    outbox once read), or the failure record."""
    from asgbench.run import RunContext, RunSpec, resolve, run

    spec_fields = {**item["spec"], "overrides": tuple(item["spec"]["overrides"])}
    if paths.checkpoints.get(spec_fields["model"]):
        spec_fields["checkpoint"] = paths.checkpoints[spec_fields["model"]]
    context_fields = {**context_fields, "out": str(outbox),
                      **({"data_root": paths.data_root} if paths.data_root else {}),
                      **({"cache_dir": paths.cache_dir} if paths.cache_dir else {})}
    try:
        context = RunContext(**{k: (Path(v) if k in ("data_root", "out", "cache_dir") and v is not None else v)
                                for k, v in context_fields.items()})
        spec = RunSpec(**spec_fields)
        here = resolve(spec, context).run_id
        if here != item["run_id"]:
            raise RuntimeError(f"on node {node} this run resolves to {here}, not the driver's {item['run_id']}: its data "
                               "lists or checkpoint differ from the driver's (check node_paths)")
        outcome = run(spec, context)
        files = result_path(outbox, outcome.run_id), predictions_path(outbox, outcome.run_id)
        payload = RunPayload(outcome.run_id, node, result_json=files[0].read_text(), predictions=files[1].read_bytes())
        for path in files:
            path.unlink(missing_ok=True)
        return payload
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the driver as a record
        return RunPayload(item["run_id"], node, failure=failure_record(item["run_id"], item["spec"], exc, node))


def deliver(payload: RunPayload, out: Path) -> None:
    """Driver side: predictions first, then the JSON that marks the run finished; a success clears an earlier
    failure record, a failure writes one."""
    out = Path(out)
    record = out / FAILED_DIR / f"{payload.run_id}.json"
    if not payload.ok:
        write_json_atomic(record, payload.failure or {"run_id": payload.run_id, "error": "failed"})
        return
    result = json.loads(payload.result_json)
    validate_result(result, f"result of {payload.run_id} from {payload.node}")
    write_bytes_atomic(predictions_path(out, payload.run_id), payload.predictions or b"")
    write_json_atomic(result_path(out, payload.run_id), result)
    record.unlink(missing_ok=True)


def failure_message(out: Path, run_id: str) -> str:
    try:
        return json.loads((Path(out) / FAILED_DIR / f"{run_id}.json").read_text())["error"]
    except (OSError, ValueError, KeyError):
        return "failed"


def this_host() -> str:
    return socket.gethostname()


def clear_outbox(outbox: Path) -> None:
    """The outbox once empty of results (resume state of unfinished runs stays)."""
    if outbox.is_dir() and not any(p for p in outbox.rglob("*") if p.is_file()):
        shutil.rmtree(outbox, ignore_errors=True)

