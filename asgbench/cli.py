"""The ``asgbench`` command: one subcommand per verb, each a thin layer over the library.

Parse arguments, call the library, print the result. Library errors (AsgbenchError) become one line on
stderr and exit code 2. Heavy libraries are imported inside the commands so ``--help`` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from asgbench import __version__
from asgbench.errors import AsgbenchError, ConfigError

Handler = Callable[[argparse.Namespace], int]


def _table(rows: list[list[object]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, tablefmt="github")


# -- ls ---------------------------------------------------------------------------------------------
def cmd_ls_datasets(args: argparse.Namespace) -> int:
    from asgbench.data.datasets import DATASETS

    for name in DATASETS.names():
        info = DATASETS.get(name).info
        aliases = DATASETS.aliases_of(name)
        print(f"{name:9s} {info.title}" + (f"  (aliases: {', '.join(aliases)})" if aliases else ""))
        print(f"  labels ({len(info.labels)}): {', '.join(info.labels)}")
        print(f"  images: {info.image_format}")
        for item in info.root_contents:
            print(f"  root contains: {item}")
    return 0


def cmd_ls_protocols(args: argparse.Namespace) -> int:
    from asgbench.data.splits import DEFAULT_PROTOCOL, PROTOCOLS

    rows = []
    for name in PROTOCOLS.names():
        protocol = PROTOCOLS.get(name)
        default = " (default)" if name == DEFAULT_PROTOCOL else ""
        rows.append([name + default, protocol.version, ", ".join(protocol.datasets()), protocol.draws, protocol.summary])
    print(_table(rows, ["protocol", "version", "datasets", "draws", "rule"]))
    return 0


def cmd_ls_models(args: argparse.Namespace) -> int:
    from asgbench.encoders import MODELS

    rows = []
    for name in MODELS.names(args.pattern):
        config = MODELS.get(name)
        aliases = MODELS.aliases_of(name)
        rows.append([name + (f" ({', '.join(aliases)})" if aliases else ""), config.architecture, config.feature_dim,
                     config.input.size, config.zero_shot or "no", config.file_name or "-"])
    print(_table(rows, ["model", "architecture", "feature dim", "input", "zero-shot", "expected file"]))
    return 0


def cmd_models_inspect(args: argparse.Namespace) -> int:
    import torch

    from asgbench.encoders import create_encoder

    encoder = create_encoder(args.model, args.checkpoint, trust_checkpoint=args.trust_checkpoint)
    report = encoder.report
    print(f"model: {report.model} ({encoder.config.architecture})")
    print(f"file: {report.file}")
    print(f"sha256: {report.sha256}")
    print(f"container: {report.container}; top-level keys: {', '.join(report.top_level_keys) or '-'}")
    if report.placeholders:
        print(f"objects not unpickled (placeholders): {', '.join(report.placeholders)}")
    for part in report.components:
        state = "loaded" if part.loaded else "not in file"
        print(f"{part.name}: {state}, {part.matched} tensors matched, {len(part.missing)} missing, "
              f"{len(part.unexpected)} unexpected, {len(part.dropped)} dropped on purpose"
              + (f", zero-filled {', '.join(part.zero_filled)}" if part.zero_filled else ""))
        for key in part.unexpected[:5]:
            print(f"  unexpected: {key}")
    for why, count in report.ignored.items():
        print(f"ignored: {count} key(s), {why}")
    if report.unused_keys:
        print(f"unused keys: {report.unused_keys}, e.g. {', '.join(report.unused_examples[:5])}")
    for feature, why in report.disabled.items():
        print(f"disabled: {feature} ({why})")
    with torch.no_grad():
        image = torch.full((1, 256, 256), 128, dtype=torch.uint8)
        features = encoder.encode(encoder.preprocess(image))
    print(f"feature: {tuple(features.global_feature.shape)} = {encoder.config.feature}; tokens {tuple(features.tokens.shape)} on a {features.grid[0]}x{features.grid[1]} grid")
    return 0


# -- data -------------------------------------------------------------------------------------------
def cmd_data_verify(args: argparse.Namespace) -> int:
    from asgbench.data.verify import verify_dataset

    report = verify_dataset(args.dataset, args.root, decode_sample=args.decode)
    print(f"{report.dataset}: {report.root} ({report.layout})")
    print(f"  images: {report.rows} indexed, {report.images_found} found, {report.images_missing} missing")
    for example in report.missing_examples:
        print(f"    missing: {example}")
    print(f"  patients: {report.patients}")
    print(f"  views: {', '.join(f'{k} {v}' for k, v in report.views.items())}")
    print(f"  official splits: {', '.join(f'{k} {v}' for k, v in report.official_splits.items())}")
    for key, value in report.extras.items():
        print(f"  {key.replace('_', ' ')}: {value}")
    print(f"  decoded a sample of {report.decoded} image(s) without error")
    for note in report.notes:
        print(f"  note: {note}")
    rows = [[label, c.positive, c.negative, c.uncertain, c.blank] for label, c in report.labels.items()]
    print(_table(rows, ["label", "positive (1)", "negative (0)", "uncertain (-1)", "blank"]))
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from asgbench.data.synthetic.suite import expected_images, synthesize

    if args.preview is not None:
        from asgbench.data.synthetic.preview import write_preview

        print(f"preview contact sheet: {write_preview(args.preview, seed=args.seed)}")
    if args.out is None:
        if args.preview is None:
            raise ConfigError("give --out DIR (the suite) and/or --preview FILE.png (a contact sheet)")
        return 0

    with tqdm(total=expected_images(args.size), unit="img", desc="synth", disable=args.quiet, file=sys.stderr) as bar:
        def progress(dataset: str, n: int) -> None:
            bar.set_postfix_str(dataset)
            bar.update(n)

        manifest = synthesize(args.out, args.size, args.seed, workers=args.workers, progress=progress, reuse=not args.force)
    rows = [[name, c.image_files, c.index_rows, c.patients] for name, c in manifest.datasets.items()]
    print(f"synthetic suite '{manifest.size}' (seed {manifest.seed}) in {args.out}")
    print(_table(rows, ["dataset", "image files", "indexed images", "patients"]))
    return 0


# -- splits -----------------------------------------------------------------------------------------
def cmd_splits_build(args: argparse.Namespace) -> int:
    from asgbench.data.splits import build_splits

    result = build_splits(args.dataset, args.protocol, root=args.root, out=args.out)
    print(f"wrote {len(result.manifest.lists)} list(s) of {args.dataset} / {result.manifest.protocol} "
          f"(from {result.manifest.built_from}) to {result.folder}")
    _print_manifest(result.manifest)
    return 0


def cmd_splits_show(args: argparse.Namespace) -> int:
    from asgbench.data.splits import read_manifest

    folder, manifest = read_manifest(args.dataset, args.protocol, args.root)
    print(f"{manifest.dataset} / {manifest.protocol} v{manifest.version} (built from {manifest.built_from}) in {folder}")
    _print_manifest(manifest)
    return 0


def _print_manifest(manifest) -> None:
    rows = []
    for name, info in manifest.lists.items():
        if info.file is None:
            rows.append([name, "-", "-", "needs " + info.source, ""])
        else:
            positives = ", ".join(f"{k} {v}" for k, v in list(info.positives.items())[:5])
            rows.append([name, info.images, info.patients, positives, info.sha256[:12]])
    print(_table(rows, ["list", "images", "patients", "positives", "sha256"]))
    for note in manifest.notes:
        print(f"note: {note}")


def cmd_splits_verify(args: argparse.Namespace) -> int:
    from asgbench.data.splits.verify import verify_splits
    from asgbench.errors import DataLayoutError

    report = verify_splits(args.dataset, args.protocol, args.root)
    print(f"{report.dataset} / {report.protocol}: {report.root} against {report.folder}")
    print(_table([[c.name, c.expected, c.found, c.expected - c.found] for c in report.lists], ["list", "images", "found", "missing"]))
    for name in report.rebuilt:
        print(f"note: list {name!r} is defined by the download itself and was rebuilt from it")
    for title, items in (("missing", report.missing), ("extra (in no list)", report.extra)):
        if items:
            print(f"{title}: {len(items)}, e.g. {', '.join(items[:5])}")
    if report.label_changes:
        print(f"label changes: {len(report.label_changes)}, e.g. "
              + "; ".join(f"{i} {label}: listed {a}, download {b}" for i, label, a, b in report.label_changes[:5]))
    if not report.ok:
        raise DataLayoutError(
            f"{report.root} does not match the {report.protocol} lists of {report.dataset}: {len(report.missing)} missing, "
            f"{len(report.extra)} extra, {len(report.label_changes)} label change(s)"
        )
    print("ok: the download matches the lists")
    return 0


def cmd_ls_tasks(args: argparse.Namespace) -> int:
    from asgbench.tasks.protocols import DEFAULT_VARIANT
    from asgbench.tasks.specs import TASKS

    rows = []
    for name in TASKS.names():
        task = TASKS.get(name)
        labels = ", ".join(task.labels) if len(task.labels) <= 5 else f"{len(task.labels)} labels: {', '.join(task.labels[:3])}, ..."
        rows.append([name, task.dataset, DEFAULT_VARIANT[task.kind], task.metric + "".join(f", {m}" for m in task.extra_metrics), labels])
    print(_table(rows, ["task", "dataset", "protocol", "metrics", "labels"]))
    return 0


# -- run --------------------------------------------------------------------------------------------
class _ProgressLine:
    """One self-overwriting stderr line per phase (plain lines when stderr is not a terminal)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.phase, self.last = quiet, None, 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, phase: str, done: int, total: int) -> None:
        import time

        if self.quiet:
            return
        now = time.monotonic()
        new_phase = phase != self.phase
        if not new_phase and now - self.last < (0.2 if self.tty else 10.0) and done != total:
            return
        if new_phase and self.phase is not None and self.tty:
            sys.stderr.write("\n")
        self.phase, self.last = phase, now
        amount = f"{done}/{total}" if total else f"{done}"
        text = f"  {phase}: {amount}"
        sys.stderr.write(("\r" + text.ljust(60)) if self.tty else text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.phase is not None and self.tty and not self.quiet:
            sys.stderr.write("\n")


def _format_metric(result: dict) -> str:
    headline = result["headline"]
    low, high = headline["ci95"]
    return f"{headline['metric']} {headline['value']:.4f} [95% CI {low:.4f}-{high:.4f}]"


def cmd_run(args: argparse.Namespace) -> int:
    from asgbench.run import RunContext, RunSpec, run

    overrides = list(args.set or [])
    if args.finetune:
        overrides.append("finetune=true")
    spec = RunSpec(model=args.model, task=args.task, fraction=args.fraction, draw=args.draw, seed=args.seed,
                   split_protocol=args.split_protocol, checkpoint=str(args.checkpoint) if args.checkpoint else None,
                   protocol=args.protocol, overrides=tuple(overrides))
    context = RunContext(data_root=args.data_root, out=args.out, cache_dir=args.cache_dir, device=args.device, force=args.force,
                         trust_checkpoint=args.trust_checkpoint, rebuild_cache=args.rebuild_cache)
    progress = _ProgressLine(args.quiet)
    try:
        outcome = run(spec, context, progress=progress)
    finally:
        progress.close()
    result = outcome.result
    if outcome.skipped:
        print(f"{outcome.run_id}: already done, nothing to do ({_format_metric(result)}; {outcome.path}; --force reruns it)")
    else:
        print(f"{outcome.run_id}: {_format_metric(result)} on {result['counts']['test']} test images "
              f"in {result['timings']['total_s']:.1f} s -> {outcome.path}")
    return 0


# -- demo -------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from asgbench.demo import run_demo

    def say(line: str) -> None:
        print(line, flush=True)

    run_demo(Path(args.workdir), size=args.size, seed=args.seed, say=say)
    return 0


# -- parser -----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asgbench",
        description="Benchmark, evaluation harness and pre-training kit for chest X-ray vision-language models.",
    )
    parser.add_argument("--version", action="version", version=f"asgbench {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")

    ls = verbs.add_parser("ls", help="list registered datasets, split protocols and models")
    ls_what = ls.add_subparsers(dest="what", metavar="WHAT", required=True)
    ls_what.add_parser("datasets", help="datasets, label sets, formats and expected files").set_defaults(handler=cmd_ls_datasets)
    ls_what.add_parser("protocols", help="split protocols and the datasets they cover").set_defaults(handler=cmd_ls_protocols)
    ls_models = ls_what.add_parser("models", help="registered image encoders and their expected weights")
    ls_models.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'mgca*'")
    ls_models.set_defaults(handler=cmd_ls_models)
    ls_what.add_parser("tasks", help="evaluation tasks: dataset, protocol, metrics, labels").set_defaults(handler=cmd_ls_tasks)

    models = verbs.add_parser("models", help="inspect how a checkpoint loads")
    model_verbs = models.add_subparsers(dest="models_verb", metavar="ACTION", required=True)
    inspect = model_verbs.add_parser("inspect", help="load a checkpoint and print its load report")
    inspect.add_argument("--model", required=True, help="a name from `asgbench ls models`")
    inspect.add_argument("--checkpoint", type=Path, default=None, help="the released file (default: $ASGBENCH_WEIGHTS/<file>)")
    inspect.add_argument("--trust-checkpoint", action="store_true", help="unpickle arbitrary objects (only for files you trust)")
    inspect.set_defaults(handler=cmd_models_inspect)

    data = verbs.add_parser("data", help="verify dataset downloads; write the synthetic suite")
    data_verbs = data.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    verify = data_verbs.add_parser("verify", help="read a dataset root and report what is found and missing")
    verify.add_argument("--dataset", required=True, help="a name from `asgbench ls datasets`")
    verify.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    verify.add_argument("--decode", type=int, default=8, metavar="N", help="decode N sample images (default 8; 0 skips)")
    verify.set_defaults(handler=cmd_data_verify)
    synth = data_verbs.add_parser("synth", help="write the synthetic look-alike suite in the real layouts")
    synth.add_argument("--out", type=Path, help="folder to write; one sub-folder per dataset")
    synth.add_argument("--preview", type=Path, metavar="FILE.png", help="also write a contact sheet with regions and findings outlined")
    synth.add_argument("--size", default="tiny", choices=("tiny", "small"), help="tiny: unit tests; small: the demo")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=None, help="rendering processes (default: CPU count)")
    synth.add_argument("--force", action="store_true", help="rewrite even if an identical suite is already there")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=cmd_data_synth)

    splits = verbs.add_parser("splits", help="build, show and verify the fixed split lists")
    split_verbs = splits.add_subparsers(dest="splits_verb", metavar="ACTION", required=True)
    for action, text in (("build", "build lists (from bundled public metadata, or from --root)"),
                         ("show", "counts per list and fraction"), ("verify", "check a download against the lists")):
        sub = split_verbs.add_parser(action, help=text)
        sub.add_argument("--dataset", required=True)
        sub.add_argument("--protocol", default="asgbench-v1", help="asgbench-v1 (default) or mgca")
        sub.add_argument("--root", type=Path, required=action == "verify", default=None, help="the dataset's folder")
        if action == "build":
            sub.add_argument("--out", type=Path, default=None, help="write here instead of the default place")
        sub.set_defaults(handler={"build": cmd_splits_build, "show": cmd_splits_show, "verify": cmd_splits_verify}[action])

    run = verbs.add_parser("run", help="evaluate one model on one task; writes results/runs/<run_id>.json")
    run.add_argument("--model", required=True, help="a name from `asgbench ls models`")
    run.add_argument("--task", required=True, help="a name from `asgbench ls tasks`")
    run.add_argument("--fraction", type=int, default=100, choices=(1, 10, 100), help="percent of the training list (default 100)")
    run.add_argument("--draw", type=int, default=0, help="which draw of the 1 %% / 10 %% lists (asgbench-v1 has 0, 1, 2)")
    run.add_argument("--seed", type=int, default=0, help="training seed (and bootstrap seed)")
    run.add_argument("--split-protocol", default="asgbench-v1", help="asgbench-v1 (default) or mgca")
    run.add_argument("--protocol", default=None, help="a protocol variant, e.g. mgca-linear-probe (default: the task's)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a protocol parameter (repeatable), e.g. max_epochs=5")
    run.add_argument("--finetune", action="store_true", help="segmentation: train the encoder too (default: frozen)")
    run.add_argument("--checkpoint", type=Path, default=None, help="weights file (default: $ASGBENCH_WEIGHTS/<file>)")
    run.add_argument("--trust-checkpoint", action="store_true", help="unpickle arbitrary objects (only for files you trust)")
    run.add_argument("--data-root", type=Path, default=None, help="folder with one sub-folder per dataset (default: $ASGBENCH_DATA)")
    run.add_argument("--cache-dir", type=Path, default=None, help="image stores and feature cache (default: $ASGBENCH_CACHE)")
    run.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    run.add_argument("--out", type=Path, default=Path("results/runs"), help="where result files go (default results/runs)")
    run.add_argument("--force", action="store_true", help="rerun even if this run_id has a result")
    run.add_argument("--rebuild-cache", action="store_true", help="re-extract features even if cached")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.set_defaults(handler=cmd_run)

    demo = verbs.add_parser("demo", help="the main job on the embedded synthetic suite")
    demo.add_argument("--workdir", type=Path, default=Path(".asgbench/demo"), help="where the suite and caches go")
    demo.add_argument("--size", default="small", choices=("tiny", "small"))
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except AsgbenchError as exc:
        message = " ".join(str(exc).split())
        print(f"asgbench: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("asgbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
