"""``asgbench data ...`` and ``asgbench splits ...``: check a download, write the synthetic suite, and build,
show or verify the fixed split lists."""
from __future__ import annotations

import argparse
from pathlib import Path

from asgbench.cli._common import ProgressBars, print_table
from asgbench.errors import ConfigError, DataLayoutError


def data_verify(args: argparse.Namespace) -> int:
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
    print_table(rows, ["label", "positive (1)", "negative (0)", "uncertain (-1)", "blank"])
    return 0


def data_synth(args: argparse.Namespace) -> int:
    from asgbench.data.synthetic.suite import expected_images, synthesize

    if args.preview is not None:
        from asgbench.data.synthetic.preview import write_preview

        print(f"preview contact sheet: {write_preview(args.preview, seed=args.seed)}")
    if args.out is None:
        if args.preview is None:
            raise ConfigError("give --out DIR (the suite) and/or --preview FILE.png (a contact sheet)")
        return 0
    total = expected_images(args.size)
    with ProgressBars(args.quiet, unit="img") as bars:
        written = {"images": 0}

        def progress(dataset: str, n: int) -> None:
            written["images"] += n
            bars("synth", written["images"], total)

        manifest = synthesize(args.out, args.size, args.seed, workers=args.workers, progress=progress, reuse=not args.force)
    rows = [[name, c.image_files, c.index_rows, c.patients] for name, c in manifest.datasets.items()]
    print(f"synthetic suite '{manifest.size}' (seed {manifest.seed}) in {args.out}")
    print_table(rows, ["dataset", "image files", "indexed images", "patients"])
    return 0


def splits_build(args: argparse.Namespace) -> int:
    from asgbench.data.splits import build_splits

    result = build_splits(args.dataset, _split_protocol(args), root=args.root, out=args.out)
    print(f"wrote {len(result.manifest.lists)} list(s) of {args.dataset} / {result.manifest.protocol} "
          f"(from {result.manifest.built_from}) to {result.folder}")
    _print_manifest(result.manifest)
    return 0


def splits_show(args: argparse.Namespace) -> int:
    from asgbench.data.splits import read_manifest

    folder, manifest = read_manifest(args.dataset, _split_protocol(args), args.root)
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
    print_table(rows, ["list", "images", "patients", "positives", "sha256"])
    for note in manifest.notes:
        print(f"note: {note}")


def splits_verify(args: argparse.Namespace) -> int:
    from asgbench.data.splits.verify import verify_splits

    report = verify_splits(args.dataset, _split_protocol(args), args.root)
    print(f"{report.dataset} / {report.protocol}: {report.root} against {report.folder}")
    print_table([[c.name, c.expected, c.found, c.expected - c.found] for c in report.lists], ["list", "images", "found", "missing"])
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


def _split_protocol(args: argparse.Namespace) -> str:
    """The split protocol asked for (names checked, with the dataset's, before any list is read)."""
    from asgbench.data.datasets import DATASETS
    from asgbench.data.splits import DEFAULT_SPLIT_PROTOCOL, SPLIT_PROTOCOLS

    args.dataset = DATASETS.canonical(args.dataset)
    return SPLIT_PROTOCOLS.canonical(args.split_protocol or DEFAULT_SPLIT_PROTOCOL)


def register(verbs) -> None:
    data = verbs.add_parser("data", help="verify dataset downloads; write the synthetic suite")
    actions = data.add_subparsers(dest="data_verb", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="read a dataset root and report what is found and missing")
    verify.add_argument("--dataset", required=True, help="a name from `asgbench ls datasets`")
    verify.add_argument("--root", required=True, type=Path, help="the dataset's folder")
    verify.add_argument("--decode", type=int, default=8, metavar="N", help="decode N sample images (default 8; 0 skips)")
    verify.set_defaults(handler=data_verify)
    synth = actions.add_parser("synth", help="write the synthetic look-alike suite in the real layouts")
    synth.add_argument("--out", type=Path, help="folder to write; one sub-folder per dataset")
    synth.add_argument("--preview", type=Path, metavar="FILE.png", help="also write a contact sheet with regions and findings outlined")
    synth.add_argument("--size", default="tiny", choices=("tiny", "gate", "small", "medium"),
                       help="tiny: unit tests; gate: the regression gate; small: the benchmarks; medium: the demo")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=None, help="rendering processes (default: CPU count)")
    synth.add_argument("--force", action="store_true", help="rewrite even if an identical suite is already there")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(handler=data_synth)

    splits = verbs.add_parser("splits", help="build, show and verify the fixed split lists")
    actions = splits.add_subparsers(dest="splits_verb", metavar="ACTION", required=True)
    handlers = {"build": splits_build, "show": splits_show, "verify": splits_verify}
    helps = {"build": "build lists (from bundled public metadata, or from --root); they go to the cache unless --out",
             "show": "counts per list and fraction", "verify": "check a download against the lists"}
    for action, handler in handlers.items():
        sub = actions.add_parser(action, help=helps[action])
        sub.add_argument("--dataset", required=True)
        sub.add_argument("--split-protocol", "--protocol", dest="split_protocol", default=None,
                         help="the split protocol (default asgbench-v1); see `asgbench ls split-protocols`")
        sub.add_argument("--root", type=Path, required=action == "verify", default=None, help="the dataset's folder")
        if action == "build":
            sub.add_argument("--out", type=Path, default=None, help="write here instead of the cache folder")
        sub.set_defaults(handler=handler)
