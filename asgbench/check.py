"""Regression gate: a new run against its reference run, paired on the same test images.

A reference file keeps, for each referenced run and metric, a compact copy of the reference run's per-image
outputs (ids, patients, targets, scores, val-chosen thresholds) and their digest. ``check`` reads the new
run's predictions and decides per entry:

* IDENTICAL: the new outputs are bit-identical to the reference's (same digest) — a deterministic rerun;
* REGRESSED: the paired patient-level bootstrap says the new metric is below the reference's by more than
  the margin, with the stated confidence (one-sided upper bound of new - reference < -margin);
* BETTER: above it by more than the margin with that confidence; OK: neither;
* MISSING: no result, metric or predictions for the entry;
* INCONSISTENT: the result file's metric is not the one its own predictions give (an edited or corrupt file);
* UNDERPOWERED: the reference is too small to be a gate: the smallest drop it detects with 80 % power
  (:mod:`asgbench.gate_power`) exceeds the drop the gate must catch;
* CHANGED: the encoder's features on the test images are not the reference's (their fingerprint,
  :mod:`asgbench.tasks.fingerprint`, moved by more than float noise): weights, loader or preprocessing
  changed, whatever the metric says — a probe retrained on a perturbed random network scores as well.

MISSING, INCONSISTENT, REGRESSED, UNDERPOWERED and CHANGED fail the check.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tabulate import tabulate

from asgbench.errors import AsgbenchError, ConfigError, DataLayoutError
from asgbench.gate_power import POWER, detectable_drop
from asgbench.results import read_predictions, read_result, result_files, write_text_atomic
from asgbench.tables import checkpoint_variant
from asgbench.tasks.fingerprint import TOLERANCE, fingerprint_change
from asgbench.tasks.paired import RECOMPUTABLE, ScoredImages, paired_difference, point_value

FORMAT = "asgbench-reference"
VERSION = 2
DEFAULT_MARGIN = 0.01          # drops smaller than this are not regressions (metric units: 0.01 = 1 point)
DEFAULT_CONFIDENCE = 0.95
DEFAULT_MUST_DETECT = 0.05     # the gate must catch a drop this large with 80 % power, or it says it is no gate
BOOTSTRAP_SAMPLES = 1000

IDENTICAL, OK, BETTER = "identical", "ok", "better"
REGRESSED, MISSING, UNDERPOWERED, INCONSISTENT = "REGRESSED", "MISSING", "UNDERPOWERED", "INCONSISTENT"
CHANGED = "CHANGED"
FAILING = (REGRESSED, MISSING, UNDERPOWERED, INCONSISTENT, CHANGED)
STATUSES = (IDENTICAL, OK, BETTER, REGRESSED, MISSING, UNDERPOWERED, INCONSISTENT, CHANGED)
AGREEMENT = 1e-6    # a result's stored metric and the one recomputed from its predictions agree to this


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
    transform: str = "native"         # the model's own preprocessing, or "standard" (a different run)

    @classmethod
    def of(cls, result: dict) -> RunIdentity:
        spec = result["spec"]
        return cls(spec["model"], spec["task"], int(spec["fraction"]), int(spec["draw"]), int(spec["seed"]),
                   spec["split_protocol"], spec["eval_protocol"], tuple(spec["overrides"]), checkpoint_variant(result),
                   spec.get("transform", "native"))

    @classmethod
    def from_json(cls, run: dict) -> RunIdentity:
        return cls(run["model"], run["task"], int(run["fraction"]), int(run["draw"]), int(run["seed"]),
                   run["split_protocol"], run["protocol"], tuple(run["overrides"]), run.get("variant", ""),
                   run.get("transform", "native"))

    def describe(self) -> str:
        model = f"{self.model} · {self.variant}" if self.variant else self.model
        extras = ", ".join((self.split_protocol, self.protocol) + self.overrides
                           + ((f"transform {self.transform}",) if self.transform != "native" else ()))
        return f"{model} {self.task} {self.fraction}% d{self.draw} s{self.seed} [{extras}]"

    def to_json(self) -> dict:
        """Defaults left out, so that references written before a field existed read back as the same run."""
        data = asdict(self)
        data["overrides"] = list(self.overrides)
        if not self.variant:
            del data["variant"]
        if self.transform == "native":
            del data["transform"]
        return data


@dataclass(frozen=True)
class ReferenceEntry:
    run: RunIdentity
    metric: str
    value: float
    images: ScoredImages              # the reference run's per-image outputs
    run_id: str = ""
    fingerprint: dict | None = None   # of the encoder's test features (linear probe); None: not checked

    @property
    def digest(self) -> str:
        return self.images.digest()


@dataclass(frozen=True)
class GateSettings:
    margin: float = DEFAULT_MARGIN
    confidence: float = DEFAULT_CONFIDENCE
    must_detect: float = DEFAULT_MUST_DETECT

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ConfigError(f"the margin must be in [0, 1), not {self.margin}")
        if not 0.5 < self.confidence < 1:
            raise ConfigError(f"the confidence must be in (0.5, 1), not {self.confidence}")
        if not 0 < self.must_detect <= 1:
            raise ConfigError(f"the drop to detect must be in (0, 1], not {self.must_detect}")


@dataclass(frozen=True)
class CheckEntry:
    reference: ReferenceEntry
    status: str
    value: float | None = None
    difference: float | None = None
    interval: tuple[float, float] | None = None
    detectable: float | None = None
    note: str = ""


@dataclass(frozen=True)
class CheckReport:
    reference_path: Path
    settings: GateSettings
    entries: tuple[CheckEntry, ...]
    unreferenced: tuple[str, ...] = ()  # run_ids of results that no entry mentions

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> tuple[CheckEntry, ...]:
        return tuple(entry for entry in self.entries if entry.status in FAILING)

    def summary(self) -> str:
        counts = {status: sum(entry.status == status for entry in self.entries) for status in STATUSES}
        parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        extra = f"; {len(self.unreferenced)} result(s) without a reference entry" if self.unreferenced else ""
        s = self.settings
        rule = (f"paired patient bootstrap, fails below -{s.margin:g} at {s.confidence:.0%} confidence; "
                f"must detect a {s.must_detect:g} drop with {POWER:.0%} power")
        return f"{'PASS' if self.ok else 'FAIL'}: {len(self.entries)} reference entries from {self.reference_path} " \
               f"({rule}): {parts or 'none'}{extra}"

    def render(self) -> str:
        """One line per reference entry (the difference new - reference with its 95 % CI), then the summary."""
        rows = []
        for entry in self.entries:
            ref = entry.reference
            interval = "–" if entry.interval is None else f"[{entry.interval[0]:+.4f}, {entry.interval[1]:+.4f}]"
            rows.append([entry.status, ref.run.describe(), ref.metric, f"{ref.value:.4f}", format_value(entry.value),
                         format_value(entry.difference, signed=True), interval, format_value(entry.detectable), entry.note])
        headers = ["status", "run", "metric", "reference", "now", "difference", "95% CI (paired)", "detectable drop", "note"]
        table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
        return f"{table}\n\n{self.summary()}\n"


def format_value(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "none"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


@dataclass(frozen=True)
class StoredRun:
    result: dict
    folder: Path

    def images(self) -> ScoredImages:
        return ScoredImages.from_predictions(read_predictions(self.folder, self.result["run_id"]), self.result)


def stored_runs(folder: str | Path) -> Iterator[StoredRun]:
    """Every result under ``folder`` (recursively) with the folder its predictions sit in."""
    for path in result_files(folder):
        yield StoredRun(read_result(path), path.parent)


def _newest(runs: Iterable[StoredRun]) -> tuple[dict[RunIdentity, StoredRun], dict[RunIdentity, int]]:
    """One run per identity (the newest by ``created`` when a folder holds several) and the counts."""
    chosen: dict[RunIdentity, StoredRun] = {}
    counts: dict[RunIdentity, int] = {}
    for run in runs:
        identity = RunIdentity.of(run.result)
        counts[identity] = counts.get(identity, 0) + 1
        if identity not in chosen or run.result["created"] > chosen[identity].result["created"]:
            chosen[identity] = run
    return chosen, counts


def write_reference(runs: Iterable[StoredRun], path: str | Path, settings: GateSettings = GateSettings()) -> list[CheckEntry]:
    """Store the runs' headline metrics with their per-image outputs as the reference; returns each entry with
    its detectable drop (so the caller can say whether this reference makes a gate)."""
    chosen, _ = _newest(runs)
    entries, rows = [], []
    for identity in sorted(chosen):
        run = chosen[identity]
        metric = run.result["headline"]["metric"]
        if metric not in RECOMPUTABLE:
            continue
        images = run.images()
        entry = ReferenceEntry(identity, metric, point_value(metric, images), images, run.result["run_id"],
                               _fingerprint_of(run.result))
        detectable = detectable_drop(metric, images, settings.margin, settings.confidence)
        status = UNDERPOWERED if detectable > settings.must_detect else OK
        entries.append(CheckEntry(entry, status, entry.value, detectable=detectable))
        rows.append({"run": identity.to_json(), "metric": metric, "value": entry.value, "run_id": entry.run_id,
                     "predictions_sha256": entry.digest, "detectable_drop": detectable if math.isfinite(detectable) else None,
                     **({"features_fingerprint": entry.fingerprint} if entry.fingerprint else {}),
                     "predictions": images.to_json()})
    payload = {"format": FORMAT, "version": VERSION, "margin": settings.margin, "confidence": settings.confidence,
               "must_detect": settings.must_detect, "entries": rows}
    # one entry per line: the per-image copies make an indented file tens of thousands of lines long
    body = ",\n".join(json.dumps(row) for row in rows)
    head = json.dumps({key: value for key, value in payload.items() if key != "entries"})[:-1]
    write_text_atomic(Path(path), f'{head}, "entries": [\n{body}\n]}}\n')
    return entries


def read_reference(path: str | Path) -> tuple[list[ReferenceEntry], GateSettings]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataLayoutError(f"{path}: reference file not found (write one with `asgbench check --write-reference`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"{path}: not a JSON reference file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataLayoutError(f"{path}: not an asgbench reference file (expected \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise DataLayoutError(f"{path}: reference version {data.get('version')} holds no per-image predictions; "
                              f"rewrite it with `asgbench check --write-reference` (version {VERSION})")
    try:
        entries = [ReferenceEntry(RunIdentity.from_json(item["run"]), item["metric"], float(item["value"]),
                                  ScoredImages.from_json(item["predictions"]), item.get("run_id", ""),
                                  item.get("features_fingerprint"))
                   for item in data["entries"]]
        settings = GateSettings(float(data["margin"]), float(data["confidence"]), float(data["must_detect"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataLayoutError(f"{path}: malformed reference entry ({type(exc).__name__}: {exc})") from None
    for entry, item in zip(entries, data["entries"]):
        if item.get("predictions_sha256") not in (None, entry.digest):
            raise DataLayoutError(f"{path}: the stored predictions of {entry.run.describe()} do not match their sha256")
    return entries, settings


def judge(reference: ReferenceEntry, new: ScoredImages, settings: GateSettings) -> CheckEntry:
    """The decision for one entry, by the rule in the module docstring."""
    detectable = detectable_drop(reference.metric, reference.images, settings.margin, settings.confidence)
    value = point_value(reference.metric, new)
    underpowered = detectable > settings.must_detect
    note = f"reference too small: detects drops of {format_value(detectable)} > {settings.must_detect:g}" if underpowered else ""
    if new.digest() == reference.digest:
        return CheckEntry(reference, UNDERPOWERED if underpowered else IDENTICAL, value, 0.0, (0.0, 0.0), detectable,
                          note or "bit-identical predictions")
    paired = paired_difference(reference.metric, new, reference.images, samples=BOOTSTRAP_SAMPLES, seed=0)
    if paired.upper_bound(settings.confidence) < -settings.margin:
        status = REGRESSED
    elif underpowered:
        status = UNDERPOWERED
    elif paired.lower_bound(settings.confidence) > settings.margin:
        status = BETTER
    else:
        status = OK
    return CheckEntry(reference, status, value, paired.difference, paired.interval(0.95), detectable, note)


def _fingerprint_of(result: dict) -> dict | None:
    return (result.get("extra") or {}).get("features_fingerprint")


def _compare_features(reference: ReferenceEntry, result: dict, outcome: CheckEntry) -> CheckEntry:
    """CHANGED when the run's features moved beyond float noise from the reference's (where both have them)."""
    new = _fingerprint_of(result)
    if reference.fingerprint is None or new is None or outcome.status in (MISSING, INCONSISTENT):
        return outcome
    change = fingerprint_change(reference.fingerprint, new)
    if change <= TOLERANCE:
        return outcome
    note = (f"the encoder's test features differ from the reference's (relative change {change:.3g} > {TOLERANCE:g}): "
            "its weights, loader or preprocessing changed")
    return CheckEntry(**{**outcome.__dict__, "status": CHANGED, "note": "; ".join(filter(None, [note, outcome.note]))})


def check(reference_path: str | Path, runs: Iterable[StoredRun], settings: GateSettings | None = None) -> CheckReport:
    """Compare every reference entry with the matching run; ``settings`` override the reference's own."""
    references, stored = read_reference(reference_path)
    settings = settings or stored
    chosen, counts = _newest(runs)
    outcomes = []
    for reference in references:
        run = chosen.get(reference.run)
        if run is None:
            outcomes.append(CheckEntry(reference, MISSING, note="no result for this run"))
            continue
        if reference.metric not in run.result["metrics"]:
            outcomes.append(CheckEntry(reference, MISSING, note=f"{run.result['run_id']} has no {reference.metric}"))
            continue
        try:
            outcome = judge(reference, run.images(), settings)
        except AsgbenchError as exc:
            outcome = CheckEntry(reference, MISSING, note=str(exc))
        stored_value = run.result["metrics"][reference.metric]["value"]
        if outcome.value is not None and not (stored_value is not None and abs(stored_value - outcome.value) <= AGREEMENT):
            outcome = CheckEntry(**{**outcome.__dict__, "status": INCONSISTENT,
                                    "note": f"{run.result['run_id']} states {reference.metric} {stored_value}, its "
                                            f"predictions give {outcome.value:.6f}"})
        outcome = _compare_features(reference, run.result, outcome)
        if counts[reference.run] > 1:
            note = "; ".join(filter(None, [outcome.note, f"{counts[reference.run]} results for this run, newest compared"]))
            outcome = CheckEntry(**{**outcome.__dict__, "note": note})
        outcomes.append(outcome)
    referenced = {reference.run for reference in references}
    unreferenced = tuple(sorted(run.result["run_id"] for identity, run in chosen.items() if identity not in referenced))
    return CheckReport(Path(reference_path), settings, tuple(outcomes), unreferenced)
