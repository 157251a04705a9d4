"""Result dicts -> one frame row per run and metric (:func:`collect`), and the statistics of each table cell
(:func:`aggregate`): mean, sample sd (ddof=1), n and the cell's run ids, which lead to its per-image outputs
(intervals of a cell's mean and comparisons between cells are computed from those; averaging the runs' own
CI bounds would give no interval of anything).

The frame is the only thing tables, plots and the demo read, so every fact a table prints about a run is
taken from its result file here, once.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields

import pandas as pd

from asgbench.tables.identity import checkpoint_variant, encoder_row, known_objectives
from asgbench.tasks.protocols import is_default


@dataclass(frozen=True, order=True)
class RowKey:
    """What keeps two measured table rows apart; runs that differ only in seed or split draw share one, and so do
    the exports of one pre-training recipe trained with other seeds.

    ``eval_protocol_variant`` is "" for the task kind's default evaluation protocol, so that e.g. linear-probe
    and segmentation cells of one model share a row; ``ablation`` names an asgbench-trained ASG checkpoint and
    ``recipe`` its training config without seed (two recipes under one name stay two rows).
    """

    model: str
    display_name: str
    order: int
    ablation: str
    objectives: str
    architecture: str
    group: str
    split_protocol: str
    eval_protocol_variant: str
    overrides: str
    recipe: str


ROW_KEY = [field.name for field in fields(RowKey)]
CELL_KEY = ["task", "dataset", "kind", "eval_protocol", "fraction", "metric"]
RUN_COLUMNS = ["run_id", "created", "model", "display_name", "order", "ablation", "architecture", "group", "task",
               "dataset", "kind", "fraction", "draw", "seed", "split_protocol", "eval_protocol",
               "eval_protocol_variant", "overrides", "objectives", "arsa_alignment", "metric", "headline", "value",
               "ci_low", "ci_high", "data", "recipe", "pretrain_seed"]
STAT_COLUMNS = ["mean", "sd", "n", "run_ids", "pretrain_seeds", "sd_pretrain"]
NO_PRETRAIN_SEED = -1     # an encoder that records no pre-training seed (released weights, older exports)


def _run_identity(result: dict) -> dict:
    spec, task, encoder = result["spec"], result["task"], result["encoder"]
    row = encoder_row(result)
    objectives = known_objectives(result)
    provenance = encoder.get("provenance") or {}
    protocol = spec["eval_protocol"]
    transform = spec.get("transform", "native")   # another transform is another row, named as such
    label = row.display_name if transform == "native" else f"{row.display_name} ({transform} transform)"
    return {
        "run_id": result["run_id"], "created": result["created"], "model": spec["model"],
        "display_name": label, "order": row.order, "ablation": checkpoint_variant(result),
        "architecture": encoder["architecture"], "group": row.group, "task": task["name"],
        "dataset": task["dataset"], "kind": task["kind"], "fraction": int(spec["fraction"]),
        "draw": int(spec["draw"]), "seed": int(spec["seed"]), "split_protocol": spec["split_protocol"],
        "eval_protocol": protocol, "eval_protocol_variant": "" if is_default(task["kind"], protocol) else protocol,
        "overrides": ", ".join(spec["overrides"]), "objectives": "+".join(objectives),
        "arsa_alignment": (provenance.get("arsa_alignment") or "") if objectives else "",
        "data": _data_origin(result), "recipe": str(provenance.get("recipe") or ""),
        "pretrain_seed": int(provenance["seed"]) if provenance.get("seed") is not None else NO_PRETRAIN_SEED,
    }


def _data_origin(result: dict) -> str:
    """"synthetic" for runs on asgbench's synthetic suite, "real" otherwise, "" for results that do not say."""
    data = result.get("data")
    if data is None:
        return ""
    return "synthetic" if data.get("synthetic_suite_sha256") else "real"


def collect(results: Iterable[dict]) -> pd.DataFrame:
    """One row per run and metric in its file (``headline`` marks the task's metric; filter on it for one
    row per run). Values stay fractions in [0, 1]."""
    rows = []
    for result in results:
        identity = _run_identity(result)
        for metric, entry in result["metrics"].items():
            low, high = (entry.get("ci95") or [math.nan, math.nan])[:2]
            rows.append({**identity, "metric": metric, "headline": metric == result["headline"]["metric"],
                         "value": _number(entry.get("value")), "ci_low": _number(low), "ci_high": _number(high)})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _number(value) -> float:
    return math.nan if value is None else float(value)


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample sd (ddof=1; NaN for one run), n and the run ids per row and cell; where the runs come from
    several pre-training seeds of one recipe, their number and the sd of the seeds' means (``sd_pretrain``: each
    seed's mean over its runs first, so a seed evaluated more often does not weigh more).

    Runs that differ only in seed, split draw or pre-training seed are pooled; everything else that can change
    the numbers (recipe, architecture, split protocol, evaluation protocol, overrides) keeps rows apart.
    """
    columns = ROW_KEY + CELL_KEY + STAT_COLUMNS
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(ROW_KEY + CELL_KEY, sort=True, dropna=False)
    stats = grouped.agg(mean=("value", "mean"), sd=("value", "std"), n=("value", "count"),
                        run_ids=("run_id", lambda ids: tuple(sorted(ids)))).reset_index()
    seeded = frame[frame["pretrain_seed"] != NO_PRETRAIN_SEED]
    per_seed = seeded.groupby(ROW_KEY + CELL_KEY + ["pretrain_seed"], sort=True, dropna=False)["value"].mean()
    spread = per_seed.groupby(level=list(range(len(ROW_KEY + CELL_KEY)))).agg(["count", "std"])
    spread.columns = ["pretrain_seeds", "sd_pretrain"]
    stats = stats.merge(spread.reset_index(), on=ROW_KEY + CELL_KEY, how="left")
    stats["pretrain_seeds"] = stats["pretrain_seeds"].fillna(0).astype(int)
    return stats[columns]


def row_keys(stats: pd.DataFrame) -> list[RowKey]:
    """The distinct rows of an aggregated frame, sorted."""
    return sorted({RowKey(*values) for values in stats[ROW_KEY].itertuples(index=False, name=None)})
