"""Report text as the parser reads it: sentences (list numbers, wrapped hyphens and abbreviations handled)
and lower-case word tokens; the lexicon's phrases are tokenised the same way so that they match."""
from __future__ import annotations

import re

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


TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?|[?;,:()]")
CONTRACTIONS = (("can't", "cannot"), ("won't", "will not"), ("n't", " not"))


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens; hyphens and slashes split words; ? ; , : ( ) are tokens of their own."""
    text = text.lower().replace("\u2019", "'")
    for short, long in CONTRACTIONS:
        text = text.replace(short, long)
    return TOKEN.findall(text)


def tokenize_pattern(phrase: str) -> list[str]:
    """A lexicon phrase as tokens, keeping a trailing ``*`` on its last word."""
    star = phrase.endswith("*")
    words = tokenize(phrase.rstrip("*"))
    if star:
        words[-1] += "*"
    return words
