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
    frame = tables.collect(load_results(args.results))
    if args.update:
        updated = tables.update_readme_file(args.update, frame)
        print(f"{args.update}: {', '.join(updated)} updated from {frame['run_id'].nunique()} runs")
    else:
        print("\n\n".join(tables.render_tables(frame, args.format).values()))
    if args.plot:
        print(f"{tables.label_efficiency_plot(frame, args.task, args.plot)}: label-efficiency plot for {args.task}")
    return 0


def check(args: argparse.Namespace) -> int:
    from asgbench import check as gate
    from asgbench.results import load_results

    if args.write_reference:
        entries = gate.write_reference(load_results(args.results), args.write_reference,
                                       tolerance=args.tolerance if args.tolerance is not None else gate.DEFAULT_TOLERANCE)
        print(f"{args.write_reference}: {len(entries)} reference entries")
        return 0
    if not args.reference:
        raise ConfigError("pass --reference FILE (or --write-reference FILE to make one)")
    report = gate.check(args.reference, load_results(args.results), tolerance=args.tolerance)
    print(report.render())
    return 0 if report.ok else 1


def register(verbs) -> None:
    render = verbs.add_parser("table", help="render the leaderboard tables (and a plot) from result files")
    render.add_argument("--results", type=Path, default=Path("results/runs"), help="folder of result files (default results/runs)")
    render.add_argument("--format", default="md", choices=("md", "html", "csv", "latex"))
    render.add_argument("--update", type=Path, metavar="README.md", help="rewrite the <!-- asgbench:... --> sections of this file")
    render.add_argument("--plot", type=Path, metavar="FILE.png", help="also write a label-efficiency plot")
    render.add_argument("--task", help="the task of --plot")
    render.set_defaults(handler=table)

    gate = verbs.add_parser("check", help="compare results with a stored reference; exit 1 on a regression")
    gate.add_argument("--reference", type=Path, help="reference JSON (e.g. results/reference/ci.json)")
    gate.add_argument("--results", type=Path, default=Path("results/runs"))
    gate.add_argument("--tolerance", type=float, default=None, help="allowed drop (default: the reference's)")
    gate.add_argument("--write-reference", type=Path, metavar="FILE", help="write a reference from the results instead")
    gate.set_defaults(handler=check)
