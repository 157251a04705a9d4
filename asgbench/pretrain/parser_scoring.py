"""The parser scored against labelled report sentences (a synthetic suite's truth file): micro precision,
recall and F1 per triplet element, matched by sentence text so that sentence-splitting errors count."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asgbench.errors import DataLayoutError
from asgbench.pretrain.report_parser import parse_report


@dataclass(frozen=True)
class Score:
    true_positives: int
    predicted: int
    expected: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


# What each element of a triplet is scored as: the sentence plus these fields.
SCORED_ELEMENTS = {"region": (0,), "finding": (1,), "finding+existence": (1, 2), "triplet": (0, 1, 2)}


def read_truth(truth_path: Path, reports_root: Path) -> list[tuple[str, list[dict]]]:
    """(report text, labelled sentences) for every record of a synthetic suite's ``_truth/mimic_reports.jsonl``;
    each sentence is ``{"text", "triplets": [[region, finding, existence], ...]}``."""
    truth_path, reports_root = Path(truth_path), Path(reports_root)
    if not truth_path.is_file():
        raise DataLayoutError(f"{truth_path}: report truth file missing")
    pairs = []
    for number, line in enumerate(truth_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            report, sentences = reports_root / record["report"], list(record["sentences"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DataLayoutError(f"{truth_path}:{number}: not a report truth record ({error})") from error
        if not report.is_file():
            raise DataLayoutError(f"{report}: report listed in {truth_path.name} is missing")
        pairs.append((report.read_text(), sentences))
    return pairs


def _keyed(sentences: Iterable[tuple[str, Iterable[Sequence[str]]]], fields: tuple[int, ...]) -> set[tuple]:
    return {(" ".join(text.split()), *(triplet[k] for k in fields))
            for text, triplets in sentences for triplet in triplets}


def score_reports(pairs: Iterable[tuple[str, Sequence[dict]]]) -> tuple[dict[str, Score], int]:
    """Micro precision/recall/F1 per element over (report text, labelled sentences) pairs, matching (sentence text,
    element) within each report, so that sentence-splitting errors count; returns the scores and the sentence count."""
    counts = {name: [0, 0, 0] for name in SCORED_ELEMENTS}
    n_sentences = 0
    for text, labelled in pairs:
        parsed = parse_report(text)
        n_sentences += len(parsed.sentences)
        predicted = [(s.text, [(t.region, t.finding, t.existence) for t in s.triplets]) for s in parsed.sentences]
        expected = [(s["text"], s["triplets"]) for s in labelled]
        for name, fields in SCORED_ELEMENTS.items():
            got, want = _keyed(predicted, fields), _keyed(expected, fields)
            counts[name][0] += len(got & want)
            counts[name][1] += len(got)
            counts[name][2] += len(want)
    return {name: Score(*c) for name, c in counts.items()}, n_sentences
