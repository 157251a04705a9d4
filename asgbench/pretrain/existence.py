"""One sentence's sides, region names and existence: sides attach to the next place, negation and hedge cues
scope NegEx-style inside a segment, and statements about a region ("heart size is normal") assert or deny
the tag it carries."""
from __future__ import annotations

from collections.abc import Sequence

from asgbench.pretrain import lexicon as lx
from asgbench.pretrain.mentions import ABSENT, ALTERNATIVES, PRESENT, UNCERTAIN, Assertion, Mention, Sentence
from asgbench.vocab import IMAGENOME_REGIONS, UNSPECIFIED


def attach_sides(sentence: Sentence) -> None:
    """A side qualifies the next region or finding within a few words; otherwise it stands alone ("on the right")."""
    bare: list[Mention] = []
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


def resolve_regions(sentence: Sentence) -> None:
    """Region names of each region mention, and whether a preposition makes it a location or a landmark."""
    previous_region: Mention | None = None
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


def _is_target(mention: Mention) -> bool:
    return mention.kind in ("finding", "predicate")


def _forward_scope(sentence: Sentence, cue: Mention) -> list[tuple[Mention, int]]:
    covered: list[tuple[Mention, int]] = []
    tokens, j, end = sentence.tokens, cue.end, sentence.segment(cue.start)[1]
    listing = cue.kind == "cue" and cue.term.phrase in lx.LIST_CUES  # a differential: every item is hedged
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
        if not listing and (covered or token == ",") and token in (",", "and") and j + 1 < end \
                and tokens[j + 1] in lx.NEW_PHRASE_STARTERS and not any(t in lx.LIST_OR for t in tokens[j + 1 : end]):
            break
        j += 1
    return covered


def _backward_scope(sentence: Sentence, cue: Mention) -> list[tuple[Mention, int]]:
    covered: list[tuple[Mention, int]] = []
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


def assign_existence(sentence: Sentence) -> None:
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
    _hedge_qualified_findings(sentence)
    findings = sentence.of("finding")
    for left, right in zip(findings, findings[1:]):
        between = sentence.tokens[left.end : right.start]
        if any(t in ALTERNATIVES for t in between) and len(between) <= 3 \
                and not any(m.start >= left.end and m.end <= right.start for m in sentence.mentions) \
                and ABSENT not in (left.existence, right.existence):
            left.existence = right.existence = UNCERTAIN


def _hedge_qualified_findings(sentence: Sentence) -> None:
    """A hedged statement word right before a finding hedges it ("borderline cardiomegaly")."""
    for predicate in sentence.of("predicate"):
        following = sentence.mention_starting(predicate.end)
        if predicate.term.hedged and following is not None and following.kind == "finding" \
                and following.existence == PRESENT:
            following.existence = UNCERTAIN


CHAIN_REACH = 3  # words between two items of a list ("and hilar vascular markings": "and", "vascular")
CHAIN_STOPS = frozenset(lx.SCOPE_BREAKERS + lx.NEW_PHRASE_STARTERS + lx.LOCATIVES + lx.REFERENCES
                        + ("with", "without", "no", "not", "to", "for", "by", "as", "than"))


def _joins(between: Sequence[str]) -> bool:
    """Whether the words between two mentions keep them in one list: coordinators and plain modifiers only."""
    return len(between) <= CHAIN_REACH and not any(t in CHAIN_STOPS for t in between)


def _coordinated(sentence: Sentence, first: Mention) -> list[Mention]:
    """Regions and findings joined to ``first`` by "and" / "," ("normal heart size and hilar vascular markings")."""
    chain, current = [first], first
    while True:
        following = [m for m in sentence.mentions if m.start >= current.end]
        if not following or following[0].kind not in ("region", "finding", "side"):
            return chain
        between = sentence.tokens[current.end : following[0].start]
        if not _joins(between) or sentence.segment(following[0].start) != sentence.segment(first.start):
            return chain
        current = following[0]
        chain.append(current)


def _copula_before(sentence: Sentence, predicate: Mention) -> bool:
    """"... is normal", "... are clear": the statement is about what came before it."""
    tokens = sentence.tokens
    return (predicate.start > 0 and tokens[predicate.start - 1] in lx.COPULAS) or tokens[predicate.start] in lx.COPULAS


def _denied_findings(sentence: Sentence, predicate: Mention, previous_end: int) -> list[Mention]:
    """Findings a normal statement is said of: a list it opens ("normal heart size and vascular markings") or the
    finding it follows ("interstitial markings are within normal limits")."""
    following = sentence.mention_starting(predicate.end)
    if following is not None and following.kind in ("region", "finding"):
        return [m for m in _coordinated(sentence, following) if m.kind == "finding"]
    before = [m for m in sentence.mentions if previous_end <= m.start and m.end <= predicate.start]
    if before and before[-1].kind == "finding" \
            and set(sentence.tokens[before[-1].end : predicate.start]) <= set(lx.COPULAS):
        return [before[-1]]
    return []


def _subjects(sentence: Sentence, predicate: Mention, previous_end: int) -> list[Mention]:
    """The regions a normal/enlarged statement is about: "normal heart size" forward, "heart is normal" backward
    (a copula before the statement makes it backward: "heart size is normal lungs are clear")."""
    groups = predicate.term.groups
    eligible = [r for r in sentence.of("region") if not r.reference and (not groups or r.term.group in groups)]
    after = [r for r in eligible if r.start >= predicate.end]
    before = [r for r in eligible if previous_end <= r.start and r.end <= predicate.start]
    if before and _copula_before(sentence, predicate):
        return before
    if after and after[0].start - predicate.end <= 1 and "," not in sentence.tokens[predicate.end : after[0].start]:
        return [r for r in _coordinated(sentence, after[0]) if r in eligible]
    if before:
        return before
    nearby = [r for r in after if r.start - predicate.end <= 3
              and not any(p.kind == "predicate" and predicate.end <= p.start < r.start for p in sentence.mentions)]
    return nearby[:1]


def statements(sentence: Sentence) -> tuple[list[Assertion], list[str]]:
    """Tags implied by statements about regions, and the regions called normal without a tag."""
    assertions: list[Assertion] = []
    normal_regions: list[str] = []
    previous_end = sentence.start
    for predicate in sentence.of("predicate"):
        term: lx.PredicateTerm = predicate.term
        subjects = _subjects(sentence, predicate, previous_end)
        # only a plain "normal" denies a finding: "sternotomy wires are intact" keeps its wires
        plain_normal = term.kind == "normal" and not term.groups
        denied = _denied_findings(sentence, predicate, previous_end) if plain_normal else []
        previous_end = predicate.end
        if term.kind != "enlarge" and predicate.existence == ABSENT:
            continue  # "not normal" says nothing usable
        for finding in denied:
            if finding.existence == PRESENT:
                finding.existence = ABSENT
        for region in subjects:
            if not region.regions and region.term.group not in lx.PLACELESS_GROUPS:
                continue  # "the chest", "the lung" with no side: no place to assert anything of
            region.bound = True
            if term.kind != "enlarge":
                normal_regions.extend(r for r in region.regions if r in IMAGENOME_REGIONS)
            for implication in lx.GROUP_IMPLICATIONS.get((region.term.group, term.kind), ()):
                regions = implication.regions or region.regions or (UNSPECIFIED,)
                existence = predicate.existence if term.kind == "enlarge" else ABSENT
                assertions.append(Assertion(implication.tag, regions, existence,
                                             "statement" if term.kind == "enlarge" else "normal"))
    return assertions, normal_regions
