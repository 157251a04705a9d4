"""Benchmark: at which depth of a frozen encoder can a linear read-out find a segmentation task's lesions?

For each checkpoint and each map a U-Net decoder reads (the input and every tapped stage), on the task's
asgbench-v1 lists (full training list): (a) a pixel probe, logistic regression from one map location's features
to "at least a quarter of this cell is lesion", fitted on up to 40,000 training locations and scored as AUC over
every test location; (b) an image probe, logistic regression from the map's global mean to "the image has a
lesion", scored as AUC on the test images. Pre-training helps a segmentation decoder where its maps score above
an untrained network's; where the input itself already scores as high, the decoder can find the lesion without it.

Run (after ``make demo``): ``python benchmarks/bench_lesion_depth.py --task siim-seg``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tabulate import tabulate

from asgbench.encoders import resolve_model
from asgbench.encoders.factory import build_encoder
from asgbench.tasks.data import TaskData, load_task_data
from asgbench.tasks.seg_models import SegmentationModel
from asgbench.tasks.specs import TASKS

PIXEL_SAMPLE = 40_000
LESION_SHARE = 0.25


@dataclass(frozen=True)
class Probe:
    """One map's two read-outs."""

    shape: tuple[int, ...]
    pixel_auc: float
    image_auc: float


def _maps(model: SegmentationModel, data: TaskData, ids: list[str]) -> list[torch.Tensor]:
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(ids), 64):
            x = model.encoder.preprocess(torch.from_numpy(data.store.batch(ids[start:start + 64])))
            chunks.append([t.float() for t in model.encode(x)])
    return [torch.cat(column) for column in zip(*chunks)]


def _read_out_auc(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test AUC of a standardised, lightly regularised logistic regression fitted on the training rows."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.1)).fit(train_x, train_y)
    return float(roc_auc_score(test_y, model.decision_function(test_x)))


def probe_checkpoint(name: str, checkpoint: Path, data: TaskData, seed: int = 0) -> list[Probe]:
    encoder = build_encoder(resolve_model(name, checkpoint)).eval()
    model = SegmentationModel(encoder)
    split = {}
    for part in ("train", "test"):
        masks = encoder.preprocess_masks(torch.from_numpy(data.masks(part))).float()
        split[part] = (_maps(model, data, data.splits[part].image_ids), masks if masks.ndim == 4 else masks[:, None])
    rng = np.random.default_rng(seed)
    probes = []
    for depth in range(len(split["train"][0])):
        pixels, pixel_labels, means, image_labels = {}, {}, {}, {}
        for part, (maps, masks) in split.items():
            features = maps[depth]
            n, channels, height, width = features.shape
            share = torch.nn.functional.adaptive_avg_pool2d(masks, (height, width))
            pixels[part] = features.permute(0, 2, 3, 1).reshape(-1, channels).numpy()
            pixel_labels[part] = (share.reshape(-1) >= LESION_SHARE).numpy()
            means[part] = features.mean((2, 3)).numpy()
            image_labels[part] = (masks.flatten(1).amax(1) > 0).numpy()
        sample = rng.choice(len(pixels["train"]), min(PIXEL_SAMPLE, len(pixels["train"])), replace=False)
        probes.append(Probe(tuple(split["train"][0][depth].shape[1:]),
                            _read_out_auc(pixels["train"][sample], pixel_labels["train"][sample], pixels["test"],
                                          pixel_labels["test"]),
                            _read_out_auc(means["train"], image_labels["train"], means["test"], image_labels["test"])))
    return probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="siim-seg")
    parser.add_argument("--workdir", type=Path, default=Path(".asgbench/demo"), help="a finished demo's workdir")
    parser.add_argument("--variants", default="full,random", help="demo variants to probe (every seed found)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_task_data(TASKS.get(args.task), fraction=100, data_root=args.workdir / "suite-small",
                          cache_dir=args.workdir / "cache")
    rows = []
    for variant in args.variants.split(","):
        for folder in sorted((args.workdir / "models-full").glob(f"{variant}-seed*")):
            probes = probe_checkpoint(f"asg.{variant}", folder / f"{variant}.safetensors", data)
            rows.append([folder.name, *(f"{p.pixel_auc:.3f} / {p.image_auc:.3f}" for p in probes)])
            headers = ["checkpoint", *(f"{'input' if i == 0 else 'map'} {p.shape[0]}@{p.shape[1]}x{p.shape[2]}"
                                       for i, p in enumerate(probes))]
    if not rows:
        raise SystemExit(f"{args.workdir / 'models-full'}: no demo checkpoint of {args.variants}; run `make demo` first")
    print(f"{args.task}: pixel AUC / image AUC of a linear read-out, per map the U-Net decoder reads")
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
