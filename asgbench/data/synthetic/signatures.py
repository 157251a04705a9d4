"""The visual signature of each finding kind, drawn into a :class:`Canvas` in its region.

Signatures are local and textured (mottled airspace filling with air bronchograms, reticular nets, sharp
pleural lines, round nodules, meniscus-shaped fluid, devices), and their average brightness is kept
modest, so that telling them apart needs learned local features rather than mean intensity.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from asgbench.data.synthetic.anatomy import Anatomy, with_changes
from asgbench.data.synthetic.canvas import Canvas
from asgbench.data.synthetic.truth import PRESENT, Finding, ImageTruth

Box = tuple[float, float, float, float]


def _side_of(region: str) -> str:
    return "left" if region.startswith("left") else "right"


def finding_boxes(canvas: Canvas, finding: Finding, factor: float) -> list[Box]:
    """Where the finding goes: its metadata boxes (scaled to the canvas) or its anatomical region."""
    if finding.boxes:
        return [tuple(v * factor for v in box) for box in finding.boxes]
    return [canvas.regions[finding.region]]


def _shrink(box: Box, fraction: float) -> Box:
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * fraction, (y2 - y1) * fraction
    return (x1 + dx, y1 + dy, x2 - dx, y2 - dy)


def draw_airspace(canvas: Canvas, finding: Finding, factor: float, *, dense: bool, gain: float) -> None:
    """Consolidation / pneumonia (dense, air bronchograms) or opacity / infiltrate (patchy, nodular)."""
    a, rng = canvas.anatomy, canvas.rng
    strength = gain * finding.contrast * (0.45 + 0.55 * finding.severity)
    mottle = canvas.fine_noise(0.9)
    for box in finding_boxes(canvas, finding, factor):
        size = max(4.0, min(box[2] - box[0], box[3] - box[1]))
        inner = _shrink(box, 0.12)
        if dense:
            patch = canvas.blobs(inner, int(rng.integers(5, 9)), radius=size * 0.22, blur=size * 0.05)
            satellites = canvas.blobs(_shrink(box, -0.05), int(rng.integers(4, 8)), radius=size * 0.06, blur=1.0)
            patch = np.clip(1.3 * patch + 0.6 * satellites, 0, 1)
            texture = 0.75 + 0.5 * mottle
        else:
            patch = canvas.blobs(inner, int(rng.integers(14, 24)), radius=size * 0.07, blur=size * 0.025)
            texture = 0.5 + 1.0 * mottle
        confined = patch if finding.boxes else canvas.inside_lungs(patch, dilate=2)
        canvas.density += strength * 0.14 * confined * texture
        if dense and finding.severity > 0.35:
            bronchi = []
            for _ in range(int(rng.integers(2, 5))):
                start = np.array([rng.uniform(inner[0], inner[2]), rng.uniform(inner[1], inner[3])])
                direction = rng.normal(0, 1, 2)
                direction /= np.linalg.norm(direction) + 1e-6
                middle = start + direction * size * 0.18 + rng.normal(0, size * 0.03, 2)
                end = middle + direction * size * 0.15 + rng.normal(0, size * 0.04, 2)
                bronchi.append(np.array([start, middle, end]))
                bronchi.append(np.array([middle, middle + rng.normal(0, size * 0.12, 2)]))
            canvas.density -= 0.07 * canvas.lines(bronchi, width=max(1.0, a.scale * 0.006), blur=0.5) * confined


def draw_covid(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Bilateral, peripheral, lower-zone ground glass with a fine reticular (crazy-paving) net."""
    rng = canvas.rng
    for side in ("right", "left"):
        x1, y1, x2, y2 = canvas.regions[f"{side} lung"]
        width = x2 - x1
        peripheral = (x1, y1 + 0.4 * (y2 - y1), x1 + 0.35 * width, y2) if side == "right" else (x2 - 0.35 * width, y1 + 0.4 * (y2 - y1), x2, y2)
        haze = canvas.inside_lungs(np.clip(1.3 * canvas.blobs(peripheral, int(rng.integers(5, 9)), radius=width * 0.14, blur=width * 0.08), 0, 1))
        net = [np.array([p, p + rng.normal(0, width * 0.05, 2)]) for p in np.column_stack([rng.uniform(peripheral[0], peripheral[2], 40), rng.uniform(peripheral[1], peripheral[3], 40)])]
        canvas.density += (0.05 + 0.05 * finding.severity) * haze + 0.05 * haze * canvas.lines(net, width=1, blur=0.4)
    del factor


def draw_atelectasis(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Plate-like linear opacity (geometry adds the volume loss)."""
    a, rng = canvas.anatomy, canvas.rng
    for x1, y1, x2, y2 in finding_boxes(canvas, finding, factor):
        plates = []
        for _ in range(int(rng.integers(1, 3))):
            cy = rng.uniform(y1 + 0.3 * (y2 - y1), y2 - 0.1 * (y2 - y1))
            tilt = rng.normal(0, 0.08) * (x2 - x1)
            plates.append(np.array([[x1 + 0.1 * (x2 - x1), cy - tilt], [x2 - 0.1 * (x2 - x1), cy + tilt]]))
        band = canvas.lines(plates, width=max(2.0, a.scale * (0.01 + 0.014 * finding.severity)), blur=2.0)
        canvas.density += (0.07 + 0.07 * finding.severity) * canvas.inside_lungs(band, dilate=1)


def draw_effusion(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Dependent fluid: a blunted costophrenic angle and a meniscus rising along the lateral wall."""
    a = canvas.anatomy
    side = _side_of(finding.region)
    x1, y1, x2, y2 = canvas.regions[f"{side} lung"]
    depth = (y2 - y1) * (0.06 + 0.22 * finding.severity)
    xs = np.linspace(x1 - 3, x2 + 3, 30)
    u = np.clip((xs - x1) / max(1.0, x2 - x1), 0, 1)
    lateral_weight = (1 - u) if side == "right" else u
    top = y2 - depth + depth * 0.6 * (1 - lateral_weight) ** 1.5 - depth * 0.2 * lateral_weight
    outline = np.concatenate([np.column_stack([xs, top]), np.array([[x2 + 3, y2 + a.scale * 0.03], [x1 - 3, y2 + a.scale * 0.03]])])
    fluid = canvas.lungs[side] * canvas.polygon(outline, blur=1.5)
    canvas.density += (0.08 + 0.07 * finding.severity) * fluid
    del factor


def draw_pneumothorax(canvas: Canvas, finding: Finding, given_mask: np.ndarray) -> np.ndarray:
    """Air without lung markings, bounded by a thin bright visceral pleural line.

    The air is darker than a subtle real pneumothorax (density -0.16 to -0.24) because the demo sees the film at
    64 px, where the pleural line is lost: at -0.04 to -0.09 no decoder found the lesion and every segmentation
    run's best was to predict nothing (generator version 5)."""
    mask = np.clip(given_mask, 0, 1).astype(np.float32)
    canvas.marking_suppression = np.maximum(canvas.marking_suppression, mask)
    canvas.density -= (0.16 + 0.08 * finding.severity) * mask
    edge = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.FIND_EDGES).filter(ImageFilter.GaussianBlur(0.6))
    canvas.density += 0.12 * np.clip(np.asarray(edge, dtype=np.float32) / 255 * 3, 0, 1) * canvas.lung_mask
    return mask


def draw_nodule(canvas: Canvas, finding: Finding, factor: float, *, radius_fraction: float) -> None:
    """A round, well-defined nodule; masses are larger and lobulated."""
    a, rng = canvas.anatomy, canvas.rng
    for box in finding_boxes(canvas, finding, factor):
        x1, y1, x2, y2 = _shrink(box, 0.25)
        cx, cy = rng.uniform(x1, x2), rng.uniform(y1, y2)
        r = a.scale * radius_fraction * (0.7 + 0.6 * finding.severity)
        if finding.boxes:
            r = min(r, 0.45 * min(box[2] - box[0], box[3] - box[1]))
        if radius_fraction > 0.03:
            blob = canvas.blobs((cx - r * 0.4, cy - r * 0.4, cx + r * 0.4, cy + r * 0.4), 5, radius=r * 0.65, blur=r * 0.08)
        else:
            blob = canvas.ellipse(cx, cy, r, r * rng.uniform(0.85, 1.15), blur=max(0.5, r * 0.12))
        canvas.density += (0.12 + 0.1 * finding.severity) * np.clip(blob * 1.2, 0, 1)


def draw_edema(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Bilateral perihilar haze, indistinct vessels and septal (Kerley B) lines at the bases."""
    a, rng = canvas.anatomy, canvas.rng
    for side in ("right", "left"):
        hx1, hy1, hx2, hy2 = canvas.regions[f"{side} hilar structures"]
        haze = canvas.ellipse((hx1 + hx2) / 2, (hy1 + hy2) / 2, (hx2 - hx1) * 1.3, (hy2 - hy1) * 1.2, blur=a.scale * 0.04)
        cuffing = canvas.fine_noise(0.7)
        canvas.density += (0.02 + 0.03 * finding.severity) * canvas.inside_lungs(haze) * (0.4 + 1.2 * cuffing)
        lx1, ly1, lx2, ly2 = canvas.regions[f"{side} lower lung zone"]
        lateral, sign = (lx1, 1) if side == "right" else (lx2, -1)
        kerley = [np.array([[lateral + sign * 1, y], [lateral + sign * a.scale * 0.035, y]]) for y in rng.uniform(ly1, ly2, 10)]
        canvas.density += (0.06 + 0.04 * finding.severity) * canvas.inside_lungs(canvas.lines(kerley, width=1, blur=0.35), dilate=2)
    del factor


def draw_fibrosis(canvas: Canvas, finding: Finding, factor: float) -> None:
    """A coarse reticular net (many short crossing lines) in the region."""
    a, rng = canvas.anatomy, canvas.rng
    for x1, y1, x2, y2 in finding_boxes(canvas, finding, factor):
        starts = np.column_stack([rng.uniform(x1, x2, 60), rng.uniform(y1, y2, 60)])
        net = [np.array([p, p + rng.normal(0, a.scale * 0.025, 2)]) for p in starts[: int(30 + 30 * finding.severity)]]
        canvas.density += (0.07 + 0.05 * finding.severity) * canvas.inside_lungs(canvas.lines(net, width=1, blur=0.4), dilate=1)


def draw_pleural_thickening(canvas: Canvas, finding: Finding, factor: float) -> None:
    """A dense band along the apex and upper lateral chest wall."""
    a = canvas.anatomy
    outline = a.lung_polygon(_side_of(finding.region))
    lateral_half = outline[: len(outline) // 2] if _side_of(finding.region) == "right" else outline[len(outline) // 2 :]
    top = lateral_half[lateral_half[:, 1] < lateral_half[:, 1].min() + (lateral_half[:, 1].max() - lateral_half[:, 1].min()) * 0.55]
    canvas.density += 0.13 * canvas.lines([top], width=max(2.0, a.scale * (0.01 + 0.012 * finding.severity)), blur=1.0)
    del factor


def draw_emphysema(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Hyperlucent lungs with sparse markings and a few bullae (geometry flattens the diaphragm)."""
    rng = canvas.rng
    canvas.density -= (0.03 + 0.04 * finding.severity) * canvas.lung_mask
    canvas.marking_suppression = np.maximum(canvas.marking_suppression, 0.5 * canvas.lung_mask)
    for side in ("right", "left"):
        x1, y1, x2, y2 = canvas.regions[f"{side} upper lung zone"]
        for _ in range(int(rng.integers(1, 3))):
            cx, cy, r = rng.uniform(x1, x2), rng.uniform(y1, y2), canvas.anatomy.scale * rng.uniform(0.02, 0.04)
            ring = canvas.ellipse(cx, cy, r, r, blur=0.5) - canvas.ellipse(cx, cy, r * 0.85, r * 0.85, blur=0.5)
            canvas.density += 0.05 * canvas.inside_lungs(np.clip(ring, 0, 1)) - 0.03 * canvas.inside_lungs(canvas.ellipse(cx, cy, r * 0.85, r * 0.85))
    del factor


def draw_hernia(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Hiatal hernia: a round retrocardiac density with an air-fluid level."""
    x1, y1, x2, y2 = canvas.regions["cardiac silhouette"]
    cx, cy = (x1 + x2) / 2 + canvas.anatomy.scale * 0.02, y2 - (y2 - y1) * 0.22
    r = canvas.anatomy.scale * (0.04 + 0.03 * finding.severity)
    canvas.blend_towards(canvas.ellipse(cx, cy, r * 1.2, r, blur=1.2), 0.7)
    bubble = canvas.ellipse(cx, cy - r * 0.35, r * 0.9, r * 0.45, blur=0.8) * (np.arange(canvas.shape[0])[:, None] < cy - r * 0.05)
    canvas.density -= 0.25 * bubble
    del factor


def draw_fracture(canvas: Canvas, finding: Finding, factor: float) -> None:
    """A rib cortex break: a dark gap and a bright callus across one rib."""
    a, rng = canvas.anatomy, canvas.rng
    x1, y1, x2, y2 = finding_boxes(canvas, finding, factor)[0]
    cx, cy = rng.uniform(x1, x2), rng.uniform(y1, y2)
    gap = canvas.lines([np.array([[cx - 1, cy - a.rib_spacing * 0.3], [cx + 1, cy + a.rib_spacing * 0.3]])], width=2, blur=0.4)
    callus = canvas.ellipse(cx + 2, cy, a.rib_spacing * 0.28, a.rib_spacing * 0.32, blur=0.8)
    canvas.density += (0.1 + 0.08 * finding.severity) * callus - 0.1 * gap


def draw_devices(canvas: Canvas, finding: Finding, factor: float) -> None:
    """Each listed device where it belongs: ET tube, central line, pacemaker with leads, enteric and chest tubes."""
    a = canvas.anatomy
    s, r = a.scale, canvas.regions
    carina = r["carina"]
    lines = []
    if "endotracheal tube" in finding.devices:
        lines.append(np.array([[a.center_x + 1, -2], [a.center_x + 1, carina[1] - s * 0.04]]))
    if "central line" in finding.devices:
        svc = r["svc"]
        entry = np.array([a.center_x - a.lung_half_width * 0.8, a.clavicle_y + s * 0.01])
        lines.append(np.array([entry, [a.center_x - s * 0.05, a.clavicle_y + s * 0.02], [(svc[0] + svc[2]) / 2, (svc[1] + svc[3]) / 2 + s * 0.04]]))
    if "enteric tube" in finding.devices:
        abdomen = r["abdomen"]
        lines.append(np.array([[a.center_x - 1, -2], [a.center_x + s * 0.01, carina[3]], [a.center_x + s * 0.05, abdomen[1] + s * 0.08]]))
    if "chest tube" in finding.devices:
        x1, y1, x2, y2 = r["left lung"]
        lines.append(np.array([[x2 + s * 0.05, y2 - s * 0.05], [x2 - s * 0.04, (y1 + y2) / 2], [x2 - s * 0.08, y1 + s * 0.08]]))
    if "pacemaker" in finding.devices:
        box_center = np.array([a.center_x + a.lung_half_width * 0.7, a.clavicle_y + s * 0.06])
        canvas.density += 0.45 * canvas.ellipse(box_center[0], box_center[1], s * 0.035, s * 0.025, blur=0.6)
        heart = r["cardiac silhouette"]
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
            changes["heart_half_width"] = anatomy.heart_half_width * (1.12 + 0.25 * finding.severity)
            changes["heart_half_height"] = anatomy.heart_half_height * (1.05 + 0.1 * finding.severity)
        elif finding.kind == "enlarged_cardiomediastinum":
            changes["mediastinum_half_width"] = anatomy.mediastinum_half_width * (1.35 + 0.4 * finding.severity)
        elif finding.kind == "emphysema":
            changes["costophrenic_y"] = min(anatomy.height * 0.88, anatomy.costophrenic_y + anatomy.height * 0.05 * (1 + finding.severity))
            changes["dome_height"] = anatomy.dome_height * 0.45
        elif finding.kind == "atelectasis":
            key = "right_dome_lift" if finding.region.startswith("right") else "left_dome_lift"
            changes[key] = anatomy.height * 0.03 * finding.severity
    return with_changes(anatomy, **changes) if changes else anatomy


DRAWERS = {
    "consolidation": lambda c, f, k: draw_airspace(c, f, k, dense=True, gain=1.0),
    "pneumonia": lambda c, f, k: draw_airspace(c, f, k, dense=True, gain=1.1),
    "infiltration": lambda c, f, k: draw_airspace(c, f, k, dense=False, gain=1.0),
    "lung_opacity": lambda c, f, k: draw_airspace(c, f, k, dense=False, gain=1.1),
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
