"""`asgbench sweep --address` on a real two-node Ray cluster on loopback, with no shared output or cache folder.

Both nodes run on this machine, each started by ``ray start --block`` in its own session (so the test removes it
by process group), with its own Ray temp folder, TMPDIR (the node's outbox) and ``$ASGBENCH_CACHE``. Ray's
multi-node mode refuses 127.0.0.1 (it swaps it for the machine's address), so the nodes use 127.0.0.2, another
loopback address; Ray's services then listen on every interface for the few minutes the test runs.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from asgbench.results import read_result

pytestmark = pytest.mark.slow

NODE_IP = "127.0.0.2"
RAY = str(Path(sys.executable).with_name("ray"))
GRID = ("--models", "random-r18", "--tasks", "rsna-lp,covidx-lp", "--fractions", "10,100", "--seeds", "0")


@dataclass
class Node:
    process: subprocess.Popen
    folder: Path          # its Ray temp folder, TMPDIR and cache

    def kill(self) -> None:
        """The node and every process it started (they share its process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_env(folder: Path) -> dict:
    for name in ("tmp", "cache"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1", "RAY_AUTH_MODE": "disabled",
            "TMPDIR": str(folder / "tmp"), "ASGBENCH_CACHE": str(folder / "cache")}


def _start_node(folder: Path, *args: str) -> Node:
    env = _node_env(folder)
    with open(folder / "node.log", "w") as log:
        process = subprocess.Popen([RAY, "start", "--block", "--node-ip-address", NODE_IP, "--num-cpus", "1",
                                    "--temp-dir", str(folder / "ray"), *args],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return Node(process, folder)


def _alive_nodes(address: str) -> int:
    probe = ("import ray; ray.init(address=%r, log_to_driver=False); print(sum(n['Alive'] for n in ray.nodes()))" % address)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1", "RAY_AUTH_MODE": "disabled"})
    return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 and done.stdout.strip() else 0


@pytest.fixture
def cluster():
    """A head node and a second node, 1 CPU each; yields the address and the nodes, then kills both."""
    root = Path(tempfile.mkdtemp(prefix="asgrc-"))    # short: Ray's socket paths must stay under 108 bytes
    port = _free_port()
    address = f"{NODE_IP}:{port}"
    nodes: list[Node] = []
    try:
        nodes.append(_start_node(root / "head", "--head", "--port", str(port), "--include-dashboard", "false"))
        time.sleep(3)
        nodes.append(_start_node(root / "second", "--address", address))
        deadline = time.monotonic() + 180
        while _alive_nodes(address) < 2:
            assert time.monotonic() < deadline, (root / "second" / "node.log").read_text()[-2000:]
            assert all(n.process.poll() is None for n in nodes), [(n.folder / "node.log").read_text()[-2000:] for n in nodes]
            time.sleep(2)
        yield address, nodes
    finally:
        for node in reversed(nodes):
            node.kill()
        shutil.rmtree(root, ignore_errors=True)


def _sweep(address: str | None, suite: Path, out: Path, *extra: str, cache: Path | None = None) -> list[str]:
    where = ["--address", address] if address else ["--cpus", "1", "--cache-dir", str(cache)]
    return [sys.executable, "-m", "asgbench.cli", "sweep", "--data-root", str(suite), "--out", str(out),
            "--cpus-per-trial", "1", "--quiet", *where, *extra]


def _driver_env(tmp: Path) -> dict:
    return {**_node_env(tmp), "ASGBENCH_CACHE": str(tmp / "driver-cache")}


def _results(out: Path) -> dict[str, dict]:
    return {p.name: read_result(p) for p in out.glob("*.json")}


def test_a_sweep_spans_two_nodes_and_survives_losing_one(cluster, tiny_suite, tmp_path):
    """One cluster for both halves (starting one costs more than the sweeps): a sweep whose results all reach
    the driver from both nodes, identical to a sweep in one process; then a sweep that loses its second node."""
    address, nodes = cluster
    out, env = tmp_path / "driver-out", _driver_env(tmp_path)
    done = subprocess.run(_sweep(address, tiny_suite, out, *GRID), capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "ran on 2 node(s)" in done.stdout, done.stdout
    results = _results(out)
    assert len(results) == 4
    assert not [p for n in nodes for p in (n.folder / "tmp" / "asgbench-outbox").rglob("*.json")], "a result stayed on a node"

    local = tmp_path / "local-out"
    alone = subprocess.run(_sweep(None, tiny_suite, local, *GRID, cache=tmp_path / "local-cache"), capture_output=True,
                           text=True, timeout=600, env=env)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert "ran on 1 node(s): local 4" in alone.stdout, alone.stdout
    for name, result in _results(local).items():
        assert results[name]["metrics"] == result["metrics"], name
        pd.testing.assert_frame_equal(pd.read_parquet(out / name.replace(".json", ".predictions.parquet")),
                                      pd.read_parquet(local / name.replace(".json", ".predictions.parquet")))

    # the 1 % runs are new; the second node is killed once it has started one of them
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    command = _sweep(address, tiny_suite, out, *GRID[:-4], "--fractions", "1,10,100", "--seeds", "0")
    launched = time.time()
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    second_outbox = nodes[1].folder / "tmp" / "asgbench-outbox"
    deadline = time.monotonic() + 300
    while sweep.poll() is None and time.monotonic() < deadline and not _started_since(second_outbox, launched):
        time.sleep(0.2)
    assert sweep.poll() is None, sweep.communicate()[1][-3000:]
    nodes[1].kill()
    stdout, stderr = sweep.communicate(timeout=900)
    # the head's worker takes over the lost node's runs (the one in flight is tried once more there)
    assert sweep.returncode == 0, stdout[-2000:] + stderr[-3000:]
    assert len(_results(out)) == 6
    assert "ran on 1 node(s)" in stdout or "ran on 2 node(s)" in stdout, stdout
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "6 already done" in again.stdout, again.stdout[-2000:] + again.stderr[-2000:]
    for name, mtime in before.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert not list(out.glob(".failed/*.json")), "a run was recorded as failed"


def _started_since(outbox: Path, since: float) -> bool:
    """A run lock taken in the outbox after ``since``: the node is computing a run of this sweep."""
    return any(p.stat().st_mtime > since for p in outbox.rglob("*.lock")) if outbox.is_dir() else False
