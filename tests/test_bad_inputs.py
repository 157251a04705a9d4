"""No traceback on any input: each bad input exits 2 with one line naming the value, and changes nothing.

Every case runs the CLI in-process against a results folder that already holds a finished run; after each,
the folder's files (names, bytes) must be exactly as before.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from asgbench.cli import main

FINISHED = ["run", "--model", "random-r18", "--task", "covidx-lp", "--fraction", "100", "--quiet",
            "--set", "max_epochs=2", "--set", "learning_rates=0.01", "--set", "weight_decays=0"]


@pytest.fixture(scope="module")
def world(tiny_suite, tmp_path_factory):
    """A results folder with one finished run, and bad files to point commands at."""
    root = tmp_path_factory.mktemp("bad-inputs")
    out = root / "results"
    assert main([*FINISHED, "--data-root", str(tiny_suite), "--out", str(out)]) == 0
    (root / "garbage.ckpt").write_bytes(b"not a checkpoint at all")
    (root / "a-file").write_text("x")
    (root / "not-json.json").write_text("{")
    (root / "list.yaml").write_text("- a\n- b\n")
    (root / "sweep-types.yaml").write_text("fractions: [ten]\n")
    (root / "sweep-unknown.yaml").write_text("modles: [random-r18]\n")
    (root / "pretrain-types.yaml").write_text("optim:\n  max_epochs: three\n")
    (root / "pretrain-unknown.yaml").write_text("optim:\n  epochs: 3\n")
    corrupt = root / "corrupt-results"
    corrupt.mkdir()
    (corrupt / "run.json").write_text(json.dumps({"schema_version": 1, "run_id": "x"}))
    return {"root": root, "out": out, "suite": tiny_suite}


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".locks" not in p.parts}


R = "{root}"
S = "{suite}"
O = "{out}"
RUN = ["run", "--data-root", S, "--out", O, "--quiet"]
LP = [*RUN, "--model", "random-r18", "--task", "covidx-lp"]
SWEEP = ["sweep", "--data-root", S, "--out", O, "--quiet", "--models", "random-r18", "--tasks", "covidx-lp"]
TRAIN = ["pretrain", "train", "--quiet"]

# (case, argv, what the one line must say)
CASES = [
    ("unknown model", [*RUN, "--model", "asgg", "--task", "covidx-lp"], "unknown model 'asgg'"),
    ("unknown task", [*RUN, "--model", "random-r18", "--task", "rsna-lpp"], "unknown task 'rsna-lpp'"),
    ("fraction 7", [*LP, "--fraction", "7"], "--fraction must be one of 1, 10, 100, not 7"),
    ("negative seed", [*LP, "--seed", "-3"], "--seed must be between 0 and 2**32 - 1, not -3"),
    ("negative draw", [*LP, "--fraction", "1", "--draw", "-1"], "--draw must be >= 0"),
    ("seed not a number", [*LP, "--seed", "abc"], "invalid int value: 'abc'"),
    ("fraction not a number", [*LP, "--fraction", "ten"], "invalid int value: 'ten'"),
    ("device gpu", [*LP, "--device", "gpu"], "--device must be cpu, cuda, cuda:N or mps, not 'gpu'"),
    ("missing data root", ["run", "--model", "random-r18", "--task", "covidx-lp", "--data-root", f"{R}/nowhere", "--out", O],
     "/nowhere: no such folder"),
    ("data root without the dataset", ["run", "--model", "random-r18", "--task", "covidx-lp", "--data-root", R, "--out", O],
     "no covidx folder there"),
    ("data root is a file", ["run", "--model", "random-r18", "--task", "covidx-lp", "--data-root", f"{R}/a-file", "--out", O],
     "a-file: no such folder"),
    ("missing checkpoint", [*LP, "--checkpoint", f"{R}/missing.pt"], "--checkpoint"),
    ("garbage checkpoint", [*RUN, "--model", "mgca-r50", "--task", "covidx-lp", "--checkpoint", f"{R}/garbage.ckpt"],
     "garbage.ckpt"),
    ("released weights absent", [*RUN, "--model", "gloria", "--task", "covidx-lp"], "chexpert_resnet50.ckpt"),
    ("unknown override", [*LP, "--set", "epochs=3"], "unknown key 'epochs'"),
    ("override of the wrong type", [*LP, "--set", "max_epochs=three"], "max_epochs=three: expected a whole number"),
    ("override without a value", [*LP, "--set", "max_epochs"], "expected key=value"),
    ("unknown eval protocol", [*LP, "--eval-protocol", "nope"], "'nope'"),
    ("eval protocol of another kind", [*RUN, "--model", "random-r18", "--task", "siim-seg", "--eval-protocol",
                                       "mgca-linear-probe"], "is a linear probe protocol, not segmentation"),
    ("unknown split protocol", [*LP, "--split-protocol", "v9"], "unknown split protocol 'v9'"),
    ("unknown transform", [*LP, "--transform", "nat"], "unknown transform 'nat'"),
    ("out is a file", ["run", "--model", "random-r18", "--task", "covidx-lp", "--data-root", S, "--out", f"{R}/a-file"],
     "a-file is a file, not a folder"),
    ("bad tag", [*RUN, "--model", "asg-r18.bad tag!", "--task", "covidx-lp"], "a tag after the dot"),
    ("many problems at once", [*RUN, "--model", "asgg", "--task", "rsna-lpp", "--seed", "-3"],
     "--seed must be between 0 and 2**32 - 1, not -3; unknown model 'asgg'"),
    ("sweep: unknown model", [*SWEEP[:-4], "--models", "asgg", "--tasks", "covidx-lp"], "unknown model 'asgg'"),
    ("sweep: unknown task", [*SWEEP[:-2], "--tasks", "x-lp"], "unknown task 'x-lp'"),
    ("sweep: fraction 7", [*SWEEP, "--fractions", "7"], "--fraction must be one of 1, 10, 100, not 7"),
    ("sweep: fractions not numbers", [*SWEEP, "--fractions", "a,b"], "--fractions"),
    ("sweep: missing file", [*SWEEP, "--config", f"{R}/missing.yaml"], "missing.yaml"),
    ("sweep: not a mapping", [*SWEEP, "--config", f"{R}/list.yaml"], "expected a mapping"),
    ("sweep: wrong type", [*SWEEP, "--config", f"{R}/sweep-types.yaml"], "fractions"),
    ("sweep: unknown key", [*SWEEP, "--config", f"{R}/sweep-unknown.yaml"], "modles"),
    ("sweep: unknown transform", [*SWEEP, "--transform", "nat"], "unknown transform 'nat'"),
    ("sweep: bad checkpoint pair", [*SWEEP, "--checkpoint", "random-r18"], "--checkpoint"),
    ("pretrain: unknown config", [*TRAIN, "--config", "nope"], "no shipped config of that name"),
    ("pretrain: negative epochs", [*TRAIN, "--config", "synthetic", f"annotations={R}", "optim.max_epochs=-2"],
     "optim.max_epochs must be >= 0"),
    ("pretrain: override type", [*TRAIN, "--config", "synthetic", f"annotations={R}", "optim.max_epochs=three"],
     "optim.max_epochs=three: expected a whole number"),
    ("pretrain: YAML type", [*TRAIN, "--config", f"{R}/pretrain-types.yaml", f"annotations={R}"], "optim.max_epochs"),
    ("pretrain: YAML unknown key", [*TRAIN, "--config", f"{R}/pretrain-unknown.yaml"], "epochs"),
    ("pretrain: annotations missing", [*TRAIN, "--config", "synthetic", f"annotations={R}/nowhere", f"out={R}/pt"],
     "nowhere"),
    ("pretrain: unknown objective", [*TRAIN, "--config", "synthetic", f"annotations={R}", "loss.objectives=ira,xyz"],
     "loss.objectives"),
    ("table: missing folder", ["table", "--results", f"{R}/nowhere"], "nowhere"),
    ("table: corrupt result", ["table", "--results", f"{R}/corrupt-results"], "run.json"),
    ("check: missing reference", ["check", "--reference", f"{R}/missing.json", "--results", O], "missing.json"),
    ("check: reference not JSON", ["check", "--reference", f"{R}/not-json.json", "--results", O], "not-json.json"),
    ("check: negative margin", ["check", "--reference", f"{R}/not-json.json", "--results", O, "--margin", "-1"], "margin"),
    ("data verify: unknown dataset", ["data", "verify", "--dataset", "nihh", "--root", R], "unknown dataset 'nihh'"),
    ("data synth: unknown size", ["data", "synth", "--out", f"{R}/synth", "--size", "huge"], "invalid choice: 'huge'"),
    ("splits show: unknown dataset", ["splits", "show", "--dataset", "nope"], "unknown dataset 'nope'"),
    ("ls: unknown thing", ["ls", "frobs"], "invalid choice: 'frobs'"),
]


def test_the_table_is_long_enough():
    assert len(CASES) >= 40 and len({case for case, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("case,argv,expected", CASES, ids=[c for c, _, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(world, capsys, case, argv, expected):
    before = snapshot(world["out"])
    filled = [a.format(root=world["root"], suite=world["suite"], out=world["out"]) for a in argv]
    try:
        code = main(filled)
    except SystemExit as exit_:   # argparse's own errors
        code = exit_.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (case, code, captured.err[-2000:])
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err[-2000:]
    assert expected in lines[0], lines[0]
    assert snapshot(world["out"]) == before
