"""Result files -> the ASG README's tables (markdown, HTML, CSV, LaTeX), README updates and plots.

Tables are built from result files only, so anyone can regenerate them from a results folder. Every cell is
the mean ± sample sd (ddof=1) over the runs that share a row and column (seeds and split draws); a single
run shows no sd. The published numbers (:mod:`asgbench.reported`) appear as separate italic "(reported)"
rows, and bold/underline rank only measured cells, because the published ones come from other splits.
"""
from __future__ import annotations

import csv
import html
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from asgbench.errors import AsgbenchError, ConfigError
from asgbench.reported import (ABLATION_COLUMNS, FRACTIONS, LINEAR_PROBE_COLUMNS, NIH_ZERO_SHOT_COLUMNS,
                               RSNA_ZERO_SHOT_COLUMNS, SEGMENTATION_COLUMNS, Column, reported_rows)

FORMATS = ("md", "html", "csv", "latex")
SECTIONS = ("linear-probe", "zero-shot", "segmentation", "ablation")
OBJECTIVE_ORDER = ("ira", "arsa", "irl", "erl")
DEFAULT_PROTOCOLS = {"linear_probe": "linear-probe", "zero_shot": "zero-shot", "segmentation": "segmentation"}
# The README's row order; models it does not name follow, alphabetically.
MODEL_ORDER = ("random-r50", "random-r18", "random-vit", "random-vit-tiny", "imagenet-r50", "imagenet-vit",
               "convirt", "gloria", "medklip", "medclip-r50", "medclip-vit", "kad", "kad-224", "mgca-r50", "mrm",
               "mgca-vit", "asg-r50", "asg-vit")
ABLATION_ORDER = (("ira",), ("ira", "arsa"), ("ira", "irl"), ("ira", "irl", "erl"), ("ira", "arsa", "irl", "erl"))
VIT_PREFIXES = ("vit", "swin", "deit", "beit")
METRIC_NAMES = {"auc": "AUC", "accuracy": "ACC", "f1": "F1", "dice": "Dice"}
DATASET_NAMES = {"nih": "NIH X-ray", "chexpert": "CheXpert", "rsna": "RSNA", "covidx": "COVIDx", "siim": "SIIM"}
ZERO_SHOT_METRICS = ("auc", "f1", "accuracy")
BLOCK_TITLES = {"init": None, "CNN": "CNN-based", "ViT": "ViT-based"}
EMPTY = "–"

RUN_COLUMNS = ["run_id", "created", "model", "variant", "architecture", "group", "task", "dataset", "kind", "fraction",
               "draw", "seed", "split_protocol", "protocol", "protocol_variant", "overrides", "objectives",
               "arsa_alignment", "metric", "headline", "value", "ci_low", "ci_high"]
# protocol_variant is "" for a kind's default protocol, so that e.g. linear-probe and segmentation cells share a row.
ROW_KEY = ["model", "variant", "objectives", "architecture", "group", "split_protocol", "protocol_variant", "overrides"]
CELL_KEY = ["task", "dataset", "kind", "protocol", "fraction", "metric"]


# -- one row per run and metric ----------------------------------------------------------------------
def objectives_label(objectives: Iterable[str], arsa_alignment: str | None) -> str:
    """``["ira", "arsa"]``, ``"rules"`` -> ``"IRA+ARSA (rules)"``: how ablation rows are named."""
    chosen = [name for name in OBJECTIVE_ORDER if name in set(objectives)]
    chosen += sorted(set(objectives) - set(OBJECTIVE_ORDER))
    label = "+".join(name.upper() for name in chosen)
    return f"{label} ({arsa_alignment})" if "arsa" in chosen and arsa_alignment else label


def checkpoint_variant(result: dict) -> str:
    """The ablation label of an asgbench-trained ASG checkpoint, "" for every other encoder."""
    provenance = result["encoder"].get("provenance") or {}
    objectives = provenance.get("objectives") or []
    return objectives_label(objectives, provenance.get("arsa_alignment")) if objectives else ""


def model_group(model: str, architecture: str, untrained: bool = False) -> str:
    """"init" for random/ImageNet baselines (and untrained exports), else "ViT" or "CNN" by backbone."""
    if untrained or model.startswith(("random-", "imagenet-")):
        return "init"
    return "ViT" if architecture.lower().startswith(VIT_PREFIXES) else "CNN"


def collect(results: Iterable[dict]) -> pd.DataFrame:
    """One row per run and metric in its file (``headline`` marks the task's metric; filter on it for one
    row per run). Values stay fractions in [0, 1]."""
    rows = []
    for result in results:
        spec, task, encoder = result["spec"], result["task"], result["encoder"]
        provenance = encoder.get("provenance") or {}
        objectives = [name for name in OBJECTIVE_ORDER if name in set(provenance.get("objectives") or [])]
        identity = {
            "run_id": result["run_id"], "created": result["created"], "model": spec["model"],
            "variant": checkpoint_variant(result), "architecture": encoder["architecture"],
            "group": model_group(spec["model"], encoder["architecture"], provenance.get("best_epoch") == 0), "task": task["name"],
            "dataset": task["dataset"], "kind": task["kind"], "fraction": int(spec["fraction"]),
            "draw": int(spec["draw"]), "seed": int(spec["seed"]), "split_protocol": spec["split_protocol"],
            "protocol": spec["protocol"],
            "protocol_variant": "" if spec["protocol"] == DEFAULT_PROTOCOLS.get(task["kind"]) else spec["protocol"],
            "overrides": ", ".join(spec["overrides"]), "objectives": "+".join(objectives),
            "arsa_alignment": (provenance.get("arsa_alignment") or "") if objectives else "",
        }
        for metric, entry in result["metrics"].items():
            low, high = (entry.get("ci95") or [math.nan, math.nan])[:2]
            rows.append({**identity, "metric": metric, "headline": metric == result["headline"]["metric"],
                         "value": _number(entry.get("value")), "ci_low": _number(low), "ci_high": _number(high)})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _number(value) -> float:
    return math.nan if value is None else float(value)


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample sd (ddof=1; NaN for one run), n and the mean bootstrap CI per row and cell.

    Runs that differ only in seed or split draw are pooled; everything else that can change the numbers
    (checkpoint variant, architecture, split protocol, protocol, overrides) keeps rows apart.
    """
    columns = ROW_KEY + CELL_KEY + ["mean", "sd", "n", "ci_low", "ci_high"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(ROW_KEY + CELL_KEY, sort=True, dropna=False)
    stats = grouped.agg(mean=("value", "mean"), sd=("value", "std"), n=("value", "count"),
                        ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean")).reset_index()
    return stats[columns]


# -- the table model ----------------------------------------------------------------------------------
class RowKey(NamedTuple):
    model: str
    variant: str
    objectives: str
    architecture: str
    group: str
    split_protocol: str
    protocol_variant: str
    overrides: str


@dataclass(frozen=True)
class ColumnGroup:
    """A header spanning several columns, e.g. "NIH X-ray (AUC)" over 1 %, 10 %, 100 %."""

    title: str
    short: str
    columns: tuple[Column, ...]
    subtitles: tuple[str, ...]


@dataclass(frozen=True)
class Cell:
    """A value in percent; ``mark`` is "best", "second" or ""."""

    mean: float | None = None
    sd: float | None = None
    n: int = 0
    mark: str = ""


@dataclass(frozen=True)
class Row:
    label: str
    reported: bool
    cells: tuple[Cell, ...]
    model: str | None = None


@dataclass(frozen=True)
class Block:
    """Rows under one group heading ("CNN-based"); ``title`` None prints no heading."""

    title: str | None
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Table:
    name: str
    caption: str
    groups: tuple[ColumnGroup, ...]
    blocks: tuple[Block, ...]
    row_header: str = "Method"

    @property
    def columns(self) -> tuple[Column, ...]:
        return tuple(column for group in self.groups for column in group.columns)

    def row(self, label: str) -> Row:
        for block in self.blocks:
            for row in block.rows:
                if row.label == label:
                    return row
        raise KeyError(label)


def _fraction_group(task: str, metric: str, title: str, short: str) -> ColumnGroup:
    columns = tuple(Column(task, metric, fraction) for fraction in FRACTIONS)
    return ColumnGroup(title, short, columns, tuple(f"{fraction}%" for fraction in FRACTIONS))


def _layout_from(columns: tuple[Column, ...], titles: Mapping[str, tuple[str, str]]) -> list[ColumnGroup]:
    tasks = list(dict.fromkeys((column.task, column.metric) for column in columns))
    return [_fraction_group(task, metric, *titles[task]) for task, metric in tasks]


_TITLES = {"nih-lp": ("NIH X-ray (AUC)", "NIH AUC"), "chexpert-lp": ("CheXpert (AUC)", "CheXpert AUC"),
           "rsna-lp": ("RSNA (AUC)", "RSNA AUC"), "covidx-lp": ("COVIDx (ACC)", "COVIDx ACC"),
           "siim-seg": ("SIIM (Dice)", "SIIM Dice"), "rsna-seg": ("RSNA (Dice)", "RSNA Dice")}
_ZERO_SHOT_SUBTITLES = tuple(METRIC_NAMES[metric] for metric in ZERO_SHOT_METRICS)
LAYOUTS: dict[str, list[ColumnGroup]] = {
    "linear-probe": _layout_from(LINEAR_PROBE_COLUMNS, _TITLES),
    "segmentation": _layout_from(SEGMENTATION_COLUMNS, _TITLES),
    "ablation": _layout_from(ABLATION_COLUMNS, _TITLES),
    "zero-shot": [ColumnGroup("RSNA", "RSNA", RSNA_ZERO_SHOT_COLUMNS, _ZERO_SHOT_SUBTITLES),
                  ColumnGroup("NIH X-ray", "NIH", NIH_ZERO_SHOT_COLUMNS, _ZERO_SHOT_SUBTITLES)],
}
SECTION_KINDS = {"linear-probe": "linear_probe", "zero-shot": "zero_shot", "segmentation": "segmentation",
                 "ablation": None}
SECTION_TITLES = {"linear-probe": "Linear probe classification (frozen encoder)",
                  "zero-shot": "Zero-shot classification",
                  "segmentation": "Segmentation (U-Net / SETR-PUP on the pre-trained encoder)",
                  "ablation": "Ablation of the ASG pre-training objectives"}


def _section_layout(name: str, runs: pd.DataFrame) -> list[ColumnGroup]:
    """The README's columns, plus tasks of the same kind that have results but no published column."""
    groups = list(LAYOUTS[name])
    kind = SECTION_KINDS[name]
    if kind is None or runs.empty:
        return groups
    known = {column.task for group in groups for column in group.columns}
    extra = runs[(runs["kind"] == kind) & runs["headline"] & ~runs["task"].isin(known)]
    for (task, dataset, metric), _ in extra.groupby(["task", "dataset", "metric"], sort=True):
        title = DATASET_NAMES.get(dataset, dataset)
        if kind == "zero_shot":
            columns = tuple(Column(task, m, 100) for m in ZERO_SHOT_METRICS)
            groups.append(ColumnGroup(title, title, columns, _ZERO_SHOT_SUBTITLES))
        else:
            name_of_metric = METRIC_NAMES.get(metric, metric)
            groups.append(_fraction_group(task, metric, f"{title} ({name_of_metric})", f"{title} {name_of_metric}"))
    return groups


def _section_stats(name: str, stats: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """The aggregated cells that belong in a section (ablation: asgbench-trained ASG checkpoints only)."""
    if stats.empty:
        return stats
    wanted = pd.MultiIndex.from_tuples([(c.task, c.metric, c.fraction) for c in columns])
    here = stats[pd.MultiIndex.from_frame(stats[["task", "metric", "fraction"]]).isin(wanted)]
    if name == "ablation":
        return here[here["variant"] != ""]
    return here[here["kind"] == SECTION_KINDS[name]]


def _common_overrides(here: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Overrides that every row of a task shares belong to its columns, not its rows: they are cleared from the
    rows (which then merge across tasks) and returned per task for the caption; overrides that only some rows
    of a task have stay in those rows' labels."""
    if here.empty:
        return here, {}
    shared = {}
    for task, overrides in here.groupby("task")["overrides"]:
        values = set(overrides)
        if len(values) == 1 and "" not in values:
            shared[str(task)] = values.pop()
    if not shared:
        return here, {}
    here = here.copy()
    here.loc[here["task"].isin(list(shared)), "overrides"] = ""
    return here, shared


def _row_labels(keys: list[RowKey], ablation: bool) -> dict[RowKey, str]:
    """Model name (ablation: objectives), plus in brackets whatever else tells rows apart."""
    architectures = defaultdict(set)
    for key in keys:
        architectures[key.model].add(key.architecture)
    several_splits = len({key.split_protocol for key in keys}) > 1
    several_models = len({key.model for key in keys}) > 1
    labels = {}
    for key in keys:
        if ablation:
            base, extras = key.variant, [key.model] if several_models else []
        else:
            base, extras = key.model + (f" · {key.variant}" if key.variant else ""), []
        if len(architectures[key.model]) > 1:
            extras.append(key.architecture)
        if several_splits:
            extras.append(key.split_protocol)
        if key.protocol_variant:
            extras.append(key.protocol_variant)
        if key.overrides:
            extras.append(key.overrides)
        labels[key] = base + (f" [{', '.join(extras)}]" if extras else "")
    return labels


def _model_rank(model: str | None) -> tuple[int, str]:
    if model is None:
        return (-1, "")
    return (MODEL_ORDER.index(model), "") if model in MODEL_ORDER else (len(MODEL_ORDER), model)


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
            mark = "best" if shown == ranked[0] else "second" if len(ranked) > 1 and shown == ranked[1] else ""
            cells[column] = Cell(cell.mean, cell.sd, cell.n, mark)
    return marked


def _measured_rows(name: str, here: pd.DataFrame, columns: tuple[Column, ...]) -> list[tuple[tuple, str, Row]]:
    """(sort key, group, row) for every measured row of a section."""
    if here.empty:
        return []
    keys = sorted({RowKey(*values) for values in here[ROW_KEY].itertuples(index=False, name=None)})
    labels = _row_labels(keys, ablation=name == "ablation")
    index = {(c.task, c.metric, c.fraction): i for i, c in enumerate(columns)}
    cells = {key: [Cell() for _ in columns] for key in keys}
    for record in here.itertuples(index=False):
        key = RowKey(*(getattr(record, field) for field in ROW_KEY))
        mean = None if pd.isna(record.mean) else 100 * float(record.mean)
        sd = None if pd.isna(record.sd) else 100 * float(record.sd)
        cells[key][index[(record.task, record.metric, int(record.fraction))]] = Cell(mean, sd, int(record.n))
    marked = dict(zip(keys, _marks([cells[key] for key in keys])))
    rows = []
    for key in keys:
        if name == "ablation":
            order = (_objectives_rank(tuple(key.objectives.split("+"))), 0, labels[key])
        else:
            order = (_model_rank(key.model), 0, labels[key])
        rows.append((order, key.group, Row(labels[key], False, tuple(marked[key]), key.model)))
    return rows


def _reported_rows(name: str, columns: tuple[Column, ...]) -> list[tuple[tuple, str | None, Row]]:
    rows = []
    for position, published in enumerate(reported_rows(name)):
        cells = tuple(Cell(published.values[c]) if c in published.values else Cell() for c in columns)
        if name == "ablation":
            order = (_objectives_rank(published.objectives), 1, f"{position:04d}")
        else:
            order = (_model_rank(published.model), 1, f"{position:04d}")
        rows.append((order, published.group, Row(f"{published.label} (reported)", True, cells, published.model)))
    return rows


def _caption(name: str, here: pd.DataFrame, groups: list[ColumnGroup], include_reported: bool,
             shared_overrides: dict[str, str] | None = None) -> str:
    metrics = ", ".join(dict.fromkeys(METRIC_NAMES.get(c.metric, c.metric) for g in groups for c in g.columns))
    parts = [f"{SECTION_TITLES[name]}: test-set {metrics} in %."]
    if here.empty:
        parts.append("No measured runs yet.")
    else:
        splits = sorted(set(here["split_protocol"]))
        protocols = sorted(set(here["protocol"]))
        parts.append(f"Split protocol{'s' if len(splits) > 1 else ''} {', '.join(splits)}; "
                     f"protocol{'s' if len(protocols) > 1 else ''} {', '.join(protocols)}.")
        counts = sorted(set(int(n) for n in here["n"]))
        if counts == [1]:
            parts.append("One run per cell (no sd).")
        elif len(counts) == 1:
            parts.append(f"Mean ± sd over {counts[0]} runs (seeds × split draws).")
        else:
            parts.append(f"Mean ± sd over {counts[0]}–{counts[-1]} runs per cell (seeds × split draws; "
                         "no sd where a cell has one run).")
        parts.append("Best measured value per column in bold, second underlined.")
    by_overrides: dict[str, list[str]] = defaultdict(list)
    for task, overrides in (shared_overrides or {}).items():
        by_overrides[overrides].append(task)
    for overrides, tasks in by_overrides.items():
        parts.append(f"Every {' and '.join(sorted(tasks))} run used the protocol overrides {overrides}.")
    if name == "zero-shot":
        parts.append("F1 and ACC at the threshold chosen on val; runs at fraction 100 only.")
    if name == "ablation":
        parts.append("Rows: asgbench-trained ASG checkpoints by pre-training objectives (ARSA alignment in brackets).")
    if include_reported:
        note = "Italic rows marked (reported) are the ASG README's published numbers, measured on the authors' " \
               "own splits and protocols"
        parts.append(note + ("; † and # are its two unexplained ARSA variants." if name == "ablation" else "."))
    return " ".join(parts)


def build_table(name: str, frame: pd.DataFrame, include_reported: bool = True) -> Table:
    """The format-free table of one section, from :func:`collect`'s frame."""
    if name not in SECTIONS:
        raise ConfigError(f"unknown table {name!r}; expected one of {', '.join(SECTIONS)}")
    runs = frame
    if name == "zero-shot" and not runs.empty:
        runs = runs[(runs["kind"] != "zero_shot") | (runs["fraction"] == 100)]
    groups = _section_layout(name, runs)
    columns = tuple(column for group in groups for column in group.columns)
    here, shared_overrides = _common_overrides(_section_stats(name, aggregate(runs), columns))
    entries = _measured_rows(name, here, columns)
    if include_reported:
        entries += _reported_rows(name, columns)
    entries.sort(key=lambda entry: entry[0])
    if name in ("linear-probe", "segmentation"):
        blocks = [Block(BLOCK_TITLES[group], tuple(row for _, g, row in entries if g == group))
                  for group in BLOCK_TITLES]
    else:
        blocks = [Block(None, tuple(row for _, _, row in entries))]
    blocks = [block for block in blocks if block.rows]
    return Table(name, _caption(name, here, groups, include_reported, shared_overrides), tuple(groups), tuple(blocks),
                 "Objectives" if name == "ablation" else "Method")


def build_tables(frame: pd.DataFrame, include_reported: bool = True) -> dict[str, Table]:
    return {name: build_table(name, frame, include_reported) for name in SECTIONS}


# -- formats ----------------------------------------------------------------------------------------
def _value_text(cell: Cell, plus_minus: str = "±") -> str:
    if cell.mean is None:
        return ""
    return f"{cell.mean:.1f}" + (f" {plus_minus} {cell.sd:.1f}" if cell.sd is not None else "")


def _markdown(table: Table) -> str:
    header = [table.row_header] + [f"{g.short} {sub}" for g in table.groups for sub in g.subtitles]
    lines: list[list[str]] = []
    for block in table.blocks:
        if block.title:
            lines.append([f"*{block.title}*"] + [""] * (len(header) - 1))
        for row in block.rows:
            texts = []
            for cell in row.cells:
                text = _value_text(cell)
                if not text:
                    texts.append(EMPTY)
                elif row.reported:
                    texts.append(f"*{text}*")
                else:
                    texts.append({"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(cell.mark, text))
            label = row.label.replace("|", "\\|")
            lines.append([f"*{label}*" if row.reported else label] + texts)
    widths = [max(len(line[i]) for line in [header] + lines) for i in range(len(header))]
    def join(cells: list[str]) -> str:
        padded = [cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells)]
        return "| " + " | ".join(padded) + " |"
    rule = "| " + " | ".join([":" + "-" * (widths[0] - 1)] + ["-" * (w - 1) + ":" for w in widths[1:]]) + " |"
    return "\n".join([table.caption, "", join(header), rule] + [join(line) for line in lines]) + "\n"


def _html(table: Table) -> str:
    def esc(text: str) -> str:
        return html.escape(text, quote=False)
    width = 1 + len(table.columns)
    out = ["<table>", f"  <caption>{esc(table.caption)}</caption>", "  <thead>", "    <tr>",
           f'      <th rowspan="2">{esc(table.row_header)}</th>']
    out += [f'      <th colspan="{len(g.columns)}">{esc(g.title)}</th>' for g in table.groups]
    out += ["    </tr>", "    <tr>"]
    out += [f"      <th>{esc(sub)}</th>" for g in table.groups for sub in g.subtitles]
    out += ["    </tr>", "  </thead>", "  <tbody>"]
    for block in table.blocks:
        if block.title:
            out.append(f'    <tr><td colspan="{width}"><em>{esc(block.title)}</em></td></tr>')
        for row in block.rows:
            cells = []
            for cell in row.cells:
                text = esc(_value_text(cell)) or EMPTY
                if row.reported and cell.mean is not None:
                    text = f"<em>{text}</em>"
                elif cell.mark:
                    text = {"best": f"<strong>{text}</strong>", "second": f"<u>{text}</u>"}[cell.mark]
                cells.append(f"<td>{text}</td>")
            label = f"<em>{esc(row.label)}</em>" if row.reported else esc(row.label)
            out.append(f"    <tr><td>{label}</td>{''.join(cells)}</tr>")
    out += ["  </tbody>", "</table>"]
    return "\n".join(out) + "\n"


def _csv(table: Table) -> str:
    """Tidy rows (one per table cell with a value), for spreadsheets and plots; values in percent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "block", "row", "source", "model", "task", "metric", "fraction", "mean", "sd", "n",
                     "mark"])
    for block in table.blocks:
        for row in block.rows:
            for column, cell in zip(table.columns, row.cells):
                if cell.mean is None:
                    continue
                writer.writerow([table.name, block.title or "", row.label, "reported" if row.reported else "measured",
                                 row.model or "", column.task, column.metric, column.fraction, f"{cell.mean:.1f}",
                                 "" if cell.sd is None else f"{cell.sd:.1f}", "" if row.reported else cell.n,
                                 cell.mark])
    return buffer.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "–": "--", "†": r"\dag{}", "·": r"$\cdot$", "×": r"$\times$"}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _latex(table: Table) -> str:
    width = 1 + len(table.columns)
    out = [r"\begin{table}[t]", r"\centering", rf"\caption{{{_tex(table.caption)}}}",
           rf"\label{{tab:asgbench-{table.name}}}", r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule"]
    spans, rules, start = [], [], 2
    for g in table.groups:
        spans.append(rf"\multicolumn{{{len(g.columns)}}}{{c}}{{{_tex(g.title)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + len(g.columns) - 1}}}")
        start += len(g.columns)
    out.append(" & " + " & ".join(spans) + r" \\")
    out.append(" ".join(rules))
    subtitles = [_tex(sub) for g in table.groups for sub in g.subtitles]
    out.append(_tex(table.row_header) + " & " + " & ".join(subtitles) + r" \\")
    out.append(r"\midrule")
    for block in table.blocks:
        if block.title:
            out.append(rf"\multicolumn{{{width}}}{{l}}{{\textit{{{_tex(block.title)}}}}} \\")
        for row in block.rows:
            cells = []
            for cell in row.cells:
                text = _tex(_value_text(cell)) or _tex(EMPTY)
                if row.reported and cell.mean is not None:
                    text = rf"\textit{{{text}}}"
                elif cell.mark:
                    text = {"best": rf"\textbf{{{text}}}", "second": rf"\underline{{{text}}}"}[cell.mark]
                cells.append(text)
            label = rf"\textit{{{_tex(row.label)}}}" if row.reported else _tex(row.label)
            out.append(label + " & " + " & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


RENDERERS = {"md": _markdown, "html": _html, "csv": _csv, "latex": _latex}


def render_table(table: Table, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](table)


def render_tables(frame: pd.DataFrame, fmt: str = "md", include_reported: bool = True) -> dict[str, str]:
    """Section name -> the rendered table, for the four README sections (see :data:`SECTIONS`)."""
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return {name: render_table(table, fmt) for name, table in build_tables(frame, include_reported).items()}


# -- README markers -----------------------------------------------------------------------------------
def markers(name: str) -> tuple[str, str]:
    return f"<!-- asgbench:{name} -->", f"<!-- /asgbench:{name} -->"


def update_readme(readme_text: str, sections: Mapping[str, str]) -> str:
    """Replace what lies between each section's markers; every other byte stays as it was.

    A section passed here needs exactly one ``<!-- asgbench:NAME -->`` ... ``<!-- /asgbench:NAME -->`` pair;
    marker pairs of sections not passed are left alone.
    """
    text = readme_text
    for name, body in sections.items():
        begin, end = markers(name)
        if text.count(begin) != 1 or text.count(end) != 1:
            found = f"{text.count(begin)} opening and {text.count(end)} closing"
            raise AsgbenchError(f"README: section {name!r} needs exactly one marker pair {begin} ... {end} "
                                f"(found {found} marker{'s' if text.count(begin) + text.count(end) != 1 else ''})")
        start = text.index(begin) + len(begin)
        stop = text.index(end)
        if stop < start:
            raise AsgbenchError(f"README: the closing marker {end} comes before {begin}")
        text = text[:start] + "\n\n" + body.strip("\n") + "\n\n" + text[stop:]
    return text


# -- plots ----------------------------------------------------------------------------------------------
def label_efficiency_plot(frame: pd.DataFrame, task: str, path: str | Path) -> Path:
    """Headline metric against training fraction (log axis), one line per model; error bars are the runs'
    bootstrap 95 % CIs, averaged over runs (available even for a single run, unlike an sd)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    runs = frame[(frame["task"] == task) & frame["headline"]] if not frame.empty else frame
    if runs.empty:
        raise AsgbenchError(f"no results for task {task!r} to plot")
    stats = aggregate(runs)
    keys = sorted({RowKey(*values) for values in stats[ROW_KEY].itertuples(index=False, name=None)},
                  key=lambda key: (_model_rank(key.model), key))
    labels = _row_labels(keys, ablation=False)
    metric = METRIC_NAMES.get(stats["metric"].iloc[0], stats["metric"].iloc[0])
    figure = Figure(figsize=(6.4, 4.4))
    axes = figure.add_subplot()
    by_row = {RowKey(*values): rows for values, rows in stats.groupby(ROW_KEY, sort=False, dropna=False)}
    for number, key in enumerate(keys):
        mine = by_row[key].sort_values("fraction")
        mean = 100 * mine["mean"].to_numpy(dtype=float)
        below = (mean - 100 * mine["ci_low"].to_numpy(dtype=float)).clip(min=0)
        above = (100 * mine["ci_high"].to_numpy(dtype=float) - mean).clip(min=0)
        axes.errorbar(mine["fraction"].to_numpy(dtype=float), mean, yerr=[below, above], capsize=3,
                      marker="osD^v<>ph*"[number // 10 % 10],
                      label=labels[key])
    axes.set_xscale("log")
    axes.set_xticks(list(FRACTIONS))
    axes.set_xticklabels([str(f) for f in FRACTIONS])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("training data (%)")
    axes.set_ylabel(f"{metric} (%), mean over runs\nbars: bootstrap 95% CI, averaged over runs")
    axes.set_title(task)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, format="png", bbox_inches="tight")
    return path
