"""Render a frontal chest radiograph from an :class:`ImageTruth`.

The picture is built as attenuation layers on a small canvas (soft tissue, air-filled lungs with vessel
markings, mediastinum and heart, spine, trachea, ribs, clavicles), then each finding adds its own visual
signature in its region, and the result is upsampled to the output size with exposure and grain. Every
finding has a distinct look, so labels are learnable from pixels but not from global intensity alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from asgbench.data.synthetic.anatomy import Anatomy, sample_anatomy, with_changes
from asgbench.data.synthetic.truth import PRESENT, Finding, ImageTruth

RENDER_SIZE = 320  # longest side of the working canvas


@dataclass
class Rendered:
    image: np.ndarray                                   # uint8, output height x width
    anatomy: Anatomy                                    # in output pixels
    regions: dict[str, tuple[float, float, float, float]]  # Chest ImaGenome boxes in output pixels
    pneumothorax_mask: np.ndarray | None = None         # uint8 output-size mask when drawn from geometry


class Canvas:
    """Float attenuation image plus the masks that findings need to respect anatomy."""

    def __init__(self, anatomy: Anatomy, rng: np.random.Generator) -> None:
        self.anatomy = anatomy
        self.rng = rng
        self.shape = (anatomy.height, anatomy.width)
        self.density = np.zeros(self.shape, dtype=np.float32)
        self.lungs = {side: self.polygon(anatomy.lung_polygon(side), blur=1.5) for side in ("right", "left")}
        self.marking_suppression = np.zeros(self.shape, dtype=np.float32)

    # -- primitives -------------------------------------------------------------------------------
    def _mask(self, draw, blur: float) -> np.ndarray:
        layer = Image.new("L", (self.shape[1], self.shape[0]), 0)
        draw(ImageDraw.Draw(layer))
        if blur > 0:
            layer = layer.filter(ImageFilter.GaussianBlur(blur))
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

    @property
    def lung_mask(self) -> np.ndarray:
        return np.maximum(self.lungs["right"], self.lungs["left"])

    def blend_towards(self, mask: np.ndarray, level: float) -> None:
        self.density += (level - self.density) * mask

    def blobs(self, box: tuple[float, float, float, float], count: int, radius: float, blur: float) -> np.ndarray:
        """An irregular patch made of overlapping ellipses inside ``box``."""
        x1, y1, x2, y2 = box
        rng = self.rng
        def draw(d: ImageDraw.ImageDraw) -> None:
            for _ in range(count):
                cx, cy = rng.uniform(x1, x2), rng.uniform(y1, y2)
                rx, ry = radius * rng.uniform(0.6, 1.3), radius * rng.uniform(0.6, 1.3)
                d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
        return self._mask(draw, blur)


# -- base anatomy ------------------------------------------------------------------------------------
def draw_base(canvas: Canvas) -> None:
    a, rng = canvas.anatomy, canvas.rng
    h, w = canvas.shape
    s = a.scale
    canvas.density[:] = 0.03
    # torso: widest at the shoulders, slightly narrower at the waist; neck above
    ys = np.linspace(a.shoulder_y, h + 5, 24)
    half = a.body_half_width * (1.0 + 0.12 * np.exp(-((ys - a.shoulder_y - s * 0.08) / (s * 0.1)) ** 2) - 0.05 * (ys / h))
    outline = np.concatenate([np.column_stack([a.center_x - half, ys]), np.column_stack([a.center_x + half, ys])[::-1]])
    canvas.blend_towards(canvas.polygon(outline, blur=3), 0.42)
    neck = canvas.polygon(np.array([[a.center_x - s * 0.09, -5], [a.center_x + s * 0.09, -5], [a.center_x + s * 0.11, a.shoulder_y + 5], [a.center_x - s * 0.11, a.shoulder_y + 5]]), blur=3)
    canvas.blend_towards(neck, 0.40)
    # abdomen gets denser downwards
    below = np.clip((np.arange(h)[:, None] - a.costophrenic_y) / (s * 0.25), 0, 1).astype(np.float32)
    canvas.density += 0.08 * below * (canvas.density > 0.2)
    # lungs: air lowers attenuation
    canvas.density -= 0.30 * a.lung_darkness * canvas.lung_mask


def draw_markings(canvas: Canvas, density_gain: float = 1.0) -> None:
    """Branching vessels radiating from each hilum, fading towards the periphery."""
    a, rng = canvas.anatomy, canvas.rng
    boxes = a.region_boxes()
    lines_thick, lines_thin = [], []
    for side in ("right", "left"):
        hx1, hy1, hx2, hy2 = boxes[f"{side} hilar structures"]
        hilum = np.array([(hx1 + hx2) / 2, (hy1 + hy2) / 2])
        lx1, ly1, lx2, ly2 = boxes[f"{side} lung"]
        for _ in range(int(rng.integers(9, 14))):
            target = np.array([rng.uniform(lx1, lx2), rng.uniform(ly1, ly2)])
            steps = 6
            points = [hilum]
            for k in range(1, steps + 1):
                t = k / steps
                jitter = rng.normal(0, a.scale * 0.008, 2)
                points.append(hilum + (target - hilum) * t + jitter)
            line = np.array(points)
            lines_thick.append(line[:3])
            lines_thin.append(line[2:])
            # side branches
            for start in line[2:-1:2]:
                branch_end = start + rng.normal(0, a.scale * 0.05, 2)
                lines_thin.append(np.array([start, (start + branch_end) / 2 + rng.normal(0, 2, 2), branch_end]))
    thick = canvas.lines(lines_thick, width=a.scale * 0.012, blur=1.0)
    thin = canvas.lines(lines_thin, width=max(1.0, a.scale * 0.005), blur=0.7)
    visible = canvas.lung_mask * (1.0 - canvas.marking_suppression)
    canvas.density += density_gain * (0.07 * thick + 0.04 * thin) * visible


def draw_mediastinum(canvas: Canvas) -> None:
    a = canvas.anatomy
    shadow = np.maximum(canvas.polygon(a.mediastinum_polygon(), blur=2.0), canvas.polygon(a.heart_polygon(), blur=1.8))
    canvas.blend_towards(shadow, 0.60)


def draw_bones_and_airway(canvas: Canvas) -> None:
    a, rng = canvas.anatomy, canvas.rng
    s, h = a.scale, canvas.shape[0]
    # spine with vertebral bodies
    spine_top, spine_bottom = a.shoulder_y - s * 0.05, h
    spine = canvas.polygon(np.array([[a.center_x - a.spine_half_width, spine_top], [a.center_x + a.spine_half_width, spine_top], [a.center_x + a.spine_half_width, spine_bottom], [a.center_x - a.spine_half_width, spine_bottom]]), blur=2)
    canvas.density += 0.05 * spine
    discs = [np.array([[a.center_x - a.spine_half_width * 0.9, y], [a.center_x + a.spine_half_width * 0.9, y]]) for y in np.arange(spine_top, spine_bottom, a.rib_spacing * 0.9)]
    canvas.density -= 0.025 * canvas.lines(discs, width=max(1.0, s * 0.006), blur=0.8) * spine
    # trachea and main bronchi (air)
    carina_y = a.lung_top + (a.heart_center_y - a.lung_top) * 0.38
    trachea = canvas.lines([np.array([[a.center_x, -2], [a.center_x + s * 0.004, carina_y]])], width=2 * a.trachea_half_width, blur=1.5)
    bronchi = canvas.lines([np.array([[a.center_x, carina_y], [a.center_x - s * 0.06, carina_y + s * 0.05]]), np.array([[a.center_x, carina_y], [a.center_x + s * 0.07, carina_y + s * 0.06]])], width=a.trachea_half_width * 1.3, blur=1.2)
    canvas.density -= 0.12 * np.maximum(trachea, 0.7 * bronchi)
    # posterior ribs: arcs from the spine to the lateral wall, sloping down laterally
    ribs = []
    for side, sign in (("right", -1), ("left", 1)):
        for k in range(int((a.costophrenic_y - a.lung_top) / a.rib_spacing) + 1):
            y0 = a.lung_top - a.rib_spacing * 0.6 + k * a.rib_spacing
            u = np.linspace(0, 1, 14)
            xs = a.center_x + sign * (a.spine_half_width + u * (a.lung_half_width + s * 0.02))
            ys = y0 - 0.5 * a.rib_spacing * np.sin(np.pi * u * 0.7) + 2.2 * a.rib_spacing * u ** 2
            ribs.append(np.column_stack([xs, ys]))
    rib_mask = canvas.lines(ribs, width=a.rib_spacing * 0.42, blur=1.3)
    canvas.density += 0.045 * rib_mask * (0.3 + 0.7 * canvas.lung_mask)
    # clavicles
    clavicles = []
    for sign in (-1, 1):
        xs = a.center_x + sign * np.linspace(s * 0.03, a.lung_half_width + s * 0.06, 10)
        ys = a.clavicle_y - np.linspace(0, s * 0.05, 10) + s * 0.012 * np.sin(np.linspace(0, np.pi, 10))
        clavicles.append(np.column_stack([xs, ys]))
    canvas.density += 0.09 * canvas.lines(clavicles, width=s * 0.022, blur=1.2)
    del rng


# -- findings ---------------------------------------------------------------------------------------
def _region(canvas: Canvas, region: str) -> tuple[float, float, float, float]:
    return canvas.anatomy.region_boxes()[region]


def _side_of(region: str) -> str:
    return "left" if region.startswith("left") else "right"


def _inside_lung(canvas: Canvas, mask: np.ndarray, dilate: float = 0.0) -> np.ndarray:
    lungs = canvas.lung_mask
    if dilate > 0:
        lungs = np.asarray(Image.fromarray((lungs * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(int(dilate) * 2 + 1)), dtype=np.float32) / 255
    return mask * lungs


def _finding_boxes(canvas: Canvas, finding: Finding, factor: float) -> list[tuple[float, float, float, float]]:
    if finding.boxes:
        return [tuple(v * factor for v in box) for box in finding.boxes]
    return [_region(canvas, finding.region)]


def draw_airspace(canvas: Canvas, finding: Finding, factor: float, *, patchy: bool, gain: float) -> None:
    """Consolidation / pneumonia / opacity: dense fluffy patches, with air bronchograms when dense."""
    a, rng = canvas.anatomy, canvas.rng
    strength = gain * (0.35 + 0.65 * finding.severity)
    for box in _finding_boxes(canvas, finding, factor):
        x1, y1, x2, y2 = box
        size = max(4.0, min(x2 - x1, y2 - y1))
        inset = (x1 + 0.12 * (x2 - x1), y1 + 0.12 * (y2 - y1), x2 - 0.12 * (x2 - x1), y2 - 0.12 * (y2 - y1))
        count = int(rng.integers(8, 14)) if patchy else int(rng.integers(4, 7))
        patch = canvas.blobs(inset, count, radius=size * (0.16 if patchy else 0.28), blur=size * (0.1 if patchy else 0.07))
        patch = np.clip(patch * 1.4, 0, 1)
        confined = patch if finding.boxes else _inside_lung(canvas, patch, dilate=2)
        canvas.density += strength * 0.22 * confined
        if not patchy and finding.severity > 0.5:
            bronchi = []
            for _ in range(3):
                start = np.array([rng.uniform(x1, x2), rng.uniform(y1, y2)])
                end = start + rng.normal(0, size * 0.25, 2)
                bronchi.append(np.array([start, end]))
            canvas.density -= 0.05 * canvas.lines(bronchi, width=max(1.0, a.scale * 0.005), blur=0.5) * confined


def draw_covid(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Bilateral, peripheral, lower-zone ground-glass: hazy rather than dense."""
    a, rng = canvas.anatomy, canvas.rng
    boxes = a.region_boxes()
    for side in ("right", "left"):
        x1, y1, x2, y2 = boxes[f"{side} lung"]
        width = x2 - x1
        peripheral = (x1, y1 + 0.45 * (y2 - y1), x1 + 0.4 * width, y2) if side == "right" else (x2 - 0.4 * width, y1 + 0.45 * (y2 - y1), x2, y2)
        haze = canvas.blobs(peripheral, int(rng.integers(6, 10)), radius=width * 0.18, blur=width * 0.12)
        canvas.density += (0.1 + 0.12 * finding.severity) * _inside_lung(canvas, np.clip(haze * 1.3, 0, 1))
    del factor


def draw_atelectasis(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Plate-like linear opacity, usually basal, with some volume loss."""
    a, rng = canvas.anatomy, canvas.rng
    for x1, y1, x2, y2 in _finding_boxes(canvas, finding, factor):
        cy = rng.uniform(y1 + 0.3 * (y2 - y1), y2 - 0.15 * (y2 - y1))
        tilt = rng.normal(0, 0.08) * (x2 - x1)
        band = canvas.lines([np.array([[x1 + 0.1 * (x2 - x1), cy - tilt], [x2 - 0.1 * (x2 - x1), cy + tilt]])], width=max(2.0, a.scale * (0.012 + 0.015 * finding.severity)), blur=1.5)
        canvas.density += (0.1 + 0.12 * finding.severity) * _inside_lung(canvas, band, dilate=1)


def draw_effusion(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Dependent fluid: blunted costophrenic angle and a meniscus rising laterally."""
    a = canvas.anatomy
    side = _side_of(finding.region)
    x1, y1, x2, y2 = canvas.anatomy.region_boxes()[f"{side} lung"]
    depth = (y2 - y1) * (0.1 + 0.3 * finding.severity)
    xs = np.linspace(x1 - 3, x2 + 3, 30)
    lateral_is_left = side == "right"
    u = np.clip((xs - x1) / max(1.0, x2 - x1), 0, 1)
    lateral_weight = (1 - u) if lateral_is_left else u
    top = y2 - depth + depth * 0.6 * (1 - lateral_weight) ** 1.5 - depth * 0.15 * lateral_weight
    outline = np.concatenate([np.column_stack([xs, top]), np.array([[x2 + 3, y2 + a.scale * 0.03], [x1 - 3, y2 + a.scale * 0.03]])])
    fluid = canvas.lungs[side] * canvas.polygon(outline, blur=2.5)
    canvas.blend_towards(fluid, 0.5 + 0.05 * finding.severity)
    del factor


def pneumothorax_mask_from_geometry(canvas: Canvas, finding: Finding) -> np.ndarray:
    """Apical/lateral air crescent between the chest wall and the collapsed lung."""
    side = _side_of(finding.region)
    lung = canvas.lungs[side]
    x1, y1, x2, y2 = canvas.anatomy.region_boxes()[f"{side} lung"]
    depth = 0.15 + 0.45 * finding.severity
    shrunk = canvas.polygon(_shrink_towards_hilum(canvas.anatomy.lung_polygon(side), canvas, side, depth), blur=1.0)
    return np.clip(lung - shrunk, 0, 1) * (np.arange(canvas.shape[0])[:, None] < y1 + (y2 - y1) * (0.55 + 0.4 * finding.severity))


def _shrink_towards_hilum(outline: np.ndarray, canvas: Canvas, side: str, amount: float) -> np.ndarray:
    hx1, hy1, hx2, hy2 = canvas.anatomy.region_boxes()[f"{side} hilar structures"]
    hilum = np.array([(hx1 + hx2) / 2, (hy1 + hy2) / 2])
    return hilum + (outline - hilum) * (1 - amount * 0.5)


def draw_pneumothorax(canvas: Canvas, finding: Finding, factor: float, given_mask: np.ndarray | None) -> np.ndarray:
    """Air without lung markings, bounded by a thin bright visceral pleural line."""
    mask = given_mask if given_mask is not None else pneumothorax_mask_from_geometry(canvas, finding)
    mask = np.clip(mask, 0, 1).astype(np.float32)
    canvas.marking_suppression = np.maximum(canvas.marking_suppression, mask)
    canvas.density -= (0.06 + 0.06 * finding.severity) * mask
    image = Image.fromarray((mask * 255).astype(np.uint8))
    edge = np.asarray(image.filter(ImageFilter.FIND_EDGES).filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32) / 255
    canvas.density += 0.12 * np.clip(edge * 3, 0, 1) * canvas.lung_mask
    del factor
    return mask


def draw_nodule(canvas: Canvas, finding: Finding, factor: float, *, radius_fraction: float) -> None:
    a, rng = canvas.anatomy, canvas.rng
    for x1, y1, x2, y2 in _finding_boxes(canvas, finding, factor):
        cx, cy = rng.uniform(x1 + 0.25 * (x2 - x1), x2 - 0.25 * (x2 - x1)), rng.uniform(y1 + 0.25 * (y2 - y1), y2 - 0.25 * (y2 - y1))
        r = a.scale * radius_fraction * (0.7 + 0.6 * finding.severity)
        if finding.boxes:
            r = min(r, 0.45 * min(x2 - x1, y2 - y1))
        if radius_fraction > 0.03:  # masses are lobulated
            blob = canvas.blobs((cx - r * 0.4, cy - r * 0.4, cx + r * 0.4, cy + r * 0.4), 4, radius=r * 0.7, blur=r * 0.12)
        else:
            blob = canvas.ellipse(cx, cy, r, r * rng.uniform(0.85, 1.15), blur=max(0.6, r * 0.15))
        canvas.density += (0.16 + 0.1 * finding.severity) * blob


def draw_edema(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Bilateral perihilar haze with septal (Kerley B) lines at the bases."""
    a, rng = canvas.anatomy, canvas.rng
    boxes = a.region_boxes()
    for side in ("right", "left"):
        hx1, hy1, hx2, hy2 = boxes[f"{side} hilar structures"]
        cx, cy = (hx1 + hx2) / 2, (hy1 + hy2) / 2
        haze = canvas.ellipse(cx, cy, (hx2 - hx1) * 1.6, (hy2 - hy1) * 1.5, blur=a.scale * 0.05)
        canvas.density += (0.08 + 0.1 * finding.severity) * _inside_lung(canvas, haze)
        lx1, ly1, lx2, ly2 = boxes[f"{side} lower lung zone"]
        lateral = lx1 if side == "right" else lx2
        sign = 1 if side == "right" else -1
        kerley = [np.array([[lateral + sign * 1, y], [lateral + sign * a.scale * 0.03, y]]) for y in rng.uniform(ly1, ly2, 6)]
        canvas.density += 0.06 * _inside_lung(canvas, canvas.lines(kerley, width=1, blur=0.4), dilate=2)
    del factor


def draw_fibrosis(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Coarse reticular net in the region (many short crossing lines)."""
    a, rng = canvas.anatomy, canvas.rng
    for x1, y1, x2, y2 in _finding_boxes(canvas, finding, factor):
        lines = []
        for _ in range(int(25 + 25 * finding.severity)):
            start = np.array([rng.uniform(x1, x2), rng.uniform(y1, y2)])
            lines.append(np.array([start, start + rng.normal(0, a.scale * 0.025, 2)]))
        canvas.density += (0.06 + 0.05 * finding.severity) * _inside_lung(canvas, canvas.lines(lines, width=1, blur=0.5), dilate=1)


def draw_pleural_thickening(canvas: Canvas, finding: Finding, factor: float) -> None:
    """A dense band along the lateral chest wall or an apical cap."""
    a = canvas.anatomy
    side = _side_of(finding.region)
    outline = a.lung_polygon(side)
    upper = outline[: len(outline) // 3]  # apex down the lateral wall
    band = canvas.lines([upper], width=max(2.0, a.scale * (0.01 + 0.012 * finding.severity)), blur=1.2)
    canvas.density += 0.14 * band
    del factor


def draw_emphysema(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Hyperlucent lungs with sparse markings (geometry handles the flattened diaphragm)."""
    canvas.density -= (0.04 + 0.05 * finding.severity) * canvas.lung_mask
    canvas.marking_suppression = np.maximum(canvas.marking_suppression, 0.5 * canvas.lung_mask)
    del factor


def draw_hernia(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Hiatal hernia: a round retrocardiac density with an air-fluid level."""
    a = canvas.anatomy
    x1, y1, x2, y2 = a.region_boxes()["cardiac silhouette"]
    cx, cy = (x1 + x2) / 2 + a.scale * 0.02, y2 - (y2 - y1) * 0.22
    r = a.scale * (0.04 + 0.03 * finding.severity)
    canvas.blend_towards(canvas.ellipse(cx, cy, r * 1.2, r, blur=1.2), 0.7)
    bubble = canvas.ellipse(cx, cy - r * 0.35, r * 0.9, r * 0.45, blur=0.8) * (np.arange(canvas.shape[0])[:, None] < cy - r * 0.05)
    canvas.density -= 0.25 * bubble
    del factor


def draw_fracture(canvas: Canvas, finding: Finding, factor: float) -> None:
    """A rib cortex break: a dark gap and a bright callus across one rib."""
    a, rng = canvas.anatomy, canvas.rng
    x1, y1, x2, y2 = _finding_boxes(canvas, finding, factor)[0]
    cx, cy = rng.uniform(x1, x2), rng.uniform(y1, y2)
    gap = canvas.lines([np.array([[cx - 1, cy - a.rib_spacing * 0.3], [cx + 1, cy + a.rib_spacing * 0.3]])], width=2, blur=0.4)
    callus = canvas.ellipse(cx + 3, cy, a.rib_spacing * 0.25, a.rib_spacing * 0.3, blur=1)
    canvas.density += (0.08 + 0.06 * finding.severity) * callus - 0.1 * gap


def draw_devices(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Tubes and lines: an endotracheal tube, a central line and often a pacemaker with leads."""
    a, rng = canvas.anatomy, canvas.rng
    s = a.scale
    boxes = a.region_boxes()
    carina = boxes["carina"]
    lines = [np.array([[a.center_x + 1, -2], [a.center_x + 1, carina[1] - s * 0.03]])]
    svc = boxes["svc"]
    entry = np.array([a.center_x - a.lung_half_width * 0.8, a.clavicle_y + s * 0.01])
    lines.append(np.array([entry, [a.center_x - s * 0.05, a.clavicle_y + s * 0.02], [(svc[0] + svc[2]) / 2, (svc[1] + svc[3]) / 2 + s * 0.04]]))
    if rng.random() < 0.5 or finding.severity > 0.7:
        box_center = np.array([a.center_x + a.lung_half_width * 0.7, a.clavicle_y + s * 0.06])
        pacer = canvas.ellipse(box_center[0], box_center[1], s * 0.035, s * 0.025, blur=0.6)
        canvas.density += 0.45 * pacer
        heart = boxes["cardiac silhouette"]
        lines.append(np.array([box_center, [a.center_x, heart[1]], [(heart[0] + heart[2]) / 2, heart[3] - s * 0.03]]))
    canvas.density += 0.35 * canvas.lines(lines, width=max(1.0, s * 0.006), blur=0.4)
    del factor


def adjust_geometry(anatomy: Anatomy, truth: ImageTruth) -> Anatomy:
    """Findings that change anatomy itself: enlarged heart or mediastinum, hyperinflation, volume loss."""
    changes: dict[str, float] = {}
    for finding in truth.findings:
        if finding.certainty != PRESENT and finding.severity < 0.3:
            continue
        if finding.kind == "cardiomegaly":
            changes["heart_half_width"] = anatomy.heart_half_width * (1.25 + 0.3 * finding.severity)
            changes["heart_half_height"] = anatomy.heart_half_height * (1.1 + 0.15 * finding.severity)
        elif finding.kind == "enlarged_cardiomediastinum":
            changes["mediastinum_half_width"] = anatomy.mediastinum_half_width * (1.35 + 0.4 * finding.severity)
        elif finding.kind == "emphysema":
            changes["costophrenic_y"] = min(anatomy.height * 0.86, anatomy.costophrenic_y + anatomy.height * 0.05 * (1 + finding.severity))
            changes["dome_height"] = anatomy.dome_height * 0.45
        elif finding.kind == "atelectasis":
            key = "right_dome_lift" if finding.region.startswith("right") else "left_dome_lift"
            changes[key] = anatomy.height * 0.03 * finding.severity
    return with_changes(anatomy, **changes) if changes else anatomy


def render(truth: ImageTruth, given_masks: dict[str, np.ndarray] | None = None) -> Rendered:
    """Draw ``truth`` at its output size; ``given_masks`` (output pixels) fix where a finding lies."""
    rng = np.random.default_rng(truth.seed)
    factor = RENDER_SIZE / max(truth.height, truth.width)
    height, width = max(16, round(truth.height * factor)), max(16, round(truth.width * factor))
    anatomy = adjust_geometry(sample_anatomy(rng, height, width, view=truth.view), truth)
    canvas = Canvas(anatomy, rng)
    draw_base(canvas)

    ptx_mask_render = None
    order = sorted(truth.findings, key=lambda f: f.kind != "pneumothorax")  # suppress markings first
    deferred: list[Finding] = []
    for finding in order:
        if finding.kind == "pneumothorax":
            given = None
            if finding.mask is not None:
                given = _resize_mask(finding.mask, (height, width))
            elif given_masks and "pneumothorax" in given_masks:
                given = _resize_mask(given_masks["pneumothorax"], (height, width))
            ptx_mask_render = draw_pneumothorax(canvas, finding, factor, given)
        elif finding.kind == "emphysema":
            draw_emphysema(canvas, finding, factor)
        else:
            deferred.append(finding)
    draw_markings(canvas, density_gain=1.6 if truth.has("edema") else 1.0)
    draw_mediastinum(canvas)
    draw_bones_and_airway(canvas)
    for finding in deferred:
        DRAWERS[finding.kind](canvas, finding, factor)

    image = _develop(canvas, rng, truth.height, truth.width)
    scale_back = 1.0 / factor
    regions = {name: tuple(v * scale_back for v in box) for name, box in anatomy.region_boxes().items()}
    ptx_out = None
    if ptx_mask_render is not None:
        ptx_out = (_resize_mask(ptx_mask_render, (truth.height, truth.width)) > 0.5).astype(np.uint8)
    return Rendered(image=image, anatomy=anatomy, regions=regions, pneumothorax_mask=ptx_out)


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == shape:
        return mask.astype(np.float32)
    image = Image.fromarray((np.asarray(mask, dtype=np.float32) * 255).clip(0, 255).astype(np.uint8))
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.float32) / 255


def _develop(canvas: Canvas, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Exposure, contrast and grain, then upsample to the output size."""
    density = canvas.density
    exposure = rng.uniform(0.9, 1.15)
    gamma = rng.uniform(0.85, 1.15)
    image = np.clip(density * exposure, 0, 1) ** gamma
    image = image + 0.012 * rng.standard_normal(image.shape, dtype=np.float32)
    small = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    if small.size != (width, height):
        small = small.resize((width, height), Image.Resampling.BICUBIC)
    out = np.asarray(small, dtype=np.float32)
    out += 2.0 * rng.standard_normal(out.shape, dtype=np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


DRAWERS = {
    "consolidation": lambda c, f, k: draw_airspace(c, f, k, patchy=False, gain=1.0),
    "pneumonia": lambda c, f, k: draw_airspace(c, f, k, patchy=False, gain=1.1),
    "infiltration": lambda c, f, k: draw_airspace(c, f, k, patchy=True, gain=0.8),
    "lung_opacity": lambda c, f, k: draw_airspace(c, f, k, patchy=True, gain=0.9),
    "covid19": draw_covid,
    "atelectasis": draw_atelectasis,
    "effusion": draw_effusion,
    "cardiomegaly": lambda c, f, k: None,  # geometry only (adjust_geometry)
    "enlarged_cardiomediastinum": lambda c, f, k: None,
    "edema": draw_edema,
    "nodule": lambda c, f, k: draw_nodule(c, f, k, radius_fraction=0.018),
    "mass": lambda c, f, k: draw_nodule(c, f, k, radius_fraction=0.055),
    "fibrosis": draw_fibrosis,
    "pleural_thickening": draw_pleural_thickening,
    "hernia": draw_hernia,
    "fracture": draw_fracture,
    "support_devices": draw_devices,
}
