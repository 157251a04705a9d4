"""Real lung outlines, taken from the 517 V7 Labs lung masks that the torchxrayvision wheel bundles.

Each usable mask (two lung components side by side) becomes a pair of outlines normalised to each lung's
bounding box. The renderer places a randomly chosen pair into the patient's sampled thorax, so lung shapes
are as varied as real ones. The extracted outlines are cached as a small .npz; without torchxrayvision the
renderer falls back to its parametric outline.
"""
from __future__ import annotations

import io
import os
import zipfile
from functools import lru_cache

import numpy as np

from asgbench.config import cache_dir

SHAPES_VERSION = 1
ROWS = 40  # outline samples per lung side


def _outline(component: np.ndarray) -> np.ndarray | None:
    """Normalised closed outline: left edge top->bottom, then right edge bottom->top (x, y in [0, 1])."""
    rows = np.flatnonzero(component.any(axis=1))
    cols = np.flatnonzero(component.any(axis=0))
    if len(rows) < 20 or len(cols) < 10:
        return None
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    ys = np.linspace(top, bottom, ROWS).round().astype(int)
    lefts, rights = [], []
    for y in ys:
        xs = np.flatnonzero(component[y])
        if xs.size == 0:
            return None
        lefts.append(xs[0])
        rights.append(xs[-1])
    height, width = max(1, bottom - top), max(1, right - left)
    norm_y = (ys - top) / height
    left_edge = np.column_stack([(np.array(lefts) - left) / width, norm_y])
    right_edge = np.column_stack([(np.array(rights) - left) / width, norm_y])[::-1]
    return np.concatenate([left_edge, right_edge]).astype(np.float32)


def extract_shapes(archive_path: str) -> np.ndarray:
    """(n, 2, 2*ROWS, 2) outlines: index 0 = patient's right lung (image left), 1 = left lung."""
    from PIL import Image
    from scipy import ndimage

    shapes = []
    with zipfile.ZipFile(archive_path) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith("/"):
                continue
            with Image.open(io.BytesIO(archive.read(name))) as image:
                image.draft("L", (400, 400))
                mask = np.asarray(image.convert("L").resize((256, 256))) > 127
            labels, count = ndimage.label(mask)
            if count < 2:
                continue
            sizes = ndimage.sum(np.ones_like(labels), labels, range(1, count + 1))
            biggest = np.argsort(sizes)[::-1][:2] + 1
            if sizes[biggest[1] - 1] < 0.35 * sizes[biggest[0] - 1]:
                continue
            centers = [ndimage.center_of_mass(labels == k)[1] for k in biggest]
            image_left, image_right = (biggest if centers[0] < centers[1] else biggest[::-1])
            outlines = [_outline(labels == image_left), _outline(labels == image_right)]
            if any(o is None for o in outlines):
                continue
            shapes.append(np.stack(outlines))
    return np.stack(shapes) if shapes else np.zeros((0, 2, 2 * ROWS, 2), np.float32)


@lru_cache(maxsize=1)
def lung_shapes() -> np.ndarray:
    """The outline library (cached on disk); empty when torchxrayvision is not installed."""
    from asgbench.data import public_metadata as pm
    from asgbench.errors import MissingDependencyError

    try:
        archive = pm.path_of(pm.LUNG_MASKS)
    except MissingDependencyError:
        return np.zeros((0, 2, 2 * ROWS, 2), np.float32)
    stat = archive.stat()
    target = cache_dir() / f"lung_shapes-v{SHAPES_VERSION}-{stat.st_size}.npy"
    if target.is_file():
        return np.load(target)
    shapes = extract_shapes(str(archive))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, shapes)
    os.replace(tmp, target)
    return shapes
