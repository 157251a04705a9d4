"""Synthetic COVIDx: header-less 4-field label files, mixed image formats and sizes, several data sources.

``style`` picks the release: ``9A`` (COVID-Net repo, normal/pneumonia/COVID-19; what MGCA and ASG use),
``cxr2`` (Kaggle train.txt/test.txt, positive/negative) or ``cxr4`` (adds val.txt and val/).
"""
from __future__ import annotations

import numpy as np

from asgbench.data.synthetic.context import DatasetCounts, SynthContext
from asgbench.data.synthetic.jobs import ImageJob
from asgbench.data.synthetic.labels import sample_findings
from asgbench.data.synthetic.truth import Finding, ImageTruth

CLASSES_A = ("normal", "pneumonia", "COVID-19")
TRAIN_MIX_A = (0.3, 0.25, 0.45)  # close to 9A train (8,085 / 5,555 / 16,490)
TEST_MIX_A = (0.25, 0.25, 0.5)   # 9A test (100 / 100 / 200)
SOURCES = ("cohen", "actmed", "sirm", "ricord", "rsna", "bimcv", "stonybrook", "fig1")
STYLES = ("9A", "cxr2", "cxr4")


def file_name(source: str, index: int, rng: np.random.Generator) -> tuple[str, str, str]:
    """(patient id, filename, format) in the naming style of each contributing source."""
    if source == "ricord":
        pid = f"{419000 + index}-{3000 + index:06d}"
        return pid, f"MIDRC-RICORD-1C-{pid}-{46000 + index}-0.png", "png"
    if source == "rsna":
        token = f"{rng.integers(0, 16**8):08x}-{rng.integers(0, 16**4):04x}-{rng.integers(0, 16**4):04x}-{rng.integers(0, 16**4):04x}-{rng.integers(0, 16**12):012x}"
        return token, f"{token}.png", "png"
    if source == "cohen":
        suffix = ("jpeg", "jpg", "png")[index % 3]
        return str(index), f"covid-{index:05d}-day{index % 7}.{suffix}", "png" if suffix == "png" else "jpeg"
    if source == "bimcv":
        return f"S{index:05d}", f"sub-S{index:05d}_ses-E{index + 10000:05d}_run-1_bp-chest_vp-ap_cr.png", "png"
    extension = "jpg" if index % 2 else "png"
    return f"{source[:2].upper()}{index:05d}", f"{source}-{index:05d}.{extension}", "jpeg" if extension == "jpg" else "png"


def _findings(cls: str, rng: np.random.Generator) -> list[Finding]:
    if cls == "COVID-19":
        return [Finding("covid19", "right lung", float(rng.uniform(0.45, 1.0)))]
    if cls == "pneumonia":
        side = ("right", "left")[int(rng.integers(2))]
        zone = ("lower", "mid", "upper")[int(rng.integers(3))]
        return [Finding("pneumonia", f"{side} {zone} lung zone", float(rng.uniform(0.5, 1.0)))]
    return [f for f in sample_findings(rng) if f.kind == "support_devices"]


def write(ctx: SynthContext, style: str = "9A") -> DatasetCounts:
    if style not in STYLES:
        raise ValueError(f"unknown COVIDx style {style!r}; expected one of {STYLES}")
    n_train, n_test = ctx.preset.covidx_train, ctx.preset.covidx_test
    splits = [("train", n_train, TRAIN_MIX_A), ("test", n_test, TEST_MIX_A)]
    if style == "cxr4":
        splits.insert(1, ("val", max(3, n_test), TEST_MIX_A))
    jobs, lines_by_split, positives = [], {}, {c: 0 for c in CLASSES_A}
    counter = 0
    patients = set()
    for split, count, mix in splits:
        rng = ctx.rng("split", split)
        classes = rng.choice(CLASSES_A, size=count, p=mix)
        lines = []
        for cls in classes:
            counter += 1
            source = SOURCES[int(rng.integers(len(SOURCES)))]
            pid, name, fmt = file_name(source, counter, rng)
            patients.add(pid)
            size = int(rng.choice([256, 480, 512, 720, 1024]))
            height = int(size * rng.uniform(0.85, 1.2))
            truth = ImageTruth(f"{split}/{name}", height, size, view="AP" if rng.random() < 0.5 else "PA",
                               seed=ctx.image_seed(split, name), findings=_findings(str(cls), rng))
            jobs.append(ImageJob(f"{split}/{name}", truth, fmt, rgb=rng.random() < 0.1))
            label = str(cls) if style == "9A" else ("positive" if cls == "COVID-19" else "negative")
            lines.append(f"{pid} {name} {label} {source}")
            positives[str(cls)] += 1
        lines_by_split[split] = lines
    ctx.run(jobs)
    for split, lines in lines_by_split.items():
        name = f"{split}_COVIDx9A.txt" if style == "9A" else f"{split}.txt"
        (ctx.root / name).write_text("\n".join(lines) + "\n")
    if style != "9A":
        positives = {"positive": positives["COVID-19"], "negative": positives["normal"] + positives["pneumonia"]}
    return DatasetCounts(dataset="covidx", index_rows=len(jobs), image_files=len(jobs), patients=len(patients),
                         positives=positives, extra={f"{s}_images": len(v) for s, v in lines_by_split.items()})
