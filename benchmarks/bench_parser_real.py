"""Benchmark: the rule-based report parser on real Indiana University report sentences labelled by hand.

The labelled set is ``tests/fixtures/iu_sentences_labelled.jsonl`` (how it was chosen and labelled:
``tests/fixtures/README.md``). It stores each sentence's locator (report id, section, sentence index, sha256), not
its text: the reports are CC BY-NC-ND 4.0, so the text is rebuilt from the copy torchxrayvision bundles
(``iu_sentences.read_located_sentences``). Each sentence is parsed on its own (``parse_sentence``) and compared
with its labels: precision / recall / F1 per finding, micro F1 over findings, and existence accuracy / F1, for the
tuning half, the held-out half and both. Run: ``python benchmarks/bench_parser_real.py``; ``--select`` prints
the sentence selection (locator, split and text, to read while labelling; never commit the text) that the
fixture was labelled from, regenerated from the bundled reports.
"""
from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from tabulate import tabulate

from asgbench.errors import AsgbenchError
from asgbench.pretrain.iu_sentences import IUSentence, iu_archive, iu_sentences, read_located_sentences
from asgbench.pretrain.parser_scoring import Score, SentenceScores, score_sentences
from asgbench.vocab import ASG_TAGS

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "iu_sentences_labelled.jsonl"

# The selection rule (documented in tests/fixtures/README.md): reports CXR1001..CXR3999 (the parser's tests read
# the first 500), FINDINGS and IMPRESSION sentences, de-duplicated by text, sorted into the first stratum whose
# pattern matches, a seeded sample per stratum, then shuffled and halved into "tune" and "held-out".
FIRST_REPORT, LAST_REPORT = 1001, 3999
SEED = 20
STRATA: tuple[tuple[str, str, int], ...] = (
    ("hedged", r"\b(may|might|could|possibl[ey]|probabl[ey]|likely|suggest\w*|concern\w*|suspic\w*|question\w*"
               r"|cannot|exclude\w*|versus|vs|differential|consistent|compatible|represent\w*)\b|\?", 60),
    ("device", r"\b(tube|line|catheter|pacemaker|pacer|clips?|wires?|stimulator|port|device|sternotomy|stent"
               r"|hardware|screws?|leads?|picc|prosthe\w*|valve|defibrillator|icd)\b", 40),
    ("xxxx", r"xxxx", 50),
    ("other", r"", 180),
)


def iu_source_sentences(first: int = FIRST_REPORT, last: int = LAST_REPORT) -> Iterator[IUSentence]:
    """FINDINGS then IMPRESSION sentences of IU reports ``first``..``last``, by report number."""
    return iu_sentences(iu_archive(), range(first, last + 1))


def _stratum(text: str) -> str:
    lowered = text.lower()
    return next(name for name, pattern, _ in STRATA if re.search(pattern, lowered))


def select_sentences() -> list[tuple[str, IUSentence]]:
    """(split, sentence) for the labelled set, by the fixed rule above."""
    unique: dict[str, IUSentence] = {}
    for sentence in iu_source_sentences():
        unique.setdefault(" ".join(sentence.text.lower().split()), sentence)
    rng = random.Random(SEED)
    by_stratum: dict[str, list[IUSentence]] = {name: [] for name, _, _ in STRATA}
    for sentence in unique.values():
        by_stratum[_stratum(sentence.text)].append(sentence)
    chosen = [s for name, _, size in STRATA for s in rng.sample(by_stratum[name], size)]
    rng.shuffle(chosen)
    half = len(chosen) // 2
    return [("tune" if i < half else "held-out", s) for i, s in enumerate(chosen)]


def _table(scores: SentenceScores) -> str:
    rows = [[finding, f"{s.precision:.2f}", f"{s.recall:.2f}", f"{s.f1:.2f}", s.expected]
            for finding, s in sorted(scores.per_finding.items(), key=lambda item: (-item[1].expected, item[0]))]
    return tabulate(rows, headers=["finding", "precision", "recall", "F1", "labelled"])


def _tagged_f1(scores: SentenceScores) -> float:
    """Micro F1 over the 40 ASG tags alone (how the parser was scored before it named other findings)."""
    tagged = [s for name, s in scores.per_finding.items() if name in ASG_TAGS]
    return Score(*(sum(getattr(s, k) for s in tagged) for k in ("true_positives", "predicted", "expected"))).f1


def _summary(name: str, scores: SentenceScores) -> list:
    f, e = scores.findings, scores.finding_existence
    return [name, scores.sentences, f"{f.precision:.3f}", f"{f.recall:.3f}", f"{f.f1:.3f}", f"{_tagged_f1(scores):.3f}",
            f"{scores.existence_accuracy:.3f}", f"{e.f1:.3f}", f"{scores.triplets.f1:.3f}"]


def _print_selection() -> None:
    for split, s in select_sentences():
        print(json.dumps({"report": s.report, "section": s.section, "index": s.index, "sha256": s.locator().sha256,
                          "split": split, "text": s.text}))


def _print_scores(fixture: Path, per_finding: str, errors: str | None) -> None:
    labelled = read_located_sentences(fixture)
    parts = {"tune": [s for s in labelled if s.split == "tune"],
             "held-out": [s for s in labelled if s.split == "held-out"], "all": labelled}
    scored = {name: score_sentences(part) for name, part in parts.items()}
    print(tabulate([_summary(name, s) for name, s in scored.items()],
                   headers=["set", "sentences", "finding P", "finding R", "finding F1", "40-tag F1", "existence acc",
                            "finding+existence F1", "triplet F1"]))
    if per_finding != "none":
        print(f"\nper finding ({per_finding}):")
        print(_table(scored[per_finding]))
    if errors:
        for text, missed, extra in scored[errors].disagreements:
            print(f"\n{text}\n  missed: {sorted(missed)}\n  extra:  {sorted(extra)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--select", action="store_true",
                        help="print the selected sentences (locator, split, text) as JSON lines and stop")
    parser.add_argument("--per-finding", choices=("all", "tune", "held-out", "none"), default="all")
    parser.add_argument("--errors", choices=("all", "tune", "held-out"), default=None,
                        help="list the sentences of that set where the parser disagrees with the labels")
    args = parser.parse_args()
    try:
        if args.select:
            _print_selection()
        else:
            _print_scores(args.fixture, args.per_finding, args.errors)
    except AsgbenchError as error:  # no torchxrayvision, or a locator that no longer matches: one line, no trace
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
