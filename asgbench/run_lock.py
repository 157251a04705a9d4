"""One run per spec at a time: an exclusive lock per run_id in the results folder.

Two identical ``asgbench run`` commands on the same ``--out`` would both compute the whole run and race to
write it. The lock is ``flock`` on ``<out>/.locks/<run_id>.lock``: the kernel releases it when its process
ends, however it ends, so a lock left by a killed process is recognised as stale by simply being free. The
file also says who holds it (pid, host, since when), so the second command can say whom it waits for.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from asgbench.errors import ConfigError

LOCK_FOLDER = ".locks"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run's lock, as its lock file says."""

    pid: int
    host: str
    since: str

    def describe(self) -> str:
        return f"process {self.pid} on {self.host} since {self.since}"


def lock_path(out: Path, run_id: str) -> Path:
    return Path(out) / LOCK_FOLDER / f"{run_id}.lock"


def read_holder(path: Path) -> LockHolder | None:
    try:
        data = json.loads(Path(path).read_text())
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def run_lock(out: Path, run_id: str, *, wait: bool = True, poll_s: float = 1.0,
             waiting: Callable[[LockHolder | None], None] | None = None) -> Iterator[LockHolder | None]:
    """Hold the lock of ``run_id`` for the block; yields the holder of a stale lock found free (or None).

    ``wait=False`` raises a ConfigError naming the holder when another process has it; otherwise the call
    waits (``waiting`` is told once, with the holder), and the caller re-checks whether the run finished
    meanwhile.
    """
    path = lock_path(out, run_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as exc:
        raise ConfigError(f"{path.parent}: cannot create the run's lock file ({exc.strerror}); is --out writable?") from None
    try:
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = read_holder(path)
                if not wait:
                    who = holder.describe() if holder else "another process"
                    raise ConfigError(f"run {run_id} is being computed by {who} (lock {path}); wait for it, "
                                      f"or use another --out") from None
                if waiting and not told:
                    waiting(holder)
                    told = True
                time.sleep(poll_s)
        stale = read_holder(path)   # a holder recorded in a free lock: that process ended without releasing it
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
        handle.flush()
        try:
            yield stale
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
