"""``asgbench ls ...`` and ``asgbench models inspect``: what is registered, and how a checkpoint loads."""
from __future__ import annotations

import argparse
from pathlib import Path

from asgbench.cli._common import print_table


def ls_datasets(args: argparse.Namespace) -> int:
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


def ls_split_protocols(args: argparse.Namespace) -> int:
    from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL, SPLIT_PROTOCOLS

    rows = []
    for name in SPLIT_PROTOCOLS.names():
        protocol = SPLIT_PROTOCOLS.get(name)
        default = " (default)" if name == DEFAULT_SPLIT_PROTOCOL else ""
        rows.append([name + default, protocol.version, ", ".join(protocol.datasets()), protocol.draws, protocol.summary])
    print_table(rows, ["split protocol", "version", "datasets", "draws", "rule"])
    return 0


def ls_eval_protocols(args: argparse.Namespace) -> int:
    from asgbench.tasks.protocols import EVAL_PROTOCOLS, describe, is_default, kind_of

    rows = []
    for name in EVAL_PROTOCOLS.names():
        spec = EVAL_PROTOCOLS.get(name)
        kind = kind_of(spec.kind)
        base = describe(kind.spec_type())
        changed = {k: v for k, v in describe(spec).items() if k not in ("name", "overrides") and base.get(k) != v}
        settings = "the published settings" if is_default(spec.kind, name) else (
            ", ".join(f"{k}={v}" for k, v in changed.items()) or "as the default")
        rows.append([name + (" (default)" if is_default(spec.kind, name) else ""), kind.title, spec.version, settings])
    print_table(rows, ["evaluation protocol", "kind", "version", "differs from the kind's default in"])
    return 0


def ls_protocols(args: argparse.Namespace) -> int:
    ls_split_protocols(args)
    print()
    return ls_eval_protocols(args)


def ls_models(args: argparse.Namespace) -> int:
    from asgbench.encoders import MODEL_FAMILIES, MODELS

    rows = []
    for name in MODELS.names(args.pattern):
        config = MODELS.get(name)
        aliases = MODELS.aliases_of(name)
        rows.append([name + (f" ({', '.join(aliases)})" if aliases else ""), config.architecture, config.table_group,
                     config.feature_dim, config.input.size, config.zero_shot or "no", config.file_name or "-"])
    print_table(rows, ["model", "architecture", "group", "feature dim", "input", "zero-shot", "expected file"])
    for family in MODEL_FAMILIES.names(args.pattern):
        print(f"family {family}: picks its entry from the checkpoint's architecture; a name may add a tag "
              f"({family}.TAG, e.g. {family}-r18.full)")
    return 0


def ls_tasks(args: argparse.Namespace) -> int:
    from asgbench.tasks.protocols import kind_of
    from asgbench.tasks.specs import TASKS

    rows = []
    for name in TASKS.names():
        task = TASKS.get(name)
        labels = ", ".join(task.labels) if len(task.labels) <= 5 else f"{len(task.labels)} labels: {', '.join(task.labels[:3])}, ..."
        rows.append([name, task.dataset, kind_of(task.kind).default_protocol,
                     task.metric + "".join(f", {m}" for m in task.extra_metrics), labels])
    print_table(rows, ["task", "dataset", "evaluation protocol", "metrics", "labels"])
    return 0


def models_inspect(args: argparse.Namespace) -> int:
    import torch

    from asgbench.encoders import create_encoder

    encoder = create_encoder(args.model, args.checkpoint, trust_checkpoint=args.trust_checkpoint)
    report = encoder.report
    print(f"model: {encoder.config.name} ({encoder.config.architecture})")
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
    print(f"feature: {tuple(features.global_feature.shape)} = {encoder.config.feature}; tokens {tuple(features.tokens.shape)} "
          f"on a {features.grid[0]}x{features.grid[1]} grid")
    return 0


def register(verbs) -> None:
    ls = verbs.add_parser("ls", help="list registered datasets, split and evaluation protocols, models and tasks")
    what = ls.add_subparsers(dest="what", metavar="WHAT", required=True)
    what.add_parser("datasets", help="datasets, label sets, formats and expected files").set_defaults(handler=ls_datasets)
    what.add_parser("split-protocols", help="split protocols (which images are in which list)").set_defaults(
        handler=ls_split_protocols)
    what.add_parser("eval-protocols", help="evaluation protocols (how an encoder is evaluated)").set_defaults(
        handler=ls_eval_protocols)
    what.add_parser("protocols", help="both: split protocols, then evaluation protocols").set_defaults(handler=ls_protocols)
    models = what.add_parser("models", help="registered image encoders and their expected weights")
    models.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'mgca*'")
    models.set_defaults(handler=ls_models)
    what.add_parser("tasks", help="evaluation tasks: dataset, evaluation protocol, metrics, labels").set_defaults(handler=ls_tasks)

    inspect_group = verbs.add_parser("models", help="inspect how a checkpoint loads")
    actions = inspect_group.add_subparsers(dest="models_verb", metavar="ACTION", required=True)
    inspect = actions.add_parser("inspect", help="load a checkpoint and print its load report")
    inspect.add_argument("--model", required=True, help="a name from `asgbench ls models`")
    inspect.add_argument("--checkpoint", type=Path, default=None, help="the released file (default: $ASGBENCH_WEIGHTS/<file>)")
    inspect.add_argument("--trust-checkpoint", action="store_true", help="unpickle arbitrary objects (only for files you trust)")
    inspect.set_defaults(handler=models_inspect)
