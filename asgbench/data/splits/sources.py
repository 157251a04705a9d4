"""The dataset index a split protocol is built from: the bundled public metadata, or a user's download.

The public files are presented to the normal readers through a scratch folder of links named as the
real release names them, so exactly one parser exists per layout.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from asgbench.data import public_metadata as pm
from asgbench.data.datasets import read_index
from asgbench.data.index import DatasetIndex, SourceFile
from asgbench.errors import ConfigError

# dataset -> (bundled file, name inside a real root, folders the reader expects)
PUBLIC_LAYOUT = {
    "nih": ((pm.NIH_DATA_ENTRY, "Data_Entry_2017_v2020.csv.gz"), (pm.NIH_BBOX, "BBox_List_2017.csv.gz"), ()),
    "chexpert": ((pm.CHEXPERT_TRAIN, "train.csv.gz"), None, ()),
    "rsna": ((pm.RSNA_LABELS, "stage_2_train_labels.csv.zip"), None, ("stage_2_train_images",)),
    "siim": ((pm.SIIM_RLE, "train-rle.csv.gz"), None, ("dicom-images-train",)),
}


@dataclass
class SourceIndex:
    """An index plus where it came from: ``public`` (bundled metadata), ``download`` or ``synthetic``."""

    index: DatasetIndex
    origin: str
    sources: dict[str, str]  # file name -> sha256


def has_public_metadata(dataset: str) -> bool:
    return dataset in PUBLIC_LAYOUT


def public_index(dataset: str) -> SourceIndex:
    """Read the bundled public metadata of ``dataset`` with its real reader."""
    if dataset not in PUBLIC_LAYOUT:
        raise ConfigError(
            f"no public metadata for {dataset!r} is bundled (available for {', '.join(PUBLIC_LAYOUT)}); "
            "build its splits from your download with --root"
        )
    main, extra, folders = PUBLIC_LAYOUT[dataset]
    with tempfile.TemporaryDirectory(prefix="asgbench-public-") as scratch:
        root = Path(scratch)
        files = [main] + ([extra] if extra else [])
        for public_file, name in files:
            (root / name).symlink_to(pm.path_of(public_file))
        for folder in folders:
            (root / folder).mkdir()
        index = read_index(dataset, root)
        index.root = Path(f"<{pm.PACKAGE} {dataset} metadata>")
    sources = {main[0].name: SourceFile(main[0].name, pm.path_of(main[0])).sha256()}
    return SourceIndex(index, "public", sources)


def download_index(dataset: str, root: str | Path) -> SourceIndex:
    """Read a download under ``root``; its origin is "download" (a caller that knows better overrides it)."""
    index = read_index(dataset, root)
    return SourceIndex(index, "download", {s.relative_path: s.sha256() for s in index.sources})

