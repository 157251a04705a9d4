"""The demo's outputs: tables, label-efficiency plots, the acceptance checks, and the README's demo section.

Everything is rendered from the result files of the sweep and the per-image outputs beside them, never typed
in, so a second run (or another machine) rewrites the same files from its own measurements. A claim that
compares two models is a paired difference on the same test images with its 95 % CI, and holds only when
that CI lies above 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from asgbench import tables
from asgbench.demo.plan import FULL_ASG, RANDOM, DemoPlan
from asgbench.errors import AsgbenchError
from asgbench.results import write_text_atomic
from asgbench.tables import NO_OUTPUTS, SECTIONS, RunOutputs
from asgbench.tables.layout import METRIC_NAMES
from asgbench.tasks.paired import pooled_difference


CONFIDENCE = 0.95
CHANCE_AUC = 0.5


@dataclass(frozen=True)
class Check:
    """One measured claim: what was compared, the numbers, and whether it held.

    ``difference`` and ``interval`` (metric units) are the paired difference and its two-sided 95 % CI, from
    the runs' per-image outputs; None when the claim could not be computed (then it does not hold).
    """

    claim: str
    measured: str
    holds: bool
    difference: float | None = None
    interval: tuple[float, float] | None = None


def _cell(stats: pd.DataFrame, model: str, task: str, fraction: int) -> pd.Series | None:
    rows = stats[(stats["model"] == model) & (stats["task"] == task) & (stats["fraction"] == fraction)]
    return None if rows.empty else rows.iloc[0]


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}"


def _paired(claim: str, ours: pd.Series, base: pd.Series, outputs: RunOutputs) -> Check:
    """Full ASG minus random init on the same test images (means over runs), held when the CI is above 0."""
    metric = str(ours["metric"])
    means = f"{_pct(ours['mean'])} vs {_pct(base['mean'])}"
    new, reference = outputs.runs(ours["run_ids"], metric), outputs.runs(base["run_ids"], metric)
    if new is None or reference is None:
        return Check(claim, f"{means}; not tested: no per-image outputs", False)
    try:
        paired = pooled_difference(new, reference, seed=0)
    except AsgbenchError as exc:
        return Check(claim, f"{means}; not tested: {exc}", False)
    low, high = paired.interval(CONFIDENCE)
    return Check(claim, f"{_signed(paired.difference)} [{_signed(low)}, {_signed(high)}] ({means})", low > 0,
                 paired.difference, (low, high))


def _above_chance(claim: str, ours: pd.Series, outputs: RunOutputs) -> Check:
    """The mean AUC over runs minus chance, held when its CI is above 0 (a model against a constant)."""
    runs = outputs.runs(ours["run_ids"], str(ours["metric"]))
    if runs is None:
        return Check(claim, f"{_pct(ours['mean'])}; not tested: no per-image outputs", False)
    try:
        above = pooled_difference(runs, CHANCE_AUC, seed=0)
    except AsgbenchError as exc:
        return Check(claim, f"{_pct(ours['mean'])}; not tested: {exc}", False)
    low, high = above.interval(CONFIDENCE)
    return Check(claim, f"{_pct(CHANCE_AUC + above.difference)} [{_pct(CHANCE_AUC + low)}–{_pct(CHANCE_AUC + high)}]",
                 low > 0, above.difference, (low, high))


def acceptance(frame: pd.DataFrame, plan: DemoPlan, names: dict[str, str], outputs: RunOutputs = NO_OUTPUTS) -> list[Check]:
    """Does pre-training help? Full ASG against the same network untrained, on the headline metrics, each
    claim a paired difference on the same test images from the runs' per-image ``outputs``. ``names`` maps an
    ablation model's tag to the model name its results carry."""
    full, untrained = names[FULL_ASG.tag], names[RANDOM.tag]
    stats = tables.aggregate(frame[frame["headline"]]) if not frame.empty else pd.DataFrame()
    if stats.empty:
        return []
    checks = []
    compared = [(task, min(plan.fractions)) for task in plan.probe_tasks]
    compared += [(task, min(plan.segmentation_fractions)) for task in plan.segmentation_tasks]
    for task, fraction in compared:
        ours, base = _cell(stats, full, task, fraction), _cell(stats, untrained, task, fraction)
        if ours is None or base is None:
            continue
        metric = METRIC_NAMES.get(str(ours["metric"]), str(ours["metric"]))
        claim = f"{task} at {fraction} %: full ASG {metric} above random init (paired difference, 95 % CI above 0)"
        checks.append(_paired(claim, ours, base, outputs))
    for task in plan.zero_shot_tasks:
        ours = _cell(stats, full, task, 100)
        if ours is not None:
            checks.append(_above_chance(f"{task}: full ASG AUC above chance (95 % CI above {CHANCE_AUC:g})", ours,
                                        outputs))
    return checks


def summary_markdown(checks: list[Check], timings: dict[str, float], plan: DemoPlan, runs: int) -> str:
    steps = ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in timings.items())
    if "suite" in timings and "total" in timings:
        steps += f" ({(timings['total'] - timings['suite']) / 60:.1f} min from a synthesised suite)"
    lines = [f"Demo plan `{plan.name}` on the `{plan.suite}` synthetic suite: {len(plan.variants)} models, {runs} runs; "
             f"{steps}.", ""]
    if checks:
        held = sum(check.holds for check in checks)
        lines += [f"Measured against random initialisation of the same network ({held} of {len(checks)} hold). Each "
                  "comparison is the difference full ASG - random init of the means over runs, paired on the same "
                  "test images, with its 95 % bootstrap CI (test patients and runs resampled, from the per-image "
                  "outputs); a claim holds only when its CI lies above 0 (for zero-shot: above chance).", "",
                  "| claim | measured (%): difference [95 % CI] (means) | holds |", "|---|---|---|"]
        lines += [f"| {check.claim} | {check.measured} | {'yes' if check.holds else 'no'} |" for check in checks]
    return "\n".join(lines) + "\n"


def write_outputs(frame: pd.DataFrame, plan: DemoPlan, names: dict[str, str], out: Path, timings: dict[str, float],
                  readme: Path | None, outputs: RunOutputs = NO_OUTPUTS) -> list[Check]:
    """Tables (md, csv), plots, summary and the flat results file into ``out``; the README's demo markers."""
    out.mkdir(parents=True, exist_ok=True)
    built = {name: tables.build_table(name, frame, include_reported=False, outputs=outputs) for name in SECTIONS}
    sections = {}
    for name, table in built.items():
        if not any(block.rows for block in table.blocks):
            continue
        markdown = tables.render_table(table, "md")
        write_text_atomic(out / f"{name}.md", markdown)
        write_text_atomic(out / f"{name}.csv", tables.render_table(table, "csv"))
        sections[f"demo-{name}"] = markdown
    plots = []
    for task in plan.probe_tasks + plan.segmentation_tasks:
        if not frame.empty and ((frame["task"] == task) & frame["headline"]).any():
            plots.append(tables.label_efficiency_plot(frame, task, out / f"label-efficiency-{task}.png", outputs))
    frame.drop(columns=["created"]).sort_values(["model", "task", "fraction", "seed", "metric"]).to_csv(
        out / "results.csv", index=False, float_format="%.6f")
    checks = acceptance(frame, plan, names, outputs)
    summary = summary_markdown(checks, timings, plan, int(frame["run_id"].nunique()) if not frame.empty else 0)
    write_text_atomic(out / "summary.md", summary)
    sections["demo-summary"] = summary
    if readme is not None:
        text = readme.read_text()
        wanted = {name: body for name, body in sections.items() if tables.markers(name)[0] in text}
        write_text_atomic(readme, tables.update_readme(text, wanted))
    return checks
