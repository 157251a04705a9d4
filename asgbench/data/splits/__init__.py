"""Split protocols, the committed split files, and the API protocols of later stages read lists through.

Lists live in three places, searched in this order by :func:`read_manifest` and :func:`load_split`:

1. the data root's own ``<data-root>/splits/<dataset>/<protocol>/``, when it has one: a data root (the
   folder with one sub-folder per dataset, what ``--data-root`` names) may carry its own lists, and when
   it does they are used first (the synthetic suite writes its lists there);
2. the committed lists, shipped inside the package (source: the repository's ``splits/`` folder, built
   from public metadata);
3. ``<cache>/splits/<dataset>/<protocol>/``, built by ``asgbench splits build --root`` for the lists
   that need a user's download (CheXpert's valid.csv, COVIDx, NIH's official lists, ...).
"""
from __future__ import annotations

import importlib

from asgbench.registry import Registry

# Light on purpose: naming a split protocol (a run's pre-flight check) must not import pandas.
SPLIT_PROTOCOLS: Registry = Registry("split protocol")
SPLIT_PROTOCOLS.register("asgbench-v1", "asgbench.data.splits.v1:PROTOCOL", aliases=("v1",))
SPLIT_PROTOCOLS.register("mgca", "asgbench.data.splits.mgca:PROTOCOL")
DEFAULT_SPLIT_PROTOCOL = "asgbench-v1"


def __getattr__(name: str):
    """Everything else (``read_manifest``, ``load_split``, ...) comes from ``files`` when first asked for."""
    if name.startswith("__"):
        raise AttributeError(name)
    module = importlib.import_module("asgbench.data.splits.files")
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module 'asgbench.data.splits' has no attribute {name!r}") from None
