"""``asgbench table`` (leaderboard tables and plots from result files) and ``asgbench check`` (regression gate)."""
from __future__ import annotations

import argparse
from pathlib import Path

from asgbench.errors import ConfigError


def table(args: argparse.Namespace) -> int:
    from asgbench import tables
    from asgbench.results import load_results

    if args.plot and not args.task:
        raise ConfigError("--plot needs --task (the task whose metric is plotted against the label fraction)")
    results = list(load_results(args.results))
    frame, outputs = tables.collect(results), tables.run_outputs(results, args.results)
    if args.update:
        updated = tables.update_readme_file(args.update, frame, outputs)
        print(f"{args.update}: {', '.join(updated)} updated from {frame['run_id'].nunique()} runs")
    else:
        print("\n\n".join(tables.render_tables(frame, args.format, outputs=outputs, intervals=args.intervals).values()))
    if args.plot:
        plot = tables.label_efficiency_plot(frame, args.task, args.plot, outputs)
        print(f"{plot}: label-efficiency plot for {args.task}")
    return 0


def check(args: argparse.Namespace) -> int:
    from asgbench import check as gate

    given = {"margin": args.margin, "confidence": args.confidence, "must_detect": args.must_detect}
    gate.GateSettings(**{key: value for key, value in given.items() if value is not None})   # flags checked first
    if args.write_reference:
        settings = gate.GateSettings(**{key: value for key, value in given.items() if value is not None})
        entries = gate.write_reference(gate.stored_runs(args.results), args.write_reference, settings)
        for entry in entries:
            flag = "  (too small to be a gate)" if entry.status == gate.UNDERPOWERED else ""
            print(f"{entry.reference.run.describe()} {entry.reference.metric} {entry.value:.4f}: detects drops of "
                  f"{gate.format_value(entry.detectable)}{flag}")
        weak = sum(entry.status == gate.UNDERPOWERED for entry in entries)
        print(f"{args.write_reference}: {len(entries)} reference entries"
              + (f"; WARNING: {weak} cannot detect a {settings.must_detect:g} drop, so `check` will fail them" if weak else ""))
        return 0
    if not args.reference:
        raise ConfigError("pass --reference FILE (or --write-reference FILE to make one)")
    stored = gate.read_reference(args.reference)[1]
    settings = gate.GateSettings(**{key: value if value is not None else getattr(stored, key) for key, value in given.items()})
    report = gate.check(args.reference, gate.stored_runs(args.results), settings)
    print(report.render())
    return 0 if report.ok else 1


def register(verbs) -> None:
    render = verbs.add_parser("table", help="render the leaderboard tables (and a plot) from result files")
    render.add_argument("--results", type=Path, default=Path("results/runs"), help="folder of result files (default results/runs)")
    render.add_argument("--format", default="md", choices=("md", "html", "csv", "latex"))
    render.add_argument("--update", type=Path, metavar="README.md", help="rewrite the <!-- asgbench:... --> sections of this file")
    render.add_argument("--intervals", action="store_true",
                        help="print each cell's 95 %% CI of the mean from the runs' per-image outputs")
    render.add_argument("--plot", type=Path, metavar="FILE.png", help="also write a label-efficiency plot")
    render.add_argument("--task", help="the task of --plot")
    render.set_defaults(handler=table)

    gate = verbs.add_parser("check", help="compare runs with their reference runs on the same test images; exit 1 on a regression")
    gate.add_argument("--reference", type=Path, help="reference JSON (e.g. results/reference/ci.json)")
    gate.add_argument("--results", type=Path, default=Path("results/runs"))
    gate.add_argument("--margin", type=float, default=None,
                      help="drops up to this are not regressions (default: the reference's, 0.01 when writing one)")
    gate.add_argument("--confidence", type=float, default=None, help="one-sided confidence of a regression (default 0.95)")
    gate.add_argument("--must-detect", type=float, default=None,
                      help="the drop the gate must catch with 80%% power, else it fails as UNDERPOWERED (default 0.05)")
    gate.add_argument("--write-reference", type=Path, metavar="FILE", help="write a reference from the results instead")
    gate.set_defaults(handler=check)
