"""The dataset registry: one reader module per real dataset layout, imported only when used."""
from __future__ import annotations

from pathlib import Path

from asgbench.data.index import DatasetIndex, DatasetReader
from asgbench.registry import Registry

DATASETS: Registry[DatasetReader] = Registry("dataset")
DATASETS.register("mimic", "asgbench.data.datasets.mimic:READER")
DATASETS.register("chexpert", "asgbench.data.datasets.chexpert:READER")
DATASETS.register("rsna", "asgbench.data.datasets.rsna:READER")
DATASETS.register("covidx", "asgbench.data.datasets.covidx:READER")
DATASETS.register("nih", "asgbench.data.datasets.nih:READER", aliases=("chestx-ray14", "chestxray14"))
DATASETS.register("siim", "asgbench.data.datasets.siim:READER")


def get_reader(name: str) -> DatasetReader:
    return DATASETS.get(name)


def read_index(name: str, root: str | Path) -> DatasetIndex:
    """Read dataset ``name`` from its real layout under ``root``."""
    return get_reader(name).read_index(Path(root))
