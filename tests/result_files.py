"""Result files as `run` writes them, for tests of tables, plots and the demo's claims.

:func:`make_result` gives a schema-valid result dict (the real template ``golden/run-template.json`` with
the run's identity and numbers replaced); :func:`write_scored_run` gives one with per-image outputs: its
metrics are scored from the outputs by the project's own scorer (``score_classification``, the segmentation
bootstrap) and both are written with ``write_result``, so the files are the ones a real run leaves.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from asgbench.encoders import MODELS
from asgbench.results import upgrade, validate_result, write_result
from asgbench.tasks import metrics as m
from asgbench.tasks.paired import ScoredImages
from asgbench.tasks.scoring import predictions_table, score_classification
from asgbench.tasks.specs import TASKS as TASK_SPECS

GOLDEN = Path(__file__).parent / "golden"
TEMPLATE = upgrade(json.loads((GOLDEN / "run-template.json").read_text()))

# task -> (dataset, kind, headline metric, evaluation protocol)
TASKS = {
    "nih-lp": ("nih", "linear_probe", "auc", "linear-probe"),
    "chexpert-lp": ("chexpert", "linear_probe", "auc", "linear-probe"),
    "rsna-lp": ("rsna", "linear_probe", "auc", "linear-probe"),
    "covidx-lp": ("covidx", "linear_probe", "accuracy", "linear-probe"),
    "rsna-zs": ("rsna", "zero_shot", "auc", "zero-shot"),
    "nih-zs": ("nih", "zero_shot", "auc", "zero-shot"),
    "siim-seg": ("siim", "segmentation", "dice", "segmentation"),
    "rsna-seg": ("rsna", "segmentation", "dice", "segmentation"),
}
ARCHITECTURES = {"random-r50": "resnet50", "imagenet-r50": "resnet50", "convirt": "resnet50", "medklip": "resnet50",
                 "mgca-r50": "resnet50", "asg-r50": "resnet50", "mrm": "vit_base_patch16",
                 "mgca-vit": "vit_base_patch16", "asg-vit": "vit_base_patch16", "asg-r18": "resnet18", "kad": "resnet50",
                 "medclip-vit": "swin_tiny", "random-vit-tiny": "vit_tiny_patch16"}
@functools.lru_cache(maxsize=None)
def table_metadata(model: str) -> dict:
    """What ``run`` records about a registered encoder for tables (group, display name, order)."""
    return MODELS.get(model).table_metadata()


def make_result(model: str, task: str, fraction: int, seed: int, value: float, *, draw: int = 0,
                provenance: dict | None = None, overrides: tuple[str, ...] = (), split_protocol: str = "asgbench-v1",
                ci_halfwidth: float = 0.03, eval_protocol: str | None = None, architecture: str | None = None,
                encoder_metadata: dict | None = None) -> dict:
    """A schema-valid result: the template with the run's identity and numbers replaced. The encoder carries
    ``encoder_metadata`` if given, else the registry's table metadata; ``{}`` makes a file from before those
    fields existed."""
    dataset, kind, metric, protocol = TASKS[task]
    protocol = eval_protocol or protocol
    result = copy.deepcopy(TEMPLATE)
    variant = "-".join((provenance or {}).get("objectives", [])) + (provenance or {}).get("arsa_alignment", "")
    result["run_id"] = f"{model}__{task}__f{fraction}-d{draw}-s{seed}__{variant or 'plain'}{len(overrides)}"
    result["spec"].update(model=model, task=task, fraction=fraction, draw=draw, seed=seed,
                          split_protocol=split_protocol, eval_protocol=protocol, overrides=list(overrides))
    result["task"].update(name=task, dataset=dataset, kind=kind, metric=metric)
    result["eval_protocol"]["name"] = protocol
    result["splits"]["split_protocol"] = split_protocol
    metadata = table_metadata(model.partition(".")[0]) if encoder_metadata is None else encoder_metadata
    result["encoder"].update(name=model, architecture=architecture or ARCHITECTURES[model.partition(".")[0]],
                             provenance=provenance or {}, **metadata)
    ci95 = [max(0.0, value - ci_halfwidth), min(1.0, value + ci_halfwidth)]
    result["headline"] = {"metric": metric, "value": value, "ci95": ci95}
    result["metrics"] = {metric: {"value": value, "ci95": ci95}}
    if kind == "zero_shot":
        result["metrics"]["f1"] = {"value": value - 0.2, "ci95": [value - 0.25, value - 0.15]}
        result["metrics"]["accuracy"] = {"value": value - 0.05, "ci95": [value - 0.1, value]}
    elif metric == "auc":
        result["metrics"]["accuracy"] = {"value": value - 0.1, "ci95": [value - 0.15, value - 0.05]}
    result["per_class"] = {}
    validate_result(result, result["run_id"])
    return result


def write_scored_run(folder: Path, result: dict, images: ScoredImages) -> dict:
    """Give ``result`` the metrics its per-image outputs score and write both into ``folder`` as ``run`` does.

    ``images``: targets and scores of the task's labels (one-hot targets for a multi-class task), or per-image
    Dice for segmentation.
    """
    result = copy.deepcopy(result)
    spec = TASK_SPECS.get(result["task"]["name"])
    ids, patients = list(images.image_ids), list(images.patients)
    if images.is_dice:
        dice = images.scores[:, 0].astype(np.float64)
        metrics = {"dice": m.bootstrap(lambda i: float(dice[i].mean()), len(dice), patients=patients).to_dict()}
        per_class: dict = {"dice": {spec.labels[0]: metrics["dice"]["value"]}}
        predictions = pd.DataFrame({"image_id": ids, "patient_id": patients, "dice": dice})
    else:
        targets = images.targets.argmax(1) if spec.multiclass else images.targets
        metrics, per_class = score_classification(spec, targets, images.scores, patients)
        predictions = predictions_table(ids, patients, spec.labels, targets, images.scores, spec.multiclass)
    metric = result["task"]["metric"]
    result["task"].update(labels=list(spec.labels), multiclass=spec.multiclass)
    result["metrics"], result["per_class"] = metrics, per_class
    result["headline"] = {"metric": metric, "value": metrics[metric]["value"], "ci95": metrics[metric]["ci95"]}
    validate_result(result, result["run_id"])
    write_result(Path(folder), result, predictions)
    return result
