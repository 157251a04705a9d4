"""Pre-train the demo's variants (the claims' models with every seed), several at once, each in its own
`asgbench pretrain train` process.

A process per variant keeps one variant's failure or interruption from touching the others, and on a few
cores two single-threaded trainings get more done than one training on two threads. Each training has one
thread whatever the core count: the thread count changes how sums are split, hence the weights
(benchmarks/bench_pretrain_reproducibility.py), and a bigger machine should not pre-train other models. A
variant that finished is reused; one that was interrupted resumes from its last epoch.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from asgbench.config import CACHE_ENV
from asgbench.demo.plan import AblationModel, DemoPlan, Pretraining
from asgbench.errors import AsgbenchError

FINISHED = "finished.json"
LOG = "train.log"


@dataclass(frozen=True)
class Trained:
    run: Pretraining
    checkpoint: Path
    seconds: float
    reused: bool

    @property
    def model(self) -> AblationModel:
        return self.run.model


def checkpoint_of(models: Path, run: Pretraining) -> Path:
    return models / run.folder / f"{run.model.tag}.safetensors"


def _epochs(plan: DemoPlan, model: AblationModel) -> list[str]:
    """No training step for the untrained export; the plan's epochs where it sets them, else the config's."""
    if not model.trained:
        return ["optim.max_epochs=0"]
    return [] if plan.epochs is None else [f"optim.max_epochs={plan.epochs}"]


def _command(run: Pretraining, plan: DemoPlan, annotations: Path, out: Path, resume: bool) -> list[str]:
    model = run.model
    overrides = [f"annotations={annotations}", f"out={out}", f"name={model.tag}", f"seed={run.seed}",
                 f"loss.objectives={','.join(model.objectives)}", f"loss.arsa_alignment={model.alignment}",
                 *_epochs(plan, model), *plan.pretrain_overrides]
    return [sys.executable, "-m", "asgbench", "pretrain", "train", "--config", plan.pretrain_config,
            "--quiet", *(["--resume"] if resume else []), *overrides]


TRAINING_THREADS = 1


def _train_one(run: Pretraining, plan: DemoPlan, annotations: Path, models: Path, cache: Path) -> Trained:
    out = models / run.folder
    checkpoint = checkpoint_of(models, run)
    finished = out / FINISHED
    if finished.is_file() and checkpoint.is_file():
        return Trained(run, checkpoint, json.loads(finished.read_text())["seconds"], True)
    out.mkdir(parents=True, exist_ok=True)
    threads = str(TRAINING_THREADS)
    environment = {**os.environ, CACHE_ENV: str(cache), "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    started = time.perf_counter()
    with open(out / LOG, "a") as log:
        done = subprocess.run(_command(run, plan, annotations, out, (out / "state.pt").is_file()),
                              stdout=log, stderr=subprocess.STDOUT, env=environment)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (out / LOG).read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise AsgbenchError(f"pre-training {run.folder} failed (exit {done.returncode}): {tail[0]} (log: {out / LOG})")
    finished.write_text(json.dumps({"seconds": round(seconds, 1)}) + "\n")
    return Trained(run, checkpoint, seconds, False)


def pretrain_variants(plan: DemoPlan, annotations: Path, models: Path, cache: Path, *, cpus: int,
                      say: Callable[[str], None]) -> list[Trained]:
    """Run every pre-training of ``plan`` (``cpus`` processes at a time, one thread each)."""
    runs = plan.pretrainings()
    parallel = max(1, min(cpus, len(runs)))
    results: list[Trained] = []
    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(_train_one, run, plan, annotations, models, cache) for run in runs]
        for future in futures:
            trained = future.result()
            results.append(trained)
            state = "reused" if trained.reused else f"{trained.seconds:.0f} s"
            model = trained.model
            say(f"      {trained.run.folder:28s} {'+'.join(model.objectives) if model.trained else 'untrained'}"
                f"{' (' + model.alignment + ')' if 'arsa' in model.objectives else ''}: {state}")
    return results
