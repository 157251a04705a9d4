"""Collected runs -> the format-free :class:`~asgbench.tables.model.Table` of each README section.

Every cell is the mean ± sample sd (ddof=1) over the runs that share a row and column (seeds and split
draws); a single run shows no sd. Published numbers (:mod:`asgbench.tables.reported`) are separate
"(reported)" rows, and bold/underline rank only measured cells, because the published ones come from
other splits. A measured value significantly below its column's best row carries a mark
(:mod:`asgbench.tables.significance`, from the runs' per-image outputs when given). Rows are ordered and
grouped by the metadata their result files carry.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pandas as pd

from asgbench.errors import ConfigError
from asgbench.tables.aggregate import ROW_KEY, RowKey, aggregate, row_keys
from asgbench.tables.caption import caption, shared_settings
from asgbench.tables.identity import registry_order
from asgbench.tables.empty_mask import empty_mask_row, floor_cell
from asgbench.tables.layout import (ABLATION_ORDER, ABLATION_TABLE, BLOCK_TITLES, BLOCKED_SECTIONS, LAYOUTS,
                                    LESION_DICE, SECTION_KINDS, SECTIONS, SEGMENTATION_TABLE, ZERO_SHOT_TABLE, Column,
                                    ColumnGroup, extra_group)
from asgbench.tables.model import BEST, SECOND, Block, Cell, Row, Table
from asgbench.tables.outputs import NO_OUTPUTS, RunOutputs
from asgbench.tables.reported import reported_rows
from asgbench.tables.significance import CellRuns, Tested, column_verdicts
from asgbench.tasks.paired import RECOMPUTABLE
from asgbench.tasks.protocols import SEGMENTATION, ZERO_SHOT

# A published row without a registry model (BioViL) leads its table, as in the README.
UNREGISTERED_REPORTED_ORDER = -1
EMPTY_MASK_ORDER = -2       # the segmentation table's empty-mask baseline leads it
MEASURED, REPORTED = 0, 1   # at equal order, our row comes before the published one


def _section_layout(name: str, runs: pd.DataFrame) -> tuple[ColumnGroup, ...]:
    """The README's columns, plus tasks of the same kind that have results but no published column."""
    groups = list(LAYOUTS[name])
    kind = SECTION_KINDS[name]
    if kind is None or runs.empty:
        return tuple(groups)
    known = {column.task for group in groups for column in group.columns}
    extra = runs[(runs["kind"] == kind) & runs["headline"] & ~runs["task"].isin(known)]
    for (task, dataset, metric), _ in extra.groupby(["task", "dataset", "metric"], sort=True):
        groups.append(extra_group(kind, task, dataset, metric))
        if name == SEGMENTATION_TABLE and kind == SEGMENTATION:
            groups.append(extra_group(kind, task, dataset, LESION_DICE))
    return tuple(groups)


def _section_stats(name: str, stats: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """The aggregated cells that belong in a section (ablation: asgbench-trained ASG checkpoints only)."""
    if stats.empty:
        return stats
    wanted = pd.MultiIndex.from_tuples([(c.task, c.metric, c.fraction) for c in columns])
    here = stats[pd.MultiIndex.from_frame(stats[["task", "metric", "fraction"]]).isin(wanted)]
    if name == ABLATION_TABLE:
        return here[here["ablation"] != ""]
    return here[here["kind"] == SECTION_KINDS[name]]


def row_labels(keys: list[RowKey], ablation: bool) -> dict[RowKey, str]:
    """Display name (ablation: objectives), plus in brackets whatever else tells rows apart."""
    architectures, recipes = defaultdict(set), defaultdict(set)
    for key in keys:
        architectures[key.model].add(key.architecture)
        recipes[key.model].add(key.recipe)
    several_splits = len({key.split_protocol for key in keys}) > 1
    several_models = len({key.model for key in keys}) > 1
    labels = {}
    for key in keys:
        if ablation:
            base, extras = key.ablation, [key.display_name] if several_models else []
        else:
            base, extras = key.display_name + (f" · {key.ablation}" if key.ablation else ""), []
        if len(architectures[key.model]) > 1:
            extras.append(key.architecture)
        if len(recipes[key.model]) > 1:
            extras.append(f"recipe {key.recipe[:8]}" if key.recipe else "no recipe recorded")
        if several_splits:
            extras.append(key.split_protocol)
        if key.eval_protocol_variant:
            extras.append(key.eval_protocol_variant)
        if key.overrides:
            extras.append(key.overrides)
        labels[key] = base + (f" [{', '.join(extras)}]" if extras else "")
    return labels


def _objectives_rank(objectives: tuple[str, ...]) -> int:
    return ABLATION_ORDER.index(objectives) if objectives in ABLATION_ORDER else len(ABLATION_ORDER)


def _displayed(value: float) -> float:
    """The value as printed (one decimal), so that ties on screen rank as ties."""
    return float(f"{value:.1f}")


def _marks(cells_by_row: list[list[Cell]]) -> list[list[Cell]]:
    """Best value per column in bold, second underlined; needs at least two measured values."""
    if not cells_by_row:
        return cells_by_row
    marked = [list(cells) for cells in cells_by_row]
    for column in range(len(marked[0])):
        values = [_displayed(cells[column].mean) for cells in marked if cells[column].mean is not None]
        if len(values) < 2:
            continue
        ranked = sorted(set(values), reverse=True)
        for cells in marked:
            cell = cells[column]
            if cell.mean is None:
                continue
            shown = _displayed(cell.mean)
            mark = BEST if shown == ranked[0] else SECOND if len(ranked) > 1 and shown == ranked[1] else ""
            cells[column] = Cell(cell.mean, cell.sd, cell.n, mark)
    return marked


def _below_best(keys: list[RowKey], marked: dict[RowKey, list[Cell]], pooled: dict[RowKey, list[CellRuns | None]],
                columns: tuple[Column, ...], outputs: RunOutputs) -> Tested:
    """Mark, column by column, the cells significantly below the column's best row; returns what was tested."""
    verdicts = []
    for i, column in enumerate(columns):
        if column.metric not in RECOMPUTABLE:    # e.g. Dice on lesion images: not recomputable from the outputs
            continue
        for key, verdict in zip(keys, column_verdicts([pooled[key][i] for key in keys], column.metric, outputs)):
            marked[key][i] = replace(marked[key][i], below=verdict.below)
            verdicts.append(verdict)
    return Tested.of(verdicts)


def _with_intervals(cells: list[Cell], columns: tuple[Column, ...], pooled: list[CellRuns | None],
                    outputs: RunOutputs) -> list[Cell]:
    """Each measured cell with the 95 % CI of its mean from the runs' per-image outputs (where they give it)."""
    with_ci = []
    for cell, column, runs_of in zip(cells, columns, pooled):
        interval = None
        if runs_of is not None and column.metric in RECOMPUTABLE:
            interval = outputs.mean_interval(runs_of.run_ids, column.metric)
        with_ci.append(cell if interval is None else replace(cell, interval=(100 * interval[0], 100 * interval[1])))
    return with_ci


def _measured_rows(name: str, here: pd.DataFrame, columns: tuple[Column, ...], outputs: RunOutputs,
                   runs: pd.DataFrame, intervals: bool = False) -> tuple[list[tuple[tuple, str, Row]], Tested]:
    """(sort key, group, row) for every measured row of a section, and what the significance marks tested."""
    if here.empty:
        return [], Tested()
    keys = row_keys(here)
    labels = row_labels(keys, ablation=name == ABLATION_TABLE)
    index = {(c.task, c.metric, c.fraction): i for i, c in enumerate(columns)}
    cells = {key: [Cell() for _ in columns] for key in keys}
    pooled: dict[RowKey, list[CellRuns | None]] = {key: [None] * len(columns) for key in keys}
    for record in here.itertuples(index=False):
        key = RowKey(*(getattr(record, field) for field in ROW_KEY))
        mean = None if pd.isna(record.mean) else 100 * float(record.mean)
        spread = record.sd_pretrain if record.pretrain_seeds > 1 else record.sd   # over pre-training seeds first
        sd = None if pd.isna(spread) else 100 * float(spread)
        column = index[(record.task, record.metric, int(record.fraction))]
        cells[key][column] = Cell(mean, sd, int(record.n))
        if mean is not None:
            pooled[key][column] = CellRuns(mean, tuple(record.run_ids))
    marked = dict(zip(keys, _marks([cells[key] for key in keys])))
    tested = _below_best(keys, marked, pooled, columns, outputs)
    if intervals:
        marked = {key: _with_intervals(marked[key], columns, pooled[key], outputs) for key in keys}
    if name == SEGMENTATION_TABLE:
        for key in keys:
            marked[key] = [floor_cell(cell, column, runs, None if runs_of is None else runs_of.run_ids)
                           for cell, column, runs_of in zip(marked[key], columns, pooled[key])]
    rows = []
    for key in keys:
        rank = _objectives_rank(tuple(key.objectives.split("+"))) if name == ABLATION_TABLE else key.order
        rows.append(((rank, MEASURED, labels[key]), key.group, Row(labels[key], False, tuple(marked[key]), key.model)))
    return rows, tested


def _reported_rows(name: str, columns: tuple[Column, ...]) -> list[tuple[tuple, str | None, Row]]:
    """(sort key, group, row) for the published rows, placed by their registry model's order."""
    rows = []
    for position, published in enumerate(reported_rows(name)):
        cells = tuple(Cell(published.values[c]) if c in published.values else Cell() for c in columns)
        if name == ABLATION_TABLE:
            rank = _objectives_rank(published.objectives)
        else:
            rank = registry_order(published.model) if published.model else UNREGISTERED_REPORTED_ORDER
        rows.append(((rank, REPORTED, f"{position:04d}"), published.group,
                     Row(f"{published.label} (reported)", True, cells, published.model)))
    return rows


def _blocks(name: str, entries: list[tuple[tuple, str | None, Row]]) -> tuple[Block, ...]:
    entries = sorted(entries, key=lambda entry: entry[0])
    if name in BLOCKED_SECTIONS:
        blocks = [Block(title, tuple(row for _, g, row in entries if g == group))
                  for group, title in BLOCK_TITLES.items()]
    else:
        blocks = [Block(None, tuple(row for _, _, row in entries))]
    return tuple(block for block in blocks if block.rows)


def build_table(name: str, frame: pd.DataFrame, include_reported: bool = True,
                outputs: RunOutputs = NO_OUTPUTS, intervals: bool = False) -> Table:
    """The format-free table of one section, from :func:`~asgbench.tables.aggregate.collect`'s frame; with the
    runs' per-image ``outputs`` (:func:`~asgbench.tables.outputs.run_outputs`) it marks rows below the best."""
    if name not in SECTIONS:
        raise ConfigError(f"unknown table {name!r}; expected one of {', '.join(SECTIONS)}")
    runs = frame
    if name == ZERO_SHOT_TABLE and not runs.empty:
        runs = runs[(runs["kind"] != ZERO_SHOT) | (runs["fraction"] == 100)]
    groups = _section_layout(name, runs)
    columns = tuple(column for group in groups for column in group.columns)
    here, shared = shared_settings(_section_stats(name, aggregate(runs), columns))
    entries, tested = _measured_rows(name, here, columns, outputs, runs, intervals)
    if include_reported:
        entries += _reported_rows(name, columns)
    used = {run_id for ids in here.get("run_ids", ()) for run_id in ids}
    baseline = empty_mask_row(runs, used, columns) if name == SEGMENTATION_TABLE else None
    if baseline is not None:
        entries.append(((EMPTY_MASK_ORDER, MEASURED, baseline.label), "init", baseline))
    origins = runs.loc[runs["run_id"].isin(used)].drop_duplicates("run_id")["data"] if used else runs["data"].iloc[:0]
    synthetic = (int((origins == "synthetic").sum()), len(origins))
    return Table(name, caption(name, here, groups, include_reported, shared, tested, synthetic, baseline is not None,
                               intervals),
                 groups, _blocks(name, entries),
                 "Objectives" if name == ABLATION_TABLE else "Method")


def build_tables(frame: pd.DataFrame, include_reported: bool = True,
                 outputs: RunOutputs = NO_OUTPUTS, intervals: bool = False) -> dict[str, Table]:
    return {name: build_table(name, frame, include_reported, outputs, intervals) for name in SECTIONS}
