"""Where split lists live, how they are built, written and read (the heavy half of ``asgbench.data.splits``)."""
from __future__ import annotations

import gzip
import io
import os
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import pandas as pd

from asgbench.config import cache_dir
from asgbench.data.index import DatasetIndex
from asgbench.data.splits.lists import (
    MANIFEST, ListInfo, SplitManifest, list_sha256, read_list, write_list, write_manifest,
)
from asgbench.data.splits.protocol import SplitProtocol, SplitSet, list_name
from asgbench.data.splits.sources import SourceIndex, download_index, has_public_metadata, public_index
from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL, SPLIT_PROTOCOLS
from asgbench.errors import ConfigError, DataLayoutError

LABELS_FILE = "labels.csv.gz"
LOCAL_DIR = "splits"  # <data-root>/splits/<dataset>/<protocol>/: lists a data root carries
ORIGINS = {"public": "public metadata", "download": "download", "synthetic": "synthetic suite"}

__all__ = [
    "SPLIT_PROTOCOLS", "DEFAULT_SPLIT_PROTOCOL", "SplitSelection", "build_splits", "load_split", "select_rows", "list_name",
    "committed_root", "user_root", "local_root", "split_folders", "read_manifest",
]


def committed_root() -> Path:
    """The committed lists, read from the installed package so a wheel carries them (source: ``splits/``)."""
    return Path(str(files("asgbench.committed_splits")))


def user_root() -> Path:
    """Where lists built without ``--out`` go: the cache, never the installed package."""
    return cache_dir() / "splits"


def local_root(dataset_folder: Path | None) -> Path | None:
    """``<data-root>/splits`` for a dataset folder ``<data-root>/<dataset>`` (the lists a data root may carry)."""
    return None if dataset_folder is None else Path(dataset_folder).parent / LOCAL_DIR


def split_folders(dataset: str, protocol: str, data_root: Path | None = None) -> list[Path]:
    """Folders that may hold lists for (dataset, protocol), most authoritative first.

    ``data_root`` is the dataset's folder as callers get it from :func:`asgbench.config.dataset_root`
    (``<data-root>/<dataset>``); lists its data root carries come before the committed ones and the cache.
    """
    protocol = SPLIT_PROTOCOLS.canonical(protocol)
    shared = [committed_root() / dataset / protocol, user_root() / dataset / protocol]
    local = local_root(data_root)
    return shared if local is None else [local / dataset / protocol, *shared]


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    manifest: SplitManifest


def _labels_snapshot(frame: pd.DataFrame, labels: tuple[str, ...]) -> bytes:
    """``labels.csv.gz``: every image the protocol considered, with its patient and labels (1/0/-1/blank)."""
    table = frame[["image_id", "patient_id", *labels]].sort_values("image_id")
    out = table[["image_id", "patient_id"]].astype(str).copy()
    for label in labels:
        out[label] = table[label].map(lambda v: "" if pd.isna(v) else str(int(v)))
    text = out.to_csv(index=False, lineterminator="\n").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as handle:
        handle.write(text)
    return buffer.getvalue()


def build_splits(dataset: str, protocol_name: str, root: str | Path | None = None, out: str | Path | None = None,
                 *, origin: str | None = None) -> BuildResult:
    """Build the lists of ``protocol_name`` for ``dataset`` from public metadata (no root) or a download.

    Without ``out`` the lists go to the cache (:func:`user_root`), never into the installed package. A
    developer regenerates the committed lists explicitly with
    ``asgbench splits build --dataset D --split-protocol P --out splits/D/P``. ``origin`` says what a root is
    ("download" unless told; the synthetic suite passes "synthetic" and its own ``out``).
    """
    protocol = SPLIT_PROTOCOLS.get(protocol_name)
    if dataset not in protocol.datasets():
        raise ConfigError(f"protocol {protocol.name} has no rule for {dataset!r} (it covers {', '.join(protocol.datasets())})")
    if root is None and not has_public_metadata(dataset):
        raise ConfigError(f"{dataset} has no public metadata bundled; build its splits from a download with --root DIR")
    if origin is not None and origin not in ORIGINS:
        raise ConfigError(f"unknown split origin {origin!r}; expected one of {', '.join(ORIGINS)}")
    source = public_index(dataset) if root is None else download_index(dataset, root)
    if origin is not None:
        source.origin = origin
    split_set = protocol.build(dataset, source)
    folder = Path(out) if out is not None else user_root() / dataset / protocol.name
    manifest = write_split_set(folder, dataset, protocol, source, split_set)
    return BuildResult(folder, manifest)


def write_split_set(folder: Path, dataset: str, protocol: SplitProtocol, source: SourceIndex, split_set: SplitSet) -> SplitManifest:
    frame = source.index.frame
    considered = frame[frame["frontal"]] if "frontal" in frame else frame
    patients = dict(zip(frame["image_id"], frame["patient_id"]))
    indexed = frame.set_index("image_id")
    partial = folder.parent / f".{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    infos: dict[str, ListInfo] = {}
    for name, ids in split_set.lists.items():
        ordered = sorted(ids)
        file_name = write_list(partial, name, ordered)
        rows = indexed.loc[ordered, list(split_set.labels)] if ordered else indexed.iloc[0:0][list(split_set.labels)]
        infos[name] = ListInfo(
            file=file_name, images=len(ordered), patients=len({patients[i] for i in ordered}),
            positives={label: int((rows[label] == 1).sum()) for label in split_set.labels},
            sha256=list_sha256(ordered), source="public" if source.origin == "public" else source.origin,
        )
    for name, why in split_set.needs_download.items():
        infos[name] = ListInfo(file=None, images=0, patients=0, positives={}, sha256=None, source=f"download: {why}")
    (partial / LABELS_FILE).write_bytes(_labels_snapshot(considered, split_set.labels))
    built_from = ORIGINS[source.origin]
    manifest = SplitManifest(
        dataset=dataset, protocol=protocol.name, version=protocol.version, built_from=built_from,
        sources=dict(sorted(source.sources.items())), lists=dict(sorted(infos.items())), notes=split_set.notes,
    )
    write_manifest(partial, manifest)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, folder)
    return manifest


def read_manifest(dataset: str, protocol: str, data_root: Path | None = None) -> tuple[Path, SplitManifest]:
    """The first folder with a manifest for (dataset, protocol)."""
    folders = split_folders(dataset, protocol, data_root)
    for folder in folders:
        if (folder / MANIFEST).is_file():
            return folder, SplitManifest.read(folder)
    raise DataLayoutError(
        f"no split lists for {dataset} / {SPLIT_PROTOCOLS.canonical(protocol)} (looked in {', '.join(map(str, folders))}); "
        f"run `asgbench splits build --dataset {dataset} --split-protocol {SPLIT_PROTOCOLS.canonical(protocol)}"
        + ("`" if has_public_metadata(dataset) else " --root DIR`")
    )


@dataclass(frozen=True)
class SplitSelection:
    """The ids of one list and what a result must record about it."""

    dataset: str
    protocol: str
    protocol_version: str
    name: str
    ids: tuple[str, ...]
    sha256: str
    folder: Path


def load_split(dataset: str, protocol: str, split: str, fraction: int = 100, draw: int = 0, prefix: str = "",
               data_root: Path | None = None) -> SplitSelection:
    """The list for (dataset, protocol, split, fraction, draw): ids plus the hash to record in results."""
    protocol_obj = SPLIT_PROTOCOLS.get(protocol)
    if fraction not in (1, 10, 100):
        raise ConfigError(f"fraction must be 1, 10 or 100 (percent of the training list), not {fraction}")
    if protocol_obj.draws == 1 and draw != 0:
        raise ConfigError(f"protocol {protocol_obj.name} has a single draw per fraction; use draw 0")
    if draw >= protocol_obj.draws:
        raise ConfigError(f"protocol {protocol_obj.name} has draws 0..{protocol_obj.draws - 1}, not {draw}")
    name = list_name(split, fraction, draw if protocol_obj.draws > 1 else None, prefix)
    searched = []
    for folder in split_folders(dataset, protocol_obj.name, data_root):
        if not (folder / MANIFEST).is_file():
            searched.append(str(folder))
            continue
        manifest = SplitManifest.read(folder)
        info = manifest.lists.get(name)
        if info is None:
            raise DataLayoutError(f"{folder}: protocol {protocol_obj.name} has no list {name!r} for {dataset} (lists: {', '.join(manifest.lists)})")
        if info.file is None:
            searched.append(f"{folder} ({info.source})")
            continue
        ids = read_list(folder / info.file)
        if list_sha256(ids) != info.sha256:
            raise DataLayoutError(f"{folder / info.file}: contents do not match the sha256 in {MANIFEST}; the list was edited")
        return SplitSelection(dataset, manifest.protocol, manifest.version, name, tuple(ids), info.sha256, folder)
    raise DataLayoutError(
        f"list {name!r} of {dataset} / {protocol_obj.name} is not built yet (searched {'; '.join(searched)}); "
        f"run `asgbench splits build --dataset {dataset} --split-protocol {protocol_obj.name} --root DIR`"
    )


def select_rows(index: DatasetIndex, selection: SplitSelection, *, allow_subset: bool = False) -> pd.DataFrame:
    """The index rows of ``selection`` in list order; ids the download lacks are an error unless allowed."""
    frame = index.frame
    available = frame["path"].notna() & frame["image_id"].isin(set(selection.ids))
    present = frame.loc[available].set_index("image_id")
    missing = [i for i in selection.ids if i not in present.index]
    if missing and not allow_subset:
        raise DataLayoutError(
            f"{index.root}: {len(missing)} of the {len(selection.ids)} images of list {selection.name!r} "
            f"({selection.dataset} / {selection.protocol}) are not in this download, e.g. {', '.join(missing[:5])}"
        )
    kept = [i for i in selection.ids if i in present.index]
    return present.loc[kept].reset_index()
