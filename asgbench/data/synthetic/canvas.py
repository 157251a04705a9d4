"""Drawing primitives for the renderer: soft masks from shapes, and noise fields, on a float canvas."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from asgbench.data.synthetic.anatomy import Anatomy


def _blur_reach(blur: float) -> int:
    """Pixels beyond a shape that PIL's Gaussian blur can touch: it runs three extended box passes, each reaching
    at most ``blur + 2`` pixels, so a crop this much larger than the shape blurs to the bytes the whole canvas
    would (tests/test_synthetic.py compares the two)."""
    return 3 * (math.ceil(2 * blur) + 2)


def _blur_in_place(layer: Image.Image, blur: float) -> None:
    """Blur ``layer`` where it can change: the shape's bounding box plus :func:`_blur_reach`. Most shapes are a
    small part of the canvas, and the blur was most of the renderer's time."""
    box = layer.getbbox()
    if box is None:
        return                                    # all zero: the blur leaves it so
    reach = _blur_reach(blur)
    width, height = layer.size
    crop = (max(0, box[0] - reach), max(0, box[1] - reach), min(width, box[2] + reach), min(height, box[3] + reach))
    layer.paste(layer.crop(crop).filter(ImageFilter.GaussianBlur(blur)), crop[:2])


class Canvas:
    """Float attenuation image plus the anatomy masks that findings respect."""

    def __init__(self, anatomy: Anatomy, rng: np.random.Generator) -> None:
        self.anatomy = anatomy
        self.rng = rng
        self.shape = (anatomy.height, anatomy.width)
        self.density = np.zeros(self.shape, dtype=np.float32)
        self.lungs = {side: self.polygon(anatomy.lung_polygon(side), blur=1.5) for side in ("right", "left")}
        self.marking_suppression = np.zeros(self.shape, dtype=np.float32)
        self.regions = anatomy.region_boxes()

    @property
    def lung_mask(self) -> np.ndarray:
        return np.maximum(self.lungs["right"], self.lungs["left"])

    def _mask(self, draw, blur: float) -> np.ndarray:
        layer = Image.new("L", (self.shape[1], self.shape[0]), 0)
        draw(ImageDraw.Draw(layer))
        if blur > 0:
            _blur_in_place(layer, blur)
        return np.asarray(layer, dtype=np.float32) / 255.0

    def polygon(self, points: np.ndarray, blur: float = 1.0) -> np.ndarray:
        flat = [(float(x), float(y)) for x, y in points]
        return self._mask(lambda d: d.polygon(flat, fill=255), blur)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, blur: float = 1.0) -> np.ndarray:
        return self._mask(lambda d: d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255), blur)

    def lines(self, polylines: list[np.ndarray], width: float, blur: float = 0.8) -> np.ndarray:
        def draw(d: ImageDraw.ImageDraw) -> None:
            for line in polylines:
                d.line([(float(x), float(y)) for x, y in line], fill=255, width=max(1, int(round(width))), joint="curve")

        return self._mask(draw, blur)

    def blobs(self, box: tuple[float, float, float, float], count: int, radius: float, blur: float) -> np.ndarray:
        """An irregular patch of overlapping ellipses centred inside ``box``."""
        x1, y1, x2, y2 = box
        rng = self.rng
        centres = np.column_stack([rng.uniform(x1, x2, count), rng.uniform(y1, y2, count)])
        radii = radius * rng.uniform(0.5, 1.3, (count, 2))

        def draw(d: ImageDraw.ImageDraw) -> None:
            for (cx, cy), (rx, ry) in zip(centres, radii):
                d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)

        return self._mask(draw, blur)

    def smooth_noise(self, cells: int) -> np.ndarray:
        """Zero-mean, unit-variance noise varying over about ``cells`` cells across the image."""
        grid = self.rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        image = Image.fromarray(grid, "F").resize((self.shape[1], self.shape[0]), Image.Resampling.BICUBIC)
        field = np.asarray(image, dtype=np.float32)
        return (field - field.mean()) / (field.std() + 1e-6)

    def fine_noise(self, blur: float = 0.8) -> np.ndarray:
        """High-frequency mottle in [0, 1]: white noise lightly blurred."""
        white = (self.rng.random(self.shape) * 255).astype(np.uint8)
        smoothed = np.asarray(Image.fromarray(white).filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32)
        return np.clip((smoothed - smoothed.mean()) / (smoothed.std() + 1e-6) * 0.25 + 0.5, 0, 1)

    def inside_lungs(self, mask: np.ndarray, dilate: int = 0) -> np.ndarray:
        lungs = self.lung_mask
        if dilate > 0:
            image = Image.fromarray((lungs * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(dilate * 2 + 1))
            lungs = np.asarray(image, dtype=np.float32) / 255
        return mask * lungs

    def blend_towards(self, mask: np.ndarray, level: float) -> None:
        self.density += (level - self.density) * mask
