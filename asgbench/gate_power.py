"""How large a drop a regression reference can detect: the gate's power, measured on its own test images.

A gate built on a handful of test images passes anything, so each reference entry states the smallest
drop of its metric that the gate catches with 80 % power. The drop is produced the way a broken model
degrades a run — its outputs get noisier: classification scores get Gaussian noise added (``lam`` times
each class's score spread), per-image Dice is shrunk by a random share up to ``lam``. For a noise level the
gate is applied to several independent degradations of the reference outputs; the power is the share it
flags, the drop the mean metric loss. A bisection over the noise level finds the smallest level with 80 %
power, and its mean drop is the detectable drop (infinite when even pure noise is not caught).
"""
from __future__ import annotations

import numpy as np

from asgbench.tasks.paired import ScoredImages, paired_difference, point_value

POWER = 0.8
TRIALS = 10
SAMPLES = 400            # bootstrap resamples per trial (the gate itself uses 1,000)
MAX_NOISE = 30.0
STEPS = 10

_cache: dict[tuple, float] = {}


def degraded(images: ScoredImages, lam: float, seed: int) -> ScoredImages:
    """The reference outputs made worse by noise of strength ``lam`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    scores = images.scores.astype(np.float64)
    if images.is_dice:
        return images.with_scores(scores * (1 - np.minimum(lam, 1.0) * rng.random(scores.shape)))
    spread = scores.std(axis=0, keepdims=True) + 1e-12
    return images.with_scores(scores + lam * spread * rng.standard_normal(scores.shape))


def _power(metric: str, images: ScoredImages, lam: float, margin: float, confidence: float) -> tuple[float, float]:
    """(share of degradations flagged, mean drop) at noise level ``lam``."""
    reference = point_value(metric, images)
    flagged, drops = 0, []
    for trial in range(TRIALS):
        worse = degraded(images, lam, seed=1000 + trial)
        paired = paired_difference(metric, worse, images, samples=SAMPLES, seed=trial)
        flagged += paired.upper_bound(confidence) < -margin
        drops.append(reference - point_value(metric, worse))
    return flagged / TRIALS, float(np.mean(drops))


def detectable_drop(metric: str, images: ScoredImages, margin: float, confidence: float) -> float:
    """The smallest mean drop of ``metric`` that a paired gate with this margin and confidence flags with 80 %
    power on these test images (``inf`` when it cannot)."""
    key = (metric, images.digest(), margin, confidence)
    if key in _cache:
        return _cache[key]
    top = MAX_NOISE if not images.is_dice else 1.0
    power, drop = _power(metric, images, top, margin, confidence)
    if power < POWER:
        _cache[key] = float("inf")
        return float("inf")
    low, high, found = 0.0, top, drop
    for _ in range(STEPS):
        middle = (low + high) / 2
        power, drop = _power(metric, images, middle, margin, confidence)
        if power >= POWER:
            high, found = middle, drop
        else:
            low = middle
    _cache[key] = found
    return found
