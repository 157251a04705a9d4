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
        self.phase = None


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


# -- sweep ------------------------------------------------------------------------------------------
def _csv(value: str | None, kind=str) -> tuple:
    if value is None:
        return ()
    try:
        return tuple(kind(v.strip()) for v in str(value).split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"expected a comma-separated list of {kind.__name__}s, got {value!r}") from None


def cmd_sweep(args: argparse.Namespace) -> int:
    from asgbench.run import RunContext
    from asgbench.sweep import SweepSpec, load_sweep_file, sweep

    data = load_sweep_file(args.config) if args.config else {}

    def pick(flag, key, kind=str, default=()):
        if flag is not None:
            return _csv(flag, kind)
        value = data.get(key, default)
        return tuple(kind(v) for v in value) if isinstance(value, (list, tuple)) else _csv(str(value), kind)

    checkpoints = dict(data.get("checkpoints") or {})
    for item in args.checkpoint or []:
        model, sep, path = item.partition("=")
        if not sep:
            raise ConfigError(f"--checkpoint expects MODEL=FILE, got {item!r}")
        checkpoints[model] = path
    overrides = {k: tuple(v) for k, v in (data.get("overrides") or {}).items()}
    if args.set:
        for kind in ("linear_probe", "zero_shot", "segmentation"):
            overrides[kind] = overrides.get(kind, ()) + tuple(args.set)
    spec = SweepSpec(models=pick(args.models, "models"), tasks=pick(args.tasks, "tasks"),
                     fractions=pick(args.fractions, "fractions", int, (1, 10, 100)), draws=pick(args.draws, "draws", int, (0,)),
                     seeds=pick(args.seeds, "seeds", int, (0, 1, 2)),
                     split_protocol=args.split_protocol or data.get("split_protocol", "asgbench-v1"),
                     checkpoints=checkpoints, overrides=overrides)
    if not spec.models or not spec.tasks:
        raise ConfigError("name the models and tasks: --models a,b --tasks t1,t2 (or a --config file)")
    context = RunContext(data_root=args.data_root, out=args.out, cache_dir=args.cache_dir, device=args.device, force=args.force)

    def progress(done: int, running: int, failed: int, total: int) -> None:
        if not args.quiet:
            print(f"  sweep: {done} done, {running} running, {failed} failed, {total - done - running - failed} waiting "
                  f"(of {total})", file=sys.stderr, flush=True)

    report = sweep(spec, context, address=args.address, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                   total_cpus=args.cpus, group_by=args.group_by, progress=progress)
    print(f"sweep: {report.planned} runs: {len(report.skipped)} already done, {len(report.done)} ran, "
          f"{len(report.failed)} failed, in {report.seconds:.0f} s; results in {args.out}")
    for run_id, error in report.failed.items():
        print(f"  failed {run_id}: {error}")
    return 1 if report.failed else 0


# -- table, check -----------------------------------------------------------------------------------
def cmd_table(args: argparse.Namespace) -> int:
    from asgbench import tables
    from asgbench.results import load_results

    frame = tables.collect(load_results(args.results))
    if args.plot and not args.task:
        raise ConfigError("--plot needs --task (the task whose metric is plotted against the label fraction)")
    if args.update:
        text = args.update.read_text()
        rendered = tables.render_tables(frame, "md")
        wanted = {name: body for name, body in rendered.items() if tables.markers(name)[0] in text}
        if not wanted:
            raise ConfigError(f"{args.update}: no table markers; add e.g. {' '.join(tables.markers('linear-probe'))} "
                              f"where a table should go (tables: {', '.join(rendered)})")
        args.update.write_text(tables.update_readme(text, wanted))
        print(f"{args.update}: tables updated from {frame['run_id'].nunique() if 'run_id' in frame else len(frame)} runs")
    else:
        print("\n\n".join(tables.render_tables(frame, args.format).values()))
    if args.plot:
        print(f"{tables.label_efficiency_plot(frame, args.task, args.plot)}: label-efficiency plot for {args.task}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from asgbench import check
    from asgbench.results import load_results

    if args.write_reference:
        entries = check.write_reference(load_results(args.results), args.write_reference,
                                        tolerance=args.tolerance if args.tolerance is not None else 0.02)
        print(f"{args.write_reference}: {len(entries)} reference entries")
        return 0
    if not args.reference:
        raise ConfigError("pass --reference FILE (or --write-reference FILE to make one)")
    report = check.check(args.reference, load_results(args.results), tolerance=args.tolerance)
    print(report.render())
    return 0 if report.ok else 1


# -- pretrain ---------------------------------------------------------------------------------------
def cmd_pretrain_prepare(args: argparse.Namespace) -> int:
    if args.asg_labels is not None:
        return _pretrain_prepare_from_official(args)
    from asgbench.pretrain.prepare import prepare

    scene_graphs = args.scene_graphs
    if scene_graphs is None and (args.data_root.parent / "chest-imagenome").is_dir():
        scene_graphs = args.data_root.parent / "chest-imagenome"  # the synthetic suite keeps them beside mimic/
    manifest = _with_progress_line(args.quiet, "reports and regions", lambda progress: prepare(
        args.data_root, args.out, scene_graphs=scene_graphs, progress=progress))
    counts = manifest["counts"]
    print(f"{args.out}: {counts['images']} image-report pairs (train {counts.get('train', 0)}, val "
          f"{counts.get('val', 0)}, test {counts.get('test', 0)}), {counts['sentences']} sentences; region boxes from "
          f"scene graphs for {counts['scene_graph_boxes']}, atlas for {counts['atlas_boxes']}; "
          f"ARSA slots: rules {counts['rules_slots']}, scene-graph {counts['scene_graph_slots']}")
    return 0


def _with_progress_line(quiet: bool, label: str, work):
    """Run ``work(progress)`` with a ``progress(done, total)`` that redraws one line on stderr."""
    line = _ProgressLine(quiet)
    try:
        return work(lambda done, total: line(label, done, total))
    finally:
        line.close()


def _pretrain_prepare_from_official(args: argparse.Namespace) -> int:
    from asgbench.pretrain.official_labels import prepare_from_official

    manifest = _with_progress_line(args.quiet, "official labels", lambda progress: prepare_from_official(
        args.data_root, args.asg_labels, args.out, progress=progress))
    counts = manifest["counts"]
    print(f"{args.out}: {counts['images']} image-report pairs from {args.asg_labels}/labels.pickle (train "
          f"{counts['train']}, val {counts['val']}), {counts['sentences']} sentences; ARSA slots: official "
          f"{counts['official_slots']}; skipped: {counts['unlisted']} in neither split list, {counts['unmatched']} not "
          f"in the MIMIC index, {counts['empty_reports']} without sentences")
    return 0


def cmd_pretrain_train(args: argparse.Namespace) -> int:
    from asgbench.pretrain.config import load_config
    from asgbench.pretrain.trainer import train

    config = load_config(args.config, args.overrides)
    progress = _ProgressLine(args.quiet)

    def say(line: str) -> None:
        progress.close()
        print(line, flush=True)

    try:
        outcome = train(config, resume=args.resume, progress=progress, say=say)
    finally:
        progress.close()
    if outcome.best_epoch:
        print(f"{outcome.checkpoint}: best val loss {outcome.best_val_loss:.4f} at epoch {outcome.best_epoch} of "
              f"{outcome.epochs_run}; evaluate it with `asgbench run --model asg --checkpoint {outcome.checkpoint} --task ...`")
    elif outcome.epochs_run == 0:
        print(f"{outcome.checkpoint}: the initial weights, untrained (optim.max_epochs=0): a random-init baseline of "
              f"the same network")
    return 0


# -- demo -------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from asgbench.demo import PLANS, run_demo

    def say(line: str) -> None:
        print(line, flush=True)

    plan = PLANS["quick" if args.quick else "full"]
    results = args.results if args.results is not None else (Path("results/demo") if not args.quick else None)
    readme = None if args.quick or args.no_readme else Path("README.md")
    if readme is not None and not readme.is_file():
        readme = None
    run_demo(Path(args.workdir), plan=plan, seed=args.seed, cpus=args.cpus, results=results, readme=readme, say=say)
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
    synth.add_argument("--size", default="tiny", choices=("tiny", "small", "medium"),
                       help="tiny: unit tests; small: the benchmarks; medium: the demo")
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

    sweep_cmd = verbs.add_parser("sweep", help="run a grid of models x tasks x fractions x seeds as Ray Tune trials")
    sweep_cmd.add_argument("--models", help="comma-separated model names")
    sweep_cmd.add_argument("--tasks", help="comma-separated task names")
    sweep_cmd.add_argument("--fractions", help="comma-separated, from 1, 10, 100 (default all three)")
    sweep_cmd.add_argument("--draws", help="comma-separated draws of the 1 %% / 10 %% lists (default 0)")
    sweep_cmd.add_argument("--seeds", help="comma-separated seeds (default 0,1,2)")
    sweep_cmd.add_argument("--config", type=Path, help="a YAML sweep file (models, tasks, fractions, draws, seeds, checkpoints, overrides)")
    sweep_cmd.add_argument("--checkpoint", action="append", metavar="MODEL=FILE", help="weights for a model (repeatable)")
    sweep_cmd.add_argument("--set", action="append", metavar="KEY=VALUE", help="protocol override for every task (repeatable)")
    sweep_cmd.add_argument("--split-protocol", default=None)
    sweep_cmd.add_argument("--address", default=None, help="join a Ray cluster at HOST:PORT (default: a local Ray)")
    sweep_cmd.add_argument("--cpus", type=int, default=None, help="CPUs a local Ray may use (default: all)")
    sweep_cmd.add_argument("--cpus-per-trial", type=float, default=1.0)
    sweep_cmd.add_argument("--group-by", choices=("run", "features"), default="run",
                           help="one Ray trial per run, or per (model, task) so features are extracted once (default: run)")
    sweep_cmd.add_argument("--gpus-per-trial", type=float, default=0.0)
    sweep_cmd.add_argument("--data-root", type=Path, default=None)
    sweep_cmd.add_argument("--cache-dir", type=Path, default=None)
    sweep_cmd.add_argument("--device", default="cpu")
    sweep_cmd.add_argument("--out", type=Path, default=Path("results/runs"))
    sweep_cmd.add_argument("--force", action="store_true", help="rerun finished runs too")
    sweep_cmd.add_argument("--quiet", action="store_true")
    sweep_cmd.set_defaults(handler=cmd_sweep)

    table = verbs.add_parser("table", help="render the leaderboard tables (and a plot) from result files")
    table.add_argument("--results", type=Path, default=Path("results/runs"), help="folder of result files (default results/runs)")
    table.add_argument("--format", default="md", choices=("md", "html", "csv", "latex"))
    table.add_argument("--update", type=Path, metavar="README.md", help="rewrite the <!-- asgbench:... --> sections of this file")
    table.add_argument("--plot", type=Path, metavar="FILE.png", help="also write a label-efficiency plot")
    table.add_argument("--task", help="the task of --plot")
    table.set_defaults(handler=cmd_table)
    check_cmd = verbs.add_parser("check", help="compare results with a stored reference; exit 1 on a regression")
    check_cmd.add_argument("--reference", type=Path, help="reference JSON (e.g. results/reference/ci.json)")
    check_cmd.add_argument("--results", type=Path, default=Path("results/runs"))
    check_cmd.add_argument("--tolerance", type=float, default=None, help="allowed drop (default: the reference's)")
    check_cmd.add_argument("--write-reference", type=Path, metavar="FILE", help="write a reference from the results instead")
    check_cmd.set_defaults(handler=cmd_check)

    pretrain = verbs.add_parser("pretrain", help="ASG pre-training: prepare annotations, train")
    pretrain_verbs = pretrain.add_subparsers(dest="pretrain_verb", metavar="ACTION", required=True)
    prepare = pretrain_verbs.add_parser("prepare", help="parse reports, align sentences to regions, write the annotation file")
    prepare.add_argument("--data-root", required=True, type=Path, help="the MIMIC-CXR-JPG folder (with the reports)")
    boxes = prepare.add_mutually_exclusive_group()
    boxes.add_argument("--scene-graphs", type=Path, default=None, help="a Chest ImaGenome folder (default: none; atlas boxes)")
    boxes.add_argument("--asg-labels", type=Path, default=None, metavar="DIR",
                       help="import the official ASG release instead: DIR holds labels.pickle, train_filenames.csv, "
                            "valid_filenames.csv")
    prepare.add_argument("--out", required=True, type=Path, help="where annotations.jsonl.gz and manifest.json go")
    prepare.add_argument("--quiet", action="store_true")
    prepare.set_defaults(handler=cmd_pretrain_prepare)
    train_cmd = pretrain_verbs.add_parser("train", help="train ASG; writes <out>/<name>.safetensors + .json")
    train_cmd.add_argument("--config", type=Path, default=None, help="YAML config (e.g. asgbench/pretrain/configs/synthetic.yaml)")
    train_cmd.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. optim.max_epochs=3 loss.objectives=ira,arsa")
    train_cmd.add_argument("--resume", action="store_true", help="continue from <out>/state.pt")
    train_cmd.add_argument("--quiet", action="store_true")
    train_cmd.set_defaults(handler=cmd_pretrain_train)

    demo = verbs.add_parser("demo", help="the main job on the embedded synthetic suite")
    demo.add_argument("--workdir", type=Path, default=Path(".asgbench/demo"), help="where the suite and caches go")
    demo.add_argument("--quick", action="store_true", help="the same path on the tiny suite in a few minutes (as the tests run it)")
    demo.add_argument("--cpus", type=int, default=None, help="CPUs to use (default: all)")
    demo.add_argument("--results", type=Path, default=None, help="where tables and plots go (default: results/demo; --quick: in --workdir)")
    demo.add_argument("--no-readme", action="store_true", help="do not update README.md's demo section")
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
