"""Anatomical region boxes for ARSA: from Chest ImaGenome scene graphs when present, else from an atlas.

Boxes live in the canonical letterboxed frame (256 x 256) that the image store holds, so they follow the
image through the same crop: ``crop_to_grid`` clips them to a crop window and converts them to the local
feature grid's units, dropping boxes that fall outside (as the released loader does).

The atlas is a template of the 29 regions in the canonical frame of a PA film framed on the thorax (the
mean region boxes of the synthetic renderer, whose lungs are real lung masks). It is an approximation used
only when no scene graph exists for an image; results record which source each image used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asgbench.data.images import Letterbox
from asgbench.errors import DataLayoutError
from asgbench.vocab import IMAGENOME_REGIONS

ATLAS: dict[str, tuple[float, float, float, float]] = {
    "right lung": (0.206, 0.128, 0.476, 0.721),
    "right upper lung zone": (0.206, 0.128, 0.476, 0.326),
    "right mid lung zone": (0.206, 0.326, 0.476, 0.523),
    "right lower lung zone": (0.206, 0.523, 0.476, 0.721),
    "right hilar structures": (0.381, 0.324, 0.476, 0.484),
    "right apical zone": (0.246, 0.128, 0.436, 0.229),
    "right costophrenic angle": (0.206, 0.660, 0.266, 0.721),
    "right hemidiaphragm": (0.206, 0.638, 0.476, 0.738),
    "left lung": (0.525, 0.128, 0.797, 0.720),
    "left upper lung zone": (0.525, 0.128, 0.797, 0.325),
    "left mid lung zone": (0.525, 0.325, 0.797, 0.523),
    "left lower lung zone": (0.525, 0.523, 0.797, 0.720),
    "left hilar structures": (0.525, 0.323, 0.620, 0.483),
    "left apical zone": (0.566, 0.128, 0.756, 0.229),
    "left costophrenic angle": (0.736, 0.659, 0.797, 0.720),
    "left hemidiaphragm": (0.525, 0.637, 0.797, 0.737),
    "trachea": (0.480, 0.017, 0.522, 0.300),
    "spine": (0.470, 0.017, 0.531, 0.826),
    "right clavicle": (0.170, 0.139, 0.475, 0.209),
    "left clavicle": (0.527, 0.139, 0.831, 0.209),
    "aortic arch": (0.505, 0.205, 0.578, 0.291),
    "mediastinum": (0.410, 0.059, 0.689, 0.716),
    "upper mediastinum": (0.439, 0.059, 0.563, 0.445),
    "svc": (0.441, 0.248, 0.492, 0.471),
    "cardiac silhouette": (0.411, 0.445, 0.689, 0.716),
    "cavoatrial junction": (0.402, 0.436, 0.463, 0.488),
    "right atrium": (0.411, 0.499, 0.522, 0.716),
    "carina": (0.466, 0.274, 0.535, 0.326),
    "abdomen": (0.206, 0.674, 0.797, 0.899),
}
SCENE_GRAPH_SUFFIX = "_SceneGraph.json"
SCENE_GRAPH_FOLDERS = (Path("silver_dataset") / "scene_graph", Path("silver_dataset") / "scene_graph" / "scene_graph",
                       Path("scene_graph"), Path("."))


@dataclass(frozen=True)
class SceneGraph:
    """The parts of a Chest ImaGenome scene graph ARSA uses."""

    image_id: str
    boxes: dict[str, tuple[float, float, float, float]]        # region -> original-pixel box
    phrases: dict[str, list[str]] = field(default_factory=dict)  # region -> report sentences about it


def atlas_boxes(size: int = 256) -> dict[str, np.ndarray]:
    return {region: np.asarray(box) * size for region, box in ATLAS.items()}


def scene_graph_folder(root: Path) -> Path:
    """The folder holding ``<dicom_id>_SceneGraph.json`` below a Chest ImaGenome root (either known nesting)."""
    root = Path(root)
    for relative in SCENE_GRAPH_FOLDERS:
        candidate = root / relative
        if candidate.is_dir() and next(candidate.glob(f"*{SCENE_GRAPH_SUFFIX}"), None) is not None:
            return candidate
    raise DataLayoutError(f"{root}: no *{SCENE_GRAPH_SUFFIX} files (looked in "
                          f"{', '.join(str(root / r) for r in SCENE_GRAPH_FOLDERS)})")


def read_scene_graph(path: Path) -> SceneGraph:
    try:
        data = json.loads(Path(path).read_text())
        boxes = {}
        for entry in data["objects"]:
            box = tuple(float(entry[f"original_{k}"]) for k in ("x1", "y1", "x2", "y2"))
            boxes[entry["bbox_name"]] = box
        phrases = {entry["bbox_name"]: [" ".join(p.split()) for p in entry.get("phrases", [])]
                   for entry in data.get("attributes", []) if entry.get(entry.get("bbox_name"), True)}
        return SceneGraph(str(data["image_id"]), boxes, phrases)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataLayoutError(f"{path}: not a Chest ImaGenome scene graph (objects with bbox_name and original_x1..y2 "
                              f"expected; {type(exc).__name__}: {exc})") from None


def to_canonical(boxes: dict[str, tuple[float, float, float, float]], letterbox: Letterbox) -> dict[str, np.ndarray]:
    """Original-pixel boxes -> canonical frame; faulty boxes (zero area, outside the image) are dropped, others clamped."""
    out = {}
    for region, (x1, y1, x2, y2) in boxes.items():
        x1, x2 = sorted((max(0.0, min(x1, letterbox.original_width)), max(0.0, min(x2, letterbox.original_width))))
        y1, y2 = sorted((max(0.0, min(y1, letterbox.original_height)), max(0.0, min(y2, letterbox.original_height))))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        out[region] = letterbox.apply_to_boxes(np.array([x1, y1, x2, y2]))[0]
    return out


def crop_to_grid(boxes: np.ndarray, top: int, left: int, crop: int, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Canonical-frame boxes (K x 4) -> grid units of a ``crop`` x ``crop`` window at (top, left).

    Returns the boxes and a validity mask: a box wholly outside the window is invalid, a partly visible one clipped.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, [0, 2]] -= left
    boxes[:, [1, 3]] -= top
    boxes = np.clip(boxes, 0, crop)
    valid = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    rows, cols = grid
    boxes[:, [0, 2]] *= cols / crop
    boxes[:, [1, 3]] *= rows / crop
    return boxes.astype(np.float32), valid


def region_order() -> tuple[str, ...]:
    return IMAGENOME_REGIONS
