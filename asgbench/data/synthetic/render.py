"""Render a frontal chest radiograph from an :class:`ImageTruth`.

The picture is built as attenuation layers on a small canvas: soft tissue (torso, neck, breast shadows),
air-filled lungs (real outlines) with vessel markings and parenchymal mottle, mediastinum and heart,
spine, trachea and bronchi, ribs and clavicles. Patient-to-patient nuisances (position, tilt, size,
inspiration, AP magnification, exposure, heel effect, low-frequency density) vary as strongly as the
findings' average brightness does, so that only local visual features separate the labels. Each finding
then adds its signature (``signatures.py``); the result is developed and upsampled to the output size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from asgbench.data.synthetic.anatomy import Anatomy, sample_anatomy
from asgbench.data.synthetic.canvas import Canvas
from asgbench.data.synthetic.pneumothorax_outlines import outline_for
from asgbench.data.synthetic.signatures import DRAWERS, adjust_geometry, draw_emphysema, draw_pneumothorax
from asgbench.data.synthetic.truth import Finding, ImageTruth

RENDER_SIZE = 256  # longest side of the working canvas


@dataclass
class Rendered:
    image: np.ndarray                                      # uint8, output height x width
    anatomy: Anatomy                                       # in canvas pixels
    regions: dict[str, tuple[float, float, float, float]]  # Chest ImaGenome boxes in output pixels
    pneumothorax_mask: np.ndarray | None = None            # uint8 output-size mask when drawn


def draw_soft_tissue(canvas: Canvas) -> None:
    a, rng = canvas.anatomy, canvas.rng
    h, s = canvas.shape[0], a.scale
    canvas.density[:] = 0.03
    ys = np.linspace(a.shoulder_y, h + 5, 24)
    half = a.body_half_width * (1.0 + 0.12 * np.exp(-((ys - a.shoulder_y - s * 0.08) / (s * 0.1)) ** 2) - 0.05 * (ys / h))
    outline = np.concatenate([np.column_stack([a.center_x - half, ys]), np.column_stack([a.center_x + half, ys])[::-1]])
    canvas.blend_towards(canvas.polygon(outline, blur=3), rng.uniform(0.38, 0.46))
    neck = np.array([[a.center_x - s * 0.09, -5], [a.center_x + s * 0.09, -5], [a.center_x + s * 0.11, a.shoulder_y + 5], [a.center_x - s * 0.11, a.shoulder_y + 5]])
    canvas.blend_towards(canvas.polygon(neck, blur=3), 0.40)
    below = np.clip((np.arange(h)[:, None] - a.costophrenic_y) / (s * 0.25), 0, 1).astype(np.float32)
    canvas.density += 0.08 * below * (canvas.density > 0.2)


def draw_lungs(canvas: Canvas) -> None:
    """Air in the lungs, with large-scale density variation and fine parenchymal mottle."""
    a, rng = canvas.anatomy, canvas.rng
    lungs = canvas.lung_mask
    canvas.density -= 0.30 * a.lung_darkness * lungs
    canvas.density += rng.uniform(0.015, 0.04) * canvas.smooth_noise(int(rng.integers(4, 8))) * lungs
    canvas.density += 0.03 * (canvas.fine_noise(1.0) - 0.5) * lungs
    # the lung bases sit behind more soft tissue than the apices
    ys = np.arange(canvas.shape[0], dtype=np.float32)[:, None]
    canvas.density += 0.04 * np.clip((ys - a.lung_top) / max(1.0, a.costophrenic_y - a.lung_top), 0, 1) * lungs


def draw_breast_shadows(canvas: Canvas) -> None:
    """Soft, bilateral lower-zone densities with a sharper lower edge, in about 45 % of patients."""
    a, rng = canvas.anatomy, canvas.rng
    if rng.random() > 0.45:
        return
    strength = rng.uniform(0.03, 0.08)
    for side in ("right", "left"):
        x1, y1, x2, y2 = canvas.regions[f"{side} lung"]
        cx = x1 + (x2 - x1) * (0.35 if side == "right" else 0.65) + rng.normal(0, a.scale * 0.015)
        cy = y1 + (y2 - y1) * rng.uniform(0.72, 0.9)
        r = a.scale * rng.uniform(0.13, 0.19)
        canvas.density += strength * canvas.ellipse(cx, cy, r * 1.2, r, blur=r * 0.35)


def draw_markings(canvas: Canvas, density_gain: float = 1.0) -> None:
    """Branching vessels radiating from each hilum, fading towards the periphery."""
    a, rng = canvas.anatomy, canvas.rng
    thick, thin = [], []
    for side in ("right", "left"):
        hx1, hy1, hx2, hy2 = canvas.regions[f"{side} hilar structures"]
        hilum = np.array([(hx1 + hx2) / 2, (hy1 + hy2) / 2])
        lx1, ly1, lx2, ly2 = canvas.regions[f"{side} lung"]
        for _ in range(int(rng.integers(9, 14))):
            target = np.array([rng.uniform(lx1, lx2), rng.uniform(ly1, ly2)])
            points = [hilum] + [hilum + (target - hilum) * k / 6 + rng.normal(0, a.scale * 0.008, 2) for k in range(1, 7)]
            line = np.array(points)
            thick.append(line[:3])
            thin.append(line[2:])
            for start in line[2:-1:2]:
                end = start + rng.normal(0, a.scale * 0.05, 2)
                thin.append(np.array([start, (start + end) / 2 + rng.normal(0, 2, 2), end]))
    visible = canvas.lung_mask * (1.0 - canvas.marking_suppression)
    canvas.density += density_gain * (0.06 * canvas.lines(thick, width=a.scale * 0.012, blur=1.0)
                                      + 0.035 * canvas.lines(thin, width=max(1.0, a.scale * 0.005), blur=0.7)) * visible


def draw_mediastinum(canvas: Canvas) -> None:
    a = canvas.anatomy
    shadow = np.maximum(canvas.polygon(a.mediastinum_polygon(), blur=2.0), canvas.polygon(a.heart_polygon(), blur=1.8))
    canvas.blend_towards(shadow, canvas.rng.uniform(0.55, 0.63))


def draw_bones_and_airway(canvas: Canvas) -> None:
    a = canvas.anatomy
    s, h = a.scale, canvas.shape[0]
    spine_top = a.shoulder_y - s * 0.05
    spine = canvas.polygon(np.array([[a.center_x - a.spine_half_width, spine_top], [a.center_x + a.spine_half_width, spine_top],
                                     [a.center_x + a.spine_half_width, h], [a.center_x - a.spine_half_width, h]]), blur=2)
    canvas.density += 0.05 * spine
    discs = [np.array([[a.center_x - a.spine_half_width * 0.9, y], [a.center_x + a.spine_half_width * 0.9, y]]) for y in np.arange(spine_top, h, a.rib_spacing * 0.9)]
    canvas.density -= 0.025 * canvas.lines(discs, width=max(1.0, s * 0.006), blur=0.8) * spine
    carina_y = (canvas.regions["carina"][1] + canvas.regions["carina"][3]) / 2
    trachea = canvas.lines([np.array([[a.center_x, -2], [a.center_x + s * 0.004, carina_y]])], width=2 * a.trachea_half_width, blur=1.5)
    bronchi = canvas.lines([np.array([[a.center_x, carina_y], [a.center_x - s * 0.06, carina_y + s * 0.05]]),
                            np.array([[a.center_x, carina_y], [a.center_x + s * 0.07, carina_y + s * 0.06]])], width=a.trachea_half_width * 1.3, blur=1.2)
    canvas.density -= 0.12 * np.maximum(trachea, 0.7 * bronchi)
    ribs = []
    for sign in (-1, 1):
        for k in range(int((a.costophrenic_y - a.lung_top) / a.rib_spacing) + 1):
            y0 = a.lung_top - a.rib_spacing * 0.6 + k * a.rib_spacing
            u = np.linspace(0, 1, 14)
            xs = a.center_x + sign * (a.spine_half_width + u * (a.lung_half_width + s * 0.02))
            ribs.append(np.column_stack([xs, y0 - 0.5 * a.rib_spacing * np.sin(np.pi * u * 0.7) + 2.2 * a.rib_spacing * u ** 2]))
    canvas.density += 0.04 * canvas.lines(ribs, width=a.rib_spacing * 0.42, blur=1.3) * (0.08 + 0.92 * canvas.lung_mask)
    clavicles = []
    for sign in (-1, 1):
        xs = a.center_x + sign * np.linspace(s * 0.03, a.lung_half_width + s * 0.06, 10)
        clavicles.append(np.column_stack([xs, a.clavicle_y - np.linspace(0, s * 0.05, 10) + s * 0.012 * np.sin(np.linspace(0, np.pi, 10))]))
    canvas.density += 0.09 * canvas.lines(clavicles, width=s * 0.022, blur=1.2)


def render(truth: ImageTruth, given_masks: dict[str, np.ndarray] | None = None) -> Rendered:
    """Draw ``truth`` at its output size; ``given_masks`` (output pixels) fix where a finding lies."""
    rng = np.random.default_rng(truth.seed)
    factor = RENDER_SIZE / max(truth.height, truth.width)
    height, width = max(16, round(truth.height * factor)), max(16, round(truth.width * factor))
    anatomy = adjust_geometry(sample_anatomy(rng, height, width, view=truth.view), truth)
    canvas = Canvas(anatomy, rng)
    draw_soft_tissue(canvas)
    draw_lungs(canvas)
    draw_breast_shadows(canvas)

    pneumothorax = None
    deferred: list[Finding] = []
    for finding in truth.findings:  # these change the lung itself, before markings are drawn
        if finding.kind == "pneumothorax":
            given = finding.mask if finding.mask is not None else (given_masks or {}).get("pneumothorax")
            if given is None:
                given = outline_for(finding, truth.seed)
            pneumothorax = draw_pneumothorax(canvas, finding, _resize_mask(given, (height, width)))
        elif finding.kind == "emphysema":
            draw_emphysema(canvas, finding, factor)
        else:
            deferred.append(finding)
    draw_markings(canvas, density_gain=rng.uniform(0.7, 1.3) * (1.25 if truth.has("edema") else 1.0))
    draw_mediastinum(canvas)
    draw_bones_and_airway(canvas)
    for finding in deferred:
        DRAWERS[finding.kind](canvas, finding, factor)

    image = _develop(canvas, rng, truth.height, truth.width)
    regions = {name: tuple(v / factor for v in box) for name, box in canvas.regions.items()}
    mask_out = None if pneumothorax is None else (_resize_mask(pneumothorax, (truth.height, truth.width)) > 0.5).astype(np.uint8)
    return Rendered(image=image, anatomy=anatomy, regions=regions, pneumothorax_mask=mask_out)


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == shape:
        return mask.astype(np.float32)
    image = Image.fromarray((np.asarray(mask, dtype=np.float32) * 255).clip(0, 255).astype(np.uint8))
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.float32) / 255


def _develop(canvas: Canvas, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Exposure, contrast, heel effect and grain, then upsample to the output size."""
    h, w = canvas.shape
    heel = 1.0 + rng.uniform(-0.12, 0.12) * (np.arange(h, dtype=np.float32)[:, None] / h - 0.5) \
        + rng.uniform(-0.06, 0.06) * (np.arange(w, dtype=np.float32)[None, :] / w - 0.5)
    image = np.clip(canvas.density * heel * rng.uniform(0.85, 1.2) + rng.uniform(-0.04, 0.04), 0, 1) ** rng.uniform(0.8, 1.25)
    image = image + 0.014 * rng.standard_normal(image.shape, dtype=np.float32)  # quantum mottle
    small = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    if small.size != (width, height):
        small = small.resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(small, dtype=np.uint8)
