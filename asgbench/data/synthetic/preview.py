"""A contact sheet of synthetic radiographs with their anatomical region boxes and findings outlined."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from asgbench.data.synthetic.render import render
from asgbench.data.synthetic.truth import ImageTruth, make_finding

EXAMPLES = (
    (), ("consolidation",), ("effusion",), ("pneumothorax",), ("cardiomegaly", "edema"), ("nodule", "mass"),
    ("atelectasis", "support_devices"), ("covid19",), ("emphysema", "fibrosis"), ("infiltration",),
    ("hernia", "pleural_thickening"), ("fracture", "lung_opacity"),
)
REGIONS_SHOWN = ("right lung", "left lung", "right upper lung zone", "left lower lung zone", "cardiac silhouette",
                 "mediastinum", "trachea", "right costophrenic angle", "left hilar structures", "abdomen")
TILE = 384


def write_preview(path: str | Path, seed: int = 0, columns: int = 4) -> Path:
    """Render one tile per example finding set and save the sheet as PNG."""
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default()
    tiles = []
    for index, kinds in enumerate(EXAMPLES):
        findings = [make_finding(kind, rng, severity=float(rng.uniform(0.7, 1.0))) for kind in kinds]
        truth = ImageTruth(f"preview-{index}", TILE, TILE, view="PA", seed=seed * 1000 + index, findings=findings)
        rendered = render(truth)
        tile = Image.fromarray(rendered.image).convert("RGB")
        draw = ImageDraw.Draw(tile)
        for name in REGIONS_SHOWN:
            draw.rectangle(rendered.regions[name], outline=(60, 170, 255), width=1)
        for finding in findings:
            box = rendered.regions[finding.region]
            draw.rectangle(box, outline=(255, 60, 60), width=2)
            draw.text((box[0] + 2, box[1] + 1), finding.kind.replace("_", " "), fill=(255, 90, 90), font=font)
        if rendered.pneumothorax_mask is not None:
            outline = Image.fromarray(rendered.pneumothorax_mask * 255).resize(tile.size)
            edges = np.asarray(outline.filter(ImageFilter.FIND_EDGES)) > 0
            pixels = np.asarray(tile).copy()
            pixels[edges] = (255, 220, 0)
            tile = Image.fromarray(pixels)
            draw = ImageDraw.Draw(tile)
        caption = ", ".join(k.replace("_", " ") for k in kinds) or "no finding"
        draw.rectangle((0, TILE - 16, TILE, TILE), fill=(0, 0, 0))
        draw.text((4, TILE - 14), caption, fill=(255, 255, 255), font=font)
        tiles.append(tile)
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * TILE, rows * TILE))
    for k, tile in enumerate(tiles):
        sheet.paste(tile, ((k % columns) * TILE, (k // columns) * TILE))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path
