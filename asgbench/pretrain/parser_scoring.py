"""The parser scored against labelled report sentences: a synthetic suite's truth file (micro precision, recall
and F1 per triplet element, matched by sentence text so that sentence-splitting errors count), or real report
sentences labelled by hand (per finding, micro over findings, and existence)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
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


# ------------------------------------------------------------------ hand-labelled real sentences
LABELLED_EXISTENCE = {"present": "present", "absent": "absent", "hedged": "uncertain"}
EXISTENCE_ORDER = {"absent": 0, "uncertain": 1, "present": 2}


@dataclass(frozen=True)
class LabelledSentence:
    """One real report sentence and the triplets a reader gave it (existence already in the parser's words)."""

    report: str
    section: str
    split: str
    text: str
    triplets: tuple[tuple[str, str, str], ...]


def labelled_sentence(record: dict, text: str) -> LabelledSentence:
    """The labels of one record (``report``, ``section``, ``split``, ``triplets``) with the sentence ``text``."""
    triplets = tuple((region, finding, LABELLED_EXISTENCE[existence])
                     for region, finding, existence in record["triplets"])
    return LabelledSentence(str(record["report"]), record["section"], record["split"], text, triplets)


def json_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of a JSON-lines file, skipping blank and ``#`` lines; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise DataLayoutError(f"{path}: labelled sentence file missing")
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataLayoutError(f"{path}:{number}: not JSON ({error})") from error
        if not isinstance(record, dict):
            raise DataLayoutError(f"{path}:{number}: not a JSON object")
        yield number, record


def read_labelled_sentences(path: Path) -> list[LabelledSentence]:
    """A JSON-lines file of ``{"report", "section", "split", "text", "triplets": [[region, finding, existence]]}``
    with existence present / absent / hedged ("hedged" is the parser's "uncertain"); ``#`` lines are comments.
    For sets that may quote their text; the IU fixture stores locators instead (``iu_sentences``)."""
    sentences = []
    for number, record in json_records(path):
        try:
            sentences.append(labelled_sentence(record, record["text"]))
        except (KeyError, TypeError, ValueError) as error:
            raise DataLayoutError(f"{path}:{number}: not a labelled sentence ({error!r})") from error
    return sentences


@dataclass(frozen=True)
class SentenceScores:
    """Scores over labelled sentences, each parsed alone. ``existence_accuracy`` is over the (sentence, finding)
    pairs both sides name, each side's existence being its strongest (present > uncertain > absent)."""

    sentences: int
    findings: Score
    finding_existence: Score
    triplets: Score
    per_finding: dict[str, Score]
    existence_accuracy: float
    disagreements: tuple[tuple[str, frozenset, frozenset], ...]


def _strongest(triplets: Iterable[Sequence[str]]) -> dict[str, str]:
    best: dict[str, str] = {}
    for _, finding, existence in triplets:
        if finding not in best or EXISTENCE_ORDER[existence] > EXISTENCE_ORDER[best[finding]]:
            best[finding] = existence
    return best


def _count(got: set, want: set) -> Score:
    return Score(len(got & want), len(got), len(want))


def score_sentences(labelled: Sequence[LabelledSentence], parse=None) -> SentenceScores:
    """Micro scores of ``parse`` (default: ``parse_sentence``) against hand-labelled sentences."""
    from asgbench.pretrain.report_parser import parse_sentence

    parse = parse or parse_sentence
    got: dict[str, set] = {"finding": set(), "finding+existence": set(), "triplet": set()}
    want: dict[str, set] = {"finding": set(), "finding+existence": set(), "triplet": set()}
    agree = compared = 0
    disagreements = []
    for i, sentence in enumerate(labelled):
        predicted = {(t.region, t.finding, t.existence) for t in parse(sentence.text)}
        expected = set(sentence.triplets)
        for name, side in (("got", predicted), ("want", expected)):
            target = got if name == "got" else want
            target["finding"] |= {(i, f) for _, f, _ in side}
            target["finding+existence"] |= {(i, f, e) for _, f, e in side}
            target["triplet"] |= {(i, *t) for t in side}
        mine, theirs = _strongest(predicted), _strongest(expected)
        for finding in mine.keys() & theirs.keys():
            compared += 1
            agree += mine[finding] == theirs[finding]
        if {(f, e) for _, f, e in predicted} != {(f, e) for _, f, e in expected}:
            disagreements.append((sentence.text, frozenset(expected - predicted), frozenset(predicted - expected)))
    names = {f for _, f in got["finding"] | want["finding"]}
    per_finding = {name: _count({k for k in got["finding"] if k[1] == name},
                                {k for k in want["finding"] if k[1] == name}) for name in names}
    return SentenceScores(len(labelled), _count(got["finding"], want["finding"]),
                          _count(got["finding+existence"], want["finding+existence"]),
                          _count(got["triplet"], want["triplet"]), per_finding,
                          agree / compared if compared else 1.0, tuple(disagreements))
