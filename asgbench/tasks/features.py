"""The content-addressed feature cache: one forward pass per (weights, preprocessing, images), reused by every run.

The key hashes what the features depend on — the backbone's weights (their bytes, not a name), the transform
(geometry, filter, sizes, store, mean/std: :func:`transform_key`), the image store's content key, the image id
lists, the feature definition version and the package version — so a cache built with other weights or another
transform can never be served by mistake.
Entries are written into a temporary folder and renamed into place, so an interrupted extraction leaves
nothing that looks complete.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from asgbench import __version__
from asgbench.data.store import ImageStore
from asgbench.encoders.config import InputSpec
from asgbench.encoders.model import Encoder
from asgbench.errors import DataLayoutError

FEATURE_VERSION = 1
FEATURES_FILE = "features.npy"
MANIFEST_FILE = "manifest.json"


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 of a module's state (names, shapes, dtypes and bytes), stable across processes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(value.shape)}|{value.dtype}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class FeatureKey:
    weights: str
    architecture: str
    input: dict
    store: str
    ids_sha256: str
    feature_version: int = FEATURE_VERSION
    package_version: str = __version__

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def transform_key(spec: InputSpec) -> dict:
    """What of a transform decides the pixels: its description without its name and prose summary (the same
    pixels under another name are the same features)."""
    return {k: v for k, v in spec.describe().items() if k not in ("name", "summary")}


def ids_sha256(image_ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(image_ids).encode()).hexdigest()


@dataclass(frozen=True)
class CachedFeatures:
    """Features of a list of images; ``take(ids)`` gathers rows in any order."""

    key: str
    directory: Path
    image_ids: list[str]
    features: np.ndarray
    hit: bool
    seconds: float

    def take(self, image_ids: Sequence[str]) -> np.ndarray:
        position = {image_id: i for i, image_id in enumerate(self.image_ids)}
        try:
            return self.features[[position[i] for i in image_ids]]
        except KeyError as exc:
            raise DataLayoutError(f"{self.directory}: image {exc.args[0]!r} is not in this feature cache entry") from None


def extract(encoder: Encoder, store: ImageStore, image_ids: Sequence[str], *, device: str = "cpu", batch_size: int = 64,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Global features of ``image_ids`` from the frozen encoder (eval mode, no grad; AMP and channels-last on CUDA)."""
    encoder = encoder.to(device).eval()
    cuda = device.startswith("cuda")
    if cuda:
        encoder = encoder.to(memory_format=torch.channels_last)
    out = np.empty((len(image_ids), encoder.feature_dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(image_ids), batch_size):
            ids = image_ids[start : start + batch_size]
            batch = torch.from_numpy(store.batch(ids)).to(device)
            x = encoder.preprocess(batch, store.content_boxes(ids))
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                feature = encoder(x)
            out[start : start + len(batch)] = feature.float().cpu().numpy()
            if progress:
                progress(len(batch))
    return out


def cached_features(encoder: Encoder, store: ImageStore, image_ids: Sequence[str], cache_root: Path, *,
                    device: str = "cpu", rebuild: bool = False, progress: Callable[[int], None] | None = None,
                    clock: Callable[[], float] | None = None) -> CachedFeatures:
    """The cache entry for these images under this encoder, extracting it first if needed."""
    import time

    clock = clock or time.perf_counter
    started = clock()
    image_ids = list(image_ids)
    key = FeatureKey(weights_digest(encoder.backbone), encoder.config.architecture, transform_key(encoder.config.input),
                     store.key, ids_sha256(image_ids))
    digest = key.digest()
    final = Path(cache_root) / "features" / digest[:32]
    if rebuild:
        shutil.rmtree(final, ignore_errors=True)
    if (final / MANIFEST_FILE).is_file():
        features = np.load(final / FEATURES_FILE, mmap_mode="r")
        return CachedFeatures(digest, final, image_ids, features, True, clock() - started)
    features = extract(encoder, store, image_ids, device=device, progress=progress)
    partial = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.save(partial / FEATURES_FILE, features)
    manifest = {"key": asdict(key), "digest": digest, "model": encoder.config.name, "count": len(image_ids),
                "dim": int(features.shape[1]), "ids": image_ids}
    (partial / MANIFEST_FILE).write_text(json.dumps(manifest))
    try:
        os.replace(partial, final)
    except OSError:  # another process finished the same entry first: theirs is identical
        shutil.rmtree(partial, ignore_errors=True)
    return CachedFeatures(digest, final, image_ids, features, False, clock() - started)
