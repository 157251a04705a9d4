"""What a run is asked to do (RunSpec) and where and how (RunContext): light, so that inputs are checked before
torch is imported (``asgbench.preflight``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL

DEFAULT_OUT = Path("results") / "runs"


@dataclass(frozen=True)
class RunSpec:
    """What to evaluate; everything here goes into the run_id."""

    model: str
    task: str
    fraction: int = 100
    draw: int = 0
    seed: int = 0
    split_protocol: str = DEFAULT_SPLIT_PROTOCOL   # which images are in which list (asgbench.data.splits)
    checkpoint: str | None = None
    eval_protocol: str | None = None               # how the encoder is evaluated; None: the task kind's default
    overrides: tuple[str, ...] = field(default_factory=tuple)
    transform: str = "native"                      # the model's own preprocessing, or "standard" (shared by all)


@dataclass(frozen=True)
class RunContext:
    """Where and how to run; none of it changes the numbers, so none of it is in the run_id."""

    data_root: Path | None = None
    out: Path = DEFAULT_OUT
    cache_dir: Path | None = None
    device: str = "cpu"
    force: bool = False
    trust_checkpoint: bool = False
    rebuild_cache: bool = False
