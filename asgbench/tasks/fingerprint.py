"""A fingerprint of an encoder's features on the test images, for the regression gate.

A probe retrained on changed features can score as well as before (a random network with noise added to its
weights is still a random network), so a gate that looks only at the metric misses a loader that perturbs
weights or a preprocessing bug. The fingerprint catches those: the features' mean, spread and their mean
projections onto eight fixed random directions. Floating-point differences between machines move it by
about 1e-7 relative; any change of weights or pixels that matters moves it by orders of magnitude more.
"""
from __future__ import annotations

import numpy as np

DIRECTIONS = 8
TOLERANCE = 1e-3          # relative change above which two fingerprints are of different features


def feature_fingerprint(features: np.ndarray) -> dict:
    """``{"images", "dim", "values"}``: values = [mean, std, mean projection on each fixed direction]."""
    x = np.asarray(features, dtype=np.float64)
    n, dim = x.shape
    directions = np.random.default_rng(0).standard_normal((dim, DIRECTIONS)) / np.sqrt(dim)
    projections = (x @ directions).mean(0) if n else np.zeros(DIRECTIONS)
    values = [float(x.mean()) if n else 0.0, float(x.std()) if n else 0.0, *map(float, projections)]
    return {"images": int(n), "dim": int(dim), "values": values}


def fingerprint_change(reference: dict, new: dict) -> float:
    """The relative change from ``reference`` to ``new`` (inf when they are of different shapes)."""
    if (reference.get("images"), reference.get("dim")) != (new.get("images"), new.get("dim")):
        return float("inf")
    a, b = np.asarray(reference["values"], dtype=np.float64), np.asarray(new["values"], dtype=np.float64)
    return float(np.linalg.norm(b - a) / max(np.linalg.norm(a), 1e-12))
