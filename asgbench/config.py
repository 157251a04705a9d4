"""Where asgbench keeps things: caches, data roots, weights; resolved from flags, then the environment.

No absolute path is ever written into the repository: defaults are computed at run time.
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ASGBENCH_CACHE"
DATA_ENV = "ASGBENCH_DATA"
WEIGHTS_ENV = "ASGBENCH_WEIGHTS"


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Feature caches and preprocessed image stores: ``--cache-dir``, ``$ASGBENCH_CACHE`` or ``~/.cache/asgbench``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "asgbench"
