"""`asgbench run --task rsna-zs` for every registry entry with a text tower, on files written from the manifests.

The entries are read from the registry: every one with a zero-shot scorer that reads a released file (a new
text-tower entry is picked up here and fails until it has a manifest in ``tests/release_manifests/``). Each
release is laid out in a ``$ASGBENCH_WEIGHTS`` folder as its users have it (``release_folders.write_release``:
the seeded tensors, the pickled config objects, configs and tokenizer folders beside them) and run through the
real command line on the tiny synthetic suite. Then ``asgbench table`` renders those runs as the ASG README's
zero-shot table (RSNA AUC / F1 / ACC), the published "(reported)" rows beside the measured ones.

Full-size random networks are slow on CPU: each file is written once per module, run once, and deleted once
its run is done; the table test reuses the runs' result files.
"""
from __future__ import annotations

import contextlib
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from asgbench.cli import main
from asgbench.encoders import MODELS
from asgbench.results import read_result
from asgbench.tables.layout import RSNA_ZERO_SHOT_COLUMNS, ZERO_SHOT_TABLE
from asgbench.tables.reported import reported_rows
from release_folders import write_release
from release_manifest import MANIFESTS, OWN_EXPORTS

pytestmark = pytest.mark.slow

TASK = "rsna-zs"
METRICS = ("auc", "f1", "accuracy")   # the README's zero-shot columns: AUC, F1, ACC
HEADER = ["Method", "RSNA AUC", "RSNA F1", "RSNA ACC", "NIH AUC", "NIH F1", "NIH ACC"]


def zero_shot_entries() -> list[str]:
    """Every registry entry with a zero-shot scorer that reads a released file."""
    return [name for name in MODELS.names()
            if MODELS.get(name).zero_shot and MODELS.get(name).needs_checkpoint and name not in OWN_EXPORTS]


ENTRIES = zero_shot_entries()


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: tuple[float, float]      # writing the release, running it
    checkpoint: Path
    result: dict | None


class ZeroShotRuns:
    """Runs ``asgbench run --task rsna-zs`` once per entry; the result files stay in ``self.out``."""

    def __init__(self, suite: Path, root: Path) -> None:
        self.suite, self.weights, self.out, self.cache = suite, root / "weights", root / "results", root / "cache"
        self.done: dict[str, Run] = {}

    def __call__(self, name: str) -> Run:
        if name not in self.done:
            self.done[name] = self._run(name)
        return self.done[name]

    def _run(self, name: str) -> Run:
        assert (MANIFESTS / f"{name}.json").is_file(), f"{name} has a text tower but no manifest in {MANIFESTS}"
        started = time.perf_counter()
        written = write_release(name, self.weights)
        wrote = time.perf_counter()
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(["run", "--model", name, "--task", TASK, "--checkpoint", str(written[0]), "--data-root",
                             str(self.suite), "--out", str(self.out), "--cache-dir", str(self.cache), "--quiet"])
        finally:
            for path in written:          # full-size files: only the small tokenizer folders stay
                path.unlink()
        out = stdout.getvalue()
        result = read_result(self.out / f"{out.split(':', 1)[0].strip()}.json") if code == 0 else None
        return Run(code, out, stderr.getvalue(), (wrote - started, time.perf_counter() - wrote), written[0], result)


@pytest.fixture(scope="module")
def zero_shot_runs(tiny_suite, tmp_path_factory):
    runs = ZeroShotRuns(tiny_suite, tmp_path_factory.mktemp("zero-shot"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASGBENCH_WEIGHTS", str(runs.weights))
        yield runs


def test_every_text_tower_entry_is_covered():
    """The registry's list holds (at least) the text towers of issue 17, and no asgbench export."""
    assert {"asg-vit", "asg-r50", "mgca-r50", "mgca-vit", "gloria", "medklip", "medclip-r50", "medclip-vit", "kad", "biovil",
            "chexzero", "biomedclip"} <= set(ENTRIES)
    assert not set(ENTRIES) & OWN_EXPORTS


@pytest.mark.parametrize("name", ENTRIES)
def test_rsna_zero_shot_runs_on_the_released_layout(zero_shot_runs, name):
    run = zero_shot_runs(name)
    print(f"{name}: written in {run.seconds[0]:.1f} s, run in {run.seconds[1]:.1f} s")   # shown with -s
    assert run.code == 0, run.err
    result, config = run.result, MODELS.get(name)
    assert result["spec"]["model"] == name and result["task"]["name"] == TASK
    for metric in METRICS:
        value = result["metrics"][metric]
        low, high = value["ci95"]
        assert 0 <= low <= value["value"] <= high <= 1, (metric, value)
    assert result["selection"]["scorer"] == config.zero_shot
    assert result["selection"]["thresholds_from"] == "val" and result["selection"]["prompt_sha256"]
    # the release's own file, every part loaded (zero-shot needs the optional text side too)
    report = result["encoder"]["load_report"]
    assert Path(report["file"]).name == run.checkpoint.name and not report["disabled"], report["disabled"]
    assert all(component["loaded"] for component in report["components"]), report["components"]


def _zero_shot_section(text: str) -> list[list[str]]:
    """The cells of the zero-shot table's markdown lines (header first, the rule line left out)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Zero-shot classification"))
    table = []
    for line in lines[start + 1:]:
        if table and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith("|:"):
            table.append([cell.strip() for cell in line.strip()[1:-1].split("|")])
    return table


def _number(cell: str) -> float | None:
    plain = re.sub(r"\*|</?u>|↓", "", cell).strip()
    return None if plain == "–" else float(plain.split("±")[0])


def test_table_renders_the_zero_shot_runs_beside_the_published_rows(zero_shot_runs, capsys):
    runs = {name: zero_shot_runs(name) for name in ENTRIES}
    failed = [name for name, run in runs.items() if run.code != 0]
    assert not failed, f"rsna-zs failed for {failed}"
    capsys.readouterr()
    assert main(["table", "--results", str(zero_shot_runs.out)]) == 0
    table = _zero_shot_section(capsys.readouterr().out)
    assert table[0] == HEADER
    rows = {row[0]: row[1:] for row in table[1:]}
    order = [row[0] for row in table[1:]]
    # one measured row per entry, its RSNA cells the run's AUC, F1 and ACC in %
    for name, run in runs.items():
        cells = rows[MODELS.get(name).label]
        for column, metric in enumerate(METRICS):
            assert _number(cells[column]) == pytest.approx(100 * run.result["metrics"][metric]["value"], abs=0.051)
        assert cells[3:] == ["–"] * 3                       # no NIH run
    # every published row, in italics with its printed numbers, right after its model's measured row
    published = reported_rows(ZERO_SHOT_TABLE)
    assert published
    for row in published:
        label = f"*{row.label} (reported)*"
        assert [_number(cell) for cell in rows[label][:3]] == [row.values[column] for column in RSNA_ZERO_SHOT_COLUMNS]
        if row.model in runs:
            assert order.index(label) == order.index(MODELS.get(row.model).label) + 1, order
