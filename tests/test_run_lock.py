"""One run per spec at a time: the lock names its holder, waits for it, and a killed holder's lock is free."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from asgbench.errors import ConfigError
from asgbench.run_lock import lock_path, read_holder, run_lock

HOLD = textwrap.dedent("""
    import sys, time
    from asgbench.run_lock import run_lock
    with run_lock(sys.argv[1], "rsna-lp.demo"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold(out, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(out), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_lock_names_its_holder(tmp_path):
    holder = hold(tmp_path, 60)
    try:
        with pytest.raises(ConfigError, match=rf"run rsna-lp.demo is being computed by process {holder.pid} on "):
            with run_lock(tmp_path, "rsna-lp.demo", wait=False):
                pass
        with run_lock(tmp_path, "another-run", wait=False) as stale:   # other runs are not blocked
            assert stale is None
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_a_free_lock_that_says_who_died(tmp_path):
    holder = hold(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert read_holder(lock_path(tmp_path, "rsna-lp.demo")).pid == holder.pid
    with run_lock(tmp_path, "rsna-lp.demo", wait=False) as stale:
        assert stale is not None and stale.pid == holder.pid
        assert read_holder(lock_path(tmp_path, "rsna-lp.demo")).pid == os.getpid()


def test_a_second_invocation_waits_for_the_first(tmp_path):
    holder = hold(tmp_path, 1.5)
    told = []
    started = time.monotonic()
    with run_lock(tmp_path, "rsna-lp.demo", poll_s=0.1, waiting=told.append):
        waited = time.monotonic() - started
    holder.wait()
    assert len(told) == 1 and told[0].pid == holder.pid
    assert 0.5 < waited < 30


def test_an_unwritable_out_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create the run's lock file"):
        with run_lock(tmp_path / "file", "x"):
            pass


def test_two_identical_runs_compute_once(tiny_suite, tmp_path):
    """The second command waits for the first, then finds its result: one computation, one result file."""
    out = tmp_path / "results"
    command = [sys.executable, "-m", "asgbench.cli", "run", "--model", "random-r18", "--task", "covidx-lp",
               "--data-root", str(tiny_suite), "--out", str(out), "--quiet", "--set", "max_epochs=2"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list((out / ".locks").glob("*.lock")) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    (out1, err1), (out2, err2) = first.communicate(timeout=600), second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err1[-2000:], err2[-2000:])
    assert "already done" not in out1 and "already done, nothing to do" in out2, (out1, out2)
    assert f"is being computed by process {first.pid} on " in err2
    results = list(out.glob("*.json"))
    assert len(results) == 1 and not (out / ".partial").exists()
    data = json.loads(results[0].read_text())["data"]
    assert data["lists_built_from"] == "synthetic suite" and len(data["synthetic_suite_sha256"]) == 64
