"""Benchmark: the rule-based report parser against a synthetic suite's labelled report sentences.

Each report of ``<suite>/_truth/mimic_reports.jsonl`` is read from ``<suite>/mimic``, parsed with
``parse_report``, and its sentences' triplets are compared with the labelled ones (matched by sentence
text, so sentence-splitting errors count too). Prints micro precision / recall / F1 per element and the
parsing speed. Run: ``python benchmarks/bench_report_parser.py --suite .asgbench/demo/suite-small``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from tabulate import tabulate

from asgbench.pretrain.parser_scoring import read_truth, score_reports

ELEMENT_HELP = {
    "region": "(sentence, region)",
    "finding": "(sentence, finding)",
    "finding+existence": "(sentence, finding, existence)",
    "triplet": "(sentence, region, finding, existence)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path(".asgbench/demo/suite-small"))
    parser.add_argument("--limit", type=int, default=0, help="score only the first N reports (0 = all)")
    args = parser.parse_args()

    pairs = read_truth(args.suite / "_truth" / "mimic_reports.jsonl", args.suite / "mimic")
    if args.limit:
        pairs = pairs[: args.limit]
    start = time.perf_counter()
    scores, n_sentences = score_reports(pairs)
    seconds = time.perf_counter() - start

    rows = [[name, ELEMENT_HELP[name], f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", s.true_positives,
             s.predicted, s.expected] for name, s in scores.items()]
    print(f"suite {args.suite}: {len(pairs)} reports, {n_sentences} sentences")
    print(tabulate(rows, headers=["element", "matched as", "precision", "recall", "F1", "tp", "predicted", "expected"]))
    print(f"\n{n_sentences / seconds:,.0f} sentences/s ({seconds:.2f} s to section, split, parse and score)")


if __name__ == "__main__":
    main()
