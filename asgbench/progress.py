"""Progress callbacks: library code reports (phase, done, total); only the CLI decides how to show it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Progress = Callable[[str, int, int], None]


def running_total(progress: Progress | None, phase: str, total: int = 0) -> Callable[[int], None] | None:
    """A callback taking per-batch increments that reports the running total under ``phase``."""
    if progress is None:
        return None
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        progress(phase, done, total)

    return step


def _duration(seconds: float) -> str:
    """"42 s", "3 min 05 s", "1 h 02 min": short enough for a progress bar's description."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@dataclass(frozen=True)
class EpochProgress:
    """Where an early-stopped training loop stands, so that its progress says more than a batch count: which
    epoch of how many, the last validation score, the time spent and an upper bound on the time left."""

    epoch: int                        # the epoch now running, from 1
    max_epochs: int
    epochs_left: int                  # at most, after this one: the fewer of max_epochs and early stopping allow
    elapsed_s: float                  # since training began (this attempt)
    epoch_s: float                    # mean seconds per finished epoch of this attempt; 0 before the first ends
    last_score: float | None = None   # the last finished epoch's val score in [0, 1]; None before the first
    score_name: str = "val Dice"

    def eta_s(self, batch_fraction: float = 0.0) -> float | None:
        """Seconds left at most (this epoch's rest and every epoch that may follow); None before one epoch ended."""
        if self.epoch_s <= 0:
            return None
        return self.epoch_s * (max(0.0, 1.0 - batch_fraction) + self.epochs_left)

    def phase(self) -> str:
        """The progress phase: "epoch 2/4 · last val Dice 54.2 % · 12 s elapsed · ETA ≤ 36 s (2 epochs left at most) · batch"
        (a progress display adds the batch count); it changes once per epoch, so a bar per phase lasts an epoch."""
        score = "–" if self.last_score is None else f"{100 * self.last_score:.1f} %"
        eta = self.eta_s()
        left = f"{self.epochs_left} epoch{'s' if self.epochs_left != 1 else ''} left at most"
        eta_text = "ETA after the first epoch" if eta is None else f"ETA ≤ {_duration(eta)} ({left})"
        return (f"epoch {self.epoch}/{self.max_epochs} · last {self.score_name} {score} · "
                f"{_duration(self.elapsed_s)} elapsed · {eta_text} · batch")


def epoch_line(state: EpochProgress, batch: int, batches: int) -> str:
    """One self-contained line (for logs without a progress bar): the phase with the batch count filled in."""
    return f"{state.phase()} {batch}/{batches}"
