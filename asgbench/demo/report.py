"""The demo's outputs: tables, label-efficiency plots, the acceptance checks, and the README's demo section.

Everything is rendered from the result files of the sweep, never typed in, so a second run (or another
machine) rewrites the same files from its own measurements.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from asgbench import tables
from asgbench.demo.plan import FULL_ASG, RANDOM, DemoPlan
from asgbench.results import write_text_atomic
from asgbench.tables import SECTIONS


@dataclass(frozen=True)
class Check:
    """One measured claim: what was compared, the numbers, and whether it held."""

    claim: str
    measured: str
    holds: bool


def _cell(stats: pd.DataFrame, model: str, task: str, fraction: int) -> pd.Series | None:
    rows = stats[(stats["model"] == model) & (stats["task"] == task) & (stats["fraction"] == fraction)]
    return None if rows.empty else rows.iloc[0]


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def acceptance(frame: pd.DataFrame, plan: DemoPlan, names: dict[str, str]) -> list[Check]:
    """Does pre-training help? Full ASG against the same network untrained, on the headline metrics.
    ``names`` maps an ablation model's tag to the model name its results carry."""
    full, untrained = names[FULL_ASG.tag], names[RANDOM.tag]
    stats = tables.aggregate(frame[frame["headline"]]) if not frame.empty else pd.DataFrame()
    if stats.empty:
        return []
    checks = []
    low = min(plan.fractions)
    for task in plan.probe_tasks:
        ours, base = _cell(stats, full, task, low), _cell(stats, untrained, task, low)
        if ours is None or base is None:
            continue
        checks.append(Check(
            f"{task} at {low} %: full ASG above random init, 95 % CIs apart",
            f"{_pct(ours['mean'])} [{_pct(ours['ci_low'])}–{_pct(ours['ci_high'])}] vs "
            f"{_pct(base['mean'])} [{_pct(base['ci_low'])}–{_pct(base['ci_high'])}]",
            bool(ours["ci_low"] > base["ci_high"])))
    seg_low = min(plan.segmentation_fractions)
    for task in plan.segmentation_tasks:
        ours, base = _cell(stats, full, task, seg_low), _cell(stats, untrained, task, seg_low)
        if ours is None or base is None:
            continue
        checks.append(Check(f"{task} at {seg_low} %: full ASG Dice above random init",
                            f"{_pct(ours['mean'])} vs {_pct(base['mean'])}", bool(ours["mean"] > base["mean"])))
    for task in plan.zero_shot_tasks:
        ours = _cell(stats, full, task, 100)
        if ours is None:
            continue
        checks.append(Check(f"{task}: full ASG AUC above 0.5, 95 % CI excluding it",
                            f"{_pct(ours['mean'])} [{_pct(ours['ci_low'])}–{_pct(ours['ci_high'])}]",
                            bool(ours["ci_low"] > 0.5)))
    return checks


def summary_markdown(checks: list[Check], timings: dict[str, float], plan: DemoPlan, runs: int) -> str:
    steps = ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in timings.items())
    if "suite" in timings and "total" in timings:
        steps += f" ({(timings['total'] - timings['suite']) / 60:.1f} min from a synthesised suite)"
    lines = [f"Demo plan `{plan.name}` on the `{plan.suite}` synthetic suite: {len(plan.variants)} models, {runs} runs; "
             f"{steps}.", ""]
    if checks:
        held = sum(check.holds for check in checks)
        lines += [f"Measured against random initialisation of the same network ({held} of {len(checks)} hold):", "",
                  "| claim | measured (%) | holds |", "|---|---|---|"]
        lines += [f"| {check.claim} | {check.measured} | {'yes' if check.holds else 'no'} |" for check in checks]
    return "\n".join(lines) + "\n"


def write_outputs(frame: pd.DataFrame, plan: DemoPlan, names: dict[str, str], out: Path, timings: dict[str, float],
                  readme: Path | None) -> list[Check]:
    """Tables (md, csv), plots, summary and the flat results file into ``out``; the README's demo markers."""
    out.mkdir(parents=True, exist_ok=True)
    built = {name: tables.build_table(name, frame, include_reported=False) for name in SECTIONS}
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
            plots.append(tables.label_efficiency_plot(frame, task, out / f"label-efficiency-{task}.png"))
    frame.drop(columns=["created"]).sort_values(["model", "task", "fraction", "seed", "metric"]).to_csv(
        out / "results.csv", index=False, float_format="%.6f")
    checks = acceptance(frame, plan, names)
    summary = summary_markdown(checks, timings, plan, int(frame["run_id"].nunique()) if not frame.empty else 0)
    write_text_atomic(out / "summary.md", summary)
    sections["demo-summary"] = summary
    if readme is not None:
        text = readme.read_text()
        wanted = {name: body for name, body in sections.items() if tables.markers(name)[0] in text}
        write_text_atomic(readme, tables.update_readme(text, wanted))
    return checks
