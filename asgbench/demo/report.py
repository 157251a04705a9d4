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
class SeedCheck:
    """A claim on one pre-training seed alone (full ASG seed k against the untrained network seed k)."""

    seed: int
    difference: float | None
    interval: tuple[float, float] | None

    @property
    def holds(self) -> bool:
        return self.interval is not None and self.interval[0] > 0


@dataclass(frozen=True)
class Check:
    """One measured claim: what was compared, the numbers, and whether it held.

    ``difference`` and ``interval`` (metric units) are the paired difference and its two-sided 95 % CI, from
    the runs' per-image outputs, pooled over every run (and pre-training seed); None when the claim could not be
    computed (then it does not hold). ``per_seed`` repeats the claim on each pre-training seed alone.
    """

    claim: str
    measured: str
    holds: bool
    difference: float | None = None
    interval: tuple[float, float] | None = None
    per_seed: tuple[SeedCheck, ...] = ()

    @property
    def seeds_holding(self) -> int:
        return sum(seed.holds for seed in self.per_seed)

    @property
    def holds_for_every_seed(self) -> bool:
        return self.holds and all(seed.holds for seed in self.per_seed)


def _cell(stats: pd.DataFrame, model: str, task: str, fraction: int) -> pd.Series | None:
    rows = stats[(stats["model"] == model) & (stats["task"] == task) & (stats["fraction"] == fraction)]
    return None if rows.empty else rows.iloc[0]


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.1f}"


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}"


def _runs_by_seed(frame: pd.DataFrame, model: str, task: str, fraction: int, metric: str) -> dict[int, tuple[str, ...]]:
    """Pre-training seed -> the run ids of ``model`` on one cell (one entry, seed -1, when no seed is recorded)."""
    rows = frame[(frame["model"] == model) & (frame["task"] == task) & (frame["fraction"] == fraction)
                 & (frame["metric"] == metric)]
    return {int(seed): tuple(sorted(ids)) for seed, ids in rows.groupby("pretrain_seed")["run_id"]}


def _difference(new, reference) -> tuple[float, tuple[float, float]] | None:
    """Pooled paired difference and its 95 % CI; None when the outputs cannot give it."""
    if new is None or reference is None:
        return None
    try:
        paired = pooled_difference(new, reference, seed=0)
    except AsgbenchError:
        return None
    return paired.difference, paired.interval(CONFIDENCE)


def _per_seed(ours: dict[int, tuple[str, ...]], base: dict[int, tuple[str, ...]] | None, metric: str,
              outputs: RunOutputs, reference_of=None) -> tuple[SeedCheck, ...]:
    """The claim on each pre-training seed of ``ours`` (against the same seed of ``base``, or the fixed reference
    ``reference_of(run_ids)`` gives); empty when there is only one seed."""
    if len(ours) < 2:
        return ()
    checks = []
    for seed, run_ids in sorted(ours.items()):
        new = outputs.runs(run_ids, metric)
        if base is not None:
            reference = outputs.runs(base[seed], metric) if seed in base else None
        else:
            reference = reference_of(run_ids)
        measured = _difference(new, reference)
        checks.append(SeedCheck(seed, *(measured if measured else (None, None))))
    return tuple(checks)


def _seed_text(per_seed: tuple[SeedCheck, ...]) -> str:
    if not per_seed:
        return "one seed"
    parts = [f"s{s.seed}: " + ("–" if s.difference is None else f"{_signed(s.difference)} [{_signed(s.interval[0])}, "
                                                                 f"{_signed(s.interval[1])}]") for s in per_seed]
    return "; ".join(parts)


def _paired(claim: str, frame: pd.DataFrame, ours: pd.Series, base: pd.Series, outputs: RunOutputs) -> Check:
    """Full ASG minus random init on the same test images (means over runs and pre-training seeds), held when the
    CI is above 0; and the same on each pre-training seed."""
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
    cell = (str(ours["task"]), int(ours["fraction"]))
    per_seed = _per_seed(_runs_by_seed(frame, str(ours["model"]), *cell, metric),
                         _runs_by_seed(frame, str(base["model"]), *cell, metric), metric, outputs)
    return Check(claim, f"{_signed(paired.difference)} [{_signed(low)}, {_signed(high)}] ({means})", low > 0,
                 paired.difference, (low, high), per_seed)


def _above_fixed(claim: str, frame: pd.DataFrame, ours: pd.Series, outputs: RunOutputs, reference_of,
                 shown_as) -> Check:
    """A model's mean over runs minus a reference that is the same for every run (chance, or the empty mask on
    the same test images), held when its CI is above 0; and the same on each pre-training seed."""
    metric = str(ours["metric"])
    runs = outputs.runs(ours["run_ids"], metric)
    reference = reference_of(ours["run_ids"]) if runs is not None else None
    measured = _difference(runs, reference)
    if measured is None:
        return Check(claim, f"{_pct(ours['mean'])}; not tested: no per-image outputs for it", False)
    difference, (low, high) = measured
    per_seed = _per_seed(_runs_by_seed(frame, str(ours["model"]), str(ours["task"]), int(ours["fraction"]), metric),
                         None, metric, outputs, reference_of)
    return Check(claim, shown_as(difference, low, high), low > 0, difference, (low, high), per_seed)


def acceptance(frame: pd.DataFrame, plan: DemoPlan, names: dict[str, str], outputs: RunOutputs = NO_OUTPUTS) -> list[Check]:
    """Does pre-training help? Full ASG against the same network untrained, on the headline metrics, each
    claim a paired difference on the same test images from the runs' per-image ``outputs``, pooled over runs and
    pre-training seeds and repeated on each seed. Segmentation is also compared with predicting no mask at all,
    at every fraction, for both models. ``names`` maps an ablation model's tag to the model name its results carry."""
    full, untrained = names[FULL_ASG.tag], names[RANDOM.tag]
    stats = tables.aggregate(frame[frame["headline"]]) if not frame.empty else pd.DataFrame()
    if stats.empty:
        return []
    checks = []
    compared = [(task, min(plan.fractions)) for task in plan.probe_tasks]
    compared += [(task, fraction) for task in plan.segmentation_tasks for fraction in plan.segmentation_fractions]
    for task, fraction in compared:
        ours, base = _cell(stats, full, task, fraction), _cell(stats, untrained, task, fraction)
        if ours is None or base is None:
            continue
        metric = METRIC_NAMES.get(str(ours["metric"]), str(ours["metric"]))
        claim = f"{task} at {fraction} %: full ASG {metric} above random init (paired difference, 95 % CI above 0)"
        checks.append(_paired(claim, frame, ours, base, outputs))
    for task in plan.segmentation_tasks:
        for fraction in plan.segmentation_fractions:
            for model, label in ((full, "full ASG"), (untrained, "random init")):
                ours = _cell(stats, model, task, fraction)
                if ours is not None:
                    checks.append(_above_empty_mask(
                        f"{task} at {fraction} %: {label} Dice above the empty mask (paired difference, 95 % CI above 0)",
                        frame, ours, outputs))
    for task in plan.zero_shot_tasks:
        ours = _cell(stats, full, task, 100)
        if ours is not None:
            checks.append(_above_fixed(
                f"{task}: full ASG AUC above chance (difference from {CHANCE_AUC:g}, 95 % CI above 0)", frame, ours,
                outputs, lambda run_ids: CHANCE_AUC,
                lambda d, low, high: f"{_signed(d)} [{_signed(low)}, {_signed(high)}] ({_pct(CHANCE_AUC + d)} vs "
                                     f"{_pct(CHANCE_AUC)})"))
    return checks


def _above_empty_mask(claim: str, frame: pd.DataFrame, ours: pd.Series, outputs: RunOutputs) -> Check:
    def empty_of(run_ids):
        runs = [outputs.empty_mask(run_id) for run_id in run_ids]
        return None if not runs or any(run is None for run in runs) else (runs[0],)   # one test list: one baseline

    empty = empty_of(ours["run_ids"])
    shown = f" vs {_pct(empty[0].value)}" if empty else ""
    return _above_fixed(claim, frame, ours, outputs, empty_of,
                        lambda d, low, high: f"{_signed(d)} [{_signed(low)}, {_signed(high)}] "
                                             f"({_pct(ours['mean'])}{shown})")


def summary_markdown(checks: list[Check], timings: dict[str, float], plan: DemoPlan, runs: int) -> str:
    steps = ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in timings.items())
    if "suite" in timings and "total" in timings:
        steps += f" ({(timings['total'] - timings['suite']) / 60:.1f} min from a synthesised suite)"
    trainings = len(plan.pretrainings())
    lines = [f"Demo plan `{plan.name}` on the `{plan.suite}` synthetic suite: {len(plan.variants)} models "
             f"({trainings} pre-trainings: full ASG and the untrained network with {len(plan.pretrain_seeds)} seed(s) "
             f"each), {runs} runs; {steps}.", ""]
    if checks:
        held = sum(check.holds for check in checks)
        every = sum(check.holds_for_every_seed for check in checks)
        seeds = ", ".join(str(seed) for seed in plan.pretrain_seeds)
        lines += [f"Measured against random initialisation of the same network and against trivial predictors: "
                  f"{held} of {len(checks)} claims hold over all runs, {every} of {len(checks)} hold on every "
                  f"pre-training seed ({seeds}) as well. Each comparison is a difference of means over runs, paired on "
                  "the same test images, with its 95 % bootstrap CI (test patients and runs resampled, from the "
                  "per-image outputs); a claim holds only when its CI lies above 0. The per-seed column repeats it "
                  "with one pre-training seed of each model (seed k of full ASG against seed k of the untrained "
                  "network): how much the outcome depends on one draw of pre-training.", "",
                  "| claim | measured (%): difference [95 % CI] (means) | holds | per pre-training seed: difference "
                  "[95 % CI] | holds on every seed |", "|---|---|---|---|---|"]
        lines += [f"| {check.claim} | {check.measured} | {'yes' if check.holds else 'no'} | {_seed_text(check.per_seed)} "
                  f"| {_every_seed(check)} |" for check in checks]
    return "\n".join(lines) + "\n"


def _every_seed(check: Check) -> str:
    if not check.per_seed:
        return "yes" if check.holds else "no"
    word = "yes" if check.holds_for_every_seed else "no"
    return f"{word} ({check.seeds_holding} of {len(check.per_seed)})"


def write_outputs(frame: pd.DataFrame, plan: DemoPlan, names: dict[str, str], out: Path, timings: dict[str, float],
                  readme: Path | None, outputs: RunOutputs = NO_OUTPUTS) -> list[Check]:
    """Tables (md, csv), plots, summary and the flat results file into ``out``; the README's demo markers."""
    out.mkdir(parents=True, exist_ok=True)
    built = {name: tables.build_table(name, frame, include_reported=False, outputs=outputs, intervals=True)
             for name in SECTIONS}
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
