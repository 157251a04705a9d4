"""An entry's evaluation transform on store images: which pixels the model sees and how they are resampled.

Images and masks go through the same plan (source region, resize, centre crop), so a segmentation target
follows its image. Where the authors resize PIL images (``antialias``), the resize is PIL's own on
the uint8 image, as torchvision's Resize does to a PIL image: torch's antialiased bicubic differs from
PIL's by up to 18 grey levels, so only PIL reproduces those pipelines. Otherwise the float tensor is
interpolated without antialiasing, on the device it is on.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from asgbench.encoders.config import InputSpec

PIL_FILTERS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
               "bicubic": Image.Resampling.BICUBIC}
Box = tuple[int, int, int, int]   # top, left, height, width


def full_frames(count: int, side: int) -> np.ndarray:
    """Content boxes of images that fill their square frame (what a caller without a store index has)."""
    return np.tile(np.array([0, 0, side, side], dtype=np.int64), (count, 1))


def plan(spec: InputSpec, side: int, box: Box) -> tuple[Box, tuple[int, int], Box]:
    """For one image of a ``side`` x ``side`` frame with content ``box``: the region read, the shape it is
    resized to, and the crop of the resized image that is the model input."""
    if spec.geometry == "letterbox":
        crop = round(side * 224 / 256) if spec.crop else side
        top = (side - crop) // 2
        return (top, top, crop, crop), (spec.size, spec.size), (0, 0, spec.size, spec.size)
    height, width = int(box[2]), int(box[3])
    if spec.geometry == "stretch":
        return box, (spec.size, spec.size), (0, 0, spec.size, spec.size)
    # torchvision's Resize(int): the shorter side to resize_to, the longer truncated; then CenterCrop's rounding
    short = spec.resize_to
    shape = (short, int(short * width / height)) if height <= width else (int(short * height / width), short)
    return box, shape, (int(round((shape[0] - spec.size) / 2.0)), int(round((shape[1] - spec.size) / 2.0)), spec.size, spec.size)


def _frames(x: torch.Tensor, boxes: np.ndarray | None) -> tuple[torch.Tensor, np.ndarray]:
    x = x if x.dim() == 4 else x[:, None]
    if x.shape[1] != 1 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"expected square one-channel store images (B x 1 x S x S), got {tuple(x.shape)}")
    boxes = full_frames(len(x), x.shape[-1]) if boxes is None else np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    if len(boxes) != len(x):
        raise ValueError(f"{len(boxes)} content boxes for {len(x)} images")
    return x, boxes


def _cut(x: torch.Tensor, box: Box) -> torch.Tensor:
    top, left, height, width = (int(v) for v in box)
    return x[..., top : top + height, left : left + width]


def _pil_resize(x: torch.Tensor, shape: tuple[int, int], name: str) -> torch.Tensor:
    """N x 1 x h x w uint8 (CPU) -> N x 1 x shape, each image resized by PIL."""
    if tuple(x.shape[-2:]) == shape:
        return x
    return torch.stack([torch.from_numpy(np.asarray(Image.fromarray(np.ascontiguousarray(image[0].numpy()), "L")
                                                     .resize(shape[::-1], PIL_FILTERS[name])).copy())[None] for image in x])


def _torch_resize(x: torch.Tensor, shape: tuple[int, int], name: str) -> torch.Tensor:
    """N x 1 x h x w float -> N x 1 x shape, interpolated without antialiasing."""
    if tuple(x.shape[-2:]) == shape:
        return x
    mode = "nearest-exact" if name == "nearest" else name
    extra = {} if mode == "nearest-exact" else {"align_corners": False, "antialias": False}
    return F.interpolate(x, size=shape, mode=mode, **extra)


def _apply(x: torch.Tensor, spec: InputSpec, boxes: np.ndarray, resize) -> torch.Tensor:
    side = x.shape[-1]
    if spec.geometry == "letterbox":   # one plan for the whole batch
        region, shape, crop = plan(spec, side, (0, 0, side, side))
        return _cut(resize(_cut(x, region), shape), crop)
    plans = [plan(spec, side, tuple(box)) for box in boxes]
    return torch.cat([_cut(resize(_cut(x[i : i + 1], region), shape), crop) for i, (region, shape, crop) in enumerate(plans)])


def transform_images(images: torch.Tensor, spec: InputSpec, boxes: np.ndarray | None = None) -> torch.Tensor:
    """uint8 store images (B x [1 x] S x S) -> float B x 1 x size x size in [0, 1], before normalisation.

    ``boxes`` (B x 4: top, left, height, width) locate each original in its letterbox; the stretch and
    shorter-side geometries read only that content. None: the content fills the frame.
    """
    x, boxes = _frames(images, boxes)
    if spec.antialias:
        if x.dtype != torch.uint8:
            raise ValueError(f"PIL-resized transforms take the store's uint8 images, not {x.dtype}")
        out = _apply(x.cpu(), spec, boxes, lambda region, shape: _pil_resize(region, shape, spec.filter))
        return out.to(device=x.device, dtype=torch.float32) / 255.0
    x = x.to(torch.float32) / 255.0
    return _apply(x, spec, boxes, lambda region, shape: _torch_resize(region, shape, spec.filter))


def transform_masks(masks: torch.Tensor, spec: InputSpec, boxes: np.ndarray | None = None) -> torch.Tensor:
    """Binary masks in the store frame -> float B x 1 x size x size aligned with :func:`transform_images`: the
    same regions and crops, nearest-neighbour resizes by the same engine (PIL's NEAREST where the images are
    PIL-resized, torch's pixel-centre ``nearest-exact`` otherwise)."""
    x, boxes = _frames(masks, boxes)
    if spec.antialias:
        binary = (x.cpu() > 0.5).to(torch.uint8)
        out = _apply(binary, spec, boxes, lambda region, shape: _pil_resize(region, shape, "nearest"))
        return out.to(device=x.device, dtype=torch.float32)
    return _apply(x.to(torch.float32), spec, boxes, lambda region, shape: _torch_resize(region, shape, "nearest"))
