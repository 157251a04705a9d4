"""Which lexicon phrases a sentence contains (longest match first) and the structures parsing fills in:
a mention per phrase, a sentence split into cue-scope segments, and the tags a sentence asserts."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from asgbench.pretrain import lexicon as lx
from asgbench.pretrain.report_text import tokenize_pattern
from asgbench.vocab import EXISTENCE

PRESENT, ABSENT, UNCERTAIN = EXISTENCE
ALTERNATIVES = ("or", "versus", "vs")   # "X or Y": alternatives, each uncertain


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


@dataclass
class Mention:
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


def find_mentions(tokens: Sequence[str]) -> list[Mention]:
    index, found, i = _index(), [], 0
    while i < len(tokens):
        entry = index.longest(tokens, i)
        if entry is None:
            i += 1
            continue
        blocked = entry.kind == "finding" and entry.term.tag is None  # a look-alike: consumed, never a finding
        mention = Mention(i, i + len(entry.words), "blocked" if blocked else entry.kind, entry.term)
        last = found[-1] if found else None
        if last is not None and mention.kind == last.kind == "finding" and last.end == mention.start \
                and last.term.tag == mention.term.tag:
            last.end = mention.end  # "fibrotic scarring", "PICC line": one mention
        else:
            found.append(mention)
        i += len(entry.words)
    return found


@dataclass(frozen=True)
class Assertion:
    """A tag asserted by one sentence, with where its regions came from (for report-level context)."""

    tag: str
    regions: tuple[str, ...]
    existence: str
    source: str  # explicit | side | inherited | phrase | default | context | normal | statement


@dataclass
class Sentence:
    """One sentence's mentions. Cue scopes stay inside a segment (split at "but", "however", ";" ...); places,
    sides and statements are resolved over the whole sentence ("RML opacity, which may represent pneumonia")."""

    tokens: Sequence[str]
    start: int
    end: int
    mentions: list[Mention]
    segments: list[tuple[int, int]] = field(default_factory=list)
    orphans: list[Mention] = field(default_factory=list)  # located places that qualify no finding directly

    def of(self, *kinds: str) -> list[Mention]:
        return [m for m in self.mentions if m.kind in kinds]

    def mention_starting(self, j: int) -> Mention | None:
        return next((m for m in self.mentions if m.start == j), None)

    def mention_ending(self, j: int) -> Mention | None:
        return next((m for m in self.mentions if m.end - 1 == j), None)

    def segment(self, j: int) -> tuple[int, int]:
        return next(((a, b) for a, b in self.segments if a <= j < b), (j, j + 1))


def segmented(tokens: Sequence[str], mentions: list[Mention]) -> Sentence:
    segments, start = [], 0
    for mention in mentions:
        if mention.kind == "terminator":
            segments.append((start, mention.start))
            start = mention.end
    segments.append((start, len(tokens)))
    return Sentence(tokens, 0, len(tokens), [m for m in mentions if m.kind != "terminator"], segments)
