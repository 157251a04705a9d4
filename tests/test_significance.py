"""Rows significantly below their column's best, and the plots' intervals, from per-image outputs on disk.

Every run here is a result file with its predictions beside it, written as ``run`` writes them
(:mod:`result_files`), with outputs built so that the answer is known: a copy of the best model's outputs
(not below), the best model's scores drowned in noise (below), a little noise (lower on average, not
significantly), a run without predictions and a run on another test list (not tested).
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from asgbench.results import read_predictions, result_path, write_json_atomic
from asgbench.tables import build_table, collect, render_table, run_outputs
from asgbench.tables.caption import BELOW_NOTE
from asgbench.tables.layout import Column
from asgbench.tables.model import BELOW_SIGN
from asgbench.tables.plots import curves
from asgbench.tables.render import html_text, tex
from asgbench.tables.significance import NO_OUTPUTS, OTHER_IMAGES
from asgbench.tasks import metrics as m
from asgbench.tasks.paired import ScoredImages, paired_difference
from result_files import make_result, write_scored_run

N = 400
RSNA_1 = Column("rsna-lp", "auc", 1)
SIIM_1 = Column("siim-seg", "dice", 1)


def _images(ids_prefix: str = "img", seed: int = 0) -> ScoredImages:
    """400 images of 200 patients, one label, scores that separate the classes well (AUC about 0.85)."""
    rng = np.random.default_rng(seed)
    targets = (rng.random((N, 1)) < 0.4).astype(np.int8)
    scores = (1.5 * targets + rng.standard_normal((N, 1))).astype(np.float32)
    return ScoredImages(tuple(f"{ids_prefix}{i:05d}" for i in range(N)), tuple(f"p{i // 2:05d}" for i in range(N)),
                        targets, scores)


def _noisy(images: ScoredImages, strength: float, seed: int) -> ScoredImages:
    return images.with_scores(images.scores + strength * np.random.default_rng(seed).standard_normal(images.scores.shape))


def _dice(level: float, seed: int) -> ScoredImages:
    dice = np.clip(level + 0.15 * np.random.default_rng(seed).standard_normal((N, 1)), 0, 1).astype(np.float32)
    return ScoredImages(tuple(f"siim{i:05d}" for i in range(N)), tuple(f"q{i // 2:05d}" for i in range(N)),
                        np.zeros((N, 0), np.int8), dice)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The result files (and predictions) of one rsna-lp 1 % column and one siim-seg 1 % column."""
    folder = tmp_path_factory.mktemp("scored-runs")
    best = _images()
    outputs = {"asg-vit": best, "mgca-vit": best, "mrm": _noisy(best, 2.0, 1), "convirt": _noisy(best, 0.12, 2),
               "kad": _images("elsewhere", seed=0)}
    results = [write_scored_run(folder, make_result(model, "rsna-lp", 1, 0, 0.5), images)
               for model, images in outputs.items()]
    results.append(make_result("medklip", "rsna-lp", 1, 0, 0.70))             # no predictions beside it
    write_json_atomic(result_path(folder, results[-1]["run_id"]), results[-1])
    for seed in (0, 1):                                                        # two trainings per model
        results.append(write_scored_run(folder, make_result("asg-vit", "siim-seg", 1, seed, 0.5), _dice(0.70, seed)))
        results.append(write_scored_run(folder, make_result("random-r50", "siim-seg", 1, seed, 0.5),
                                        _dice(0.62, 10 + seed)))
    return {"folder": folder, "results": results, "images": outputs}


def _cell(table, label: str, column: Column):
    return table.row(label).cells[table.columns.index(column)]


def _table(runs, **kwargs):
    frame = collect(runs["results"])
    return build_table("linear-probe", frame, outputs=run_outputs(runs["results"], runs["folder"]), **kwargs)


def test_rows_are_marked_below_the_best_exactly_when_the_paired_interval_says_so(runs):
    table = _table(runs, include_reported=False)
    assert _cell(table, "asg-vit", RSNA_1).mark == "best"
    below = {label: _cell(table, label, RSNA_1).below for label in ("asg-vit", "mgca-vit", "mrm", "convirt")}
    assert below == {"asg-vit": False, "mgca-vit": False, "mrm": True, "convirt": False}
    # the premises, from the predictions files through the single-run comparison the regression gate uses
    stored = {r["spec"]["model"]: ScoredImages.from_predictions(read_predictions(runs["folder"], r["run_id"]), r)
              for r in runs["results"] if r["task"]["name"] == "rsna-lp" and r["spec"]["model"] != "medklip"}
    noisy = paired_difference("auc", stored["convirt"], stored["asg-vit"])
    assert noisy.difference < 0 and noisy.interval()[0] < 0 < noisy.interval()[1]   # lower, not significantly
    assert paired_difference("auc", stored["mrm"], stored["asg-vit"]).interval()[1] < 0
    assert paired_difference("auc", stored["mgca-vit"], stored["asg-vit"]).interval() == (0.0, 0.0)


def test_cells_without_outputs_or_on_other_images_are_not_tested_and_the_caption_says_so(runs):
    table = _table(runs, include_reported=True)
    assert _cell(table, "medklip", RSNA_1).below is None and _cell(table, "kad", RSNA_1).below is None
    assert f"1 measured cell ({NO_OUTPUTS})" in table.caption
    assert f"1 measured cell ({OTHER_IMAGES})" in table.caption
    assert "the published rows (no per-image outputs)" in table.caption
    assert all(cell.below is None for block in table.blocks for row in block.rows if row.reported for cell in row.cells)
    # without the outputs nothing is tested, and the caption counts every cell that could have been
    bare = build_table("linear-probe", collect(runs["results"]), include_reported=False)
    assert all(cell.below is None for block in bare.blocks for row in block.rows for cell in row.cells
               if cell.mark != "best")                          # the best is never below itself
    assert f"5 measured cells ({NO_OUTPUTS})" in bare.caption


def test_several_runs_per_cell_are_pooled_and_compared(runs):
    table = build_table("segmentation", collect(runs["results"]), include_reported=False,
                        outputs=run_outputs(runs["results"], runs["folder"]))
    assert _cell(table, "asg-vit", SIIM_1).n == 2 and _cell(table, "asg-vit", SIIM_1).mark == "best"
    assert _cell(table, "random-r50", SIIM_1).below is True and _cell(table, "asg-vit", SIIM_1).below is False


def test_every_format_shows_the_mark_and_its_legend(runs):
    table = _table(runs, include_reported=False)
    mrm = f"{_cell(table, 'mrm', RSNA_1).mean:.1f}"
    markdown = render_table(table, "md")
    assert f"{mrm} {BELOW_SIGN}" in markdown and BELOW_NOTE in markdown.split("\n\n")[0]
    assert markdown.count(BELOW_SIGN) == 2                        # the mrm cell and the legend
    html = render_table(table, "html")
    assert f"{mrm} {BELOW_SIGN}</td>" in html and "<caption>" in html and html_text(BELOW_NOTE) in html
    latex = render_table(table, "latex")
    assert rf"{mrm} $\downarrow$ &" in latex and tex(BELOW_NOTE) in latex.split(r"\caption{", 1)[1]
    rows = list(csv.DictReader(io.StringIO(render_table(table, "csv"))))
    marks = {row["row"]: row["below_best"] for row in rows if row["task"] == "rsna-lp"}
    assert marks == {"asg-vit": "no", "mgca-vit": "no", "mrm": "yes", "convirt": "no", "medklip": "", "kad": ""}


def test_plotted_bars_are_intervals_of_the_plotted_means(runs, tmp_path):
    frame = collect(runs["results"])
    outputs = run_outputs(runs["results"], runs["folder"])
    _, lines = curves(frame, "rsna-lp", outputs)
    by_label = {curve.label: curve for curve in lines}
    best = runs["images"]["asg-vit"]
    own = m.bootstrap_macro_auc(best.targets, best.scores, patients=best.patients)
    assert by_label["asg-vit"].intervals[0] == pytest.approx((100 * own.low, 100 * own.high), abs=1e-9)
    medklip = next(r for r in runs["results"] if r["spec"]["model"] == "medklip")
    assert by_label["medklip"].intervals[0] == pytest.approx(tuple(100 * v for v in medklip["headline"]["ci95"]))
    # two identical trainings: resampling the runs changes nothing, so the bar is one run's interval
    twice = [make_result("mrm", "rsna-lp", 10, seed, 0.5) for seed in (0, 1)]
    folder = tmp_path / "twice"
    twice = [write_scored_run(folder, result, best) for result in twice]
    frame = collect(twice)
    _, (curve,) = curves(frame, "rsna-lp", run_outputs(twice, folder))
    assert curve.means == pytest.approx((100 * own.value,)) and curve.intervals[0] == by_label["asg-vit"].intervals[0]
    _, (bare,) = curves(frame, "rsna-lp")                      # two runs without outputs: no bar rather than a guess
    assert bare.intervals == (None,)


def test_the_table_command_finds_the_outputs_beside_the_result_files(runs, capsys):
    from asgbench.cli import main

    assert main(["table", "--results", str(runs["folder"]), "--format", "md"]) == 0
    linear_probe = capsys.readouterr().out.split("\n\n\n")[0]
    mrm = next(line for line in linear_probe.splitlines() if line.startswith("| mrm "))
    convirt = next(line for line in linear_probe.splitlines() if line.startswith("| convirt "))
    assert BELOW_SIGN in mrm and BELOW_SIGN not in convirt
    assert f"1 measured cell ({NO_OUTPUTS})" in linear_probe


def test_intervals_print_each_cells_ci_of_its_mean_from_the_outputs(runs):
    table = _table(runs, include_reported=False, intervals=True)
    best = runs["images"]["asg-vit"]
    own = m.bootstrap_macro_auc(best.targets, best.scores, patients=best.patients)
    cell = _cell(table, "asg-vit", RSNA_1)
    # one run: the CI of its mean is the run's own patient bootstrap interval
    assert cell.interval == pytest.approx((100 * own.low, 100 * own.high), abs=1e-9)
    assert f"{cell.mean:.1f} [{cell.interval[0]:.1f}, {cell.interval[1]:.1f}]" in render_table(table, "md")
    assert _cell(table, "medklip", RSNA_1).interval is None               # no per-image outputs: no interval
    rows = {row["row"]: row for row in csv.DictReader(io.StringIO(render_table(table, "csv")))}
    assert rows["asg-vit"]["ci95_low"] == f"{cell.interval[0]:.1f}" and rows["medklip"]["ci95_low"] == ""
    assert "[low, high]: the 95 % CI of the cell's mean" in table.caption
    # two runs pooled: an interval around their mean, and none of it without --intervals
    seg = build_table("segmentation", collect(runs["results"]), include_reported=False,
                      outputs=run_outputs(runs["results"], runs["folder"]), intervals=True)
    pooled = _cell(seg, "asg-vit", SIIM_1)
    assert pooled.interval[0] < pooled.mean < pooled.interval[1]
    assert _cell(_table(runs, include_reported=False), "asg-vit", RSNA_1).interval is None
