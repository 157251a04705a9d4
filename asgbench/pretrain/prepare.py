"""`asgbench pretrain prepare`: MIMIC-CXR-JPG reports and images -> the pre-training annotation file.

For every frontal image with a report: the FINDINGS and IMPRESSION sentences, the 40-tag vector, and per
anatomical region the box (Chest ImaGenome scene graph when the user has them, else the atlas) with the
sentences aligned to it, twice: by the rule-based parser (``rules``) and by the scene graph's own phrases
(``scene-graph``). Written once, atomically, as ``annotations.jsonl.gz`` + ``manifest.json``; the manifest
records the ``hedged`` policy the tag vectors were made with (``report_parser.HEDGED_POLICIES``), which the trainer
reads: with "ignore" the IRL loss leaves hedged (-1) tags out (``data.masks_uncertain_tags``).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from asgbench.data.datasets import read_index
from asgbench.data.images import CANONICAL_SIZE, Letterbox
from asgbench.errors import DataLayoutError
from asgbench.pretrain.anatomy import (SCENE_GRAPH_SUFFIX, SceneGraph, atlas_boxes, read_scene_graph, scene_graph_folder,
                                       to_canonical)
from asgbench.pretrain.data import ANNOTATIONS_FILE, MANIFEST_FILE
from asgbench.pretrain.report_parser import (DEFAULT_HEDGED, HEDGED_POLICIES, PARSER_VERSION, parse_report,
                                             region_sentences, tag_vector)
from asgbench.vocab import IMAGENOME_REGIONS

FORMAT = "asgbench-asg-annotations"
VALIDATION_SHARE = 0.05   # used only when the download lacks the official split file


def image_shape(path: Path) -> tuple[int, int]:
    """(height, width) from the file header, without decoding the pixels."""
    if path.suffix.lower() == ".dcm":
        import pydicom

        header = pydicom.dcmread(path, stop_before_pixels=True)
        return int(header.Rows), int(header.Columns)
    with Image.open(path) as image:
        return image.height, image.width


def _split_of(official: object, patient: str) -> str:
    if isinstance(official, str) and official:
        return official
    bucket = int(hashlib.sha256(patient.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if bucket < VALIDATION_SHARE else "train"


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _scene_graph_alignment(graph: SceneGraph, sentences: list[str]) -> dict[str, list[int]]:
    """Region -> indices of our sentences that the scene graph attaches to it (matched by text)."""
    normalised = [_normalise(s) for s in sentences]
    aligned: dict[str, list[int]] = {}
    for region, phrases in graph.phrases.items():
        for phrase in phrases:
            target = _normalise(phrase)
            for index, sentence in enumerate(normalised):
                if target and (target == sentence or target in sentence or sentence in target):
                    aligned.setdefault(region, []).append(index)
    return {region: sorted(set(indices)) for region, indices in aligned.items()}


def _slots(boxes: dict[str, np.ndarray], alignment: dict[str, list[int]]) -> list[dict]:
    return [{"region": region, "box": [round(float(v), 2) for v in boxes[region]], "sentences": alignment[region]}
            for region in IMAGENOME_REGIONS if region in boxes and alignment.get(region)]


SCENE_GRAPHS_FOLDER = "chest-imagenome"


def default_scene_graphs(mimic_root: Path) -> Path | None:
    """Chest ImaGenome found by the data-root rule: every dataset in its own folder under one data root, so the
    scene graphs of ``<root>/mimic`` are ``<root>/chest-imagenome`` when that folder exists."""
    candidate = Path(mimic_root).parent / SCENE_GRAPHS_FOLDER
    return candidate if candidate.is_dir() else None


def prepare(mimic_root: Path, out: Path, *, scene_graphs: Path | None = None, find_scene_graphs: bool = True,
            hedged: str = DEFAULT_HEDGED, progress: Callable[[int, int], None] | None = None) -> dict:
    """Build the annotation file; returns the manifest. Without ``scene_graphs`` they are looked for beside
    the MIMIC folder (:func:`default_scene_graphs`) unless ``find_scene_graphs`` is False; without any, the
    region boxes come from the atlas. ``hedged`` says what a hedged tag becomes (negative: 0, as the release trains,
    the default; positive: 1; ignore: -1, left out of IRL)."""
    if hedged not in HEDGED_POLICIES:
        raise ValueError(f"hedged policy {hedged!r}: expected one of {', '.join(HEDGED_POLICIES)}")
    mimic_root = Path(mimic_root)
    if scene_graphs is None and find_scene_graphs:
        scene_graphs = default_scene_graphs(mimic_root)
    index = read_index("mimic", mimic_root)
    frame = index.frame
    frame = frame[frame["frontal"].astype(bool) & frame["report"].notna() & frame["path"].notna()]
    if frame.empty:
        raise DataLayoutError(f"{mimic_root}: no frontal images with reports")
    graph_folder = scene_graph_folder(scene_graphs) if scene_graphs else None
    atlas = atlas_boxes(CANONICAL_SIZE)
    parsed_reports: dict[str, object] = {}
    counts = {"images": 0, "train": 0, "val": 0, "test": 0, "scene_graph_boxes": 0, "atlas_boxes": 0,
              "rules_slots": 0, "scene_graph_slots": 0, "sentences": 0}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    temporary = out / f".{ANNOTATIONS_FILE}.{os.getpid()}"
    total = len(frame)
    with gzip.open(temporary, "wt") as handle:
        for done, row in enumerate(frame.itertuples(index=False), 1):
            report = row.report
            if report not in parsed_reports:
                path = mimic_root / report
                if not path.is_file():
                    raise DataLayoutError(f"{path}: report file missing (listed for image {row.image_id})")
                parsed_reports[report] = parse_report(path.read_text(errors="replace"))
            parsed = parsed_reports[report]
            sentences = [s.text for s in parsed.sentences]
            if not sentences:
                continue
            triplets = [t for s in parsed.sentences for t in s.triplets]
            graph = None
            if graph_folder is not None:
                graph_path = graph_folder / f"{row.image_id}{SCENE_GRAPH_SUFFIX}"
                graph = read_scene_graph(graph_path) if graph_path.is_file() else None
            if graph is not None:
                height, width = image_shape(mimic_root / row.path)
                boxes = to_canonical(graph.boxes, Letterbox.fit(height, width, CANONICAL_SIZE))
                counts["scene_graph_boxes"] += 1
            else:
                boxes = atlas
                counts["atlas_boxes"] += 1
            rules = {region: sorted(indices) for region, indices in region_sentences(parsed).items()}
            slots = {"rules": _slots(boxes, rules)}
            if graph is not None:
                slots["scene-graph"] = _slots(boxes, _scene_graph_alignment(graph, sentences))
            split = _split_of(row.official_split, str(row.patient_id))
            record = {"image_id": row.image_id, "split": split, "study_id": str(getattr(row, "study_id", "")),
                      "sentences": sentences, "tags": [int(v) for v in tag_vector(triplets, hedged)], "slots": slots,
                      "box_source": "scene-graph" if graph is not None else "atlas"}
            handle.write(json.dumps(record) + "\n")
            counts["images"] += 1
            counts[split] = counts.get(split, 0) + 1
            counts["sentences"] += len(sentences)
            counts["rules_slots"] += len(slots["rules"])
            counts["scene_graph_slots"] += len(slots.get("scene-graph", []))
            if progress:
                progress(done, total)
    os.replace(temporary, out / ANNOTATIONS_FILE)
    manifest = {"format": FORMAT, "version": 1, "parser_version": PARSER_VERSION, "hedged": hedged,
                "mimic_root": str(mimic_root.resolve()),
                "scene_graphs": str(Path(scene_graphs).resolve()) if scene_graphs else None, "counts": counts,
                "official_split": bool(frame["official_split"].notna().any())}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
