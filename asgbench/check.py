"""Regression checks: compare results with stored reference values, failing only beyond noise.

Metrics move a little between machines (batch size, AMP, library versions), so exact equality is never
asserted. An entry FAILS when

* its run (same model, checkpoint variant, task, fraction, draw, seed, split protocol, protocol and
  overrides) or its metric is missing from the results, or
* the value dropped by more than the tolerance (absolute, in metric units: 0.02 = 2 points) AND lies below
  the lower bound of the reference run's bootstrap 95 % CI.

A drop that stays inside the reference CI, a drop of at most the tolerance, and any rise all pass. Results
without a reference entry are listed, never failed.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tabulate import tabulate

from asgbench.errors import ConfigError, DataLayoutError
from asgbench.results import write_json_atomic
from asgbench.tables import checkpoint_variant

FORMAT = "asgbench-reference"
VERSION = 1
DEFAULT_TOLERANCE = 0.02
SLACK = 1e-9  # a drop of exactly the tolerance passes despite float rounding

OK, BETTER, WITHIN_CI, REGRESSED, MISSING = "ok", "better", "drop within CI", "REGRESSED", "MISSING"
FAILING = (REGRESSED, MISSING)

REFERENCE_SCHEMA = {
    "type": "object",
    "required": ["format", "version", "entries"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "entries": {"type": "array", "items": {
            "type": "object",
            "required": ["run", "metric", "value", "ci95", "tolerance"],
            "properties": {
                "run": {"type": "object",
                        "required": ["model", "task", "fraction", "draw", "seed", "split_protocol", "protocol",
                                     "overrides"],
                        "properties": {"model": {"type": "string"}, "task": {"type": "string"},
                                       "fraction": {"type": "integer"}, "draw": {"type": "integer"},
                                       "seed": {"type": "integer"}, "split_protocol": {"type": "string"},
                                       "protocol": {"type": "string"},
                                       "overrides": {"type": "array", "items": {"type": "string"}},
                                       "variant": {"type": "string"}}},
                "metric": {"type": "string"},
                "value": {"type": "number"},
                "ci95": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                "tolerance": {"type": "number", "minimum": 0},
                "run_id": {"type": "string"},
            },
        }},
    },
}


@dataclass(frozen=True, order=True)
class RunIdentity:
    """What makes two result files the same run, apart from the machine; ``variant`` names an asgbench-trained
    ASG checkpoint by its objectives (see :func:`asgbench.tables.checkpoint_variant`)."""

    model: str
    task: str
    fraction: int
    draw: int
    seed: int
    split_protocol: str
    protocol: str
    overrides: tuple[str, ...] = ()
    variant: str = ""

    @classmethod
    def of(cls, result: dict) -> RunIdentity:
        spec = result["spec"]
        return cls(spec["model"], spec["task"], int(spec["fraction"]), int(spec["draw"]), int(spec["seed"]),
                   spec["split_protocol"], spec["eval_protocol"], tuple(spec["overrides"]), checkpoint_variant(result))

    def describe(self) -> str:
        model = f"{self.model} · {self.variant}" if self.variant else self.model
        extras = ", ".join((self.split_protocol, self.protocol) + self.overrides)
        return f"{model} {self.task} {self.fraction}% d{self.draw} s{self.seed} [{extras}]"

    def to_json(self) -> dict:
        data = asdict(self)
        data["overrides"] = list(self.overrides)
        if not self.variant:
            del data["variant"]
        return data


@dataclass(frozen=True)
class ReferenceEntry:
    run: RunIdentity
    metric: str
    value: float
    ci95: tuple[float, float]
    tolerance: float
    run_id: str = ""


@dataclass(frozen=True)
class CheckEntry:
    reference: ReferenceEntry
    value: float | None
    tolerance: float
    status: str
    note: str = ""

    @property
    def delta(self) -> float | None:
        return None if self.value is None else self.value - self.reference.value


@dataclass(frozen=True)
class CheckReport:
    reference_path: Path
    entries: tuple[CheckEntry, ...]
    unreferenced: tuple[str, ...] = ()  # run_ids of results that no entry mentions

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[CheckEntry, ...]:
        return tuple(entry for entry in self.entries if entry.status in FAILING)

    def summary(self) -> str:
        counts = {status: 0 for status in (OK, BETTER, WITHIN_CI, REGRESSED, MISSING)}
        for entry in self.entries:
            counts[entry.status] += 1
        parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        extra = f"; {len(self.unreferenced)} result(s) without a reference entry" if self.unreferenced else ""
        verdict = "PASS" if self.ok else "FAIL"
        return f"{verdict}: {len(self.entries)} reference entries from {self.reference_path}: {parts or 'none'}{extra}"

    def render(self) -> str:
        """A diff table, one line per reference entry, then the summary line."""
        rows = []
        for entry in self.entries:
            ref = entry.reference
            rows.append([entry.status, ref.run.describe(), ref.metric, f"{ref.value:.4f}",
                         f"[{ref.ci95[0]:.4f}, {ref.ci95[1]:.4f}]", _fmt(entry.value), _fmt(entry.delta, signed=True),
                         f"{entry.tolerance:g}", entry.note])
        headers = ["status", "run", "metric", "reference", "reference 95% CI", "now", "change", "tolerance", "note"]
        table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
        return f"{table}\n\n{self.summary()}\n"


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _newest(results: Iterable[dict]) -> tuple[dict[RunIdentity, dict], dict[RunIdentity, int]]:
    """One result per run identity (the newest by ``created`` when a folder holds several) and the counts."""
    chosen: dict[RunIdentity, dict] = {}
    counts: dict[RunIdentity, int] = {}
    for result in results:
        identity = RunIdentity.of(result)
        counts[identity] = counts.get(identity, 0) + 1
        if identity not in chosen or result["created"] > chosen[identity]["created"]:
            chosen[identity] = result
    return chosen, counts


def write_reference(results: Iterable[dict], path: str | Path, tolerance: float = DEFAULT_TOLERANCE,
                    metrics: Sequence[str] | None = None) -> list[ReferenceEntry]:
    """Store the current results as the reference: one entry per run and metric (default: the headline)."""
    if tolerance < 0:
        raise ConfigError(f"the tolerance must not be negative, not {tolerance}")
    chosen, _ = _newest(results)
    entries = []
    for identity in sorted(chosen):
        result = chosen[identity]
        names = [result["headline"]["metric"]] if metrics is None else [m for m in metrics if m in result["metrics"]]
        for name in names:
            metric = result["metrics"][name]
            low, high = metric["ci95"][:2]
            entries.append(ReferenceEntry(identity, name, float(metric["value"]), (float(low), float(high)),
                                          tolerance, result["run_id"]))
    payload = {"format": FORMAT, "version": VERSION, "entries": [
        {"run": entry.run.to_json(), "metric": entry.metric, "value": entry.value, "ci95": list(entry.ci95),
         "tolerance": entry.tolerance, "run_id": entry.run_id} for entry in entries]}
    write_json_atomic(Path(path), payload)
    return entries


def read_reference(path: str | Path) -> list[ReferenceEntry]:
    import jsonschema

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataLayoutError(f"{path}: reference file not found (write one with `asgbench check --write-reference`)") \
            from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"{path}: not a JSON reference file ({exc})") from None
    try:
        jsonschema.validate(data, REFERENCE_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(top level)"
        raise DataLayoutError(f"{path}: not an asgbench reference file: {exc.message} at {where}") from None
    entries = []
    for item in data["entries"]:
        run = item["run"]
        identity = RunIdentity(run["model"], run["task"], run["fraction"], run["draw"], run["seed"],
                               run["split_protocol"], run["protocol"], tuple(run["overrides"]), run.get("variant", ""))
        entries.append(ReferenceEntry(identity, item["metric"], float(item["value"]),
                                      (float(item["ci95"][0]), float(item["ci95"][1])), float(item["tolerance"]),
                                      item.get("run_id", "")))
    return entries


def compare(reference: ReferenceEntry, value: float | None, tolerance: float) -> tuple[str, str]:
    """(status, note) for one entry under the rule in the module docstring."""
    if value is None:
        return MISSING, ""
    if math.isnan(reference.value):
        return OK, "reference value is NaN"
    if math.isnan(value):
        return REGRESSED, "value is NaN"
    drop = reference.value - value
    if drop > tolerance + SLACK:
        if value < reference.ci95[0]:
            return REGRESSED, "dropped beyond the tolerance and below the reference CI"
        return WITHIN_CI, "dropped beyond the tolerance but inside the reference CI"
    if -drop > tolerance + SLACK:
        return BETTER, ""
    return OK, ""


def check(reference_path: str | Path, results: Iterable[dict], tolerance: float | None = None) -> CheckReport:
    """Compare every reference entry with the matching result; ``tolerance`` overrides the stored ones."""
    if tolerance is not None and tolerance < 0:
        raise ConfigError(f"the tolerance must not be negative, not {tolerance}")
    references = read_reference(reference_path)
    chosen, counts = _newest(results)
    outcomes = []
    for reference in references:
        limit = reference.tolerance if tolerance is None else tolerance
        result = chosen.get(reference.run)
        if result is None:
            outcomes.append(CheckEntry(reference, None, limit, MISSING, "no result for this run"))
            continue
        metric = result["metrics"].get(reference.metric)
        if metric is None:
            note = f"{result['run_id']} has no {reference.metric}"
            outcomes.append(CheckEntry(reference, None, limit, MISSING, note))
            continue
        value = float(metric["value"]) if metric["value"] is not None else math.nan
        status, note = compare(reference, value, limit)
        if counts[reference.run] > 1:
            note = "; ".join(filter(None, [note, f"{counts[reference.run]} results for this run, newest compared"]))
        outcomes.append(CheckEntry(reference, value, limit, status, note))
    referenced = {reference.run for reference in references}
    unreferenced = tuple(sorted(result["run_id"] for identity, result in chosen.items() if identity not in referenced))
    return CheckReport(Path(reference_path), tuple(outcomes), unreferenced)
