"""Rule-based chest X-ray report parser: sentences -> <anatomical region, finding, existence> triplets.

ASG's own parsing rules were never released, so this follows the public rule-based labelers: phrases
from ``lexicon`` are matched longest-first over word tokens; negation and hedge cues scope forward or
backward NegEx-style (scope ends at "but"/"however"/";", at a new predication after a covered finding,
and at a new noun phrase after "," or "and" unless the clause is an "or"-list); "cannot be excluded"
is a hedge, not a negation (CheXpert's order). Regions attach to the nearest compatible finding
(a region after "in/at/of" to the finding before it), sides attach to the next region or finding, and a
finding whose sentence names no place gets an anatomical default (``lexicon.TAG_POLICIES``). Statements
about a region ("heart size is normal", "lungs are clear") assert or deny the tag that region carries.

Conventions a trainer relies on: regions are Chest ImaGenome names, ``BOXLESS_LOCATIONS`` or
"unspecified"; findings are ASG's 40 tags or a plain name from ``lexicon.OTHER_FINDINGS`` (granuloma, low
lung volumes ...), which align sentences to regions but are never tag targets; existence is present /
absent / uncertain; ``tag_vector`` gives 1 / 0 with present over uncertain over absent, and its ``hedged``
policy says what an uncertain (hedged) tag becomes (0 by default, as the release trains; 1; or -1 to be masked).

The steps live in their own modules: ``report_text`` (sentences, tokens), ``mentions`` (lexicon phrases in a
sentence), ``existence`` (sides, cue scopes, statements), ``placement`` (where each finding lies); this module
runs them per sentence and per report and turns the result into training targets.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from asgbench.data.reports import section_report
from asgbench.pretrain import lexicon as lx
from asgbench.pretrain.existence import assign_existence, attach_sides, resolve_regions, statements
from asgbench.pretrain.mentions import ABSENT, PRESENT, UNCERTAIN, Assertion, Sentence, find_mentions, segmented
from asgbench.pretrain.placement import attach_regions, finding_assertions
from asgbench.pretrain.report_text import split_sentences, tokenize
from asgbench.vocab import ASG_TAGS, IMAGENOME_REGIONS, UNSPECIFIED

PARSER_VERSION = "rules-2"
REPORT_SECTIONS = ("findings", "impression")


@dataclass(frozen=True)
class Triplet:
    region: str
    finding: str
    existence: str


@dataclass(frozen=True)
class ParsedSentence:
    """One report sentence; ``normal_regions`` it calls normal without implying a tag ("trachea is midline")."""

    text: str
    section: str
    triplets: tuple[Triplet, ...]
    normal_regions: tuple[str, ...] = ()

    @property
    def regions(self) -> tuple[str, ...]:
        """Every place the sentence is about, in order of first mention (ARSA aligns these)."""
        names = [t.region for t in self.triplets if t.region != UNSPECIFIED] + list(self.normal_regions)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class ParsedReport:
    sentences: tuple[ParsedSentence, ...]

    @property
    def triplets(self) -> list[Triplet]:
        return [t for s in self.sentences for t in s.triplets]



def _parse_mentions(sentence: Sentence) -> tuple[list[Assertion], list[str]]:
    attach_sides(sentence)
    resolve_regions(sentence)
    assign_existence(sentence)
    implied, normal_regions = statements(sentence)
    attach_regions(sentence)
    return finding_assertions(sentence) + implied, normal_regions


def _analyse(text: str) -> tuple[list[Assertion], list[str]]:
    tokens = tokenize(text)
    assertions, normal_regions = _parse_mentions(segmented(tokens, find_mentions(tokens)))
    # "Right base opacity; the lungs are otherwise clear": a normal statement never denies what the sentence asserts.
    asserted = {a.tag for a in assertions if a.existence != ABSENT}
    assertions = [a for a in assertions if not (a.source == "normal" and a.tag in asserted)]
    return assertions, list(dict.fromkeys(normal_regions))


def _triplets(assertions: Iterable[Assertion]) -> tuple[Triplet, ...]:
    return tuple(dict.fromkeys(Triplet(r, a.tag, a.existence) for a in assertions for r in a.regions))


def parse_sentence(text: str) -> list[Triplet]:
    """The <region, finding, existence> triplets one sentence states (no report context)."""
    return list(_triplets(_analyse(text)[0]))


def _with_context(parsed: list[tuple[str, str, list[Assertion], list[str]]]) -> tuple[ParsedSentence, ...]:
    """A finding that a sentence does not place ("Findings concerning for pneumonia.") takes the place that an
    earlier sentence of the same report gave the same finding, where its policy ``refers_back``."""
    placed: dict[str, tuple[str, ...]] = {}
    sentences = []
    for text, section, assertions, normal_regions in parsed:
        resolved = []
        for a in assertions:
            if a.source == "default" and a.existence != ABSENT and a.tag in placed \
                    and lx.POLICIES[a.tag].refers_back:
                a = Assertion(a.tag, placed[a.tag], a.existence, "context")
            resolved.append(a)
        for a in assertions:
            if a.source in ("explicit", "side", "inherited") and a.existence != ABSENT:
                placed[a.tag] = a.regions
        sentences.append(ParsedSentence(text, section, _triplets(resolved), tuple(normal_regions)))
    return tuple(sentences)


def parse_sentences(text: str, section: str = "findings") -> list[ParsedSentence]:
    """Free text without MIMIC section headers (e.g. one IU report section), sentence by sentence."""
    return list(_with_context([(s, section, *_analyse(s)) for s in split_sentences(text)]))


def parse_report(text: str) -> ParsedReport:
    """FINDINGS then IMPRESSION sentences of a MIMIC report (the last paragraph when it has neither)."""
    sections = section_report(text)
    parts = [(name, sections.sections.get(name, "")) for name in REPORT_SECTIONS]
    if not sections.has_findings_or_impression():
        parts = [("last_paragraph", sections.last_paragraph)]
    parsed = [(s, name, *_analyse(s)) for name, body in parts for s in split_sentences(body)]
    return ParsedReport(_with_context(parsed))


# ---------------------------------------------------------------------------------- training targets
TAG_INDEX = {tag: i for i, tag in enumerate(ASG_TAGS)}
EXISTENCE_RANK = {ABSENT: 0, UNCERTAIN: 1, PRESENT: 2}
# What a hedged tag ("may represent pneumonia", "cannot exclude effusion") becomes in training, as CheXpert's
# uncertainty policies: "positive" (U-ones) 1, "negative" (U-zeros) 0, "ignore" -1, an entry the IRL loss leaves
# out (``losses.irl_loss(mask_uncertain=True)``; the trainer reads the policy from the manifest).
HEDGED_POLICIES = ("positive", "negative", "ignore")
# Default "negative": it is what the release trains with. The released labels hold hedged tags as -1, but the
# released IRL and ERL count -1 as absent, so the release's training is U-zeros; writing 0 states that plainly
# and keeps the default release-faithful, whereas "ignore" now really drops hedged entries from IRL.
# "positive" suits tags whose hedges mostly prove true (atelectasis, edema).
DEFAULT_HEDGED = "negative"
HEDGED_VALUE = {"positive": 1, "negative": 0, "ignore": -1}


def tag_vector(triplets: Iterable[Triplet], hedged: str = DEFAULT_HEDGED) -> np.ndarray:
    """40 int8 over ``ASG_TAGS``: 1 present, 0 absent or not mentioned, and a hedged tag per ``hedged`` (0 when
    "negative", the default; -1 when "ignore"), with present > uncertain > absent. Findings outside the 40 tags are
    no targets and are skipped."""
    if hedged not in HEDGED_VALUE:
        raise ValueError(f"hedged policy {hedged!r}: expected one of {', '.join(HEDGED_POLICIES)}")
    rank = np.zeros(len(ASG_TAGS), dtype=np.int64)
    for triplet in triplets:
        i = TAG_INDEX.get(triplet.finding)
        if i is not None:
            rank[i] = max(rank[i], EXISTENCE_RANK[triplet.existence])
    values = np.array([0, HEDGED_VALUE[hedged], 1], dtype=np.int8)  # by rank: absent, uncertain, present
    return values[rank]


def region_sentences(parsed: ParsedReport) -> dict[str, list[int]]:
    """Boxed Chest ImaGenome region -> indices of the sentences about it (normal statements included), for ARSA."""
    aligned: dict[str, list[int]] = {}
    for index, sentence in enumerate(parsed.sentences):
        for region in sentence.regions:
            if region in IMAGENOME_REGIONS:
                aligned.setdefault(region, []).append(index)
    return {region: aligned[region] for region in IMAGENOME_REGIONS if region in aligned}
