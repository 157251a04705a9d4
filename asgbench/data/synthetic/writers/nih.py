"""Synthetic NIH ChestX-ray14: real Data_Entry rows (ids, label combinations, views) with rendered PNGs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from asgbench.data.datasets.nih import BBOX_LABEL_SPELLING, DATA_ENTRY_COLUMNS, NIH_FINDINGS
from asgbench.data.synthetic import public_rows
from asgbench.data.synthetic.context import DatasetCounts, SynthContext
from asgbench.data.synthetic.jobs import ImageJob
from asgbench.data.synthetic.labels import NIH_KINDS, findings_from_nih
from asgbench.data.synthetic.truth import ImageTruth

NIH_SIZE = 1024
TEST_PATIENT_FRACTION = 0.25


def sample_rows(entries: pd.DataFrame, boxes: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Half the rows at random (real label distribution), half enriched so every finding has positives.

    A few rows come from the images that have expert boxes, so BBox_List is exercised too.
    """
    chosen: list[int] = []
    boxed = entries.index[entries["Image Index"].isin(set(boxes["Image Index"]))]
    chosen.extend(rng.choice(boxed, size=min(len(boxed), max(2, n // 12)), replace=False).tolist())
    per_label = max(1, (n // 2) // len(NIH_FINDINGS))
    for label in NIH_FINDINGS:
        candidates = entries.index[entries[label] == 1].difference(chosen)
        chosen.extend(rng.choice(candidates, size=min(per_label, len(candidates)), replace=False).tolist())
    rest = entries.index.difference(chosen)
    chosen.extend(rng.choice(rest, size=max(0, n - len(chosen)), replace=False).tolist())
    return entries.loc[sorted(chosen[:n])]


def write(ctx: SynthContext) -> DatasetCounts:
    rng = ctx.rng("rows")
    entries, all_boxes = public_rows.nih_entries(), public_rows.nih_boxes()
    rows = sample_rows(entries, all_boxes, ctx.preset.nih, rng)
    boxes = all_boxes[all_boxes["Image Index"].isin(set(rows["Image Index"]))]
    box_map: dict[tuple[str, str], list] = {}
    for name, label, x, y, w, h in boxes[["Image Index", "Finding Label", "Bbox [x", "y", "w", "h]"]].itertuples(index=False):
        box_map.setdefault((name, BBOX_LABEL_SPELLING.get(label, label)), []).append((x, y, x + w, y + h))

    jobs = []
    for position, row in enumerate(rows.to_dict("records")):
        name = row["Image Index"]
        labels = {label: row[label] for label in NIH_FINDINGS}
        finding_rng = ctx.rng("findings", name)
        findings = findings_from_nih(labels, finding_rng)
        for finding in findings:
            label = next(k for k, v in NIH_KINDS.items() if v == finding.kind)
            finding.boxes = tuple(box_map.get((name, label), ()))
        folder = "images_001/images" if position < len(rows) // 2 else "images_002/images"
        truth = ImageTruth(name, NIH_SIZE, NIH_SIZE, view=str(row["View Position"]), seed=ctx.image_seed(name), findings=findings)
        jobs.append(ImageJob(f"{folder}/{name}", truth, "png"))
    ctx.run(jobs)

    rows[list(DATA_ENTRY_COLUMNS)].to_csv(ctx.root / "Data_Entry_2017_v2020.csv", index=False)
    boxes.to_csv(ctx.root / "BBox_List_2017.csv", index=False, header=False)
    _prepend_line(ctx.root / "BBox_List_2017.csv", "Image Index,Finding Label,Bbox [x,y,w,h],,,")
    patients = sorted(set(rows["Patient ID"]))
    test_patients = set(ctx.rng("split").choice(patients, size=max(1, round(len(patients) * TEST_PATIENT_FRACTION)), replace=False).tolist())
    is_test = rows["Patient ID"].isin(test_patients)
    (ctx.root / "train_val_list.txt").write_text("\n".join(rows.loc[~is_test, "Image Index"]) + "\n")
    (ctx.root / "test_list.txt").write_text("\n".join(rows.loc[is_test, "Image Index"]) + "\n")
    return DatasetCounts(
        dataset="nih", index_rows=len(rows), image_files=len(jobs), patients=len(patients),
        positives={label: int((rows[label] == 1).sum()) for label in NIH_FINDINGS},
        extra={"boxes": len(boxes), "test_images": int(is_test.sum())},
    )


def _prepend_line(path, line: str) -> None:
    body = path.read_text()
    path.write_text(line + "\n" + body)
