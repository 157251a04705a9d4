"""``asgbench pretrain prepare`` (reports and regions -> annotations) and ``asgbench pretrain train``."""
from __future__ import annotations

import argparse
from pathlib import Path

from asgbench.cli._common import ProgressBars


def prepare(args: argparse.Namespace) -> int:
    with ProgressBars(args.quiet) as bars:
        if args.asg_labels is not None:
            from asgbench.pretrain.official_labels import prepare_from_official

            manifest = prepare_from_official(args.data_root, args.asg_labels, args.out, progress=bars.counter("official labels"))
            counts = manifest["counts"]
            line = (f"{args.out}: {counts['images']} image-report pairs from {args.asg_labels}/labels.pickle (train "
                    f"{counts['train']}, val {counts['val']}), {counts['sentences']} sentences; ARSA slots: official "
                    f"{counts['official_slots']}; skipped: {counts['unlisted']} in neither split list, {counts['unmatched']} "
                    f"not in the MIMIC index, {counts['empty_reports']} without sentences")
        else:
            from asgbench.pretrain.prepare import prepare as prepare_annotations

            manifest = prepare_annotations(args.data_root, args.out, scene_graphs=args.scene_graphs,
                                           find_scene_graphs=not args.no_scene_graphs, hedged=args.hedged,
                                           progress=bars.counter("reports and regions"))
            counts = manifest["counts"]
            line = (f"{args.out}: {counts['images']} image-report pairs (train {counts.get('train', 0)}, val "
                    f"{counts.get('val', 0)}, test {counts.get('test', 0)}), {counts['sentences']} sentences; region boxes "
                    f"from scene graphs ({manifest.get('scene_graphs') or 'none'}) for {counts['scene_graph_boxes']}, atlas "
                    f"for {counts['atlas_boxes']}; ARSA slots: rules {counts['rules_slots']}, scene-graph "
                    f"{counts['scene_graph_slots']}; hedged findings: {manifest['hedged']}")
    print(line)
    return 0


def train(args: argparse.Namespace) -> int:
    from asgbench.pretrain.config import load_config
    from asgbench.pretrain.trainer import train as train_asg

    config = load_config(args.config, args.overrides)
    bars = ProgressBars(args.quiet)

    def say(line: str) -> None:
        bars.close()
        print(line, flush=True)

    with bars:
        outcome = train_asg(config, resume=args.resume, progress=bars, say=say)
    if outcome.best_epoch:
        print(f"{outcome.checkpoint}: best val loss {outcome.best_val_loss:.4f} at epoch {outcome.best_epoch} of "
              f"{outcome.epochs_run}; evaluate it with `asgbench run --model asg --checkpoint {outcome.checkpoint} --task ...` "
              f"(its results are named asg-<architecture>.{config.name})")
    elif outcome.epochs_run == 0:
        print(f"{outcome.checkpoint}: the initial weights, untrained (optim.max_epochs=0): a random-init baseline of "
              f"the same network")
    return 0


def register(verbs) -> None:
    pretrain = verbs.add_parser("pretrain", help="ASG pre-training: prepare annotations, train")
    actions = pretrain.add_subparsers(dest="pretrain_verb", metavar="ACTION", required=True)
    prepare_cmd = actions.add_parser("prepare", help="parse reports, align sentences to regions, write the annotation file")
    prepare_cmd.add_argument("--data-root", required=True, type=Path, help="the MIMIC-CXR-JPG folder (with the reports)")
    boxes = prepare_cmd.add_mutually_exclusive_group()
    boxes.add_argument("--scene-graphs", type=Path, default=None,
                       help="a Chest ImaGenome folder (default: chest-imagenome/ beside the MIMIC folder if it exists)")
    boxes.add_argument("--no-scene-graphs", action="store_true", help="atlas boxes only, even if scene graphs are there")
    boxes.add_argument("--asg-labels", type=Path, default=None, metavar="DIR",
                       help="import the official ASG release instead: DIR holds labels.pickle, train_filenames.csv, "
                            "valid_filenames.csv")
    prepare_cmd.add_argument("--out", required=True, type=Path, help="where annotations.jsonl.gz and manifest.json go")
    # literal, so that the CLI starts without importing the parser; equal to report_parser.HEDGED_POLICIES and
    # DEFAULT_HEDGED (tests/test_pretrain.py checks the manifest a default prepare writes)
    prepare_cmd.add_argument("--hedged", choices=("positive", "negative", "ignore"), default="negative",
                             help="what a hedged finding ('may represent', 'cannot exclude') becomes in training: "
                                  "negative (0, absent: how the released ASG trains; default), positive (1) or ignore "
                                  "(-1, left out of the tag-recognition loss); recorded in manifest.json, which the "
                                  "trainer reads (not used with --asg-labels)")
    prepare_cmd.add_argument("--quiet", action="store_true")
    prepare_cmd.set_defaults(handler=prepare)
    train_cmd = actions.add_parser("train", help="train ASG; writes <out>/<name>.safetensors + .json")
    train_cmd.add_argument("--config", default=None,
                           help="a YAML config file, or the name of a shipped one: demo, synthetic (default: built-in defaults)")
    train_cmd.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                           help="dotted overrides, e.g. optim.max_epochs=3 loss.objectives=ira,arsa")
    train_cmd.add_argument("--resume", action="store_true", help="continue from <out>/state.pt")
    train_cmd.add_argument("--quiet", action="store_true")
    train_cmd.set_defaults(handler=train)
