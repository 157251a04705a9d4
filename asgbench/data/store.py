"""The preprocessed image store: every image of a dataset decoded once into a uint8 memmap.

Decoding a 1024x1024 DICOM or a 3000 px JPEG costs far more than a training step on a 256 px image, so
each (dataset files, canonical size) is decoded and letterboxed once, in parallel, into
``images.npy`` (N x size x size uint8) plus ``index.json``. The folder name is a hash of the inputs
(relative paths, file sizes and modification times, size, store version): when a file changes the key
changes and the store is rebuilt; otherwise every later run maps the same file.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from asgbench.config import cache_dir as default_cache_dir
from asgbench.data.images import CANONICAL_SIZE, read_image, Letterbox
from asgbench.data.index import DatasetIndex
from asgbench.errors import ConfigError, DataLayoutError

STORE_VERSION = 1
IMAGES_FILE = "images.npy"
INDEX_FILE = "index.json"


class ImageStore:
    """Read-only view of a built store: ``batch(ids)`` returns canonical uint8 images."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        meta = json.loads((self.directory / INDEX_FILE).read_text())
        self.key: str = meta["key"]
        self.dataset: str = meta["dataset"]
        self.size: int = meta["size"]
        self.image_ids: list[str] = meta["image_ids"]
        self.original_shapes = np.asarray(meta["original_shapes"], dtype=np.int64).reshape(-1, 2)
        self.positions = {image_id: i for i, image_id in enumerate(self.image_ids)}
        self.images = np.load(self.directory / IMAGES_FILE, mmap_mode="r")

    def __len__(self) -> int:
        return len(self.image_ids)

    def position(self, image_id: str) -> int:
        try:
            return self.positions[image_id]
        except KeyError:
            raise DataLayoutError(f"{self.directory}: image {image_id!r} is not in this store") from None

    def get(self, image_id: str) -> np.ndarray:
        return np.asarray(self.images[self.position(image_id)])

    def batch(self, image_ids: Sequence[str]) -> np.ndarray:
        """Images for ``image_ids`` in that order, read with one sorted gather from the memmap."""
        positions = np.fromiter((self.position(i) for i in image_ids), dtype=np.int64, count=len(image_ids))
        order = np.argsort(positions, kind="stable")
        gathered = self.images[positions[order]]
        out = np.empty_like(gathered)
        out[order] = gathered
        return out

    def letterbox_of(self, image_id: str) -> Letterbox:
        height, width = self.original_shapes[self.position(image_id)]
        return Letterbox.fit(int(height), int(width), self.size)

    def content_boxes(self, image_ids: Sequence[str]) -> np.ndarray:
        """Where each original sits in its letterbox (N x 4: top, left, height, width), from the shapes the
        index records: what a transform that stretches or crops the un-padded image reads."""
        boxes = np.empty((len(image_ids), 4), dtype=np.int64)
        for row, image_id in enumerate(image_ids):
            box = self.letterbox_of(image_id)
            boxes[row] = (box.pad_top, box.pad_left, box.new_height, box.new_width)
        return boxes


def store_key(index: DatasetIndex, image_ids: Sequence[str], size: int) -> str:
    """Hash of what the store content depends on; cheap (file stats, not file bytes)."""
    digest = hashlib.sha256(f"asgbench-store-v{STORE_VERSION}|{index.dataset}|{size}".encode())
    paths = dict(zip(index.frame["image_id"], index.frame["path"]))
    for image_id in image_ids:
        relative = paths[image_id]
        stat = os.stat(index.root / relative)
        digest.update(f"|{image_id}|{relative}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _decode_chunk(images_path: str, start: int, paths: list[str], size: int) -> list[tuple[int, int]]:
    images = np.load(images_path, mmap_mode="r+")
    shapes = []
    for offset, path in enumerate(paths):
        pixels = read_image(path)
        images[start + offset] = Letterbox.fit(*pixels.shape, size=size).apply(pixels)
        shapes.append(pixels.shape)
    images.flush()
    return shapes


STORE_SLACK_BYTES = 64 * 2**20    # beside the images: the store's index and whatever else writes there meanwhile


def store_bytes(images: int, size: int = CANONICAL_SIZE) -> int:
    """What a store of ``images`` takes on disk: one byte per pixel of each size x size image."""
    return images * size * size


def _check_room(folder: Path, images: int, size: int, dataset: str) -> None:
    """Refuse before decoding anything when the disk cannot take the store: its image array is a sparse file
    that fills as images are decoded, so a full disk would otherwise stop the build hours in."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    needed, free = store_bytes(images, size) + STORE_SLACK_BYTES, shutil.disk_usage(existing).free
    if free < needed:
        raise ConfigError(f"{folder}: the {dataset} image store ({images:,} images at {size} px) needs "
                          f"{_amount(needed)} and its disk has {_amount(free)} free; free space there or point the "
                          f"cache elsewhere (--cache-dir or $ASGBENCH_CACHE)")


def _amount(size_bytes: int) -> str:
    return f"{size_bytes / 2**30:.1f} GiB" if size_bytes >= 2**30 else f"{size_bytes / 2**20:.0f} MiB"


def build_store(
    index: DatasetIndex,
    image_ids: Sequence[str] | None = None,
    *,
    size: int = CANONICAL_SIZE,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImageStore:
    """Return the store of ``image_ids`` (default: every image of ``index``), building it if needed."""
    frame = index.frame
    ids = list(frame["image_id"] if image_ids is None else image_ids)
    known = dict(zip(frame["image_id"], frame["path"]))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise DataLayoutError(f"{index.root}: {len(unknown)} image id(s) not in the {index.dataset} index, e.g. {unknown[:3]}")
    missing = [i for i in ids if not isinstance(known[i], str) or not (index.root / known[i]).is_file()]
    if missing:
        raise DataLayoutError(
            f"{index.root}: {len(missing)} of {len(ids)} image file(s) are missing, e.g. {missing[:3]}; "
            "run `asgbench data verify` to see what the download lacks"
        )
    key = store_key(index, ids, size)
    final = (Path(cache_dir) if cache_dir else default_cache_dir() / "stores") / f"{index.dataset}-{size}-{key[:20]}"
    if (final / INDEX_FILE).is_file():
        return ImageStore(final)

    _check_room(final.parent, len(ids), size, index.dataset)
    partial = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    images_path = partial / IMAGES_FILE
    np.lib.format.open_memmap(images_path, mode="w+", dtype=np.uint8, shape=(len(ids), size, size)).flush()
    paths = [str(index.root / known[i]) for i in ids]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    chunk = 64
    starts = list(range(0, len(paths), chunk))
    shapes: list[tuple[int, int]] = []
    try:
        if workers <= 1 or len(paths) <= chunk:
            for start in starts:
                shapes.extend(_decode_chunk(str(images_path), start, paths[start : start + chunk], size))
                if progress:
                    progress(len(paths[start : start + chunk]))
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_decode_chunk, str(images_path), s, paths[s : s + chunk], size) for s in starts]
                for future in futures:
                    result = future.result()
                    shapes.extend(result)
                    if progress:
                        progress(len(result))
        meta = {"key": key, "dataset": index.dataset, "size": size, "version": STORE_VERSION,
                "image_ids": ids, "original_shapes": [list(s) for s in shapes]}
        (partial / INDEX_FILE).write_text(json.dumps(meta))
        try:
            os.replace(partial, final)
        except OSError:  # another process finished the same store first
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ImageStore(final)
