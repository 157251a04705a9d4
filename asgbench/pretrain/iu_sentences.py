"""Indiana University report sentences located, not quoted: the reports are CC BY-NC-ND 4.0, so a labelled set
that we ship stores where each sentence is (report id, section, index among that section's sentences) and the
sha256 of its text, and the text is rebuilt at use time from the report archive torchxrayvision bundles
(``NLMCXR_reports.tgz``). The sha256 catches a changed archive or sentence splitter before any score is computed.
"""
from __future__ import annotations

import hashlib
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from asgbench.errors import DataLayoutError, MissingDependencyError
from asgbench.pretrain.parser_scoring import LabelledSentence, json_records, labelled_sentence
from asgbench.pretrain.report_text import split_sentences

SECTIONS = ("findings", "impression")   # read in this order, as the report writes them
LOCATOR_KEYS = ("report", "section", "index", "sha256")


@dataclass(frozen=True)
class SentenceLocator:
    """Where a sentence is: ``index`` counts the sentences ``split_sentences`` gives for that section, from 0."""

    report: str
    section: str
    index: int
    sha256: str

    def describe(self) -> str:
        return f"{self.report} {self.section} sentence {self.index}"


@dataclass(frozen=True)
class IUSentence:
    """One FINDINGS or IMPRESSION sentence of an IU report, with its place in that section."""

    report: str
    section: str
    index: int
    text: str

    def locator(self) -> SentenceLocator:
        return SentenceLocator(self.report, self.section, self.index, text_sha256(self.text))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def report_number(name: str) -> int:
    """The number in a report id or archive member name ("CXR2716", "ecgen-radiology/2716.xml" -> 2716)."""
    return int(re.sub(r"\D", "", name.rsplit("/", 1)[-1]) or 0)


def iu_archive() -> Path:
    """The bundled report archive; ``MissingDependencyError`` when torchxrayvision (or the file) is missing."""
    from asgbench.data.public_metadata import IU_REPORTS, path_of

    return path_of(IU_REPORTS)


def _section_sentences(xml: bytes) -> Iterator[IUSentence]:
    root = ET.fromstring(xml)
    report = root.find("uId").get("id")
    counts = {section: 0 for section in SECTIONS}
    for abstract in root.iter("AbstractText"):
        section = (abstract.get("Label") or "").lower()
        if section in counts and abstract.text:
            for text in split_sentences(abstract.text):
                yield IUSentence(report, section, counts[section], text)
                counts[section] += 1


def iu_sentences(archive: Path, numbers: Collection[int] | range) -> Iterator[IUSentence]:
    """FINDINGS then IMPRESSION sentences of the reports whose number is in ``numbers``, by report number."""
    with tarfile.open(archive) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".xml")
                          and report_number(m.name) in numbers), key=lambda m: report_number(m.name))
        for member in members:
            yield from _section_sentences(tar.extractfile(member).read())


def _locator(record: dict) -> SentenceLocator:
    return SentenceLocator(str(record["report"]), str(record["section"]), int(record["index"]), str(record["sha256"]))


def _texts(archive: Path, locators: list[SentenceLocator]) -> dict[tuple[str, str, int], str]:
    numbers = {report_number(locator.report) for locator in locators}
    try:
        return {(s.report, s.section, s.index): s.text for s in iu_sentences(archive, numbers)}
    except (tarfile.TarError, OSError, ET.ParseError, AttributeError) as error:  # AttributeError: an XML without uId
        raise DataLayoutError(f"{archive}: not a readable IU report archive ({error})") from error


def _rebuilt(locator: SentenceLocator, texts: dict[tuple[str, str, int], str], where: str) -> str:
    text = texts.get((locator.report, locator.section, locator.index))
    if text is None:
        raise DataLayoutError(f"{where}: {locator.describe()} is not in the IU report archive")
    if text_sha256(text) != locator.sha256:
        raise DataLayoutError(f"{where}: {locator.describe()} no longer matches its sha256 (the report archive or "
                              f"report_text.split_sentences changed; compare with benchmarks/bench_parser_real.py "
                              f"--select)")
    return text


def _checked(path: Path, number: int, record: dict) -> tuple[SentenceLocator, LabelledSentence]:
    """The locator and the labels of one record (text still empty), or an error naming the line."""
    try:
        return _locator(record), labelled_sentence(record, "")
    except (KeyError, TypeError, ValueError) as error:
        raise DataLayoutError(f"{path}:{number}: not a located, labelled sentence ({error!r})") from error


def _archive_for(path: Path, archive: Path | None) -> Path:
    try:
        archive = Path(archive) if archive is not None else iu_archive()
    except MissingDependencyError as error:
        raise MissingDependencyError(f"{path.name} stores locators, not text, and needs the IU reports: "
                                     f"{error}") from None
    if not archive.is_file():
        raise MissingDependencyError(f"{archive}: IU report archive missing; {path.name} stores locators, not text")
    return archive


def read_located_sentences(path: Path, archive: Path | None = None) -> list[LabelledSentence]:
    """Labelled sentences from a JSON-lines file of ``{"report", "section", "index", "sha256", "split",
    "triplets"}``, their text rebuilt from ``archive`` (default: the one torchxrayvision bundles)."""
    path = Path(path)
    records = [(number, *_checked(path, number, record)) for number, record in json_records(path)]
    archive = _archive_for(path, archive)
    texts = _texts(archive, [locator for _, locator, _ in records])
    return [replace(sentence, text=_rebuilt(locator, texts, f"{path}:{number}"))
            for number, locator, sentence in records]
