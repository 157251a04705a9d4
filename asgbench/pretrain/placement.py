"""Where each finding of a sentence lies: the regions named for it, its side, a place another finding shares,
or its tag's anatomical default (``lexicon.TAG_POLICIES``)."""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from asgbench.pretrain import lexicon as lx
from asgbench.pretrain.mentions import ABSENT, ALTERNATIVES, Assertion, Mention, Sentence


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


def _interrupted(sentence: Sentence, region: Mention, finding: Mention) -> bool:
    """A comma, cue or statement between a place and a later finding: the place is not that finding's modifier."""
    return "," in sentence.tokens[region.end : finding.start] or any(
        m.kind in ("cue", "predicate") and region.end <= m.start < finding.start for m in sentence.mentions)


def attach_regions(sentence: Sentence) -> None:
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
            policy = lx.POLICIES[finding.term.tag]
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


def _shares_place(sentence: Sentence, source: Mention, finding: Mention) -> bool:
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


def _named_places(finding: Mention, policy: lx.TagPolicy) -> tuple[str, ...]:
    attached = finding.attached
    if finding.term.tag in lx.DEVICE_TAGS and any(via for _, via in attached):
        attached = [a for a in attached if a[1]]  # where a device terminates, not what it crosses
    return _usable(policy, (r for names, _ in attached for r in names))


def _shared_places(sentence: Sentence, finding: Mention, policy: lx.TagPolicy, side_zone: str | None,
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


def finding_assertions(sentence: Sentence) -> list[Assertion]:
    """Where each finding lies: the places named for it, else its side, else a place it shares, else a default."""
    findings = sentence.of("finding")
    named = {id(f): _named_places(f, lx.POLICIES[f.term.tag]) for f in findings}
    # What another finding may share: the places named for it, or the place its phrase implies
    # ("the tracheostomy tube tip": the tip is where the tube is).
    located = {id(f): named[id(f)] or f.term.default_regions or () for f in findings}
    assertions = []
    for finding in findings:
        term: lx.FindingTerm = finding.term
        policy = lx.POLICIES[term.tag]
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
        assertions.append(Assertion(term.tag, regions, finding.existence, source))
    return assertions
