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
"unspecified"; existence is present / absent / uncertain; ``tag_vector`` gives 1 / -1 / 0 with present
over uncertain over absent.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from asgbench.data.reports import section_report
from asgbench.errors import DataLayoutError
from asgbench.pretrain import lexicon as lx
from asgbench.vocab import ASG_TAGS, EXISTENCE, IMAGENOME_REGIONS, UNSPECIFIED

PARSER_VERSION = "rules-1"
PRESENT, ABSENT, UNCERTAIN = EXISTENCE
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


# ------------------------------------------------------------------------------------ sentence split
ABBREVIATIONS = frozenset({"dr", "drs", "mr", "mrs", "ms", "vs", "approx", "e.g", "i.e", "cf", "fig", "st", "prof",
                           "resp", "pt", "dx", "hx", "ca", "incl"})
WRAPPED_HYPHEN = re.compile(r"(?<=[A-Za-z])- (?=(?!and\b|or\b|to\b)[a-z])")  # "left- sided" from line wrapping
MISSING_SPACE = re.compile(r"(?<=[a-z]{2})\.(?=[A-Z][a-z])")  # "No effusion.Heart size is normal."
# "1. Mild cardiomegaly. 2. ..." and, with the full stop forgotten, "... edema 2. Cardiomegaly."
ENUMERATOR = re.compile(r"(?:^|(?<=[.!?:;]))\s*\(?\d{1,2}[.)](?=\s+\S)|(?<=[a-z])\s+\d{1,2}\.(?=\s+[A-Z])")
BOUNDARY = re.compile(r"[.!?]+(?=\s+[A-Za-z0-9(\"'_]|\s*$)")  # lower case too: IU reports have ". there is"
WORD_BEFORE = re.compile(r"([A-Za-z.]+)$")


def _is_abbreviation(text: str, period_at: int) -> bool:
    match = WORD_BEFORE.search(text[:period_at])
    return bool(match) and match.group(1).lower().strip(".") in ABBREVIATIONS


def split_sentences(text: str) -> list[str]:
    """Sentences of free report text; keeps "Dr. X", "1.5 cm" and "vs." whole and drops list numbers ("2. ")."""
    text = ENUMERATOR.sub("\n", MISSING_SPACE.sub(". ", WRAPPED_HYPHEN.sub("-", " ".join(text.split()))))
    sentences: list[str] = []
    for chunk in text.split("\n"):
        start = 0
        for match in BOUNDARY.finditer(chunk):
            if match.group().startswith(".") and len(match.group()) == 1 and _is_abbreviation(chunk, match.start()):
                continue
            sentences.append(chunk[start : match.end()].strip())
            start = match.end()
        sentences.append(chunk[start:].strip())
    return [s for s in sentences if re.search(r"[A-Za-z]", s)]


# ----------------------------------------------------------------------------------- phrase matching
TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?|[?;,:()]")
CONTRACTIONS = (("can't", "cannot"), ("won't", "will not"), ("n't", " not"))


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; hyphens and slashes split words; ? ; , : ( ) are tokens of their own."""
    text = text.lower().replace("\u2019", "'")
    for short, long in CONTRACTIONS:
        text = text.replace(short, long)
    return TOKEN.findall(text)


@dataclass(frozen=True)
class _Entry:
    words: tuple[str, ...]
    kind: str
    term: object


KIND_PRIORITY = ("finding", "predicate", "cue", "region", "side", "terminator", "locative", "reference")


def _word_matches(pattern: str, token: str) -> bool:
    return token.startswith(pattern[:-1]) if pattern.endswith("*") else token == pattern


class _PhraseIndex:
    """Longest-match lookup of every lexicon phrase; candidates are cached per first token."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self.by_first: dict[str, list[_Entry]] = {}
        self.by_prefix: list[_Entry] = []
        for entry in entries:
            if entry.words[0].endswith("*"):
                self.by_prefix.append(entry)
            else:
                self.by_first.setdefault(entry.words[0], []).append(entry)
        self.order = {kind: i for i, kind in enumerate(KIND_PRIORITY)}
        self.cache: dict[str, list[_Entry]] = {}

    def candidates(self, token: str) -> list[_Entry]:
        """Entries whose first word matches ``token``, longest first, then by kind priority."""
        if token not in self.cache:
            found = self.by_first.get(token, []) + [e for e in self.by_prefix if _word_matches(e.words[0], token)]
            self.cache[token] = sorted(found, key=lambda e: (-len(e.words), self.order[e.kind]))
        return self.cache[token]

    def longest(self, tokens: Sequence[str], i: int) -> _Entry | None:
        for entry in self.candidates(tokens[i]):
            n = len(entry.words)
            if i + n <= len(tokens) and all(_word_matches(w, tokens[i + k]) for k, w in enumerate(entry.words[1:], 1)):
                return entry
        return None


@lru_cache(maxsize=1)
def _index() -> _PhraseIndex:
    def entries(kind: str, terms: Iterable[object], phrase=lambda t: t.phrase) -> list[_Entry]:
        return [_Entry(tuple(tokenize_pattern(phrase(t))), kind, t) for t in terms]

    return _PhraseIndex([
        *entries("finding", lx.FINDING_TERMS), *entries("region", lx.REGION_TERMS), *entries("side", lx.SIDE_TERMS),
        *entries("cue", lx.CUE_TERMS), *entries("predicate", lx.PREDICATE_TERMS),
        *entries("terminator", lx.TERMINATORS, phrase=str), *entries("locative", lx.LOCATIVES, phrase=str),
        *entries("reference", lx.REFERENCES, phrase=str),
    ])


def tokenize_pattern(phrase: str) -> list[str]:
    """A lexicon phrase as tokens, keeping a trailing ``*`` on its last word."""
    star = phrase.endswith("*")
    words = tokenize(phrase.rstrip("*"))
    if star:
        words[-1] += "*"
    return words


@dataclass
class _Mention:
    start: int
    end: int
    kind: str
    term: object
    # filled in while parsing the sentence
    sides: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    locative: bool = False
    fronted: bool = False
    reference: bool = False
    existence: str = PRESENT
    bound: bool = False  # a region that a normal/enlarged statement is about
    attached: list[tuple[tuple[str, ...], bool]] = field(default_factory=list)  # (regions, via preposition)


def _mentions(tokens: Sequence[str]) -> list[_Mention]:
    index, found, i = _index(), [], 0
    while i < len(tokens):
        entry = index.longest(tokens, i)
        if entry is None:
            i += 1
            continue
        blocked = entry.kind == "finding" and entry.term.tag is None  # a look-alike: consumed, never a finding
        mention = _Mention(i, i + len(entry.words), "blocked" if blocked else entry.kind, entry.term)
        last = found[-1] if found else None
        if last is not None and mention.kind == last.kind == "finding" and last.end == mention.start \
                and last.term.tag == mention.term.tag:
            last.end = mention.end  # "fibrotic scarring", "PICC line": one mention
        else:
            found.append(mention)
        i += len(entry.words)
    return found


# ---------------------------------------------------------------------------------- sentence parsing
@dataclass(frozen=True)
class _Assertion:
    """A tag asserted by one sentence, with where its regions came from (for report-level context)."""

    tag: str
    regions: tuple[str, ...]
    existence: str
    source: str  # explicit | side | inherited | phrase | default | context | normal | statement


@dataclass
class _Sentence:
    """One sentence's mentions. Cue scopes stay inside a segment (split at "but", "however", ";" ...); places,
    sides and statements are resolved over the whole sentence ("RML opacity, which may represent pneumonia")."""

    tokens: Sequence[str]
    start: int
    end: int
    mentions: list[_Mention]
    segments: list[tuple[int, int]] = field(default_factory=list)
    orphans: list[_Mention] = field(default_factory=list)  # located places that qualify no finding directly

    def of(self, *kinds: str) -> list[_Mention]:
        return [m for m in self.mentions if m.kind in kinds]

    def mention_starting(self, j: int) -> _Mention | None:
        return next((m for m in self.mentions if m.start == j), None)

    def mention_ending(self, j: int) -> _Mention | None:
        return next((m for m in self.mentions if m.end - 1 == j), None)

    def segment(self, j: int) -> tuple[int, int]:
        return next(((a, b) for a, b in self.segments if a <= j < b), (j, j + 1))


def _segmented(tokens: Sequence[str], mentions: list[_Mention]) -> _Sentence:
    segments, start = [], 0
    for mention in mentions:
        if mention.kind == "terminator":
            segments.append((start, mention.start))
            start = mention.end
    segments.append((start, len(tokens)))
    return _Sentence(tokens, 0, len(tokens), [m for m in mentions if m.kind != "terminator"], segments)


def _attach_sides(sentence: _Sentence) -> None:
    """A side qualifies the next region or finding within a few words; otherwise it stands alone ("on the right")."""
    bare: list[_Mention] = []
    for side in sentence.of("side"):
        following = [m for m in sentence.mentions if m.start >= side.end]
        target = following[0] if following and following[0].start - side.end <= lx.SIDE_WINDOW else None
        if target is not None and target.kind in ("region", "finding") and not target.sides:
            target.sides = side.term.sides
        else:
            bare.append(side)
    findings = sentence.of("finding")
    for side in bare:
        before = [f for f in findings if f.end <= side.start and not f.sides]
        after = [f for f in findings if f.start >= side.end and not f.sides]
        target = before[-1] if before else (after[0] if after else None)
        if target is not None:
            target.sides = side.term.sides


COORDINATION = frozenset({"and", "or", ",", "the"})


def _sides_of(regions: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.split()[0] for r in regions if r.split()[0] in lx.SIDES))


def _resolve_regions(sentence: _Sentence) -> None:
    """Region names of each region mention, and whether a preposition makes it a location or a landmark."""
    previous_region: _Mention | None = None
    for region in sentence.of("region"):
        term: lx.RegionTerm = region.term
        sides = region.sides
        if term.zones and not sides and previous_region is not None \
                and set(sentence.tokens[previous_region.end : region.start]) <= COORDINATION:
            sides = _sides_of(previous_region.regions)  # "right middle lobe and lower lobe"
        if not term.zones:
            region.regions = term.regions
        elif sides or term.when_unsided == "both":
            region.regions = tuple(f"{side} {zone}" for side in (sides or lx.SIDES) for zone in term.zones)
        previous_region = region
        head = region.start
        side_words = [m for m in sentence.of("side") if m.end <= head and head - m.end <= lx.SIDE_WINDOW]
        if region.sides and side_words:
            head = side_words[-1].start
        previous = [m for m in sentence.mentions if m.end <= head and head - m.end <= 3]
        if previous and previous[-1].kind == "reference":
            region.reference = True
        elif previous and previous[-1].kind == "locative":
            region.locative = True
            # A fronted place ("In the right lower lobe, there is ...") may qualify what follows.
            segment_start = sentence.segment(previous[-1].start)[0]
            region.fronted = all(t == "," for t in sentence.tokens[segment_start : previous[-1].start])


def _is_target(mention: _Mention) -> bool:
    return mention.kind in ("finding", "predicate")


def _forward_scope(sentence: _Sentence, cue: _Mention) -> list[tuple[_Mention, int]]:
    covered: list[tuple[_Mention, int]] = []
    tokens, j, end = sentence.tokens, cue.end, sentence.segment(cue.start)[1]
    while j < end:
        mention = sentence.mention_starting(j)
        if mention is not None:
            if mention.kind == "cue" and mention.term.effect != "pseudo":
                break
            if _is_target(mention):
                covered.append((mention, mention.start - cue.end))
            j = mention.end
            continue
        token = tokens[j]
        if covered and token in lx.SCOPE_BREAKERS:
            break
        if (covered or token == ",") and token in (",", "and") and j + 1 < end \
                and tokens[j + 1] in lx.NEW_PHRASE_STARTERS and not any(t in lx.LIST_OR for t in tokens[j + 1 : end]):
            break
        j += 1
    return covered


def _backward_scope(sentence: _Sentence, cue: _Mention) -> list[tuple[_Mention, int]]:
    covered: list[tuple[_Mention, int]] = []
    tokens, j, start = sentence.tokens, cue.start - 1, sentence.segment(cue.start)[0]
    while j >= start:
        mention = sentence.mention_ending(j)
        if mention is not None:
            if mention.kind == "cue" and mention.term.effect != "pseudo":
                break
            if mention.kind == "predicate" and mention.term.kind != "enlarge":
                break
            if _is_target(mention):
                covered.append((mention, cue.start - mention.end))
            j = mention.start - 1
            continue
        if tokens[j] == "," or (covered and tokens[j] in lx.SCOPE_BREAKERS):
            break
        j -= 1
    return covered


def _assign_existence(sentence: _Sentence) -> None:
    """Nearest covering cue wins; a tie goes to negation; "X or Y" outside a negation is uncertain (CheXpert)."""
    best: dict[int, tuple[int, int, str]] = {}
    for cue in sentence.of("cue"):
        term: lx.CueTerm = cue.term
        if term.effect == "pseudo":
            continue
        scopes = []
        if term.direction in ("forward", "both"):
            scopes += _forward_scope(sentence, cue)
        if term.direction in ("backward", "both"):
            scopes += _backward_scope(sentence, cue)
        for target, distance in scopes:
            rank = (distance, 0 if term.effect == "negate" else 1)
            if id(target) not in best or rank < best[id(target)][:2]:
                best[id(target)] = (*rank, ABSENT if term.effect == "negate" else UNCERTAIN)
    for target in sentence.mentions:
        if _is_target(target):
            target.existence = best[id(target)][2] if id(target) in best else PRESENT
            if target.kind == "predicate" and target.term.hedged and target.existence == PRESENT:
                target.existence = UNCERTAIN
    findings = sentence.of("finding")
    for left, right in zip(findings, findings[1:]):
        between = sentence.tokens[left.end : right.start]
        if any(t in ALTERNATIVES for t in between) and len(between) <= 3 \
                and not any(m.start >= left.end and m.end <= right.start for m in sentence.mentions) \
                and ABSENT not in (left.existence, right.existence):
            left.existence = right.existence = UNCERTAIN


def _subjects(sentence: _Sentence, predicate: _Mention, previous_end: int) -> list[_Mention]:
    """The regions a normal/enlarged statement is about: "normal heart size" forward, "heart is normal" backward."""
    groups = predicate.term.groups
    eligible = [r for r in sentence.of("region") if not r.reference and (not groups or r.term.group in groups)]
    after = [r for r in eligible if r.start >= predicate.end]
    if after and after[0].start - predicate.end <= 1 and "," not in sentence.tokens[predicate.end : after[0].start]:
        return [after[0]]
    before = [r for r in eligible if previous_end <= r.start and r.end <= predicate.start]
    if before:
        return before
    nearby = [r for r in after if r.start - predicate.end <= 3
              and not any(p.kind == "predicate" and predicate.end <= p.start < r.start for p in sentence.mentions)]
    return nearby[:1]


def _statements(sentence: _Sentence) -> tuple[list[_Assertion], list[str]]:
    """Tags implied by statements about regions, and the regions called normal without a tag."""
    assertions: list[_Assertion] = []
    normal_regions: list[str] = []
    previous_end = sentence.start
    for predicate in sentence.of("predicate"):
        term: lx.PredicateTerm = predicate.term
        subjects = _subjects(sentence, predicate, previous_end)
        previous_end = predicate.end
        if term.kind != "enlarge" and predicate.existence == ABSENT:
            continue  # "not normal" says nothing usable
        for region in subjects:
            if not region.regions and region.term.group != "bones":
                continue  # "the chest", "the lung" with no side: no place to assert anything of
            region.bound = True
            if term.kind != "enlarge":
                normal_regions.extend(r for r in region.regions if r in IMAGENOME_REGIONS)
            for implication in lx.GROUP_IMPLICATIONS.get((region.term.group, term.kind), ()):
                regions = implication.regions or region.regions or (UNSPECIFIED,)
                existence = predicate.existence if term.kind == "enlarge" else ABSENT
                assertions.append(_Assertion(implication.tag, regions, existence,
                                             "statement" if term.kind == "enlarge" else "normal"))
    return assertions, normal_regions


def _remap(policy: lx.TagPolicy, region: str) -> str:
    for side in lx.SIDES:
        if region.startswith(side + " "):
            zone = region[len(side) + 1 :]
            return next((f"{side} {to}" for frm, to in policy.zone_remap if frm == zone), region)
    return region


@lru_cache(maxsize=1)
def _lung_family() -> frozenset[str]:
    return lx.lung_family_regions()


def _compatible(policy: lx.TagPolicy, region: str) -> bool:
    if policy.family == "fixed":
        return False
    if policy.family == "lung":
        return region in _lung_family()
    return not policy.allowed or region in policy.allowed


def _usable(policy: lx.TagPolicy, regions: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for r in (_remap(policy, r) for r in regions) if _compatible(policy, r)))


LOCATIVE_REACH = 8   # words between a finding and "in/at/of the <region>" after it
MODIFIER_REACH = 6   # words between a region and the finding it qualifies ("right lower lobe patchy opacity")
TRAILING_REACH = 4   # words between a finding and a place after it with no preposition ("atelectasis left base")


def _interrupted(sentence: _Sentence, region: _Mention, finding: _Mention) -> bool:
    """A comma, cue or statement between a place and a later finding: the place is not that finding's modifier."""
    return "," in sentence.tokens[region.end : finding.start] or any(
        m.kind in ("cue", "predicate") and region.end <= m.start < finding.start for m in sentence.mentions)


def _attach_regions(sentence: _Sentence) -> None:
    """Each located region goes to the finding it qualifies: after "in/at/of" the finding before it, otherwise
    the next finding (unless a comma, cue or statement intervenes), else a finding just before it."""
    findings = sentence.of("finding")
    for region in sentence.of("region"):
        if region.reference or not region.regions:
            continue
        candidates = []
        segment = sentence.segment(region.start)
        for finding in findings:
            if sentence.segment(finding.start) != segment:
                continue  # a place qualifies a finding of its own segment: "RLL opacity; lungs otherwise clear"
            policy = lx.TAG_POLICIES[finding.term.tag]
            if region.bound and policy.family != "lung":
                continue
            if _usable(policy, region.regions):
                candidates.append(finding)
        before = [f for f in candidates if f.end <= region.start]
        after = [f for f in candidates if f.start >= region.end]
        chosen = None
        if region.locative:
            if before and region.start - before[-1].end <= LOCATIVE_REACH:
                chosen = before[-1]
            elif after and (region.fronted or after[0].start - region.end <= 1):
                chosen = after[0]  # "In the left base, ..." or "change in the right middle lobe opacification"
        else:
            if after and after[0].start - region.end <= MODIFIER_REACH and not _interrupted(sentence, region, after[0]):
                chosen = after[0]
            elif before and region.start - before[-1].end <= TRAILING_REACH:
                chosen = before[-1]
        if chosen is not None:
            chosen.attached.append((region.regions, region.locative))
        elif not region.bound:
            sentence.orphans.append(region)


ALTERNATIVES = ("or", "versus", "vs")


def _shares_place(sentence: _Sentence, source: _Mention, finding: _Mention) -> bool:
    """Whether ``finding`` may take ``source``'s place: an earlier finding of the sentence ("opacity in the right
    base may represent pneumonia"), or a later one close by ("atelectasis or pneumonia at the left base")."""
    if source is finding or source.existence == ABSENT:
        return False
    if source.end <= finding.start:
        return True
    between = sentence.tokens[finding.end : source.start]
    if any((m.kind in ("predicate", "finding") or (m.kind == "cue" and m.term.phrase not in ALTERNATIVES))
           and finding.end <= m.start < source.start for m in sentence.mentions):
        return False
    # a later alternative, or the noun that this finding qualifies ("calcified right upper lobe nodule")
    return len(between) <= 4 and "," not in between and ("and" not in between or "or" in between)


def _named_places(finding: _Mention, policy: lx.TagPolicy) -> tuple[str, ...]:
    attached = finding.attached
    if finding.term.tag in lx.DEVICE_TAGS and any(via for _, via in attached):
        attached = [a for a in attached if a[1]]  # where a device terminates, not what it crosses
    return _usable(policy, (r for names, _ in attached for r in names))


def _shared_places(sentence: _Sentence, finding: _Mention, policy: lx.TagPolicy, side_zone: str | None,
                   located: dict[int, tuple[str, ...]]) -> tuple[str, ...]:
    """A place another finding of the sentence gives this one, its side, or a place that qualifies no finding."""
    sources = [other for other in sentence.of("finding") if _shares_place(sentence, other, finding)]
    places = _usable(policy, (r for other in sources for r in located[id(other)]))
    if not places and side_zone:
        # "Small left pleural effusion with associated airspace disease": the side carries over
        sides = dict.fromkeys(side for other in sources for side in other.sides)
        places = _usable(policy, (f"{side} {side_zone}" for side in sides))
    if not places and policy.family == "lung":
        # "Densities in the left base compatible with scarring or atelectasis"
        places = _usable(policy, (r for region in sentence.orphans for r in region.regions))
    return places


def _finding_assertions(sentence: _Sentence) -> list[_Assertion]:
    """Where each finding lies: the places named for it, else its side, else a place it shares, else a default."""
    findings = sentence.of("finding")
    named = {id(f): _named_places(f, lx.TAG_POLICIES[f.term.tag]) for f in findings}
    # What another finding may share: the places named for it, or the place its phrase implies
    # ("the tracheostomy tube tip": the tip is where the tube is).
    located = {id(f): named[id(f)] or f.term.default_regions or () for f in findings}
    assertions = []
    for finding in findings:
        term: lx.FindingTerm = finding.term
        policy = lx.TAG_POLICIES[term.tag]
        side_zone = term.side_zone or policy.side_zone
        by_side = _usable(policy, (f"{side} {side_zone}" for side in finding.sides)) if side_zone else ()
        shared = _shared_places(sentence, finding, policy, side_zone, located) \
            if finding.existence != ABSENT and policy.family != "fixed" else ()
        if named[id(finding)]:
            regions, source = named[id(finding)], "explicit"
        elif by_side and policy.family != "fixed":
            regions, source = by_side, "side"
        elif shared:
            regions, source = shared, "inherited"
        elif term.default_regions:  # the phrase says where it lies ("endotracheal tube"): not a guess to refine
            regions, source = term.default_regions, "phrase"
        else:
            regions, source = policy.default_regions, "default"
        assertions.append(_Assertion(term.tag, regions, finding.existence, source))
    return assertions


def _parse_mentions(sentence: _Sentence) -> tuple[list[_Assertion], list[str]]:
    _attach_sides(sentence)
    _resolve_regions(sentence)
    _assign_existence(sentence)
    statements, normal_regions = _statements(sentence)
    _attach_regions(sentence)
    return _finding_assertions(sentence) + statements, normal_regions


def _analyse(text: str) -> tuple[list[_Assertion], list[str]]:
    tokens = tokenize(text)
    assertions, normal_regions = _parse_mentions(_segmented(tokens, _mentions(tokens)))
    # "Right base opacity; the lungs are otherwise clear": a normal statement never denies what the sentence asserts.
    asserted = {a.tag for a in assertions if a.existence != ABSENT}
    assertions = [a for a in assertions if not (a.source == "normal" and a.tag in asserted)]
    return assertions, list(dict.fromkeys(normal_regions))


def _triplets(assertions: Iterable[_Assertion]) -> tuple[Triplet, ...]:
    return tuple(dict.fromkeys(Triplet(r, a.tag, a.existence) for a in assertions for r in a.regions))


def parse_sentence(text: str) -> list[Triplet]:
    """The <region, finding, existence> triplets one sentence states (no report context)."""
    return list(_triplets(_analyse(text)[0]))


def _with_context(parsed: list[tuple[str, str, list[_Assertion], list[str]]]) -> tuple[ParsedSentence, ...]:
    """A finding that a sentence does not place ("Findings concerning for pneumonia.") takes the place that an
    earlier sentence of the same report gave the same finding, where its policy ``refers_back``."""
    placed: dict[str, tuple[str, ...]] = {}
    sentences = []
    for text, section, assertions, normal_regions in parsed:
        resolved = []
        for a in assertions:
            if a.source == "default" and a.existence != ABSENT and a.tag in placed \
                    and lx.TAG_POLICIES[a.tag].refers_back:
                a = _Assertion(a.tag, placed[a.tag], a.existence, "context")
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
VALUE_OF_RANK = np.array([0, -1, 1], dtype=np.int8)  # absent 0, uncertain -1, present 1


def tag_vector(triplets: Iterable[Triplet]) -> np.ndarray:
    """40 int8 over ``ASG_TAGS``: 1 present, -1 uncertain, 0 absent or not mentioned (present > uncertain > absent)."""
    rank = np.zeros(len(ASG_TAGS), dtype=np.int64)
    for triplet in triplets:
        i = TAG_INDEX[triplet.finding]
        rank[i] = max(rank[i], EXISTENCE_RANK[triplet.existence])
    return VALUE_OF_RANK[rank]


def region_sentences(parsed: ParsedReport) -> dict[str, list[int]]:
    """Boxed Chest ImaGenome region -> indices of the sentences about it (normal statements included), for ARSA."""
    aligned: dict[str, list[int]] = {}
    for index, sentence in enumerate(parsed.sentences):
        for region in sentence.regions:
            if region in IMAGENOME_REGIONS:
                aligned.setdefault(region, []).append(index)
    return {region: aligned[region] for region in IMAGENOME_REGIONS if region in aligned}


# ------------------------------------------------------------------------ scoring against labelled data
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
