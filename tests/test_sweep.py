"""`asgbench sweep` on a local Ray with 2 CPUs: trials, skipping finished runs after a kill, isolated failures."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from asgbench.check import stored_runs
from asgbench.results import load_results, read_result
from asgbench.run import RunContext, RunSpec, resolve
from asgbench.sweep import SweepSpec, expand

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_env():
    """Ray's session files in a short private folder (its socket paths must stay under 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="asgray-")
    yield {**os.environ, "RAY_TMPDIR": folder}
    shutil.rmtree(folder, ignore_errors=True)


def sweep_command(suite, out, cache, *args: str) -> list[str]:
    return [sys.executable, "-m", "asgbench.cli", "sweep", "--data-root", str(suite), "--out", str(out), "--cache-dir",
            str(cache), "--cpus", "2", "--cpus-per-trial", "1", "--models", "random-r18", "--seeds", "0", *args]


def test_expand_covers_the_grid_and_collapses_zero_shot():
    specs = expand(SweepSpec(models=("random-r18", "asg"), tasks=("rsna-lp", "rsna-zs"), fractions=(1, 10, 100), draws=(0, 1),
                             seeds=(0, 1)))
    linear = [s for s in specs if s.task == "rsna-lp"]
    assert len(linear) == 2 * (2 * 2 + 1) * 2        # models x (1 %, 10 % x 2 draws + 100 %) x seeds
    zero_shot = [s for s in specs if s.task == "rsna-zs"]
    assert len(zero_shot) == 2 * 2 and {s.fraction for s in zero_shot} == {100}


def test_killed_sweep_resumes_without_redoing_finished_runs(tiny_suite, tmp_path, ray_env):
    out, cache = tmp_path / "results", tmp_path / "cache"
    command = sweep_command(tiny_suite, out, cache, "--tasks", "rsna-lp,covidx-lp", "--fractions", "10,100")
    env = ray_env
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    deadline = time.monotonic() + 600
    while not list(out.glob("*.json")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()[1].decode()[-3000:]
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its Ray workers
    process.wait()
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert 1 <= len(first) < 4

    finished = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = sorted(out.glob("*.json"))
    assert len(results) == 4
    for name, mtime in first.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    # a trial already running when the driver died may still have finished: at least the first ones were skipped
    skipped = int(finished.stdout.split(" already done")[0].rsplit(" ", 1)[-1])
    assert len(first) <= skipped < 4
    for path in results:
        read_result(path)


def test_a_failing_trial_is_recorded_and_the_others_finish(tiny_suite, tmp_path, ray_env):
    out, cache = tmp_path / "results", tmp_path / "cache"
    env = ray_env
    # random-r18 has no text tower: its zero-shot trial fails, the three linear-probe trials must not care
    command = sweep_command(tiny_suite, out, cache, "--tasks", "rsna-lp,rsna-zs", "--fractions", "1,10,100")
    run_id = resolve(RunSpec("random-r18", "rsna-lp", fraction=1), RunContext(data_root=tiny_suite)).run_id
    # the record an earlier, failed attempt of a run left: it goes when the run succeeds
    earlier = out / ".failed" / f"{run_id}.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text(json.dumps({"run_id": run_id, "error": "killed"}))
    finished = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert finished.returncode == 1, finished.stderr[-3000:]
    assert len(list(out.glob("*.json"))) == 3
    failures = list((out / ".failed").glob("*.json"))
    assert len(failures) == 1 and not earlier.exists()
    failure = json.loads(failures[0].read_text())
    assert "cannot run zero-shot" in failure["error"] and "rsna-zs" in failure["run_id"]
    assert "1 failed" in finished.stdout and "cannot run zero-shot" in finished.stdout
    assert (out / f"{run_id}.json").is_file()
    # result readers never take a failure record for a result
    assert len(list(load_results(out))) == 3
    assert len(list(stored_runs(out))) == 3


def test_runs_sharing_features_are_grouped_into_one_trial(tiny_suite):
    from asgbench.sweep import group_runs

    context = RunContext(data_root=tiny_suite)
    planned = [resolve(spec, context) for spec in expand(SweepSpec(models=("random-r18",), tasks=("rsna-lp", "covidx-lp"),
                                                                   fractions=(10, 100), seeds=(0, 1)))]
    assert [len(group) for group in group_runs(planned, "run")] == [1] * 8
    grouped = group_runs(planned, "features")
    assert sorted(len(group) for group in grouped) == [4, 4]
    assert all(len({r.spec.task for r in group}) == 1 for group in grouped)
    with pytest.raises(Exception, match="group_by"):
        group_runs(planned, "dataset")


def test_node_paths_come_from_the_sweep_file_and_pick_the_node_or_the_default(tmp_path):
    from asgbench.errors import ConfigError
    from asgbench.sweep import sweep_spec_from
    from asgbench.sweep_outbox import NodePaths, paths_for_node

    file = tmp_path / "sweep.yaml"
    file.write_text("models: [random-r18]\ntasks: [rsna-lp]\nnode_paths:\n"
                    "  '*': {data_root: /mnt/cxr}\n  10.0.0.7: {data_root: /scratch/cxr, checkpoints: {asg: /ckpt/a.safetensors}}\n")
    spec = sweep_spec_from(file)
    assert paths_for_node(spec.node_paths, "10.0.0.7") == NodePaths("/scratch/cxr", None, {"asg": "/ckpt/a.safetensors"})
    assert paths_for_node(spec.node_paths, "10.0.0.8").data_root == "/mnt/cxr"
    assert paths_for_node({}, "10.0.0.8") == NodePaths()
    file.write_text("models: [random-r18]\ntasks: [rsna-lp]\nnode_paths: {'*': {data_rot: /mnt/cxr}}\n")
    with pytest.raises(ConfigError, match="node_paths.*data_rot"):
        sweep_spec_from(file)


def test_a_worker_whose_inputs_differ_from_the_drivers_refuses_the_run(tiny_suite, tmp_path):
    """A node's copy of the data giving another run_id than the driver's fails the run, saying why."""
    from dataclasses import asdict

    from asgbench.sweep_outbox import NodePaths, deliver, run_in_outbox

    spec = RunSpec("random-r18", "rsna-lp", fraction=100)
    resolved = resolve(spec, RunContext(data_root=tiny_suite))
    item = {"run_id": resolved.run_id.replace(resolved.run_id[-12:], "0" * 12),   # what another copy would hash to
            "spec": {**asdict(resolved.spec), "overrides": []}}
    payload = run_in_outbox(item, {"data_root": str(tiny_suite), "out": str(tmp_path / "ignored")}, NodePaths(),
                            tmp_path / "outbox", "10.0.0.7/abcd")
    assert not payload.ok and "not the driver's" in payload.failure["error"] and payload.failure["node"] == "10.0.0.7/abcd"
    deliver(payload, tmp_path / "out")
    assert json.loads((tmp_path / "out" / ".failed" / f"{item['run_id']}.json").read_text())["error"] == payload.failure["error"]
    assert not list((tmp_path / "out").glob("*.json"))
