"""A :class:`~asgbench.tables.model.Table` as markdown (tabulate), HTML and LaTeX (jinja2 templates) or CSV.

Which text a cell shows and how it is emphasised (published: italic, best: bold, second: underlined, and
the sign after a value significantly below its column's best) is decided once, in :func:`styled_blocks`;
each format only spells that emphasis and escapes its own special characters.
"""
from __future__ import annotations

import csv
import functools
import html
import io
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from tabulate import tabulate

from asgbench.errors import ConfigError
from asgbench.tables.build import build_tables
from asgbench.tables.layout import SEGMENTATION_TABLE
from asgbench.tables.model import BELOW_SIGN, BEST, FLOOR_SIGN, SECOND, Cell, Row, Table
from asgbench.tables.outputs import NO_OUTPUTS, RunOutputs

FORMATS = ("md", "html", "csv", "latex")
EMPTY = "–"
ITALIC, BOLD, UNDERLINE = "italic", "bold", "underline"
MARK_EMPHASIS = {BEST: BOLD, SECOND: UNDERLINE}


@dataclass(frozen=True)
class StyledCell:
    """A cell's unescaped text ("" when it has no value) and its emphasis (:data:`ITALIC`, ... or "")."""

    text: str
    emphasis: str = ""


@dataclass(frozen=True)
class StyledRow:
    label: StyledCell
    cells: tuple[StyledCell, ...]


@dataclass(frozen=True)
class StyledBlock:
    title: str | None
    rows: tuple[StyledRow, ...]


def value_text(cell: Cell) -> str:
    if cell.mean is None:
        return ""
    return f"{cell.mean:.1f}" + (f" ± {cell.sd:.1f}" if cell.sd is not None else "") + \
        (f" [{cell.interval[0]:.1f}, {cell.interval[1]:.1f}]" if cell.interval is not None else "") + \
        (f" {BELOW_SIGN}" if cell.below else "") + (f" {FLOOR_SIGN}" if cell.floor else "")


def _styled_row(row: Row) -> StyledRow:
    cells = []
    for cell in row.cells:
        text = value_text(cell)
        emphasis = "" if not text else ITALIC if row.reported else MARK_EMPHASIS.get(cell.mark, "")
        cells.append(StyledCell(text, emphasis))
    return StyledRow(StyledCell(row.label, ITALIC if row.reported else ""), tuple(cells))


def styled_blocks(table: Table) -> tuple[StyledBlock, ...]:
    return tuple(StyledBlock(block.title, tuple(_styled_row(row) for row in block.rows)) for block in table.blocks)


# -- markdown -----------------------------------------------------------------------------------------
MARKDOWN_EMPHASIS = {ITALIC: "*{}*", BOLD: "**{}**", UNDERLINE: "<u>{}</u>", "": "{}"}


def _markdown_text(cell: StyledCell) -> str:
    text = cell.text.replace("|", "\\|")
    return MARKDOWN_EMPHASIS[cell.emphasis].format(text) if text else EMPTY


def _markdown(table: Table) -> str:
    header = [table.row_header] + [f"{g.short} {sub}" for g in table.groups for sub in g.subtitles]
    lines = []
    for block in styled_blocks(table):
        if block.title:
            lines.append([f"*{block.title}*"] + [""] * (len(header) - 1))
        lines += [[_markdown_text(row.label)] + [_markdown_text(cell) for cell in row.cells] for row in block.rows]
    # tabulate drops the alignment colons of a table without rows, so an empty one is set with a blank row
    # that is then cut off again.
    blank = not lines
    body = tabulate(lines or [[""] * len(header)], headers=header, tablefmt="pipe", disable_numparse=True,
                    colalign=("left",) + ("right",) * (len(header) - 1))
    if blank:
        body = body.rsplit("\n", 1)[0]
    return f"{table.caption}\n\n{body}\n"


# -- HTML and LaTeX (jinja2 templates) ------------------------------------------------------------------
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "–": "--", "†": r"\dag{}", "·": r"$\cdot$", "×": r"$\times$",
                  BELOW_SIGN: r"$\downarrow$", FLOOR_SIGN: r"$\emptyset$", "≥": r"$\geq$", "≤": r"$\leq$",
                  "−": "--"}


def tex(text: str) -> str:
    """LaTeX-escape plain text (and spell the few non-ASCII signs tables use)."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in str(text))


def html_text(text: str) -> str:
    """HTML-escape text content (quotes need no escaping outside attributes)."""
    return html.escape(str(text), quote=False)


_LATEX_SYNTAX = dict(block_start_string="<%", block_end_string="%>", variable_start_string="<<",
                     variable_end_string=">>", comment_start_string="<#", comment_end_string="#>")


@functools.lru_cache(maxsize=None)
def _template(name: str, latex_syntax: bool = False):
    syntax = _LATEX_SYNTAX if latex_syntax else {}
    environment = Environment(loader=PackageLoader("asgbench.tables", "templates"), autoescape=False,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=StrictUndefined, **syntax)
    environment.filters.update(text=html_text, tex=tex)
    return environment.get_template(name)


def _column_spans(table: Table) -> list[tuple[int, int]]:
    """(first, last) tabular column of each column group; column 1 holds the row labels."""
    spans, start = [], 2
    for group in table.groups:
        spans.append((start, start + len(group.columns) - 1))
        start += len(group.columns)
    return spans


def _html(table: Table) -> str:
    return _template("table.html.j2").render(
        table=table, blocks=styled_blocks(table), width=1 + len(table.columns), empty=html_text(EMPTY))


def _latex(table: Table) -> str:
    return _template("table.tex.j2", latex_syntax=True).render(
        table=table, blocks=styled_blocks(table), width=1 + len(table.columns), empty=tex(EMPTY),
        spans=_column_spans(table))


# -- CSV ------------------------------------------------------------------------------------------------
CSV_HEADER = ["section", "block", "row", "source", "model", "task", "metric", "fraction", "mean", "sd", "ci95_low",
              "ci95_high", "n", "mark", "below_best"]
SEGMENTATION_CSV_HEADER = [*CSV_HEADER, "above_empty_mask"]   # the segmentation table's empty-mask verdicts
BELOW_BEST = {True: "yes", False: "no", None: ""}    # "": not tested
ABOVE_EMPTY = {True: "no", False: "yes", None: ""}   # from Cell.floor (True: not above the empty mask); "": not tested


def _csv(table: Table) -> str:
    """Tidy rows (one per table cell with a value), for spreadsheets and plots; values in percent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    segmentation = table.name == SEGMENTATION_TABLE
    writer.writerow(SEGMENTATION_CSV_HEADER if segmentation else CSV_HEADER)
    for block in table.blocks:
        for row in block.rows:
            for column, cell in zip(table.columns, row.cells):
                if cell.mean is None:
                    continue
                source = "reported" if row.reported else "baseline" if row.baseline else "measured"
                writer.writerow([table.name, block.title or "", row.label, source,
                                 row.model or "", column.task, column.metric, column.fraction, f"{cell.mean:.1f}",
                                 "" if cell.sd is None else f"{cell.sd:.1f}",
                                 *(("", "") if cell.interval is None else (f"{cell.interval[0]:.1f}", f"{cell.interval[1]:.1f}")),
                                 cell.n if source == "measured" else "",
                                 cell.mark, BELOW_BEST[cell.below]] + ([ABOVE_EMPTY[cell.floor]] if segmentation else []))
    return buffer.getvalue()


RENDERERS: dict[str, Callable[[Table], str]] = {"md": _markdown, "html": _html, "csv": _csv, "latex": _latex}


def _check_format(fmt: str) -> None:
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown table format {fmt!r}; expected one of {', '.join(FORMATS)}")


def render_table(table: Table, fmt: str) -> str:
    _check_format(fmt)
    return RENDERERS[fmt](table)


def render_tables(frame: pd.DataFrame, fmt: str = "md", include_reported: bool = True,
                  outputs: RunOutputs = NO_OUTPUTS, intervals: bool = False) -> dict[str, str]:
    """Section name -> the rendered table, for the four README sections (see ``SECTIONS``); ``outputs`` (the
    runs' per-image outputs) let it mark rows significantly below their column's best and, with ``intervals``,
    print each cell's 95 % CI."""
    _check_format(fmt)
    built = build_tables(frame, include_reported, outputs, intervals)
    return {name: render_table(table, fmt) for name, table in built.items()}
