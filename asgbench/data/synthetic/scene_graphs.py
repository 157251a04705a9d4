"""Chest ImaGenome-style silver scene graphs for the synthetic MIMIC images.

One ``<dicom_id>_SceneGraph.json`` per frontal image, in the release layout
``chest-imagenome/silver_dataset/scene_graph/``: ``objects`` hold the 29 region boxes (224-frame and
original-pixel coordinates), ``attributes`` hold, per mentioned region, the report sentences about it with
their ``category|yes/no|label`` attribute strings (a hedge adds ``severity|yes|hedge``).
"""
from __future__ import annotations

import json
from pathlib import Path

from asgbench.data.synthetic.reports import Sentence
from asgbench.vocab import IMAGENOME_REGIONS, UNSPECIFIED

SCENE_GRAPH_DIR = Path("chest-imagenome") / "silver_dataset" / "scene_graph"


def _frame_224(box: tuple[float, float, float, float], height: int, width: int) -> list[float]:
    """The box in the 224 x 224 resize-and-pad frame (longest side to 224, centred padding)."""
    scale = 224 / max(height, width)
    pad_left = (224 - round(width * scale)) // 2
    pad_top = (224 - round(height * scale)) // 2
    x1, y1, x2, y2 = box
    return [round(x1 * scale + pad_left), round(y1 * scale + pad_top), round(x2 * scale + pad_left), round(y2 * scale + pad_top)]


def scene_graph(dicom_id: str, subject_id: int, study_id: int, view: str, height: int, width: int,
                regions: dict[str, tuple[float, float, float, float]], sentences: list[Sentence], study_date: int) -> dict:
    objects = []
    for name in IMAGENOME_REGIONS:
        x1, y1, x2, y2 = (round(v) for v in regions[name])
        a1, b1, a2, b2 = _frame_224((x1, y1, x2, y2), height, width)
        objects.append({
            "object_id": f"{dicom_id}_{name}", "bbox_name": name,
            "x1": a1, "y1": b1, "x2": a2, "y2": b2, "width": a2 - a1, "height": b2 - b1,
            "original_x1": x1, "original_y1": y1, "original_x2": x2, "original_y2": y2,
            "original_width": x2 - x1, "original_height": y2 - y1,
        })
    by_region: dict[str, dict] = {}
    for index, sentence in enumerate(sentences):
        touched = {region for region, _ in sentence.attributes} | {region for region, _, _ in sentence.triplets}
        for region in sorted(touched - {UNSPECIFIED}):
            entry = by_region.setdefault(region, {
                region: True, "bbox_name": region, "synsets": [], "name": region, "object_id": f"{dicom_id}_{region}",
                "phrases": [], "phrase_IDs": [], "sections": [], "attributes": [], "attributes_ids": [],
                "comparison_cues": [], "temporal_cues": [], "severity_cues": [], "texture_cues": [],
            })
            labels = [a for r, a in sentence.attributes if r == region]
            existences = {e for r, _, e in sentence.triplets if r == region}
            abnormal = bool(existences & {"present", "uncertain"})
            entry["phrases"].append(sentence.text)
            entry["phrase_IDs"].append(f"{study_id}|{index}")
            entry["sections"].append("finalreport")
            entry["attributes"].append(labels + [f"nlp|yes|{'abnormal' if abnormal else 'normal'}"])
            entry["attributes_ids"].append([])
            entry["comparison_cues"].append([])
            entry["temporal_cues"].append([])
            entry["severity_cues"].append(["severity|yes|hedge"] if "uncertain" in existences else [])
            entry["texture_cues"].append([])
    return {
        "image_id": dicom_id, "viewpoint": view, "patient_id": subject_id, "study_id": study_id, "gender": "",
        "age_decile": "", "reason_for_exam": "___ with shortness of breath", "StudyOrder": 1,
        "StudyDateTime": str(study_date), "objects": objects, "attributes": list(by_region.values()), "relationships": [],
    }


def write_scene_graph(out_dir: Path, graph: dict) -> Path:
    path = out_dir / f"{graph['image_id']}_SceneGraph.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(graph, indent=1))
    return path
