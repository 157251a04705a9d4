"""Where a sweep's runs execute: in this process when only one worker fits on this machine, else on Ray
workers that live for the whole sweep (imports and caches paid once per worker, not per run).

Runs are handed out group by group (a group shares its features), one run at a time per worker, and every
finished run is written into ``--out`` by the driver as it arrives (:mod:`asgbench.sweep_outbox`). A worker that
dies (its node lost, killed, out of memory) gives its unstarted runs back to the queue; the run it was on is
tried once more elsewhere, then recorded as failed.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from asgbench.errors import ConfigError
from asgbench.sweep_outbox import NodePaths, RunPayload, outbox_for, paths_for_node, run_in_outbox, this_host

LOCAL_NODE = "local"
ATTEMPTS_AFTER_WORKER_LOSS = 2


@dataclass(frozen=True)
class Placement:
    """What each worker gets and where the workers run."""

    address: str | None = None        # a Ray cluster; None: this machine
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    total_cpus: int | None = None     # CPUs a local Ray may use (default: all)

    def threads(self) -> int:
        return max(1, int(self.cpus_per_trial))


@dataclass(frozen=True)
class Events:
    started: Callable[[str], None]
    finished: Callable[[RunPayload], None]


class SweepWorker:
    """One Ray worker process: runs items into its node's outbox and returns their files."""

    def __init__(self, context_fields: dict, node_paths: dict, threads: int, out: str, driver_host: str):
        import ray
        import torch

        torch.set_num_threads(threads)
        ip = ray.util.get_node_ip_address()
        self.node = f"{ip}/{ray.get_runtime_context().get_node_id()[:8]}"
        self.context_fields = context_fields
        self.paths = paths_for_node({k: NodePaths(**v) for k, v in node_paths.items()}, ip)
        self.outbox = outbox_for(Path(out), driver_host)

    def run(self, item: dict) -> RunPayload:
        return run_in_outbox(item, self.context_fields, self.paths, self.outbox, self.node)


def run_in_process(groups: list[list[dict]], context_fields: dict, out: Path, node_paths: dict[str, NodePaths],
                   events: Events) -> None:
    """Every run here, one after another: nothing to start, and the process's threads are all the machine has."""
    outbox = outbox_for(out, this_host())
    paths = paths_for_node(node_paths, "127.0.0.1")
    for group in groups:
        for item in group:
            events.started(item["run_id"])
            events.finished(run_in_outbox(item, context_fields, paths, outbox, LOCAL_NODE))


def worker_count(placement: Placement, groups: int) -> int:
    """Workers that fit at once on this machine (no Ray needed to know it), at most one per group."""
    cpus = placement.total_cpus or os.cpu_count() or 1
    fit = int(cpus // placement.cpus_per_trial) if placement.cpus_per_trial > 0 else cpus
    return max(1, min(fit, groups))


def start_ray(placement: Placement) -> bool:
    """Join the cluster or start a local Ray on 127.0.0.1; True if this call started it (so it shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    if placement.address:
        ray.init(address=placement.address, include_dashboard=False, log_to_driver=False)
        return True
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # bind Ray's services to 127.0.0.1 only
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=placement.total_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def _cluster_workers(placement: Placement, groups: int) -> int:
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(r.get("CPU", 0) >= placement.cpus_per_trial and r.get("GPU", 0) >= placement.gpus_per_trial for r in nodes):
        biggest = max((r.get("CPU", 0) for r in nodes), default=0)
        raise ConfigError(f"--cpus-per-trial {placement.cpus_per_trial:g} / --gpus-per-trial {placement.gpus_per_trial:g}: "
                          f"no Ray node has that much (the largest has {biggest:g} CPUs)")
    fit = sum(int(r.get("CPU", 0) // placement.cpus_per_trial) for r in nodes)
    if placement.gpus_per_trial:
        fit = min(fit, sum(int(r.get("GPU", 0) // placement.gpus_per_trial) for r in nodes))
    return max(1, min(fit, groups))


def run_on_ray(groups: list[list[dict]], context_fields: dict, out: Path, node_paths: dict[str, NodePaths],
               placement: Placement, events: Events) -> None:
    """Hand the groups to long-lived Ray workers; every payload is passed to ``events.finished`` as it arrives."""
    import ray

    started_here = start_ray(placement)
    workers: dict[int, object] = {}
    try:
        count = _cluster_workers(placement, len(groups))
        actor = ray.remote(SweepWorker).options(num_cpus=placement.cpus_per_trial, num_gpus=placement.gpus_per_trial,
                                                max_restarts=0)
        paths = {name: asdict(p) for name, p in node_paths.items()}
        workers = {i: actor.remote(context_fields, paths, placement.threads(), str(out), this_host()) for i in range(count)}
        _schedule(workers, groups, events)
    finally:
        for worker in workers.values():
            ray.kill(worker)
        if started_here:
            ray.shutdown()


def _schedule(workers: dict[int, object], groups: list[list[dict]], events: Events) -> None:
    """One run in flight per worker; a worker keeps its group until the group is done."""
    import ray

    queue = deque(deque(group) for group in groups)
    current: dict[int, deque] = {i: deque() for i in workers}
    in_flight: dict[object, tuple[int, dict]] = {}
    attempts: dict[str, int] = {}

    def feed(index: int) -> None:
        if not current[index]:
            if not queue:
                return
            current[index] = queue.popleft()
        item = current[index].popleft()
        attempts[item["run_id"]] = attempts.get(item["run_id"], 0) + 1
        if attempts[item["run_id"]] == 1:
            events.started(item["run_id"])
        in_flight[workers[index].run.remote(item)] = (index, item)

    for index in workers:
        feed(index)
    while in_flight:
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        index, item = in_flight.pop(ready[0])
        try:
            payload = ray.get(ready[0])
        except ray.exceptions.RayError as exc:   # the worker is gone: its queue goes back, the run is retried once
            del workers[index]
            if current[index]:
                queue.appendleft(current.pop(index))
            if attempts[item["run_id"]] < ATTEMPTS_AFTER_WORKER_LOSS and workers:
                queue.appendleft(deque([item]))
            else:
                events.finished(_lost(item, exc))
            for survivor in workers:
                if not any(i == survivor for i, _ in in_flight.values()):
                    feed(survivor)
            if not workers:
                _fail_the_rest(queue, events, exc)
            continue
        events.finished(payload)
        feed(index)


def _lost(item: dict, exc: BaseException) -> RunPayload:
    error = f"its Ray worker was lost ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
    return RunPayload(item["run_id"], "?", failure={"run_id": item["run_id"], "spec": item["spec"], "error": error,
                                                   "kind": type(exc).__name__})


def _fail_the_rest(queue: deque, events: Events, exc: BaseException) -> None:
    while queue:
        for item in queue.popleft():
            events.started(item["run_id"])
            events.finished(_lost(item, exc))
