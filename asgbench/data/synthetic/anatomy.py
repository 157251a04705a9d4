"""Per-patient chest geometry for the synthetic renderer, and the anatomical region boxes it implies.

All coordinates are pixels of the render canvas (x to the right, y down). The patient's right side is on
the image's left, as on every frontal radiograph. Region names are Chest ImaGenome's.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from asgbench.vocab import IMAGENOME_REGIONS

@dataclass(frozen=True)
class Anatomy:
    """The sampled shape of one chest on a canvas of ``height`` x ``width`` pixels."""

    height: int
    width: int
    center_x: float          # midline (spine) x
    rotation: float          # radians, small in-plane tilt applied to the whole chest
    lung_top: float          # apex y
    costophrenic_y: float    # lateral costophrenic angle y (lowest lung point)
    dome_height: float       # how far the diaphragm dome rises above the angle
    lung_half_width: float   # midline to lateral lung wall
    mediastinum_half_width: float
    heart_center_y: float
    heart_half_width: float  # half the cardiac silhouette width
    heart_half_height: float
    heart_shift: float       # heart centre offset towards the patient's left (image right)
    body_half_width: float
    shoulder_y: float
    clavicle_y: float
    rib_spacing: float
    spine_half_width: float
    trachea_half_width: float
    lung_darkness: float     # 0 = as dense as soft tissue, 1 = as dark as air
    right_dome_lift: float = 0.0  # extra elevation of a hemidiaphragm (atelectasis, effusion sub-pulmonic)
    left_dome_lift: float = 0.0
    shape_index: int = -1         # index into the real lung-outline library; -1 = parametric outline

    @property
    def scale(self) -> float:
        return float(min(self.height, self.width))

    def lung_polygon(self, side: str, points: int = 48) -> np.ndarray:
        """Closed outline of one lung (``side`` = patient's 'right' or 'left') as (x, y) rows."""
        if self.shape_index >= 0:
            return self._rotate(self._real_outline(side))
        sign = -1.0 if side == "right" else 1.0
        lift = self.right_dome_lift if side == "right" else self.left_dome_lift
        medial = self.center_x + sign * self.mediastinum_half_width * 0.55
        lateral = self.center_x + sign * self.lung_half_width
        top, angle_y = self.lung_top, self.costophrenic_y - lift
        apex_x = medial + (lateral - medial) * 0.35
        t = np.linspace(0.0, 1.0, points)
        # apex to costophrenic angle along a convex lateral wall
        wall_x = apex_x + (lateral - apex_x) * np.sin(t * np.pi / 2) ** 0.6
        wall_y = top + (angle_y - top) * t ** 1.15
        # diaphragm dome from the angle back to the medial end
        dome_x = lateral + (medial - lateral) * t
        dome_y = angle_y - self.dome_height * np.sin(np.clip(t * 1.15, 0, 1) * np.pi) ** 0.8 - t * self.dome_height * 0.35
        # medial border back up to the apex, slightly concave
        med_y = dome_y[-1] + (top + self.height * 0.02 - dome_y[-1]) * t
        med_x = medial + sign * 0.0 - sign * np.sin(t * np.pi) * self.scale * 0.006 + (apex_x - medial) * t ** 6
        xs = np.concatenate([wall_x, dome_x[1:], med_x[1:]])
        ys = np.concatenate([wall_y, dome_y[1:], med_y[1:]])
        return self._rotate(np.column_stack([xs, ys]))

    def _real_outline(self, side: str) -> np.ndarray:
        from asgbench.data.synthetic.lung_shapes import lung_shapes

        outline = lung_shapes()[self.shape_index, 0 if side == "right" else 1]
        inner = self.mediastinum_half_width * 0.45
        if side == "right":
            x1, x2 = self.center_x - self.lung_half_width, self.center_x - inner
        else:
            x1, x2 = self.center_x + inner, self.center_x + self.lung_half_width
        lift = self.right_dome_lift if side == "right" else self.left_dome_lift
        y1, y2 = self.lung_top, self.costophrenic_y - lift
        return np.column_stack([x1 + outline[:, 0] * (x2 - x1), y1 + outline[:, 1] * (y2 - y1)])

    def heart_polygon(self, points: int = 64) -> np.ndarray:
        t = np.linspace(0, 2 * np.pi, points, endpoint=False)
        cx = self.center_x + self.heart_shift
        xs = cx + self.heart_half_width * np.cos(t) * (1 + 0.12 * np.cos(t))
        ys = self.heart_center_y + self.heart_half_height * np.sin(t)
        return self._rotate(np.column_stack([xs, ys]))

    def mediastinum_polygon(self) -> np.ndarray:
        half = self.mediastinum_half_width
        cx = self.center_x
        bottom = self.heart_center_y
        return self._rotate(
            np.array(
                [
                    [cx - half * 0.8, self.shoulder_y],
                    [cx + half * 0.8, self.shoulder_y],
                    [cx + half * 1.05, self.lung_top + (bottom - self.lung_top) * 0.3],
                    [cx + half, bottom],
                    [cx - half, bottom],
                    [cx - half * 1.05, self.lung_top + (bottom - self.lung_top) * 0.3],
                ]
            )
        )

    def _rotate(self, points: np.ndarray) -> np.ndarray:
        if self.rotation == 0:
            return points
        pivot = np.array([self.center_x, (self.lung_top + self.costophrenic_y) / 2])
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        return (points - pivot) @ np.array([[c, s], [-s, c]]) + pivot

    def region_boxes(self) -> dict[str, tuple[float, float, float, float]]:
        """Boxes (x1, y1, x2, y2) of the 29 Chest ImaGenome regions, derived from this geometry."""
        boxes: dict[str, tuple[float, float, float, float]] = {}
        for side in ("right", "left"):
            outline = self.lung_polygon(side)
            x1, y1 = outline.min(axis=0)
            x2, y2 = outline.max(axis=0)
            height = y2 - y1
            medial_x = x2 if side == "right" else x1
            lateral_x = x1 if side == "right" else x2
            boxes[f"{side} lung"] = (x1, y1, x2, y2)
            boxes[f"{side} upper lung zone"] = (x1, y1, x2, y1 + height / 3)
            boxes[f"{side} mid lung zone"] = (x1, y1 + height / 3, x2, y1 + 2 * height / 3)
            boxes[f"{side} lower lung zone"] = (x1, y1 + 2 * height / 3, x2, y2)
            boxes[f"{side} apical zone"] = (x1 + (x2 - x1) * 0.15, y1, x2 - (x2 - x1) * 0.15, y1 + height * 0.17)
            hilum_w = (x2 - x1) * 0.35
            hx = medial_x - hilum_w if side == "right" else medial_x
            boxes[f"{side} hilar structures"] = (hx, y1 + height * 0.33, hx + hilum_w, y1 + height * 0.6)
            cp = self.scale * 0.07
            cx1 = lateral_x if side == "right" else lateral_x - cp
            boxes[f"{side} costophrenic angle"] = (cx1, y2 - cp, cx1 + cp, y2)
            boxes[f"{side} hemidiaphragm"] = (x1, y2 - self.dome_height * 1.6, x2, y2 + self.scale * 0.02)
        cx, s = self.center_x, self.scale
        med = self.mediastinum_polygon()
        mx1, my1 = med.min(axis=0)
        mx2, _ = med.max(axis=0)
        heart = self.heart_polygon()
        hx1, hy1 = heart.min(axis=0)
        hx2, hy2 = heart.max(axis=0)
        carina_y = self.lung_top + (self.heart_center_y - self.lung_top) * 0.38
        boxes["trachea"] = (cx - self.trachea_half_width * 1.6, self.shoulder_y - s * 0.05, cx + self.trachea_half_width * 1.6, carina_y)
        boxes["carina"] = (cx - s * 0.04, carina_y - s * 0.03, cx + s * 0.04, carina_y + s * 0.03)
        boxes["spine"] = (cx - self.spine_half_width, self.shoulder_y - s * 0.05, cx + self.spine_half_width, min(self.height - 1.0, self.costophrenic_y + s * 0.12))
        for side, sign in (("right", -1), ("left", 1)):
            inner, outer = cx + sign * s * 0.03, cx + sign * (self.lung_half_width + s * 0.04)
            boxes[f"{side} clavicle"] = (min(inner, outer), self.clavicle_y - s * 0.035, max(inner, outer), self.clavicle_y + s * 0.045)
        boxes["aortic arch"] = (cx + s * 0.005, carina_y - s * 0.11, cx + self.mediastinum_half_width * 1.35, carina_y - s * 0.01)
        boxes["mediastinum"] = (min(mx1, hx1), my1, max(mx2, hx2), hy2)
        boxes["upper mediastinum"] = (mx1, my1, mx2, hy1)
        boxes["svc"] = (cx - self.mediastinum_half_width * 1.05, carina_y - s * 0.06, cx - s * 0.01, hy1 + s * 0.03)
        boxes["cardiac silhouette"] = (hx1, hy1, hx2, hy2)
        boxes["cavoatrial junction"] = (hx1 - s * 0.01, hy1 - s * 0.01, hx1 + s * 0.06, hy1 + s * 0.05)
        boxes["right atrium"] = (hx1, hy1 + (hy2 - hy1) * 0.2, hx1 + (hx2 - hx1) * 0.4, hy2)
        lowest = max(boxes["right lung"][3], boxes["left lung"][3])
        boxes["abdomen"] = (boxes["right lung"][0], lowest - self.dome_height, boxes["left lung"][2], min(self.height - 1.0, lowest + s * 0.2))
        clipped = {}
        for name in IMAGENOME_REGIONS:
            x1, y1, x2, y2 = boxes[name]
            x1, x2 = np.clip([x1, x2], 0, self.width - 1)
            y1, y2 = np.clip([y1, y2], 0, self.height - 1)
            clipped[name] = (float(x1), float(y1), float(max(x2, x1 + 1)), float(max(y2, y1 + 1)))
        return clipped


def sample_anatomy(rng: np.random.Generator, height: int, width: int, *, view: str = "PA") -> Anatomy:
    """Draw one patient's chest: lung shape, size, position, tilt, inspiration and AP magnification vary."""
    from asgbench.data.synthetic.lung_shapes import lung_shapes

    library = lung_shapes()
    shape_index = int(rng.integers(len(library))) if len(library) else -1
    s = float(min(height, width))
    ap = view.upper().startswith("AP")
    inspiration = rng.uniform(-1, 1)
    center_x = width / 2 + rng.normal(0, 0.03) * width
    lung_top = height * (0.13 + rng.normal(0, 0.025))
    costophrenic_y = lung_top + height * (0.59 + 0.05 * inspiration + rng.normal(0, 0.03))
    heart_ratio = rng.uniform(0.38, 0.50) * (1.06 if ap else 1.0)  # cardiothoracic ratio
    lung_half_width = s * rng.uniform(0.28, 0.40)
    thorax_width = 2 * lung_half_width
    return Anatomy(
        height=height,
        width=width,
        center_x=center_x,
        rotation=float(rng.normal(0, 0.025)),
        lung_top=lung_top,
        costophrenic_y=costophrenic_y,
        dome_height=s * rng.uniform(0.045, 0.075) * (1.0 - 0.25 * inspiration),
        lung_half_width=lung_half_width,
        mediastinum_half_width=s * rng.uniform(0.055, 0.07) * (1.1 if ap else 1.0),
        heart_center_y=costophrenic_y - (costophrenic_y - lung_top) * rng.uniform(0.2, 0.27),
        heart_half_width=thorax_width * heart_ratio / 2,
        heart_half_height=(costophrenic_y - lung_top) * rng.uniform(0.2, 0.25),
        heart_shift=s * rng.uniform(0.025, 0.05),
        body_half_width=lung_half_width + s * rng.uniform(0.06, 0.1),
        shoulder_y=height * rng.uniform(0.04, 0.08),
        clavicle_y=lung_top + height * rng.uniform(0.02, 0.06),
        rib_spacing=(costophrenic_y - lung_top) / rng.uniform(8.5, 10.0),
        spine_half_width=s * rng.uniform(0.03, 0.04),
        trachea_half_width=s * rng.uniform(0.012, 0.018),
        lung_darkness=float(rng.uniform(0.5, 0.75)),
        shape_index=shape_index,
    )


def with_changes(anatomy: Anatomy, **changes: float) -> Anatomy:
    return replace(anatomy, **changes)
