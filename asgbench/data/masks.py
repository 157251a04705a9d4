"""Segmentation masks: SIIM relative run-length encoding and RSNA boxes filled into masks.

SIIM's ``train-rle.csv`` uses the Kaggle convention: pairs (start, length) over the 1024x1024 mask flattened
column-major (down each column, then right), where each start is relative to the end of the previous run.
Several rows for one image are separate annotations whose union is the mask.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

SIIM_MASK_SHAPE = (1024, 1024)
EMPTY_RLE = "-1"


def rle_runs(rle: str) -> tuple[np.ndarray, np.ndarray]:
    """The runs of one relative RLE string as (absolute start, length) in the column-major flattening."""
    text = rle.strip()
    if text in ("", EMPTY_RLE):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    values = np.array(text.split(), dtype=np.int64)
    if values.size % 2:
        raise ValueError(f"RLE has an odd number of values ({values.size}); expected start/length pairs")
    starts, lengths = values[0::2], values[1::2]
    if (starts < 0).any() or (lengths < 0).any():
        raise ValueError("RLE has negative starts or lengths")
    previous_ends = np.concatenate([[0], np.cumsum(starts + lengths)[:-1]])
    return previous_ends + starts, lengths


def rle_decode(rle: str, shape: tuple[int, int] = SIIM_MASK_SHAPE) -> np.ndarray:
    """Decode one relative column-major RLE string into a uint8 mask of ``shape`` (height, width)."""
    text = rle.strip()
    mask = np.zeros(shape[0] * shape[1], dtype=np.uint8)
    if text in ("", EMPTY_RLE):
        return mask.reshape(shape, order="F")
    absolute, lengths = rle_runs(text)
    if absolute.size and absolute[-1] + lengths[-1] > mask.size:
        raise ValueError(f"RLE runs past the end of a {shape[0]}x{shape[1]} mask")
    for begin, length in zip(absolute, lengths):
        mask[begin : begin + length] = 1
    return mask.reshape(shape, order="F")


def rle_encode(mask: np.ndarray) -> str:
    """Encode a binary mask as a relative column-major RLE string; an empty mask gives ``-1``."""
    flat = np.ascontiguousarray(np.asarray(mask).T).reshape(-1).astype(bool, copy=False)
    padded = np.zeros(flat.size + 2, dtype=np.int8)
    padded[1:-1] = flat
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    if changes.size == 0:
        return EMPTY_RLE
    run_starts, run_ends = changes[0::2], changes[1::2]
    lengths = run_ends - run_starts
    previous_ends = np.concatenate([[0], run_ends[:-1]])
    pairs = np.empty(lengths.size * 2, dtype=np.int64)
    pairs[0::2], pairs[1::2] = run_starts - previous_ends, lengths
    return " ".join(map(str, pairs.tolist()))


def rle_union(rles: Iterable[str], shape: tuple[int, int] = SIIM_MASK_SHAPE) -> np.ndarray:
    """The union of several annotations of one image (SIIM: one CSV row per annotation)."""
    mask = np.zeros(shape, dtype=np.uint8)
    for rle in rles:
        mask |= rle_decode(rle, shape)
    return mask


def boxes_to_mask(boxes: Iterable[Iterable[float]], shape: tuple[int, int]) -> np.ndarray:
    """Fill (x1, y1, x2, y2) boxes, cast to int as MGCA does, into a uint8 mask of ``shape``."""
    mask = np.zeros(shape, dtype=np.uint8)
    height, width = shape
    for box in boxes:
        x1, y1, x2, y2 = (int(v) for v in box)
        x1, x2 = max(0, min(width, x1)), max(0, min(width, x2))
        y1, y2 = max(0, min(height, y1)), max(0, min(height, y2))
        mask[y1:y2, x1:x2] = 1
    return mask
