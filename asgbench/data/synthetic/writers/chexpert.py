"""Synthetic CheXpert-v1.0-small: real train.csv rows (paths, -1 labels, laterals) and a generated valid.csv."""
from __future__ import annotations

import numpy as np
import pandas as pd

from asgbench.data.datasets.chexpert import CHEXPERT_COLUMNS, CHEXPERT_LABELS, COMPETITION_TASKS, strip_dataset_folder
from asgbench.data.synthetic import public_rows
from asgbench.data.synthetic.context import DatasetCounts, SynthContext
from asgbench.data.synthetic.jobs import ImageJob
from asgbench.data.synthetic.labels import chexpert_labels, findings_from_chexpert, sample_findings
from asgbench.data.synthetic.truth import ImageTruth

FOLDER = "CheXpert-v1.0-small"
FIRST_VALID_PATIENT = 64541


def sample_rows(train: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Half random rows, half rows positive (or uncertain) for each competition task in turn."""
    chosen: list[int] = []
    per_task = max(1, (n // 2) // len(COMPETITION_TASKS))
    for task in COMPETITION_TASKS:
        positive = train.index[train[task] == 1].difference(chosen)
        chosen.extend(rng.choice(positive, size=min(per_task - per_task // 4, len(positive)), replace=False).tolist())
        uncertain = train.index[train[task] == -1].difference(chosen)
        chosen.extend(rng.choice(uncertain, size=min(per_task // 4, len(uncertain)), replace=False).tolist())
    rest = train.index.difference(chosen)
    chosen.extend(rng.choice(rest, size=max(0, n - len(chosen)), replace=False).tolist())
    return train.loc[sorted(chosen[:n])].copy()


def _image_size(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(320, 391)), 320  # height, width of the -small release's portrait images


def generate_valid(ctx: SynthContext, n: int) -> tuple[pd.DataFrame, list]:
    """valid.csv rows with radiologist-style 0/1 labels on every column, and their truths."""
    rows, truths = [], []
    for i in range(n):
        rng = ctx.rng("valid", i)
        patient = f"patient{FIRST_VALID_PATIENT + i:05d}"
        lateral = i % 6 == 5
        view_file = "view2_lateral.jpg" if lateral else "view1_frontal.jpg"
        path = f"{FOLDER}/valid/{patient}/study1/{view_file}"
        findings = sample_findings(rng, uncertain_rate=0.0)
        height, width = _image_size(rng)
        truth = ImageTruth(path, height, width, view="AP" if rng.random() < 0.6 else "PA", seed=ctx.image_seed(path), findings=findings)
        labels = {k: (0.0 if np.isnan(v) else v) for k, v in chexpert_labels(truth, set(CHEXPERT_LABELS)).items()}
        labels["No Finding"] = 1.0 if not any(v == 1.0 for k, v in labels.items() if k not in ("No Finding", "Support Devices")) else 0.0
        rows.append({"Path": path, "Sex": "Female" if rng.random() < 0.5 else "Male", "Age": int(rng.integers(20, 90)),
                     "Frontal/Lateral": "Lateral" if lateral else "Frontal", "AP/PA": None if lateral else truth.view, **labels})
        truths.append((truth, lateral))
    return pd.DataFrame(rows, columns=list(CHEXPERT_COLUMNS)), truths


def write(ctx: SynthContext) -> DatasetCounts:
    train = sample_rows(public_rows.chexpert_train(), ctx.preset.chexpert_train, ctx.rng("rows"))
    jobs = []
    for row in train.to_dict("records"):
        rng = ctx.rng("findings", row["Path"])
        lateral = row["Frontal/Lateral"] == "Lateral"
        height, width = _image_size(rng)
        findings = findings_from_chexpert({k: row[k] for k in CHEXPERT_LABELS}, rng)
        view = row["AP/PA"] if isinstance(row["AP/PA"], str) else "PA"
        truth = ImageTruth(row["Path"], height, width, view=view, seed=ctx.image_seed(row["Path"]), findings=findings)
        jobs.append(ImageJob(strip_dataset_folder(row["Path"]), truth, "jpeg", lateral=lateral))
    valid, valid_truths = generate_valid(ctx, ctx.preset.chexpert_valid)
    for truth, lateral in valid_truths:
        jobs.append(ImageJob(strip_dataset_folder(truth.image_id), truth, "jpeg", lateral=lateral))
    ctx.run(jobs)
    train.to_csv(ctx.root / "train.csv", index=False)
    valid.to_csv(ctx.root / "valid.csv", index=False)
    both = pd.concat([train, valid], ignore_index=True)
    patients = both["Path"].str.extract(r"(patient\d+)", expand=False).nunique()
    return DatasetCounts(
        dataset="chexpert", index_rows=len(both), image_files=len(jobs), patients=int(patients),
        positives={label: int((both[label] == 1).sum()) for label in CHEXPERT_LABELS},
        extra={"laterals": int((both["Frontal/Lateral"] == "Lateral").sum()), "uncertain": int((both[list(CHEXPERT_LABELS)] == -1).sum().sum())},
    )
