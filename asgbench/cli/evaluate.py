"""``asgbench run`` (one model on one task) and ``asgbench sweep`` (a grid of them as Ray Tune trials)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asgbench.cli._common import ProgressBars, csv_list, pairs


def _format_metric(result: dict) -> str:
    headline = result["headline"]
    low, high = headline["ci95"]
    return f"{headline['metric']} {headline['value']:.4f} [95% CI {low:.4f}-{high:.4f}]"


def _context(args: argparse.Namespace):
    from asgbench.run_spec import RunContext

    return RunContext(data_root=args.data_root, out=args.out, cache_dir=args.cache_dir, device=args.device, force=args.force,
                      trust_checkpoint=getattr(args, "trust_checkpoint", False),
                      rebuild_cache=getattr(args, "rebuild_cache", False))


def run_one(args: argparse.Namespace) -> int:
    from asgbench.preflight import check_runs
    from asgbench.run_spec import RunSpec

    overrides = list(args.set or []) + (["finetune=true"] if args.finetune else [])
    given = {"split_protocol": args.split_protocol, "eval_protocol": args.eval_protocol}
    spec = RunSpec(model=args.model, task=args.task, fraction=args.fraction, draw=args.draw, seed=args.seed,
                   checkpoint=str(args.checkpoint) if args.checkpoint else None, overrides=tuple(overrides),
                   transform=args.transform,
                   **{key: value for key, value in given.items() if value is not None})
    context = _context(args)
    # every input checked before torch is even imported: a typo costs a second, not a model load
    check_runs([(spec, context)])
    from asgbench.run import run

    with ProgressBars(args.quiet) as bars:
        outcome = run(spec, context, progress=bars)
    result = outcome.result
    if outcome.skipped:
        print(f"{outcome.run_id}: already done, nothing to do ({_format_metric(result)}; {outcome.path}; --force reruns it)")
    else:
        print(f"{outcome.run_id}: {_format_metric(result)} on {result['counts']['test']} test images "
              f"in {result['timings']['total_s']:.1f} s -> {outcome.path}")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from asgbench.sweep import sweep, sweep_spec_from

    overrides = {kind: tuple(args.set) for kind in _kinds()} if args.set else None
    spec = sweep_spec_from(
        args.config, models=csv_list(args.models), tasks=csv_list(args.tasks), fractions=csv_list(args.fractions, int, "--fractions"),
        draws=csv_list(args.draws, int, "--draws"), seeds=csv_list(args.seeds, int, "--seeds"), split_protocol=args.split_protocol,
        checkpoints=pairs(args.checkpoint, "--checkpoint"), eval_protocols=pairs(args.eval_protocol, "--eval-protocol"),
        overrides=overrides, transform=args.transform)

    def progress(done: int, running: int, failed: int, total: int) -> None:
        if not args.quiet:
            print(f"  sweep: {done} done, {running} running, {failed} failed, {total - done - running - failed} waiting "
                  f"(of {total})", file=sys.stderr, flush=True)

    report = sweep(spec, _context(args), address=args.address, cpus_per_trial=args.cpus_per_trial,
                   gpus_per_trial=args.gpus_per_trial, total_cpus=args.cpus, group_by=args.group_by, progress=progress)
    print(f"sweep: {report.planned} runs: {len(report.skipped)} already done, {len(report.done)} ran, "
          f"{len(report.failed)} failed, in {report.seconds:.0f} s; results in {args.out}")
    if report.nodes:
        print(f"  ran on {len(report.nodes)} node(s): " + ", ".join(f"{node} {count}" for node, count in sorted(report.nodes.items())))
    for run_id, error in report.failed.items():
        print(f"  failed {run_id}: {error}")
    return 1 if report.failed else 0


def _kinds() -> list[str]:
    from asgbench.tasks.protocols import PROTOCOL_KINDS

    return PROTOCOL_KINDS.names()


def _where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", type=Path, default=None, help="folder with one sub-folder per dataset (default: $ASGBENCH_DATA)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="image stores and feature cache (default: $ASGBENCH_CACHE)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--out", type=Path, default=Path("results/runs"), help="where result files go (default results/runs)")
    parser.add_argument("--force", action="store_true", help="rerun even if a run_id has a result")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def register(verbs) -> None:
    run = verbs.add_parser("run", help="evaluate one model on one task; writes results/runs/<run_id>.json")
    run.add_argument("--model", required=True, help="a name from `asgbench ls models` (ENTRY or ENTRY.TAG)")
    run.add_argument("--task", required=True, help="a name from `asgbench ls tasks`")
    run.add_argument("--fraction", type=int, default=100, help="percent of the training list: 1, 10 or 100 (default 100)")
    run.add_argument("--draw", type=int, default=0, help="which draw of the 1 %% / 10 %% lists (asgbench-v1 has 0, 1, 2)")
    run.add_argument("--seed", type=int, default=0, help="training seed (and bootstrap seed)")
    run.add_argument("--split-protocol", default=None, help="which images are in which list (default asgbench-v1; "
                                                            "`asgbench ls split-protocols`)")
    run.add_argument("--eval-protocol", default=None, help="how the encoder is evaluated, e.g. mgca-linear-probe "
                                                           "(default: the task's; `asgbench ls eval-protocols`)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override an evaluation-protocol parameter (repeatable), e.g. max_epochs=5")
    run.add_argument("--finetune", action="store_true", help="segmentation: train the encoder too (default: frozen)")
    run.add_argument("--transform", default="native",
                     help="preprocessing: native (each model's authors' own, default) or standard (letterbox 256, "
                          "centre crop 224 for every model, each with its own mean/std)")
    run.add_argument("--checkpoint", type=Path, default=None, help="weights file (default: $ASGBENCH_WEIGHTS/<file>)")
    run.add_argument("--trust-checkpoint", action="store_true", help="unpickle arbitrary objects (only for files you trust)")
    run.add_argument("--rebuild-cache", action="store_true", help="re-extract features even if cached")
    _where(run)
    run.set_defaults(handler=run_one)

    sweep = verbs.add_parser("sweep", help="run a grid of models x tasks x fractions x seeds (on Ray workers, or in this process when one worker fits)")
    sweep.add_argument("--config", type=Path, help="a YAML sweep file: any of the settings below, by their long names "
                                                   "(flags override it)")
    sweep.add_argument("--models", help="comma-separated model names")
    sweep.add_argument("--tasks", help="comma-separated task names")
    sweep.add_argument("--fractions", help="comma-separated, from 1, 10, 100 (default all three)")
    sweep.add_argument("--draws", help="comma-separated draws of the 1 %% / 10 %% lists (default 0)")
    sweep.add_argument("--seeds", help="comma-separated seeds (default 0,1,2)")
    sweep.add_argument("--checkpoint", action="append", metavar="MODEL=FILE", help="weights for a model (repeatable)")
    sweep.add_argument("--eval-protocol", action="append", metavar="TASK_OR_KIND=NAME",
                       help="evaluation protocol for a task or task kind (repeatable), e.g. segmentation=segmentation-demo")
    sweep.add_argument("--set", action="append", metavar="KEY=VALUE", help="evaluation-protocol override for every task (repeatable)")
    sweep.add_argument("--split-protocol", default=None)
    sweep.add_argument("--transform", default=None, help="native (each model's own preprocessing, default) or standard")
    sweep.add_argument("--address", default=None, help="join a Ray cluster at HOST:PORT (default: this machine)")
    sweep.add_argument("--cpus", type=int, default=None, help="CPUs this machine may use (default: all)")
    sweep.add_argument("--cpus-per-trial", type=float, default=1.0,
                       help="CPUs (and torch threads) per worker; when only one worker fits, runs go in this process")
    sweep.add_argument("--group-by", choices=("run", "features"), default="features",
                       help="hand runs to workers one by one, or per (model, task) so a worker extracts its features "
                            "once (default: features)")
    sweep.add_argument("--gpus-per-trial", type=float, default=0.0)
    _where(sweep)
    sweep.set_defaults(handler=run_sweep)
