"""The rule-based report parser: scored against synthetic report truth, hand-written real-style sentences,
and real Indiana University reports (the XMLs bundled with torchxrayvision)."""
from __future__ import annotations

import gzip
import json
import re
import tarfile
from collections import Counter
import xml.etree.ElementTree as ET
from functools import lru_cache

import numpy as np
import pytest

from asgbench.cli import main
from asgbench.data.synthetic.context import PRESETS, SynthContext
from asgbench.data.synthetic.labels import sample_findings
from asgbench.data.synthetic.reports import write_report
from asgbench.data.synthetic.truth import ImageTruth
from asgbench.data.synthetic.writers import mimic
from asgbench.errors import DataLayoutError
from asgbench.pretrain import lexicon as lx
from asgbench.pretrain.iu_sentences import SentenceLocator
from asgbench.pretrain.parser_scoring import read_truth, score_reports
from asgbench.pretrain.report_parser import (DEFAULT_HEDGED, ParsedReport, ParsedSentence, Triplet, parse_report,
                                             parse_sentence, parse_sentences, region_sentences, tag_vector)
from asgbench.pretrain.report_text import split_sentences
from asgbench.vocab import ASG_TAGS, BOXLESS_LOCATIONS, IMAGENOME_REGIONS, UNSPECIFIED

KNOWN_REGIONS = set(IMAGENOME_REGIONS) | set(BOXLESS_LOCATIONS) | {UNSPECIFIED}
BOTH_LUNGS = {"right lung", "left lung"}
BOTH_ANGLES = {"right costophrenic angle", "left costophrenic angle"}


def triplets(text: str) -> set[tuple[str, str, str]]:
    return {(t.region, t.finding, t.existence) for t in parse_sentence(text)}


def on(regions: set[str] | str, finding: str, existence: str) -> set[tuple[str, str, str]]:
    return {(r, finding, existence) for r in ({regions} if isinstance(regions, str) else regions)}


# -- lexicon --------------------------------------------------------------------------------------------
def test_lexicon_covers_every_tag_and_names_only_known_regions():
    assert set(lx.TAG_POLICIES) == set(ASG_TAGS)
    assert not set(lx.OTHER_FINDINGS) & set(ASG_TAGS)
    assert {t.tag for t in lx.FINDING_TERMS if t.tag} == set(ASG_TAGS) | set(lx.OTHER_FINDINGS)
    for term in lx.REGION_TERMS:
        names = set(term.regions) | {f"{side} {zone}" for side in lx.SIDES for zone in term.zones}
        assert names <= KNOWN_REGIONS, term
    for policy in lx.POLICIES.values():
        assert set(policy.default_regions) <= KNOWN_REGIONS, policy
        assert not policy.side_zone or {f"{s} {policy.side_zone}" for s in lx.SIDES} <= KNOWN_REGIONS, policy
    for term in lx.FINDING_TERMS:
        assert term.default_regions is None or set(term.default_regions) <= KNOWN_REGIONS, term
    for implications in lx.GROUP_IMPLICATIONS.values():
        assert all(i.tag in ASG_TAGS and set(i.regions or ()) <= KNOWN_REGIONS for i in implications)


# -- scored against synthetic truth ---------------------------------------------------------------------
def assert_scores(scores: dict) -> None:
    for element in ("triplet", "finding+existence"):
        score = scores[element]
        assert score.precision >= 0.95 and score.recall >= 0.95 and score.f1 >= 0.95, (element, score)


@pytest.fixture(scope="module")
def tiny_mimic(tmp_path_factory):
    """The tiny suite's MIMIC dataset and report truth alone (same writer, preset and seed as the session fixture
    ``tiny_suite``, so the same files), in ~2 s instead of the whole suite's ~40 s."""
    out = tmp_path_factory.mktemp("tiny-mimic")
    mimic.write(SynthContext(root=out / "mimic", dataset="mimic", preset=PRESETS["tiny"], seed=0, workers=1),
                truth_dir=out / "_truth")
    return out


def test_tiny_suite_report_truth_is_recovered(tiny_mimic):
    pairs = read_truth(tiny_mimic / "_truth" / "mimic_reports.jsonl", tiny_mimic / "mimic")
    scores, n_sentences = score_reports(pairs)
    assert len(pairs) >= 20 and n_sentences >= 100
    assert_scores(scores)


def test_prepare_records_the_hedged_policy_in_the_manifest(tiny_mimic, tmp_path):
    out = tmp_path / "annotations"
    assert main(["pretrain", "prepare", "--data-root", str(tiny_mimic / "mimic"), "--out", str(out),
                 "--no-scene-graphs", "--hedged", "positive", "--quiet"]) == 0
    assert json.loads((out / "manifest.json").read_text())["hedged"] == "positive"
    with gzip.open(out / "annotations.jsonl.gz", "rt") as handle:
        tags = [json.loads(line)["tags"] for line in handle]
    assert tags and all(-1 not in t for t in tags)  # a hedged tag is positive, no longer the -1 mark
    assert DEFAULT_HEDGED == "negative"  # what the release trains with: its losses count hedged (-1) as absent


def test_read_truth_reports_bad_files(tmp_path):
    with pytest.raises(DataLayoutError, match="missing"):
        read_truth(tmp_path / "absent.jsonl", tmp_path)
    (tmp_path / "truth.jsonl").write_text('{"report": "files/s1.txt", "sentences": []}\n')
    with pytest.raises(DataLayoutError, match="s1.txt"):
        read_truth(tmp_path / "truth.jsonl", tmp_path)
    (tmp_path / "truth.jsonl").write_text("not json\n")
    with pytest.raises(DataLayoutError, match="truth.jsonl:1"):
        read_truth(tmp_path / "truth.jsonl", tmp_path)


def test_generated_reports_are_recovered():
    """Many more reports than the tiny suite holds, written by the suite's own report writer (no images)."""
    pairs = []
    for seed in range(300):
        rng = np.random.default_rng(seed)
        view = "PA" if rng.random() < 0.55 else "AP"
        report = write_report(ImageTruth(f"s{seed}", 0, 0, view=view, findings=sample_findings(rng)), rng, view=view)
        pairs.append((report.text, [{"text": s.text, "triplets": s.triplets} for s in report.sentences]))
    scores, _ = score_reports(pairs)
    assert_scores(scores)
    assert scores["region"].f1 >= 0.97


# -- hand-written real report language ------------------------------------------------------------------
def test_negation_scopes_over_a_coordinated_list():
    assert triplets("No pleural effusion or pneumothorax.") == on(BOTH_ANGLES, "pleural effusion", "absent") \
        | on(BOTH_LUNGS, "pneumothorax", "absent")
    assert triplets("No focal consolidation, pneumothorax, or large pleural effusion.") == \
        on(BOTH_LUNGS, "consolidation", "absent") | on(BOTH_LUNGS, "pneumothorax", "absent") \
        | on(BOTH_ANGLES, "pleural effusion", "absent")
    assert triplets("The lungs are clear without evidence of focal airspace disease or effusion.") == \
        on(BOTH_LUNGS, "opacity", "absent") | on(BOTH_ANGLES, "pleural effusion", "absent")


def test_hedged_finding_takes_the_region_of_the_sentence():
    found = triplets("Right lower lobe opacity may represent pneumonia.")
    assert found == {("right lower lung zone", "opacity", "present"),
                     ("right lower lung zone", "pneumonia", "uncertain")}


def test_device_keeps_where_it_terminates():
    assert triplets("Left-sided PICC line terminates in the SVC.") == {("svc", "line", "present")}
    assert triplets("ET tube terminates 4 cm above the carina.") == {("trachea", "tube", "present")}
    assert triplets("The nasogastric tube passes into the stomach.") == {("abdomen", "tube", "present")}
    assert triplets("Right-sided chest tube in place.") == {("right lung", "tube", "present")}


def test_cardiomegaly_and_no_acute_process():
    assert triplets("Mild cardiomegaly.") == {("cardiac silhouette", "cardiomegaly", "present")}
    assert not any(t.existence == "present" for t in parse_sentence("No acute cardiopulmonary process."))
    assert parse_sentence("No acute cardiopulmonary process.") == []


@pytest.mark.parametrize("text, expected", [
    # scope ends at "but", ";" and a new sentence
    ("No pneumothorax, but there is a small left pleural effusion.",
     on(BOTH_LUNGS, "pneumothorax", "absent") | {("left costophrenic angle", "pleural effusion", "present")}),
    ("No pneumothorax; small right pleural effusion.",
     on(BOTH_LUNGS, "pneumothorax", "absent") | {("right costophrenic angle", "pleural effusion", "present")}),
    ("No focal consolidation, small left pleural effusion.",
     on(BOTH_LUNGS, "consolidation", "absent") | {("left costophrenic angle", "pleural effusion", "present")}),
    # hedges, before and after the finding; "cannot be excluded" is uncertain, not negated
    ("A small left pleural effusion cannot be excluded.",
     {("left costophrenic angle", "pleural effusion", "uncertain")}),
    ("Possible trace right pleural effusion.", {("right costophrenic angle", "pleural effusion", "uncertain")}),
    ("Findings suggestive of mild pulmonary edema.", on(BOTH_LUNGS, "edema", "uncertain")),
    ("Bibasilar opacities, likely atelectasis.",
     on({"right lower lung zone", "left lower lung zone"}, "opacity", "present")
     | on({"right lower lung zone", "left lower lung zone"}, "atelectasis", "uncertain")),
    ("Atelectasis versus pneumonia at the left base.",
     {("left lower lung zone", "atelectasis", "uncertain"), ("left lower lung zone", "pneumonia", "uncertain")}),
    ("Left basilar opacity concerning for pneumonia?",
     {("left lower lung zone", "opacity", "present"), ("left lower lung zone", "pneumonia", "uncertain")}),
    ("? Right pneumothorax.", {("right apical zone", "pneumothorax", "uncertain")}),
    ("Stable densities in the left base compatible with scarring or atelectasis.",
     {("left lower lung zone", "opacity", "present"), ("left lower lung zone", "scar", "uncertain"),
      ("left lower lung zone", "atelectasis", "uncertain")}),
    ("The heart size is borderline enlarged.", {("cardiac silhouette", "cardiomegaly", "uncertain")}),
    # negation after the finding, and pseudo-negation
    ("The previously seen right pneumothorax has resolved.", {("right apical zone", "pneumothorax", "absent")}),
    ("Pneumothorax is not seen.", on(BOTH_LUNGS, "pneumothorax", "absent")),
    ("No change in the small right upper lobe nodule.", {("right upper lung zone", "nodule", "present")}),
    # statements about a region
    ("The lungs are clear.", on(BOTH_LUNGS, "opacity", "absent")),
    ("Heart size is normal.", {("cardiac silhouette", "cardiomegaly", "absent")}),
    ("The heart is not enlarged.", {("cardiac silhouette", "cardiomegaly", "absent")}),
    ("The heart is mildly enlarged.", {("cardiac silhouette", "cardiomegaly", "present")}),
    ("Heart and mediastinum are within normal limits.",
     {("cardiac silhouette", "cardiomegaly", "absent"), ("mediastinum", "enlarged cardiomediastinum", "absent")}),
    ("The mediastinum is widened.", {("mediastinum", "enlarged cardiomediastinum", "present")}),
    ("Right lower lobe opacity; the lungs are otherwise clear.", {("right lower lung zone", "opacity", "present")}),
    ("The costophrenic angles are sharp.", on(BOTH_ANGLES, "blunt", "absent")),
    ("Bony structures are intact.", {(UNSPECIFIED, "fracture", "absent")}),
    # laterality and region synonyms
    ("Bibasilar atelectasis.", on({"right lower lung zone", "left lower lung zone"}, "atelectasis", "present")),
    ("Bilateral pleural effusions.", on(BOTH_ANGLES, "pleural effusion", "present")),
    ("Small effusion at the right base.", {("right costophrenic angle", "pleural effusion", "present")}),
    ("Blunting of the left costophrenic angle.", {("left costophrenic angle", "blunt", "present")}),
    ("Patchy opacities in both lungs.", on(BOTH_LUNGS, "opacity", "present")),
    ("Moderate left apical pneumothorax.", {("left apical zone", "pneumothorax", "present")}),
    ("Retrocardiac opacity.", {("left lower lung zone", "opacity", "present")}),
    ("Lingular atelectasis.", {("left mid lung zone", "atelectasis", "present")}),
    ("Enlarged right hilum with a right hilar mass.", {("right hilar structures", "mass", "present")}),
    ("Opacities in the right upper and lower lobes.",
     on({"right upper lung zone", "right lower lung zone"}, "opacity", "present")),
    ("Healing left clavicle fracture.", {("left clavicle", "fracture", "present")}),
    ("Compression deformity of the thoracic spine.", {("spine", "deformity", "present")}),
    ("A hiatal hernia is seen behind the heart.", {("mediastinum", "hernia", "present")}),
    ("Calcified granuloma in the right upper lobe.", {("right upper lung zone", "calcification", "present"),
                                                      ("right upper lung zone", "granuloma", "present")}),
    ("Sternotomy wires are intact.", {("mediastinum", "wire", "present")}),
    ("Dual-lead pacemaker in place.", {("right atrium", "pacemaker", "present")}),
    ("Hyperinflated lungs consistent with COPD.",
     on(BOTH_LUNGS, "hyperinflate", "present") | on(BOTH_LUNGS, "emphysema", "present")),
    ("Right middle lobe opacity which may represent consolidation or atelectasis.",
     {("right mid lung zone", "opacity", "present"), ("right mid lung zone", "consolidation", "uncertain"),
      ("right mid lung zone", "atelectasis", "uncertain")}),
    ("Small left pleural effusion with associated airspace disease.",
     {("left costophrenic angle", "pleural effusion", "present"), ("left lung", "opacity", "present")}),
    ("The tracheostomy tube tip is 5 cm above the carina.",
     {("trachea", "tube", "present"), ("trachea", "tip", "present")}),
    ("Pericardial effusion is noted.", set()),
    ("Evidence of previous granulomatous infection.", {(UNSPECIFIED, "granuloma", "present")}),
])
def test_real_style_sentences(text, expected):
    assert triplets(text) == expected


def test_sentences_are_independent_but_a_report_remembers_where_a_finding_was():
    first, second = parse_sentences("No pneumothorax. There is a small right pleural effusion.")
    assert {t.existence for t in first.triplets} == {"absent"}
    assert set(second.triplets) == {Triplet("right costophrenic angle", "pleural effusion", "present")}
    parsed = parse_sentences("Possible pneumonia in the left lower lobe. No effusion. Findings again concerning for "
                             "pneumonia.", "impression")
    assert set(parsed[2].triplets) == {Triplet("left lower lung zone", "pneumonia", "uncertain")}
    assert parsed[2].section == "impression"
    alone = parse_sentence("Findings again concerning for pneumonia.")
    assert {t.region for t in alone} == BOTH_LUNGS  # without the report: the default place


def test_every_triplet_uses_the_shared_vocabularies():
    for text in ("Right IJ line tip in the SVC.", "Left chest wall pacemaker.", "Right breast implant.",
                 "Subcutaneous emphysema in the left chest wall.", "Old right rib fractures."):
        for t in parse_sentence(text):
            assert t.region in KNOWN_REGIONS and (t.finding in ASG_TAGS or t.finding in lx.OTHER_FINDINGS)
            assert t.existence in ("present", "absent", "uncertain")


# -- sentences, sections and training targets -----------------------------------------------------------
def test_sentence_splitting_keeps_abbreviations_decimals_and_drops_list_numbers():
    text = ("Findings were discussed with Dr. Smith at 3 pm. There is a 1.5 cm nodule in the right upper lobe. "
            "1. Mild cardiomegaly. 2. Small left effusion vs. atelectasis? No pneumothorax.")
    assert split_sentences(text) == [
        "Findings were discussed with Dr. Smith at 3 pm.", "There is a 1.5 cm nodule in the right upper lobe.",
        "Mild cardiomegaly.", "Small left effusion vs. atelectasis?", "No pneumothorax."]
    assert split_sentences("1. Right lower lobe pneumonia.\n2. No effusion.") == [
        "Right lower lobe pneumonia.", "No effusion."]
    assert split_sentences("No effusion.Heart size is normal. A left- sided port.") == [
        "No effusion.", "Heart size is normal.", "A left-sided port."]  # a missing space; a hyphen broken by wrapping
    assert split_sentences(" ") == []


REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___ with cough, evaluate for pneumonia

 COMPARISON:  None.

 FINDINGS:

 The trachea is midline. Heart size is normal. There is a patchy opacity in the
 right lower lobe. No pleural effusion or pneumothorax.

 IMPRESSION:

 1. Right lower lobe pneumonia. 2. Left-sided chest wall port.
"""


def test_parse_report_reads_findings_then_impression_and_aligns_regions():
    parsed = parse_report(REPORT)
    assert [s.section for s in parsed.sentences] == ["findings"] * 4 + ["impression"] * 2
    assert parsed.sentences[0].text == "The trachea is midline." and parsed.sentences[0].triplets == ()
    assert "pneumonia" not in " ".join(s.text for s in parsed.sentences[:4])  # the indication is not parsed
    aligned = region_sentences(parsed)
    assert aligned["trachea"] == [0] and aligned["cardiac silhouette"] == [1]
    assert aligned["right lower lung zone"] == [2, 4]
    assert aligned["right costophrenic angle"] == [3] and aligned["left lung"] == [3]
    assert set(aligned) <= set(IMAGENOME_REGIONS)  # boxless places (the chest wall) are never aligned
    assert list(aligned) == [r for r in IMAGENOME_REGIONS if r in aligned]
    vector = tag_vector(parsed.triplets)
    assert vector[ASG_TAGS.index("pneumonia")] == 1 and vector[ASG_TAGS.index("pleural effusion")] == 0
    assert vector[ASG_TAGS.index("line")] == 1


def test_parse_report_without_sections_uses_the_last_paragraph():
    parsed = parse_report("Portable chest.\n\nMild cardiomegaly. No edema.")
    assert [s.text for s in parsed.sentences] == ["Mild cardiomegaly.", "No edema."]
    assert parsed.sentences[0].section == "last_paragraph"


def test_tag_vector_prefers_present_over_uncertain_over_absent():
    triplets = [
        Triplet("right lung", "opacity", "absent"), Triplet("left lung", "opacity", "present"),
        Triplet("right lung", "edema", "uncertain"), Triplet("left lung", "edema", "absent"),
        Triplet("right lung", "pneumothorax", "absent"),
    ]
    vector = tag_vector(triplets, "ignore")   # the -1 mark shows that uncertain outranked absent
    assert vector.dtype == np.int8 and vector.shape == (len(ASG_TAGS),)
    assert vector[ASG_TAGS.index("opacity")] == 1 and vector[ASG_TAGS.index("edema")] == -1
    assert vector[ASG_TAGS.index("pneumothorax")] == 0 and int(np.abs(vector).sum()) == 2
    assert tag_vector(triplets)[ASG_TAGS.index("edema")] == 0   # the default policy: hedged trains as absent
    assert not tag_vector([]).any()


def test_region_sentences_counts_normal_statements():
    hila = ("right hilar structures", "left hilar structures")
    parsed = ParsedReport((ParsedSentence("Hila are normal.", "findings", (), hila),
                           ParsedSentence("No effusion.", "findings",
                                          (Triplet("right costophrenic angle", "pleural effusion", "absent"),)),
                           ParsedSentence("Port.", "findings", (Triplet("left chest wall", "line", "present"),))))
    assert region_sentences(parsed) == {"right hilar structures": [0], "right costophrenic angle": [1],
                                        "left hilar structures": [0]}


# -- real reports: Indiana University (OpenI) XMLs bundled with torchxrayvision -----------------------------
IU_REPORTS_READ = 500
PSEUDO_NEGATION = re.compile(r"^No (significant |interval |appreciable )*change", re.IGNORECASE)


@lru_cache(maxsize=1)
def iu_sections() -> tuple[tuple[str, str, str], ...]:
    """(report id, label, text) of the FINDINGS and IMPRESSION of the first reports, by report number."""
    from asgbench.data.public_metadata import IU_REPORTS, path_of
    from asgbench.errors import MissingDependencyError

    try:
        path = path_of(IU_REPORTS)
    except MissingDependencyError as error:
        pytest.skip(str(error))
    with tarfile.open(path) as archive:
        members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".xml")),
                         key=lambda m: int(re.sub(r"\D", "", m.name.rsplit("/", 1)[-1]) or 0))
        sections = []
        for member in members[:IU_REPORTS_READ]:
            root = ET.fromstring(archive.extractfile(member).read())
            report = root.find("uId").get("id")
            for abstract in root.iter("AbstractText"):
                if abstract.get("Label") in ("FINDINGS", "IMPRESSION") and abstract.text:
                    sections.append((report, abstract.get("Label").lower(), abstract.text))
    return tuple(sections)


@lru_cache(maxsize=1)
def iu_sentences() -> tuple[ParsedSentence, ...]:
    return tuple(iu_sentences_by_place().values())


@lru_cache(maxsize=1)
def iu_sentences_by_place() -> dict[tuple[str, str, int], ParsedSentence]:
    """The parsed sentences (each in its section's context) by (report id, section, index among that section's
    sentences), counted as ``asgbench.pretrain.iu_sentences`` counts them, so a ``SentenceLocator`` finds its own."""
    by_place, counts = {}, Counter()
    for report, label, text in iu_sections():
        for sentence in parse_sentences(text, label):
            by_place[(report, label, counts[report, label])] = sentence
            counts[report, label] += 1
    return by_place


def place(locator: SentenceLocator) -> tuple[str, str, int]:
    return locator.report, locator.section, locator.index


def test_iu_negative_sentences_state_no_present_finding():
    sentences = iu_sentences()
    assert len(sentences) > 1500
    negative = [s for s in sentences if s.text.startswith("No ") and not PSEUDO_NEGATION.match(s.text)
                and not re.search(r"[(;]|\b(but|however|although)\b", s.text)]
    assert len(negative) > 300
    offending = [(s.text, s.triplets) for s in negative if any(t.existence == "present" for t in s.triplets)]
    assert offending == []
    # many deny something specific ("No pneumothorax."), the rest deny nothing nameable ("No acute disease.")
    assert sum(bool(s.triplets) for s in negative) > 0.4 * len(negative)


# Where each sentence is, not its text: the IU reports are CC BY-NC-ND 4.0, so the test stores (report id, section,
# index among that section's sentences, sha256 of the text) and rebuilds the text from the bundled archive with
# asgbench.pretrain.iu_sentences, as tests/fixtures/iu_sentences_labelled.jsonl does (see tests/fixtures/README.md).
IU_TRACHEA_MIDLINE = SentenceLocator("CXR211", "findings", 2,
                                     "c9f481bdb97a65938f88c71edbbf2853221d9440826c983e4f9f641fe92b6971")
IU_KNOWN = {
    SentenceLocator("CXR1", "findings", 0, "0e9f2c93426d9c2aabc3215c821b0faaef45e4d02a45dfdfa01d05c0b99d5885"):
        {("cardiac silhouette", "cardiomegaly", "absent"), ("mediastinum", "enlarged cardiomediastinum", "absent")},
    SentenceLocator("CXR490", "findings", 4, "51bebd5ff2efc0b00e0aa6190c899ed64c4cd139d81f4014d14e7467a8854578"):
        on(BOTH_ANGLES, "pleural effusion", "absent"),
    SentenceLocator("CXR10", "findings", 2, "1f7c71802a8ef7de4a164829a31b6ced7228543210b3224cc763c1a0740f5d7c"):
        {("right upper lung zone", "calcification", "present"), ("right upper lung zone", "granuloma", "present")},
    SentenceLocator("CXR477", "findings", 1, "a480d4563e53eaff1ff7b158a566c3ba348747ac0f90305890b9ae053ff82622"):
        on(BOTH_LUNGS, "opacity", "absent") | on(BOTH_ANGLES, "pleural effusion", "absent")
        | on(BOTH_LUNGS, "pneumothorax", "absent"),
    SentenceLocator("CXR505", "findings", 0, "9d36abad088b109cdff26fc9532897665229acd502ddfd272f0484461e87f2ee"):
        on(BOTH_LUNGS, "consolidation", "absent") | on(BOTH_LUNGS, "opacity", "absent")
        | on(BOTH_LUNGS, "pneumothorax", "absent") | on(BOTH_ANGLES, "pleural effusion", "absent"),
    SentenceLocator("CXR483", "findings", 2, "4222114ef4359d6f77ed1221b676712551442c2bd5b6329a583f2d6665c3cdcb"):
        on(BOTH_LUNGS, "consolidation", "absent") | on(BOTH_LUNGS, "pneumonia", "absent"),
    SentenceLocator("CXR504", "findings", 1, "568b29909c4a0bf94dc2a91728ec2be17237472124377e0677793aaaa10544af"):
        {("left lower lung zone", "opacity", "present"), ("left lower lung zone", "scar", "uncertain"),
         ("left lower lung zone", "atelectasis", "uncertain")},
    SentenceLocator("CXR258", "impression", 0, "5df1b5fc50675cd3f40f725c7202be8a929226a3db9b19b3d27a14db4bcb9f0d"):
        on(BOTH_LUNGS, "hyperinflate", "present") | on(BOTH_LUNGS, "opacity", "absent"),
    SentenceLocator("CXR334", "impression", 1, "fc73e2e577cc2ea163c0adddac78dbfb6e53df627afca57cc46718dc039c05d7"):
        {("left mid lung zone", "calcification", "present"), ("left mid lung zone", "granuloma", "present")},
    SentenceLocator("CXR398", "findings", 2, "09062d76542427a4c53615e89f6cc173541fc82b0e37f4c7100bdd1125f72651"):
        {("upper mediastinum", "calcification", "present"), ("upper mediastinum", "granuloma", "uncertain")},
    SentenceLocator("CXR7", "findings", 1, "14372d0871004aaffdd385566bde957f9db75ea83bf693e3916b2ca7bc52ef23"):
        on({"right lower lung zone", "left lower lung zone"}, "atelectasis", "present"),
    SentenceLocator("CXR206", "findings", 4, "cdea3663f71c4bb7b9831cbdd27f220e957615258e5dc939166340b7e948edfd"):
        {("aortic arch", "dilation", "present"), ("aortic arch", "tortuosity", "present")},
    SentenceLocator("CXR423", "findings", 3, "1cfb2b407866cef1d0f90262f88fde79192afb50fb81a6b203ac49e0ed98360f"):
        {("cardiac silhouette", "cardiomegaly", "uncertain")},
    SentenceLocator("CXR74", "findings", 1, "95e2494c8867abd19b52a76e9854e1abf69ce274b1ac44b774a2d59336d54cc7"):
        {("cardiac silhouette", "cardiomegaly", "absent")},
    SentenceLocator("CXR506", "findings", 2, "a4200d375624fcd100421a641667b7d94e2334b7412830171de0ce5f84d9d3a5"):
        {(UNSPECIFIED, "fracture", "absent")},
    IU_TRACHEA_MIDLINE: set(),
}


def iu_known_texts() -> dict[SentenceLocator, str]:
    """The text of every ``IU_KNOWN`` sentence, rebuilt from the archive and checked against its sha256."""
    from asgbench.pretrain import iu_sentences as iu

    iu_sections()   # skips the test when torchxrayvision (and so the archive) is missing
    numbers = {iu.report_number(locator.report) for locator in IU_KNOWN}
    texts = {(s.report, s.section, s.index): s.text for s in iu.iu_sentences(iu.iu_archive(), numbers)}
    rebuilt = {}
    for locator in IU_KNOWN:
        text = texts.get((locator.report, locator.section, locator.index))
        assert text is not None, f"{locator.describe()} is not in the IU report archive"
        assert iu.text_sha256(text) == locator.sha256, f"{locator.describe()} no longer matches its sha256"
        rebuilt[locator] = text
    return rebuilt


def test_iu_known_sentences_give_the_expected_triplets():
    texts = iu_known_texts()
    by_place = iu_sentences_by_place()
    missing = sorted(locator.describe() for locator in IU_KNOWN if place(locator) not in by_place)
    assert not missing, f"not among the first {IU_REPORTS_READ} IU reports: {missing}"
    for locator, expected in IU_KNOWN.items():
        sentence = by_place[place(locator)]
        assert sentence.text == texts[locator], locator.describe()   # the parsed sentence is the located one
        assert {(t.region, t.finding, t.existence) for t in sentence.triplets} == expected, locator.describe()
    assert by_place[place(IU_TRACHEA_MIDLINE)].normal_regions == ("trachea",)
