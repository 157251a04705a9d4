"""Tables from result files: collection, mean ± sd, ranking marks, four formats against golden files, README
markers and the label-efficiency plot.

The result dicts are built from a real result file (``golden/run-template.json``, upgraded to the current field
names) with model, task, fraction, seed and values varied, carrying their encoder's table metadata as ``run``
writes it, and each one is validated against the result schema. Set ASGBENCH_UPDATE_GOLDEN=1 to
rewrite the golden files after an intended change, then read the diff.
"""
from __future__ import annotations

import copy
import functools
import json
import math
import os
import re

import numpy as np
import pytest

from asgbench.encoders import MODELS
from asgbench.errors import AsgbenchError, ConfigError
from asgbench.tables import (FORMATS, SECTIONS, aggregate, build_table, collect, label_efficiency_plot, markers,
                             objectives_label, render_table, render_tables, update_readme)
from asgbench.tables.layout import BLOCK_TITLES, Column
from asgbench.tables.model import Block, Cell, Row, Table
from asgbench.tables.reported import REPORTED, reported_rows
from result_files import GOLDEN, make_result

EXTENSIONS = {"md": "md", "html": "html", "csv": "csv", "latex": "tex"}

BASE = {"random-r50": 0.55, "imagenet-r50": 0.68, "medklip": 0.72, "convirt": 0.74, "mgca-r50": 0.77,
        "asg-r50": 0.78, "mrm": 0.785, "mgca-vit": 0.79, "asg-vit": 0.80}
FRACTION_GAIN = {1: 0.0, 10: 0.03, 100: 0.05}
TASK_SHIFT = {"nih-lp": 0.0, "covidx-lp": 0.02, "rsna-lp": 0.06, "siim-seg": -0.10, "rsna-seg": -0.12,
              "rsna-zs": 0.04, "nih-zs": -0.03}
ABLATION = {("ira",): 0.0, ("ira", "arsa"): 0.01, ("ira", "irl", "erl"): 0.015, ("ira", "arsa", "irl", "erl"): 0.03}


def _value(model: str, task: str, fraction: int, offset: float = 0.0) -> float:
    return round(BASE[model] + FRACTION_GAIN[fraction] + TASK_SHIFT[task] + offset, 6)


def _readable(result: dict, empty: float = 0.6) -> dict:
    """A segmentation result with what a run now records beside its Dice: Dice on lesion images, the empty-mask
    baseline (the share of empty test images) and the paired difference with its CI."""
    value = result["metrics"]["dice"]["value"]
    result["metrics"].update({
        "dice_positive_images": {"value": value - 0.2, "ci95": [value - 0.25, value - 0.15]},
        "empty_mask_dice": {"value": empty, "ci95": [empty - 0.05, empty + 0.05]},
        "dice_minus_empty": {"value": value - empty, "ci95": [value - empty - 0.06, value - empty + 0.06]}})
    return result


def sample_results() -> list[dict]:
    """A fixed, varied set: 1-3 seeds per cell, gaps, overrides, zero-shot at two fractions, ablation checkpoints."""
    return copy.deepcopy(_sample_results())


@functools.lru_cache(maxsize=1)
def _sample_results() -> list[dict]:
    results = []
    for model in ("random-r50", "imagenet-r50", "convirt", "mgca-r50", "asg-r50", "mrm", "mgca-vit", "asg-vit"):
        offsets = (-0.01, 0.0, 0.01) if model in ("asg-vit", "mgca-vit") else (0.0,)
        for task in ("nih-lp", "covidx-lp"):
            for fraction in (1, 10, 100):
                for seed, offset in enumerate(offsets):
                    results.append(make_result(model, task, fraction, seed, _value(model, task, fraction, offset)))
    results.append(make_result("asg-vit", "rsna-lp", 100, 0, _value("asg-vit", "rsna-lp", 100)))
    for model, offsets in (("random-r50", (0.0,)), ("mgca-vit", (0.0,)), ("asg-vit", (-0.01, 0.01))):
        for fraction in (1, 100):
            for seed, offset in enumerate(offsets):
                value = _value(model, "siim-seg", fraction, offset)
                results.append(_readable(make_result(model, "siim-seg", fraction, seed, value)))
    results.append(make_result("asg-r50", "siim-seg", 100, 0, _value("asg-r50", "siim-seg", 100),
                               overrides=("max_epochs=2",)))
    results.append(make_result("medklip", "rsna-zs", 100, 0, _value("medklip", "rsna-zs", 100)))
    for seed, offset in enumerate((-0.02, 0.02)):
        results.append(make_result("asg-vit", "rsna-zs", 100, seed, _value("asg-vit", "rsna-zs", 100, offset)))
    results.append(make_result("asg-vit", "rsna-zs", 10, 0, 0.2))  # zero-shot ignores fractions below 100
    results.append(make_result("asg-vit", "nih-zs", 100, 0, _value("asg-vit", "nih-zs", 100)))
    for objectives, gain in ABLATION.items():
        alignments = ("rules", "scene-graph") if objectives == ("ira", "arsa") else ("rules",)
        for alignment in alignments:
            provenance = {"objectives": list(objectives), "arsa_alignment": alignment, "best_epoch": 3}
            step = gain - (0.005 if alignment == "scene-graph" else 0.0)
            for task, fraction in (("nih-lp", 1), ("nih-lp", 100), ("covidx-lp", 10), ("rsna-seg", 100)):
                results.append(make_result("asg-vit", task, fraction, 0, _value("asg-vit", task, fraction, step - 0.05),
                                           provenance=provenance))
    return results


@pytest.fixture(scope="module")
def frame():
    return collect(sample_results())


# -- collection and statistics -----------------------------------------------------------------------
def test_collect_has_one_headline_row_per_run(frame):
    results = sample_results()
    headline = frame[frame["headline"]]
    assert len(headline) == len(results)
    assert headline["run_id"].is_unique
    row = headline[headline["run_id"] == results[0]["run_id"]].iloc[0]
    assert (row["model"], row["group"], row["task"], row["kind"], row["fraction"], row["metric"]) == \
        ("random-r50", "init", "nih-lp", "linear_probe", 1, "auc")
    ablation = headline[headline["ablation"] != ""]
    assert set(ablation["ablation"]) == {"IRA", "IRA+ARSA (rules)", "IRA+ARSA (scene-graph)", "IRA+IRL+ERL",
                                        "IRA+ARSA+IRL+ERL (rules)"}
    assert set(ablation["objectives"]) == {"ira", "ira+arsa", "ira+irl+erl", "ira+arsa+irl+erl"}


def _headline_row(result: dict):
    return collect([result]).iloc[0]


def test_group_label_and_order_come_from_the_results_encoder_metadata():
    metadata = {"group": "ViT", "display_name": "ConVIRT (re-trained)", "order": 5}
    row = _headline_row(make_result("convirt", "nih-lp", 1, 0, 0.7, encoder_metadata=metadata))
    assert (row["group"], row["display_name"], row["order"]) == ("ViT", "ConVIRT (re-trained)", 5)
    results = [make_result("convirt", "nih-lp", 1, 0, 0.7, encoder_metadata=metadata),
               make_result("mrm", "nih-lp", 1, 0, 0.75), make_result("mgca-vit", "nih-lp", 1, 0, 0.76)]
    table = build_table("linear-probe", collect(results), include_reported=False)
    assert [block.title for block in table.blocks] == ["ViT-based"]
    assert [row.label for row in table.blocks[0].rows] == ["ConVIRT (re-trained)", "mrm", "mgca-vit"]
    assert table.row("ConVIRT (re-trained)").model == "convirt"


def test_files_without_encoder_metadata_fall_back_to_architecture_provenance_and_registry():
    def legacy(model, architecture=None, provenance=None):
        return _headline_row(make_result(model, "nih-lp", 1, 0, 0.7, architecture=architecture, provenance=provenance,
                                         encoder_metadata={}))
    fields = ["group", "display_name", "order"]
    assert list(legacy("medclip-vit")[fields]) == ["ViT", "medclip-vit", MODELS.get("medclip-vit").order]
    assert list(legacy("kad")[fields]) == ["CNN", "kad", MODELS.get("kad").order]
    assert list(legacy("random-vit-tiny")[fields]) == ["init", "random-vit-tiny", MODELS.get("random-vit-tiny").order]
    assert legacy("imagenet-r50")["group"] == "init"
    full = legacy("asg-r18.full", provenance={"objectives": ["ira"], "best_epoch": 3})
    assert list(full[fields]) == ["CNN", "asg-r18.full", MODELS.get("asg-r18").order]   # the tag is not looked up
    untrained = legacy("asg-r18.untrained", provenance={"objectives": [], "best_epoch": 0})
    assert untrained["group"] == "init"
    unknown = legacy("someone-elses-vit", architecture="vit_base_patch16")
    assert list(unknown[fields]) == ["ViT", "someone-elses-vit", 1000]
    assert legacy("someone-elses-cnn", architecture="convnext_tiny")["group"] == "CNN"   # unknown backbones: CNN


def test_blocks_are_the_encoder_registrys_groups_and_objectives_are_labelled():
    from asgbench.encoders.config import GROUPS

    assert tuple(BLOCK_TITLES) == GROUPS
    assert objectives_label(["erl", "ira", "irl"], "rules") == "IRA+IRL+ERL"  # alignment only matters with ARSA
    assert objectives_label(["arsa", "ira"], "scene-graph") == "IRA+ARSA (scene-graph)"


def test_mean_sd_and_n(frame):
    stats = aggregate(frame[frame["headline"]])
    def cell(model, task, fraction, variant=""):
        rows = stats[(stats["model"] == model) & (stats["task"] == task) & (stats["fraction"] == fraction)
                     & (stats["ablation"] == variant)]
        assert len(rows) == 1
        return rows.iloc[0]
    three = cell("asg-vit", "nih-lp", 1)
    assert three["n"] == 3 and three["mean"] == pytest.approx(0.80) and three["sd"] == pytest.approx(0.01)
    two = cell("asg-vit", "siim-seg", 100)
    assert two["n"] == 2 and two["sd"] == pytest.approx(math.sqrt(2) * 0.01)  # ddof=1: sqrt(2 * 0.01² / 1)
    one = cell("convirt", "nih-lp", 10)
    assert one["n"] == 1 and math.isnan(one["sd"])
    assert cell("asg-vit", "nih-lp", 1, "IRA")["n"] == 1  # a checkpoint variant never pools with the plain model


def test_cells_show_percent_with_sd_only_for_several_runs(frame):
    table = build_table("linear-probe", frame)
    nih_1 = table.columns.index(Column("nih-lp", "auc", 1))
    assert table.row("asg-vit").cells[nih_1].sd == pytest.approx(1.0)
    markdown = render_tables(frame, "md")["linear-probe"]
    assert "**80.0 ± 1.0**" in markdown and "<u>79.0 ± 1.0</u>" in markdown
    assert re.search(r"\| convirt +\| +74\.0 \|", markdown)  # one run: no sd
    assert "Mean ± sd over 1–3 runs per cell" in markdown
    assert "Split protocol asgbench-v1; evaluation protocol linear-probe." in markdown


# -- ranking marks ---------------------------------------------------------------------------------------
def test_best_bold_second_underlined_among_measured_rows(frame):
    table = build_table("linear-probe", frame)
    marks = {}
    for block in table.blocks:
        for row in block.rows:
            marks[row.label] = [cell.mark for cell in row.cells]
    nih_1 = table.columns.index(Column("nih-lp", "auc", 1))
    assert marks["asg-vit"][nih_1] == "best"
    assert marks["mgca-vit"][nih_1] == "second"
    assert marks["mrm"][nih_1] == "" and marks["convirt"][nih_1] == ""
    assert all(mark == "" for label, row_marks in marks.items() if label.endswith("(reported)") for mark in row_marks)
    chexpert = table.columns.index(Column("chexpert-lp", "auc", 1))
    assert all(row_marks[chexpert] == "" for row_marks in marks.values())  # no measured values there
    rsna_100 = table.columns.index(Column("rsna-lp", "auc", 100))
    assert marks["asg-vit"][rsna_100] == ""  # a single measured value is not ranked


def test_ties_at_the_printed_precision_share_a_mark():
    results = [make_result("mgca-vit", "nih-lp", 1, 0, 0.80012), make_result("asg-vit", "nih-lp", 1, 0, 0.79996),
               make_result("mrm", "nih-lp", 1, 0, 0.75)]
    table = build_table("linear-probe", collect(results), include_reported=False)
    nih_1 = table.columns.index(Column("nih-lp", "auc", 1))
    assert [table.row(name).cells[nih_1].mark for name in ("mgca-vit", "asg-vit", "mrm")] == ["best", "best", "second"]


# -- layout -------------------------------------------------------------------------------------------------
def test_rows_are_grouped_like_the_readme(frame):
    table = build_table("linear-probe", frame)
    assert [block.title for block in table.blocks] == [None, "CNN-based", "ViT-based"]
    cnn = [row.label for row in table.blocks[1].rows]
    assert cnn[:3] == ["convirt", "ConVIRT (reported)", "GLoRIA (reported)"]
    assert cnn.index("mgca-r50") + 1 == cnn.index("MGCA (reported)")
    vit = [row.label for row in table.blocks[2].rows]
    assert vit[:4] == ["mrm", "MRM (reported)", "mgca-vit", "MGCA (reported)"]
    assert vit[4:] == ["asg-vit", "asg-vit · IRA", "asg-vit · IRA+ARSA (rules)", "asg-vit · IRA+ARSA (scene-graph)",
                       "asg-vit · IRA+ARSA+IRL+ERL (rules)", "asg-vit · IRA+IRL+ERL", "ASG (reported)"]


def test_segmentation_labels_overrides_and_ablation_uses_objectives(frame):
    segmentation = build_table("segmentation", frame)
    assert segmentation.row("asg-r50 [max_epochs=2]").cells[2].mean == pytest.approx(73.0)
    ablation = build_table("ablation", frame)
    labels = [row.label for block in ablation.blocks for row in block.rows]
    assert labels == ["IRA", "IRA (reported)", "IRA+ARSA (rules)", "IRA+ARSA (scene-graph)", "IRA+ARSA† (reported)",
                      "IRA+ARSA# (reported)", "IRA+IRL (reported)", "IRA+IRL+ERL", "IRA+IRL+ERL (reported)",
                      "IRA+ARSA+IRL+ERL (rules)", "IRA+ARSA†+IRL+ERL (reported)"]
    assert ablation.row("IRA+ARSA+IRL+ERL (rules)").cells[0].mark == "best"


def test_overrides_every_run_of_a_task_shares_go_to_the_caption_and_rows_merge():
    shortened = ("max_epochs=4", "patience=3")
    results = []
    for objectives, gain in ABLATION.items():
        provenance = {"objectives": list(objectives), "arsa_alignment": "rules", "best_epoch": 3}
        results.append(make_result("asg-vit", "nih-lp", 1, 0, 0.7 + gain, provenance=provenance))
        results.append(make_result("asg-vit", "rsna-seg", 1, 0, 0.5 + gain, provenance=provenance, overrides=shortened))
    results.append(make_result("random-r50", "siim-seg", 1, 0, 0.4, overrides=shortened))
    results.append(make_result("asg-vit", "siim-seg", 1, 0, 0.45, overrides=shortened))
    results.append(make_result("asg-r50", "siim-seg", 1, 0, 0.41))
    frame = collect(results)

    ablation = build_table("ablation", frame, include_reported=False)
    rows = [row for block in ablation.blocks for row in block.rows]
    assert [row.label for row in rows] == ["IRA", "IRA+ARSA (rules)", "IRA+IRL+ERL", "IRA+ARSA+IRL+ERL (rules)"]
    assert all(sum(cell.mean is not None for cell in row.cells) == 2 for row in rows)   # NIH and RSNA Dice, one row
    assert "Every rsna-seg run used the evaluation protocol segmentation with overrides max_epochs=4, patience=3." \
        in ablation.caption

    segmentation = build_table("segmentation", frame, include_reported=False)
    labels = {row.label for block in segmentation.blocks for row in block.rows}
    assert {"random-r50 [max_epochs=4, patience=3]", "asg-r50"} <= labels     # siim-seg: not every run shortened
    assert "siim-seg run used" not in segmentation.caption


def test_zero_shot_uses_fraction_100_and_three_metrics(frame):
    table = build_table("zero-shot", frame)
    row = table.row("asg-vit")
    assert [cell.n for cell in row.cells] == [2, 2, 2, 1, 1, 1]
    assert [round(cell.mean, 1) for cell in row.cells] == [89.0, 69.0, 84.0, 82.0, 62.0, 77.0]
    assert table.row("BioViL (reported)").cells[3].mean is None


def test_extra_split_protocols_and_protocol_variants_show_in_labels():
    results = [make_result("mgca-vit", "nih-lp", 1, 0, 0.8), make_result("mgca-vit", "nih-lp", 1, 0, 0.7,
                                                                             split_protocol="mgca")]
    results[1]["spec"]["eval_protocol"] = "mgca-linear-probe"
    table = build_table("linear-probe", collect(results), include_reported=False)
    assert [row.label for block in table.blocks for row in block.rows] == \
        ["mgca-vit [asgbench-v1]", "mgca-vit [mgca, mgca-linear-probe]"]
    assert "Split protocols asgbench-v1, mgca; evaluation protocols linear-probe, mgca-linear-probe." in table.caption


def test_a_shared_non_default_evaluation_protocol_is_named_in_the_caption_not_the_rows():
    demo = {"eval_protocol": "segmentation-demo"}
    results = [make_result("random-r50", "siim-seg", 1, 0, 0.40, **demo),
               make_result("asg-vit", "siim-seg", 1, 0, 0.45, **demo),
               make_result("asg-vit", "rsna-seg", 1, 0, 0.50, **demo),
               make_result("asg-r50", "rsna-seg", 1, 0, 0.47, **demo, overrides=("max_epochs=2",)),
               make_result("asg-r50", "rsna-seg", 1, 1, 0.48, **demo, overrides=("max_epochs=2",))]
    table = build_table("segmentation", collect(results), include_reported=False)
    assert "Split protocol asgbench-v1; evaluation protocol segmentation-demo." in table.caption
    assert "Every rsna-seg and siim-seg run used the evaluation protocol segmentation-demo." in table.caption
    assert "overrides" not in table.caption                               # only some rsna-seg runs had them
    labels = [row.label for block in table.blocks for row in block.rows]
    assert labels == ["random-r50", "asg-r50 [max_epochs=2]", "asg-vit"]
    assert sum(cell.mean is not None for cell in table.row("asg-vit").cells) == 2   # SIIM and RSNA Dice, one row

    shortened = [make_result("asg-vit", "rsna-seg", 1, 0, 0.5, **demo, overrides=("max_epochs=2", "patience=1")),
                 make_result("asg-r50", "rsna-seg", 1, 0, 0.4, **demo, overrides=("max_epochs=2", "patience=1"))]
    table = build_table("segmentation", collect(shortened), include_reported=False)
    assert "Every rsna-seg run used the evaluation protocol segmentation-demo with overrides max_epochs=2, " \
           "patience=1." in table.caption
    assert [row.label for block in table.blocks for row in block.rows] == ["asg-r50", "asg-vit"]


def test_published_rows_are_placed_by_the_registry_order_of_their_model():
    table = build_table("linear-probe", collect([]))
    labels = [row.label for block in table.blocks for row in block.rows]
    for block in table.blocks:
        orders = [MODELS.get(row.model).order for row in block.rows]
        assert orders == sorted(orders), block.title
    assert labels[:2] == ["Random Init (reported)", "ImageNet Init (reported)"]
    assert labels.index("MGCA (reported)") < labels.index("ASG (reported)") < labels.index("MRM (reported)")
    zero_shot = build_table("zero-shot", collect([]))
    assert [row.label for row in zero_shot.blocks[0].rows] == ["BioViL (reported)", "MedKLIP (reported)",
                                                               "ASG (reported)"]   # the seed table's order


def _small_table() -> Table:
    from asgbench.tables.layout import fraction_group

    group = fraction_group("nih-lp", "auc", "NIH X-ray (AUC) & co", "NIH AUC")
    rows = (Row("asg-vit · IRA_2", False, (Cell(80.0, 1.0, 3, "best"), Cell(), Cell(70.04, None, 1, "second")),
                "asg-vit"),
            Row("MGCA (reported)", True, (Cell(78.9), Cell(), Cell(83.5)), "mgca-vit"))
    return Table("linear-probe", "Caption with 5 % & <tags>, the README's #1.", (group,),
                 (Block(None, rows[1:]), Block("ViT-based", rows[:1])))


def test_html_renders_the_same_cells_as_before():
    assert render_table(_small_table(), "html") == """<table>
  <caption>Caption with 5 % &amp; &lt;tags&gt;, the README's #1.</caption>
  <thead>
    <tr>
      <th rowspan="2">Method</th>
      <th colspan="3">NIH X-ray (AUC) &amp; co</th>
    </tr>
    <tr>
      <th>1%</th>
      <th>10%</th>
      <th>100%</th>
    </tr>
  </thead>
  <tbody>
    <tr><td><em>MGCA (reported)</em></td><td><em>78.9</em></td><td>–</td><td><em>83.5</em></td></tr>
    <tr><td colspan="4"><em>ViT-based</em></td></tr>
    <tr><td>asg-vit · IRA_2</td><td><strong>80.0 ± 1.0</strong></td><td>–</td><td><u>70.0</u></td></tr>
  </tbody>
</table>
"""


def test_latex_renders_the_same_cells_as_before():
    assert render_table(_small_table(), "latex") == r"""\begin{table}[t]
\centering
\caption{Caption with 5 \% \& <tags>, the README's \#1.}
\label{tab:asgbench-linear-probe}
\begin{tabular}{lrrr}
\toprule
 & \multicolumn{3}{c}{NIH X-ray (AUC) \& co} \\
\cmidrule(lr){2-4}
Method & 1\% & 10\% & 100\% \\
\midrule
\textit{MGCA (reported)} & \textit{78.9} & -- & \textit{83.5} \\
\multicolumn{4}{l}{\textit{ViT-based}} \\
asg-vit $\cdot$ IRA\_2 & \textbf{80.0 $\pm$ 1.0} & -- & \underline{70.0} \\
\bottomrule
\end{tabular}
\end{table}
"""


def test_markdown_escapes_pipes_and_marks_cells():
    text = render_table(_small_table(), "md")
    lines = text.splitlines()
    assert lines[0] == "Caption with 5 % & <tags>, the README's #1." and lines[1] == ""
    cells = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])] for line in lines[2:]]
    assert cells[0] == ["Method", "NIH AUC 1%", "NIH AUC 10%", "NIH AUC 100%"]
    assert cells[1][0].startswith(":-") and all(rule.endswith("-:") for rule in cells[1][1:])
    assert cells[2:] == [["*MGCA (reported)*", "*78.9*", "–", "*83.5*"], ["*ViT-based*", "", "", ""],
                         ["asg-vit · IRA_2", "**80.0 ± 1.0**", "–", "<u>70.0</u>"]]
    piped = Table("x", "c", _small_table().groups, (Block(None, (Row("a|b", False, (Cell(), Cell(), Cell())),)),))
    assert "| a\\|b " in render_table(piped, "md")


def test_without_results_only_published_rows_remain():
    sections = render_tables(collect([]), "md")
    assert set(sections) == set(SECTIONS)
    assert "No measured runs yet." in sections["linear-probe"]
    assert re.search(r"\*MGCA \(reported\)\* +\| +\*78\.9\* \|", sections["linear-probe"])
    assert re.search(r"\*89\.5\* +\| +\*90\.0\* +\| +\*74\.8\* \|", sections["linear-probe"])


def test_unknown_format_is_refused(frame):
    with pytest.raises(ConfigError, match="unknown table format 'rst'"):
        render_tables(frame, "rst")


# -- golden files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_rendered_tables_match_golden_files(frame, fmt):
    rendered = render_tables(frame, fmt)
    for section, text in rendered.items():
        path = GOLDEN / f"{section}.{EXTENSIONS[fmt]}"
        if os.environ.get("ASGBENCH_UPDATE_GOLDEN") == "1":
            path.write_text(text, encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text, f"{path.name} differs; ASGBENCH_UPDATE_GOLDEN=1 rewrites it"


# -- README markers ------------------------------------------------------------------------------------
README = """# Project

Intro with a stray <!-- comment --> and trailing spaces   
<!-- asgbench:linear-probe -->
old linear-probe table
<!-- /asgbench:linear-probe -->

Between the tables.\r\n
<!-- asgbench:segmentation -->
<!-- /asgbench:segmentation -->
<!-- asgbench:ablation -->
hand-written, not passed in
<!-- /asgbench:ablation -->
Tail without newline"""


def test_update_readme_touches_only_the_marked_text():
    sections = {"linear-probe": "| new | table |\n", "segmentation": "seg table"}
    updated = update_readme(README, sections)
    begin, end = markers("linear-probe")
    assert updated.startswith(README[:README.index(begin) + len(begin)])
    assert updated.split(end, 1)[1].split(markers("segmentation")[0])[0] == \
        README.split(end, 1)[1].split(markers("segmentation")[0])[0]
    tail = markers("segmentation")[1]
    assert updated.split(tail, 1)[1] == README.split(tail, 1)[1]  # includes the ablation block, left alone
    assert f"{begin}\n\n| new | table |\n\n{end}" in updated
    assert "<!-- asgbench:segmentation -->\n\nseg table\n\n<!-- /asgbench:segmentation -->" in updated
    assert update_readme(updated, sections) == updated
    assert update_readme(README, {}) == README


def test_update_readme_names_a_missing_or_repeated_marker_pair():
    with pytest.raises(AsgbenchError, match="'zero-shot'.*<!-- asgbench:zero-shot -->"):
        update_readme(README, {"zero-shot": "x"})
    broken = README.replace("<!-- /asgbench:segmentation -->", "")
    with pytest.raises(AsgbenchError, match="'segmentation'.*found 1 opening and 0 closing"):
        update_readme(broken, {"segmentation": "x"})
    doubled = README + "\n<!-- asgbench:ablation -->\n<!-- /asgbench:ablation -->\n"
    with pytest.raises(AsgbenchError, match="'ablation'"):
        update_readme(doubled, {"ablation": "x"})
    swapped = "<!-- /asgbench:ablation -->\n<!-- asgbench:ablation -->\n"
    with pytest.raises(AsgbenchError, match="comes before"):
        update_readme(swapped, {"ablation": "x"})


# -- plot and published data ----------------------------------------------------------------------------
def test_label_efficiency_plot_writes_a_png(frame, tmp_path):
    path = label_efficiency_plot(frame, "nih-lp", tmp_path / "plots" / "nih.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(AsgbenchError, match="no results for task 'chexpert-lp'"):
        label_efficiency_plot(frame, "chexpert-lp", tmp_path / "none.png")


def test_published_numbers_are_complete_and_mapped():
    assert len(reported_rows("linear-probe")) == 12 and len(reported_rows("segmentation")) == 12
    assert len(reported_rows("zero-shot")) == 3 and len(reported_rows("ablation")) == 6
    mgca_vit = next(row for row in REPORTED if row.table == "linear-probe" and row.model == "mgca-vit")
    assert (mgca_vit.method, mgca_vit.group) == ("MGCA", "ViT")
    assert mgca_vit.values[Column("covidx-lp", "accuracy", 1)] == 74.8
    random_seg = next(row for row in REPORTED if row.table == "segmentation" and row.method == "Random Init")
    assert random_seg.values[Column("siim-seg", "dice", 1)] == 9.0
    assert all(len(row.values) == 12 for row in reported_rows("linear-probe"))


def test_table_update_fills_the_markers_a_file_has_and_names_them_when_it_has_none(tmp_path, capsys):
    from asgbench.cli import main

    results = tmp_path / "runs"
    results.mkdir()
    for seed in (0, 1):
        result = make_result("mgca-r50", "nih-lp", 1, seed, _value("mgca-r50", "nih-lp", 1))
        (results / f"{result['run_id']}.json").write_text(json.dumps(result))
    board = tmp_path / "BOARD.md"
    begin, end = markers("linear-probe")
    board.write_text(f"# board\n\n{begin}\n{end}\n\nkept\n")
    assert main(["table", "--results", str(results), "--update", str(board)]) == 0
    text = board.read_text()
    assert "mgca-r50" in text and text.endswith("kept\n")
    bare = tmp_path / "BARE.md"
    bare.write_text("# nothing marked\n")
    capsys.readouterr()
    assert main(["table", "--results", str(results), "--update", str(bare)]) == 2
    assert "no table markers" in capsys.readouterr().err and bare.read_text() == "# nothing marked\n"


def test_numbers_from_the_synthetic_suite_say_so_and_other_transforms_get_their_own_row():
    suite = {"lists_built_from": "synthetic suite", "synthetic_suite_sha256": "ab" * 32}
    real = {"lists_built_from": "public metadata", "synthetic_suite_sha256": None}
    results = [make_result("mgca-r50", "rsna-lp", 100, seed, 0.8 + 0.01 * seed) for seed in range(3)]
    for result, data in zip(results, (suite, suite, real)):
        result["data"] = data
    caption = build_table("linear-probe", collect(results), include_reported=False).caption
    assert "2 of 3 runs measured on asgbench's synthetic look-alike suite, not on the real datasets." in caption
    results[2]["data"] = suite
    assert "All runs measured on asgbench's synthetic" in build_table("linear-probe", collect(results), False).caption
    assert "synthetic" not in build_table("linear-probe", collect(results[:0] + [make_result("mgca-r50", "rsna-lp", 100, 0, 0.8)]),
                                          False).caption
    standard = make_result("mgca-r50", "rsna-lp", 100, 0, 0.7)
    standard["spec"]["transform"] = "standard"
    standard["run_id"] += "-standard"
    labels = {row.label for block in build_table("linear-probe", collect(results + [standard]), False).blocks
              for row in block.rows}
    assert labels == {"mgca-r50", "mgca-r50 (standard transform)"}, labels


# -- pre-training seeds -------------------------------------------------------------------------------------
def _seeded(value: float, pretrain_seed: int, probe_seed: int, recipe: str = "a1b2c3d4e5f60718") -> dict:
    provenance = {"objectives": ["ira", "arsa", "irl", "erl"], "arsa_alignment": "rules", "tag": "full",
                  "seed": pretrain_seed, "recipe": recipe}
    result = make_result("asg-r18.full", "nih-lp", 1, probe_seed, value, provenance=provenance)
    result["run_id"] += f"-p{pretrain_seed}-{recipe[:4]}"
    return result


def test_exports_of_one_recipe_with_other_seeds_pool_into_one_row_whose_sd_is_over_seeds():
    # seed 0 evaluated twice (0.70, 0.74: mean 0.72), seeds 1 and 2 once: the sd is that of 0.72, 0.60, 0.66
    results = [_seeded(0.70, 0, 0), _seeded(0.74, 0, 1), _seeded(0.60, 1, 0), _seeded(0.66, 2, 0)]
    frame = collect(results)
    stats = aggregate(frame[frame["headline"]])
    assert len(stats) == 1
    cell = stats.iloc[0]
    assert (cell["n"], cell["pretrain_seeds"]) == (4, 3)
    assert cell["mean"] == pytest.approx(np.mean([0.70, 0.74, 0.60, 0.66]))
    assert cell["sd_pretrain"] == pytest.approx(np.std([0.72, 0.60, 0.66], ddof=1))
    table = build_table("linear-probe", frame, include_reported=False)
    nih_1 = table.columns.index(Column("nih-lp", "auc", 1))
    (row,) = [row for block in table.blocks for row in block.rows]
    assert row.cells[nih_1].sd == pytest.approx(100 * np.std([0.72, 0.60, 0.66], ddof=1))
    assert "asg-r18.full: 3 seeds) show the mean over all their runs ± the sd over pre-training seeds" in table.caption


def test_another_recipe_under_the_same_name_stays_its_own_row():
    results = [_seeded(0.70, 0, 0), _seeded(0.60, 1, 0), _seeded(0.50, 0, 0, recipe="ffff000011112222")]
    table = build_table("linear-probe", collect(results), include_reported=False)
    labels = sorted(row.label for block in table.blocks for row in block.rows)
    assert len(labels) == 2 and any("recipe ffff0000" in label for label in labels)
    nih_1 = table.columns.index(Column("nih-lp", "auc", 1))
    lone = [row for block in table.blocks for row in block.rows if "ffff0000" in row.label][0]
    assert lone.cells[nih_1].sd is None            # one run of one seed: no spread to show
