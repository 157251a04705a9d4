"""Result files -> the ASG README's tables (markdown, HTML, CSV, LaTeX), README updates and plots.

Tables are built from result files only, so anyone can regenerate them from a results folder:
:mod:`~asgbench.tables.aggregate` collects runs into a frame and pools seeds and split draws,
:mod:`~asgbench.tables.layout` holds the README's sections and columns, :mod:`~asgbench.tables.reported`
its published numbers, :mod:`~asgbench.tables.build` makes the format-free tables,
:mod:`~asgbench.tables.render` prints them, :mod:`~asgbench.tables.readme` puts them into a README and
:mod:`~asgbench.tables.plots` draws label-efficiency curves. Per-image outputs found beside the result files
(:mod:`~asgbench.tables.outputs`) give the plots' intervals and the mark of rows significantly below their
column's best (:mod:`~asgbench.tables.significance`).
"""
from __future__ import annotations

from asgbench.tables.aggregate import RUN_COLUMNS, aggregate, collect
from asgbench.tables.build import build_table, build_tables
from asgbench.tables.identity import checkpoint_variant, objectives_label
from asgbench.tables.layout import SECTIONS
from asgbench.tables.outputs import NO_OUTPUTS, RunOutputs, run_outputs
from asgbench.tables.plots import label_efficiency_plot
from asgbench.tables.readme import markers, update_readme, update_readme_file
from asgbench.tables.render import FORMATS, render_table, render_tables

__all__ = ["FORMATS", "NO_OUTPUTS", "RUN_COLUMNS", "SECTIONS", "RunOutputs", "aggregate", "build_table", "build_tables",
           "checkpoint_variant", "collect", "label_efficiency_plot", "markers", "objectives_label", "render_table",
           "render_tables", "run_outputs", "update_readme", "update_readme_file"]
