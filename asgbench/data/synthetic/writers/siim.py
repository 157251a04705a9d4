"""Synthetic SIIM-ACR Pneumothorax: real ImageIds and real RLE masks, drawn into the nested DICOM tree.

``layout="dicom"`` writes the stage-1 Kaggle release (train-rle.csv with its leading spaces, a few
MONOCHROME1 and 12-bit files); ``layout="png"`` writes the vbookshelf PNG re-pack that BenchX uses.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from asgbench.data.synthetic import public_rows
from asgbench.data.synthetic.context import DatasetCounts, SynthContext
from asgbench.data.synthetic.dicom import DicomIdentity, DicomStyle, kaggle_uids
from asgbench.data.synthetic.jobs import ImageJob
from asgbench.data.synthetic.pneumothorax_outlines import reserved_for_other_datasets
from asgbench.data.synthetic.truth import Finding, ImageTruth

SIIM_SIZE = 1024
POSITIVE_SHARE = 0.4  # the real stage-1 train set has 22 %


def parse_uid(image_id: str) -> tuple[int, int, int]:
    """``1.2.276.0.7230010.3.1.4.8323329.<n>.<ts>.<k>`` -> (n, ts, k)."""
    parts = image_id.split(".")
    return int(parts[-3]), int(parts[-2]), int(parts[-1])


def sample_images(table: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    grouped = table.groupby("ImageId", sort=False)["EncodedPixels"].apply(lambda s: (s != "-1").any())
    positive, negative = grouped.index[grouped].to_numpy(), grouped.index[~grouped].to_numpy()
    n_pos = min(len(positive), max(1, round(n * POSITIVE_SHARE)))
    # make sure some positives have several annotation rows (union of masks)
    counts = table[table["EncodedPixels"] != "-1"].groupby("ImageId").size()
    multi = counts.index[counts > 1].to_numpy()
    chosen = set(rng.choice(multi, min(len(multi), max(1, n_pos // 4)), replace=False))
    rest = np.setdiff1d(positive, list(chosen))
    chosen |= set(rng.choice(rest, n_pos - len(chosen), replace=False))
    chosen |= set(rng.choice(negative, n - n_pos, replace=False))
    return table[table["ImageId"].isin(chosen)]


def _truth(ctx: SynthContext, image_id: str, rles: tuple[str, ...]) -> ImageTruth:
    rng = ctx.rng("findings", image_id)
    findings = [Finding("pneumothorax", "right upper lung zone", float(rng.uniform(0.5, 1.0)))] if rles else []
    return ImageTruth(image_id, SIIM_SIZE, SIIM_SIZE, view="PA", seed=ctx.image_seed(image_id), findings=findings)


def write(ctx: SynthContext, layout: str = "dicom") -> DatasetCounts:
    table = public_rows.siim_rle()
    own = table[~table["ImageId"].map(reserved_for_other_datasets)]   # the rest are the other datasets' outlines
    rows = sample_images(own, ctx.preset.siim, ctx.rng("images"))
    order = list(pd.unique(rows["ImageId"]))
    rles = {i: tuple(r for r in rows.loc[rows["ImageId"] == i, "EncodedPixels"] if r != "-1") for i in order}
    if layout == "dicom":
        jobs = _dicom_jobs(ctx, order, rles)
        ctx.run(jobs)
        lines = ["ImageId, EncodedPixels"] + [f"{i}, {r}" for i, r in rows[["ImageId", "EncodedPixels"]].itertuples(index=False)]
        (ctx.root / "train-rle.csv").write_text("\n".join(lines) + "\n")
        extra = {"rle_rows": len(rows), "unlabelled_test_images": ctx.preset.siim_unlabelled_test}
    elif layout == "png":
        jobs, tables = _png_jobs(ctx, order, rles)
        ctx.run(jobs)
        for split, table in tables.items():
            table.to_csv(ctx.root / f"stage_1_{split}_images.csv", index=False)
        extra = {"test_images": len(tables["test"])}
    else:
        raise ValueError(f"unknown SIIM layout {layout!r}; expected dicom or png")
    return DatasetCounts(dataset="siim", index_rows=len(order), image_files=len(jobs), patients=len(order),
                         positives={"Pneumothorax": sum(1 for i in order if rles[i])}, extra=extra)


def _dicom_jobs(ctx: SynthContext, order: list[str], rles: dict[str, tuple[str, ...]]) -> list[ImageJob]:
    jobs = []
    for position, image_id in enumerate(order):
        n, timestamp, k = parse_uid(image_id)
        study, series, sop = kaggle_uids(n, timestamp, k)
        style = DicomStyle(encoding="raw", monochrome1=True) if position % 10 == 3 else (
            DicomStyle(encoding="raw", bits=12) if position % 17 == 5 else DicomStyle())
        rng = ctx.rng("header", image_id)
        identity = DicomIdentity(patient_id=_uuid(rng), study_uid=study, series_uid=series, sop_uid=sop,
                                 sex="F" if rng.random() < 0.5 else "M", age=str(int(rng.integers(18, 90))))
        jobs.append(ImageJob(f"dicom-images-train/{study}/{series}/{sop}.dcm", _truth(ctx, image_id, rles[image_id]), "dicom",
                             dicom=identity, dicom_style=style, pneumothorax_rles=rles[image_id]))
    for j in range(ctx.preset.siim_unlabelled_test):
        rng = ctx.rng("test", j)
        n, timestamp = 30000 + j, 1517875300 + j
        study, series, sop = kaggle_uids(n, timestamp, 900000 + j)
        identity = DicomIdentity(patient_id=_uuid(rng), study_uid=study, series_uid=series, sop_uid=sop)
        jobs.append(ImageJob(f"dicom-images-test/{study}/{series}/{sop}.dcm", _truth(ctx, sop, ()), "dicom", dicom=identity))
    return jobs


def _png_jobs(ctx: SynthContext, order: list[str], rles: dict[str, tuple[str, ...]]):
    test_share = max(1, len(order) // 8)
    records = {"train": [], "test": []}
    jobs = []
    for position, image_id in enumerate(order):
        split = "test" if position < test_share else "train"
        number = len(records[split])
        label = 1 if rles[image_id] else 0
        name = f"{number}_{split}_{label}_.png"
        records[split].append({"new_filename": name, "ImageId": image_id, "has_pneumo": label})
        jobs.append(ImageJob(f"png_images/{name}", _truth(ctx, image_id, rles[image_id]), "png",
                             pneumothorax_rles=rles[image_id], mask_path=f"png_masks/{name}"))
    return jobs, {split: pd.DataFrame(rows, columns=["new_filename", "ImageId", "has_pneumo"]) for split, rows in records.items()}


def _uuid(rng: np.random.Generator) -> str:
    digits = "".join(f"{int(v):x}" for v in rng.integers(0, 16, 32))
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
