"""A simple lateral chest view, so that datasets with lateral images (CheXpert, MIMIC) keep them.

Protocols use frontal images only; laterals exist to test that loaders filter them, so their picture is a
plausible profile (body, spine behind, heart in front, lungs between) rather than a full renderer.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from asgbench.data.synthetic.truth import ImageTruth


def render_lateral(truth: ImageTruth) -> np.ndarray:
    rng = np.random.default_rng(truth.seed + 7)
    h, w = truth.height, truth.width
    small_w, small_h = 160, max(16, round(160 * h / w))
    image = Image.new("L", (small_w, small_h), 8)
    draw = ImageDraw.Draw(image)
    cx = small_w * rng.uniform(0.47, 0.53)
    draw.ellipse([cx - small_w * 0.42, small_h * 0.05, cx + small_w * 0.4, small_h * 1.1], fill=105)
    draw.ellipse([cx - small_w * 0.3, small_h * 0.15, cx + small_w * 0.28, small_h * 0.75], fill=50)  # lungs
    draw.ellipse([cx - small_w * 0.32, small_h * 0.45, cx + small_w * 0.02, small_h * 0.8], fill=130)  # heart, anterior
    draw.rectangle([cx + small_w * 0.22, small_h * 0.05, cx + small_w * 0.32, small_h], fill=140)  # spine, posterior
    if truth.has("effusion"):
        draw.rectangle([cx - small_w * 0.1, small_h * 0.66, cx + small_w * 0.26, small_h * 0.76], fill=115)
    image = image.filter(ImageFilter.GaussianBlur(2)).resize((w, h), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 2.5, (h, w))
    return np.clip(pixels, 0, 255).astype(np.uint8)
