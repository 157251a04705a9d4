"""MIMIC-CXR report sectioning, as the MIT-LCP / MGCA section parser reads the free-text files.

A header is a line that starts with exactly one space, then an upper-case name (letters, spaces and
``()/,-``), a colon and whitespace. Section names are normalised so that the many variants radiologists
use ("FINDINGS AND IMPRESSION", "CONCLUSION", misspellings) map onto findings / impression.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

HEADER = re.compile(r"\n ([A-Z][A-Z ()/,\-]*):\s")
# Variants seen in MIMIC reports, mapped to canonical names (subset of the MGCA/LCP normalisation table).
SECTION_SYNONYMS = {
    "impression": "impression",
    "impresson": "impression",
    "impressions": "impression",
    "conclusion": "impression",
    "conclusions": "impression",
    "summary": "impression",
    "findings and impression": "impression",
    "findings/impression": "impression",
    "impression and findings": "impression",
    "findings": "findings",
    "findngs": "findings",
    "finding": "findings",
    "findings and interpretation": "findings",
    "comparison": "comparison",
    "comparisons": "comparison",
    "indication": "indication",
    "history": "indication",
    "clinical history": "indication",
    "reason for exam": "indication",
    "technique": "technique",
    "examination": "examination",
    "exam": "examination",
    "wet read": "wet read",
    "addendum": "addendum",
}
FINDINGS_LIKE_WORDS = ("chest", "pa and lateral", "portable", "ap ", "frontal", "single view")


@dataclass(frozen=True)
class Sections:
    """Canonical sections of one report; each keeps the *last* occurrence, as MGCA does."""

    sections: dict[str, str]
    last_paragraph: str

    @property
    def findings(self) -> str:
        return self.sections.get("findings", "")

    @property
    def impression(self) -> str:
        return self.sections.get("impression", "")

    def has_findings_or_impression(self) -> bool:
        return bool(self.findings.strip() or self.impression.strip())


def normalise_section_name(name: str) -> str:
    key = " ".join(name.lower().split())
    if key in SECTION_SYNONYMS:
        return SECTION_SYNONYMS[key]
    if any(word in key + " " for word in FINDINGS_LIKE_WORDS):
        return "findings"
    return key


def section_report(text: str) -> Sections:
    """Split a MIMIC report into canonical sections (headers must keep their leading space)."""
    text = "\n" + text.replace("\r\n", "\n")
    matches = list(HEADER.finditer(text))
    sections: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = " ".join(text[match.end() : end].split())
        sections[normalise_section_name(match.group(1))] = body
    last_body = text[matches[-1].end() :] if matches else text
    paragraphs = [p for p in re.split(r"\n\s*\n", last_body) if p.strip()]
    last_paragraph = " ".join(paragraphs[-1].split()) if paragraphs else ""
    return Sections(sections=sections, last_paragraph=last_paragraph)
