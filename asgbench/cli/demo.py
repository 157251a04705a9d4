"""``asgbench demo``: the main job on the embedded synthetic suite, from nothing to tables."""
from __future__ import annotations

import argparse
from pathlib import Path


def demo(args: argparse.Namespace) -> int:
    from asgbench.config import cache_dir
    from asgbench.demo import PLANS, run_demo

    plan = PLANS["quick" if args.quick else "full"]
    workdir = args.workdir or cache_dir() / "demo"
    run_demo(Path(workdir), plan=plan, seed=args.seed, cpus=args.cpus, results=args.out, readme=args.update_readme,
             say=lambda line: print(line, flush=True))
    return 0


def register(verbs) -> None:
    demo_cmd = verbs.add_parser("demo", help="the main job on the embedded synthetic suite")
    demo_cmd.add_argument("--workdir", type=Path, default=None,
                          help="where the suite, caches, checkpoints and runs go (default: <cache>/demo)")
    demo_cmd.add_argument("--out", type=Path, default=None,
                          help="where tables, plots and the summary go (default: <workdir>/results-<plan>)")
    demo_cmd.add_argument("--update-readme", type=Path, default=None, metavar="README.md",
                          help="also rewrite the <!-- asgbench:demo-... --> sections of this file")
    demo_cmd.add_argument("--quick", action="store_true", help="the same path on the tiny suite in a few minutes (as the tests run it)")
    demo_cmd.add_argument("--cpus", type=int, default=None, help="CPUs to use (default: all)")
    demo_cmd.add_argument("--seed", type=int, default=0)
    demo_cmd.set_defaults(handler=demo)
