"""Word lists of the rule-based report parser: regions, findings, sides, cues and predicates.

Data, not code: the parser (``report_parser``) matches these phrases longest-first over lower-cased word
tokens (hyphens and slashes split words, so "left-sided" is "left sided"). A phrase is space-separated
words; a final ``*`` makes its last word a prefix ("atelecta*" matches atelectasis and atelectatic).
Region names are Chest ImaGenome's (``asgbench.vocab``); findings are ASG's 40 tags or, for what reports name
that no tag covers (granuloma, low lung volumes, degenerative change ...), a plain name from ``OTHER_FINDINGS``:
those become triplets and align sentences to regions, but are no tag targets (``report_parser.tag_vector``).
The few conventions that are choices rather than anatomy are marked where they are made.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asgbench.vocab import UNSPECIFIED

SIDES = ("right", "left")
BOTH_LUNGS = ("right lung", "left lung")
BOTH_ANGLES = ("right costophrenic angle", "left costophrenic angle")


# --------------------------------------------------------------------------------------------- terms
@dataclass(frozen=True)
class FindingTerm:
    """A phrase naming one of the 40 tags or an ``OTHER_FINDINGS`` name; ``tag=None`` blocks a look-alike
    ("pericardial effusion").

    ``default_regions`` overrides the tag's default for this phrase (an endotracheal tube lies in the
    trachea); ``side_zone`` says where "left <phrase>" lies when no region is named ("lung" for a chest tube).
    """

    phrase: str
    tag: str | None
    default_regions: tuple[str, ...] | None = None
    side_zone: str | None = None


@dataclass(frozen=True)
class RegionTerm:
    """A phrase naming a place in the chest.

    Sided terms give ``zones`` ("lower lung zone"): a preceding side word makes "right lower lung zone";
    without one, ``when_unsided="both"`` (plurals: "bases", "lungs") gives both sides and ``"none"`` gives
    nothing. Unsided terms give ``regions`` directly (possibly empty: "osseous structures" is a place a
    normal statement can be about, but has no box). ``group`` tells which normal/enlarged statements apply.
    """

    phrase: str
    zones: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    when_unsided: Literal["both", "none"] = "none"
    group: str = "other"


@dataclass(frozen=True)
class SideTerm:
    phrase: str
    sides: tuple[str, ...]


CueEffect = Literal["negate", "hedge", "pseudo"]
CueDirection = Literal["forward", "backward", "both"]


@dataclass(frozen=True)
class CueTerm:
    """A negation or hedge trigger (NegEx style) with the direction its scope runs.

    ``pseudo`` cues look like triggers but are not ("no change", "to suggest"): they are consumed so that
    the shorter trigger inside them never fires, and they scope over nothing.
    """

    phrase: str
    effect: CueEffect
    direction: CueDirection


PredicateKind = Literal["normal", "enlarge", "position"]


@dataclass(frozen=True)
class PredicateTerm:
    """A statement about a region rather than a finding: "normal", "clear", "enlarged", "midline".

    Which tags it implies depends on the region it is said of (``GROUP_IMPLICATIONS``). ``groups`` limits
    the regions it can be said of (empty = any); ``hedged`` marks phrases that are uncertain by themselves
    ("borderline enlarged", "top normal").
    """

    phrase: str
    kind: PredicateKind
    groups: tuple[str, ...] = ()
    hedged: bool = False


@dataclass(frozen=True)
class Implication:
    """A tag that a statement about a region group asserts; ``regions=None`` means the regions mentioned."""

    tag: str
    regions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TagPolicy:
    """Where a tag may lie and where it lies when the sentence does not say.

    ``family`` is "lung" (lung zones, hila, apices, costophrenic angles, hemidiaphragms), "any", or
    "fixed" (always ``default_regions``, whatever region the sentence names). ``allowed`` narrows "any".
    ``zone_remap`` moves a sided lung region to the part of the side where the tag lives (an effusion
    "at the right base" is in the right costophrenic angle). ``refers_back``: an unplaced mention takes the
    place an earlier sentence of the report gave the tag (true of lung findings; a second "calcification"
    is as likely to be somewhere else).
    """

    tag: str
    family: Literal["lung", "any", "fixed"]
    default_regions: tuple[str, ...] = (UNSPECIFIED,)
    side_zone: str | None = None
    zone_remap: tuple[tuple[str, str], ...] = ()
    allowed: tuple[str, ...] = ()
    refers_back: bool = False


# ------------------------------------------------------------------------------------------ findings
def _terms(tag: str | None, *phrases: str, default_regions: tuple[str, ...] | None = None,
           side_zone: str | None = None) -> tuple[FindingTerm, ...]:
    return tuple(FindingTerm(p, tag, default_regions, side_zone) for p in phrases)


TRACHEA = ("trachea",)
ABDOMEN = ("abdomen",)
MEDIASTINUM = ("mediastinum",)

SPINE = ("spine",)
AORTA = ("aortic arch",)

# Findings outside the 40 tags, by plain name. They become triplets (and align sentences to regions for ARSA)
# but never tag targets: the tag decoder and its losses stay on ``ASG_TAGS``.
OTHER_FINDING_TERMS: tuple[FindingTerm, ...] = (
    *_terms("granuloma", "granuloma*", "granulomata", "granulomatous disease", "granulomatous process*",
            "granulomatous infection*", "granulomatous change*", "granulomatous exposure"),
    *_terms("low lung volumes", "low lung volume*", "low volume*", "low inspiratory volume*", "hypoinflat*",
            "hypoexpan*", "decreased lung volume*", "reduced lung volume*", "diminished lung volume*",
            "lung volumes are low", "lung volumes are reduced", "lung volumes are decreased", "poor inspiration",
            "shallow inspiration", "poor inspiratory effort"),
    *_terms("degenerative change", "degenerative*", "spondylos*", "spondylitic change*", "osteophyt*",
            "spurring", "arthritic change*", "arthropath*", "osteoarthritis", "arthritis", "dish"),
    *_terms("scoliosis", "scolio*", "levoscolio*", "dextroscolio*", default_regions=SPINE),
    *_terms("kyphosis", "kyphos*", "kyphotic", "increased kyphosis", default_regions=SPINE),
    *_terms("tortuosity", "tortuous*", "tortuosity", "torturous", "unfolding", "unfolded", "ectatic aorta",
            default_regions=AORTA),
    *_terms("adenopathy", "adenopathy", "lymphadenopathy", "lymph node enlargement", "enlarged lymph node*",
            "enlarged node*", "nodal enlargement"),
    *_terms("elevation", "elevation", "elevated", "eventration"),
    *_terms("nipple shadow", "nipple shadow*"),
    *_terms("foreign body", "foreign bod*", "fragment*", "shrapnel", "bullet*", "buckshot"),
    *_terms("metastasis", "metasta*"),
    *_terms("malignancy", "malignan*", "neoplas*", "carcinoma*", "cancer*", "tumor*", "tumour*"),
    *_terms("postoperative change", "postoperative change*", "post operative change*", "postsurgical change*",
            "post surgical change*", "postop change*", "post procedural", "postprocedural", "sternotomy",
            "thoracotomy", "mastectomy", "lobectomy", "pneumonectomy", "cabg", "coronary artery bypass*",
            "bypass graft*"),
    *_terms("dislocation", "dislocat*"),
    *_terms("pulmonary artery enlargement", "enlarged pulmonary arter*", "enlargement of the pulmonary arter*",
            "pulmonary arterial enlargement", "pulmonary artery enlargement", "pulmonary arterial hypertension",
            "pulmonary hypertension", "prominent pulmonary arter*"),
    *_terms("subcutaneous emphysema", "subcutaneous emphysema", "subcutaneous air", "soft tissue emphysema"),
    *_terms("pneumoperitoneum", "pneumoperitoneum", "free air", "free intraperitoneal air", "free subdiaphragmatic air",
            default_regions=ABDOMEN),
    *_terms("cavitation", "cavitat*", "cavity", "cavities"),
    *_terms("bronchiolitis", "bronchiolitis", "bronchitis", "airway disease", "airways disease",
            "reactive airway disease"),
    *_terms("peribronchial cuffing", "peribronchial cuffing", "peribronchial thickening", "bronchial wall thickening",
            "bronchial thickening"),
    *_terms("interstitial lung disease", "interstitial lung disease", "interstitial disease"),
    *_terms("bronchiectasis", "bronchiectas*"),
)

FINDING_TERMS: tuple[FindingTerm, ...] = (
    *_terms("pleural effusion", "pleural effusion*", "effusion*", "pleural fluid", "pleural fluid collection*",
            "hydrothorax", "loculated fluid"),
    *_terms("opacity", "opacit*", "opacif*", "airspace disease", "air space disease", "airspace process",
            "air space process", "increased density", "increased densities", "ground glass",
            # Convention: a bare "density" in a chest report is an opacity ("retrocardiac density").
            "density", "densities"),
    *_terms("pneumothorax", "pneumothora*", "hydropneumothora*", "hemopneumothora*", "ptx", "pleural air",
            "pleural air collection*"),
    *_terms("edema", "edema*", "oedema", "edematous", "chf", "congestive heart failure", "heart failure",
            "fluid overload", "volume overload"),
    *_terms("atelectasis", "atelecta*"),
    *_terms("tube", "tube", "tubes", "tubing", "drain", "drains"),
    *_terms("tube", "endotracheal tube*", "endotracheal", "et tube*", "ett", "tracheostomy tube*", "tracheostomy",
            "trach tube*", "tracheal tube*", default_regions=TRACHEA),
    *_terms("tube", "nasogastric tube*", "nasogastric", "ng tube*", "orogastric tube*", "orogastric", "og tube*",
            "enteric tube*", "feeding tube*", "dobhoff*", "dobbhoff*", "gastric tube*", "nasoenteric tube*",
            "nasojejunal tube*", "gastrostomy tube*", default_regions=ABDOMEN),
    *_terms("tube", "chest tube*", "thoracostomy tube*", "pleural drain", "pleural drains", "pleural tube*",
            "pleural catheter*", "pleural drainage catheter*", "pleural drainage tube*", "pigtail catheter*",
            "pigtail drain", "pigtail drains", "chest drain", "chest drains", side_zone="lung"),
    *_terms("consolidation", "consolidat*"),
    *_terms("enlarged cardiomediastinum", "enlarged cardiomediastinum", "widened mediastinum", "mediastinal widening",
            "mediastinal enlargement", "enlarged mediastinum", "widening of the mediastinum",
            "enlargement of the cardiomediastinal silhouette"),
    *_terms("tip", "tip", "tips"),
    *_terms("pneumonia", "pneumonia*", "bronchopneumonia", "pneumonitis", "infection*", "infectious process*",
            "infectious", "infective process*"),
    *_terms("line", "line", "lines", "picc*", "picc line*", "central line*", "central venous line*",
            "central venous catheter*",
            "venous catheter*", "cvc", "catheter*", "port", "ports", "portacath", "port a cath", "mediport",
            "power port", "ij line*", "ij catheter*", "subclavian line*", "swan ganz*", "hickman*",
            "dialysis catheter*", "introducer sheath"),
    *_terms("cardiomegaly", "cardiomegaly", "enlarged heart", "cardiac enlargement", "heart enlargement",
            "enlarged cardiac silhouette", "enlargement of the cardiac silhouette", "enlargement of the heart",
            "large heart"),
    # Convention: a statement about bony abnormality in general is about fracture (CheXpert's reading).
    *_terms("fracture", "fractur*", "fx", "osseous abnormalit*", "bony abnormalit*", "bone abnormalit*",
            "skeletal abnormalit*", "osseous process", "bony process", "osseous finding*", "bony finding*",
            "osseous lesion*", "bony lesion*"),
    *_terms("calcification", "calcif*"),
    *_terms("device", "device*", "support device*", "monitoring device*", "support apparatus", "clip", "clips",
            "surgical clip*", "vascular clip*", "stimulator*", "neurostimulator*", "prosthe*", "valve replacement*",
            "prosthetic valve*", "valve prosthes*", "loop recorder*"),
    *_terms("engorgement", "engorge*", "vascular congestion", "pulmonary vascular congestion", "congestion",
            "vascular prominence", "pulmonary vascular prominence", "prominent pulmonary vasculature",
            "prominent vasculature", "prominence of the pulmonary vasculature", "cephalization",
            "pulmonary venous hypertension", "venous congestion"),
    *_terms("nodule", "nodul*", "nodular opacit*", "nodular densit*"),
    *_terms("wire", "wire*", "cerclage*"),
    # De-identification masks the word after "sternotomy" in IU reports: "sternotomy XXXX" are its wires.
    *_terms("wire", "sternotomy wire*", "sternal wire*", "median sternotomy wire*", "sternotomy xxxx",
            "sternal suture*", "sternotomy suture*", default_regions=MEDIASTINUM),
    *_terms("pacemaker", "pacemaker*", "pacer*", "aicd", "icd", "defibrillator*", "pacemaker device*",
            "pacing device*", "pacemaker lead*", "pacer lead*", "pacemaker wire*", "pacer wire*",
            "pacing wire*", "cardiac pacer*", "cardiac pacemaker*", "pacemaker generator*", "pacer generator*",
            "defibrillator device*", "defibrillator lead*", "cardiac pacing device*"),
    *_terms("pleural thicken", "pleural thicken*", "thickened pleura", "pleural based thicken*",
            "apical cap*"),
    *_terms("marking", "marking*", "kerley b line*", "kerley line*", "b line", "b lines", "septal line*",
            "interstitial change*", "interstitial lung change*", "interstitial pattern", "interstitial prominence",
            "reticular pattern", "reticulonodular pattern"),
    *_terms("scar", "scar", "scars", "scarring", "scarred", "fibrosis", "fibrotic", "pleuroparenchymal scar*",
            "pleural parenchymal scar*"),
    *_terms("hyperinflate", "hyperinflat*", "hyperexpan*", "overinflat*", "over inflat*", "hyperaerat*",
            "over expanded", "overexpan*"),
    *_terms("blunt", "blunt*"),
    *_terms("collapse", "collaps*"),
    *_terms("emphysema", "emphysem*", "copd", "chronic obstructive pulmonary disease", "obstructive lung disease",
            "obstructive pulmonary disease", "obstructive airway disease", "obstructive airways disease"),
    # Aeration is a finding only when it is poor; "well aerated", "improved aeration" are blocked below.
    *_terms("aerate", "hypoaerat*", "poorly aerated", "poor aeration", "decreased aeration", "diminished aeration",
            "reduced aeration", "underaerat*", "under aerated", "less well aerated"),
    *_terms("mass", "mass", "masses", "mass lesion*", "masslike", "mass like"),
    *_terms("enlarged cardiomediastinum", "mediastinal prominence", "prominent mediastinum",
            "prominence of the mediastinum"),
    *_terms("infiltration", "infiltrat*"),
    *_terms("obscure", "obscur*"),
    *_terms("deformity", "deformit*", "deformed"),
    *_terms("hernia", "hernia*"),
    *_terms("drainage", "drainage*", "drainage catheter*", "drainage tube*"),
    *_terms("distention", "distention", "distension", "distend*"),
    *_terms("shift", "shift*"),
    *_terms("stent", "stent*"),
    *_terms("lesion", "lesion*"),
    *_terms("hardware", "hardware", "screw", "screws", "fixation", "fusion hardware", "fixation hardware"),
    *_terms("dilation", "dilat*"),
    *_terms("aspiration", "aspirat*"),
    # Look-alikes that must not count (CheXpert's "unmention" idea).
    *_terms(None, "pericardial effusion*", "joint effusion*", "cystic fibrosis", "pleural line",
            "visceral pleural line", "in line", "plate like", "skin fold*", "aerat*", "bone density", "bony density",
            "bone mineral density"),
    *OTHER_FINDING_TERMS,
)

# ------------------------------------------------------------------------------------------- regions
LUNG_FAMILY_ZONES = ("lung", "upper lung zone", "mid lung zone", "lower lung zone", "apical zone", "hilar structures",
                     "costophrenic angle", "hemidiaphragm")


def _sided(zone: str | tuple[str, ...], *phrases: str, plural: tuple[str, ...] = (),
           group: str = "lungs") -> tuple[RegionTerm, ...]:
    zones = (zone,) if isinstance(zone, str) else zone
    return (tuple(RegionTerm(p, zones=zones, group=group) for p in phrases)
            + tuple(RegionTerm(p, zones=zones, when_unsided="both", group=group) for p in plural))


def _fixed(regions: tuple[str, ...], *phrases: str, group: str = "other") -> tuple[RegionTerm, ...]:
    return tuple(RegionTerm(p, regions=regions, group=group) for p in phrases)


REGION_TERMS: tuple[RegionTerm, ...] = (
    *_sided("lung", "lung", "hemithorax", "lung field", "lung parenchyma",
            plural=("lungs", "hemithoraces", "lung fields", "both lungs")),
    *_sided("upper lung zone", "upper lobe", "upper lung", "upper lung zone", "upper zone", "upper lung field",
            "upper hemithorax", plural=("upper lobes", "upper lungs", "upper lung zones", "upper zones")),
    *_sided("mid lung zone", "mid lung", "midlung", "mid lung zone", "mid zone", "middle lung", "middle lung zone",
            "mid lung field", "mid hemithorax", "perihilar", "perihilar region", "perihilar area",
            plural=("mid lungs", "midlungs", "mid lung zones", "mid zones")),
    *_sided("lower lung zone", "lower lobe", "lower lung", "lower lung zone", "lower zone", "lung base", "base",
            "lower hemithorax", "lower lung field", "infrahilar", "infrahilar region",
            plural=("lower lobes", "lower lungs", "lower lung zones", "lung bases", "bases", "basilar", "basal",
                    "bibasilar", "bibasal", "bibasally", "bibasilar regions")),
    # Coordinated zones ("right upper and lower lobes").
    *_sided(("upper lung zone", "lower lung zone"), "upper and lower lobe", "upper and lower lung",
            plural=("upper and lower lobes", "upper and lower lungs", "upper and lower lung zones")),
    *_sided(("upper lung zone", "mid lung zone"), "upper and mid lung", "upper and middle lobe",
            plural=("upper and mid lungs", "upper and middle lobes", "upper and mid lung zones")),
    *_sided(("mid lung zone", "lower lung zone"), "mid and lower lung", "middle and lower lobe",
            plural=("mid and lower lungs", "middle and lower lobes", "mid and lower lung zones")),
    *_sided("apical zone", "apex", "apical", "apical zone", "apical region", "lung apex",
            plural=("apices", "lung apices", "biapical", "apical zones")),
    *_sided("costophrenic angle", "costophrenic angle", "costophrenic", "costophrenic sulcus", "costophrenic recess",
            "cp angle", "lateral costophrenic angle", "posterior costophrenic angle",
            plural=("costophrenic angles", "costophrenic sulci", "cp angles", "costophrenic recesses"),
            group="costophrenic"),
    *_sided("costophrenic angle", "pleural space", "pleural surface", plural=("pleural spaces", "pleural surfaces"),
            group="pleura"),
    *_sided("hemidiaphragm", "hemidiaphragm", "diaphragm", "diaphragmatic",
            plural=("hemidiaphragms", "diaphragms"), group="diaphragm"),
    *_sided("hilar structures", "hilum", "hilus", "hilar", "hilar region", "hilar structures", "hilar area",
            plural=("hila", "hilar regions", "bihilar", "hilar contours"), group="hila"),
    *_sided("clavicle", "clavicle", "clavicular", plural=("clavicles",), group="bones"),
    *_sided("chest wall", "chest wall", "chest wall soft tissues", plural=("chest walls",)),
    *_sided("shoulder", "shoulder", "glenohumeral joint", plural=("shoulders",)),
    *_sided("arm", "arm", "upper extremity", "humerus", plural=("arms",)),
    *_sided("breast", "breast", plural=("breasts",)),
    # Inherently sided parts of a lung.
    *_fixed(("left mid lung zone",), "lingula", "lingular", "lingular segment", group="lungs"),
    *_fixed(("right mid lung zone",), "middle lobe", "right middle lobe", group="lungs"),
    *_fixed(("left lower lung zone",), "retrocardiac", "retrocardiac region", "retrocardiac area",
            "retrocardiac space", group="lungs"),
    # Midline structures.
    *_fixed(("trachea",), "trachea", "tracheal", group="trachea"),
    *_fixed(("carina",), "carina", "carinal"),
    *_fixed(("spine",), "spine", "thoracic spine", "spinal", "vertebra", "vertebrae", "vertebral",
            "vertebral body", "vertebral bodies", "thoracic vertebrae", "t spine", group="bones"),
    *_fixed(("aortic arch",), "aortic arch", "aortic knob", "aortic knuckle", "aorta", "aortic", "arch"),
    *_fixed(("mediastinum",), "mediastinum", "mediastinal", "mediastinal contour*", "mediastinal silhouette",
            "mediastinal structures", "mediastinal width", group="mediastinum"),
    *_fixed(("upper mediastinum",), "upper mediastinum", "superior mediastinum", "upper mediastinal",
            "superior mediastinal", "paratracheal", "paratracheal region", group="mediastinum"),
    *_fixed(("svc",), "svc", "superior vena cava", "vena cava", "superior cavoatrial junction"),
    *_fixed(("cavoatrial junction",), "cavoatrial junction", "cavo atrial junction", "atriocaval junction",
            "caval atrial junction", "cavoatrial", "svc ra junction", "svc right atrial junction",
            "junction of the svc and right atrium", "svc right atrium junction"),
    *_fixed(("right atrium",), "right atrium", "right atrial", "ra"),
    *_fixed(("cardiac silhouette",), "heart", "heart size", "cardiac", "cardiac silhouette", "cardiac size",
            "cardiac contour*", "cardiac shadow", "heart shadow", "cardiac silhouette size", "cardiac outline",
            "heart contour*", "cardiopericardial silhouette", group="heart"),
    *_fixed(("cardiac silhouette", "mediastinum"), "cardiomediastinal", "cardiomediastinal silhouette",
            "cardiomediastinal contour*", "cardiomediastinum", "cardiomediastinal size", "cardiomediastinal width",
            "cardio mediastinal", "cardio mediastinal silhouette", "cardio mediastinal contour*",
            "heart and mediastinum", group="cardiomediastinal"),
    *_fixed(("abdomen",), "abdomen", "upper abdomen", "stomach", "gastric", "subdiaphragmatic", "bowel",
            "gastric bubble", "duodenum"),
    *_fixed(("neck",), "neck", "lower neck", "soft tissues of the neck"),
    *_fixed((), "pulmonary vascularity", "pulmonary vasculature", "lung vascularity", "lung vasculature",
            "vascularity", "vasculature", "pulmonary vessels", "pulmonary vascular pattern", group="vessels"),
    *_fixed((), "osseous structures", "bony structures", "osseous", "bones", "bony thorax", "skeletal structures",
            "bony", "bone", "ribs", "osseous thorax", group="bones"),
)

SIDE_TERMS: tuple[SideTerm, ...] = (
    SideTerm("right", ("right",)), SideTerm("left", ("left",)),
    SideTerm("right sided", ("right",)), SideTerm("left sided", ("left",)),
    SideTerm("bilateral", SIDES), SideTerm("bilaterally", SIDES), SideTerm("both", SIDES),
    SideTerm("right and left", SIDES), SideTerm("left and right", SIDES), SideTerm("both sides", SIDES),
)

# ---------------------------------------------------------------------------------------------- cues
def _cues(effect: CueEffect, direction: CueDirection, *phrases: str) -> tuple[CueTerm, ...]:
    return tuple(CueTerm(p, effect, direction) for p in phrases)


CUE_TERMS: tuple[CueTerm, ...] = (
    # Negation before the finding (NegEx PREN, NegBio, CheXpert).
    *_cues("negate", "forward", "no", "not", "without", "negative for", "free of", "clear of", "no evidence of",
           "no evidence for", "no radiographic evidence of", "no signs of", "no sign of", "absence of",
           "resolution of", "interval resolution of", "rather than", "no longer", "removal of", "none", "nor",
           "neither", "never", "without evidence of", "no findings of", "no definite", "no obvious",
           "no focus of", "no area of", "no areas of", "no development of", "cannot see",
           "fails to reveal", "no typical findings of", "no visible", "no convincing"),
    # Negation after the finding ("X is not seen", "X has resolved").
    *_cues("negate", "backward", "not seen", "is not seen", "are not seen", "not identified", "not visualized",
           "not demonstrated",
           "not appreciated", "not present", "not evident", "not visible", "not detected", "no longer seen",
           "no longer visualized", "no longer visible", "no longer present", "is absent", "are absent",
           "has resolved", "have resolved", "has cleared", "have cleared", "cleared", "has been removed",
           "have been removed", "ruled out", "unlikely", "not noted", "is gone", "are gone"),
    *_cues("negate", "both", "resolved", "removed", "resolving", "absent"),
    # Uncertainty before the finding (CheXpert pre-negation uncertainty comes first: "cannot exclude").
    *_cues("hedge", "forward", "possible", "possibly", "probable", "probably", "likely", "most likely", "less likely",
           "may", "might", "could", "may represent", "may reflect", "may be", "could represent", "could be",
           "might represent", "suggestive of", "suggesting", "suggests", "suggest", "suggestion of",
           "concerning for", "concern for", "worrisome for", "suspicious for", "suspicion for", "suspicion of",
           "suspect", "suspected", "questionable", "question of", "questioned", "differential",
           "differential diagnosis", "cannot exclude", "can not exclude", "cannot rule out", "can not rule out",
           "not exclude", "rule out", "r o", "evaluate for", "assess for", "presumed", "presumably", "equivocal",
           "borderline", "maybe", "favor", "favored", "consider", "raising the question of", "raises the question of",
           "raise the possibility of", "possibility of", "no new", "indeterminate", "uncertain", "not excluded by",
           "cannot be excluded by", "attributable to", "perhaps", "potentially", "potential", "most suggestive of",
           "most consistent with", "differential considerations", "differential considerations include",
           "differential includes", "differential diagnosis includes", "differential diagnosis including",
           "to rule out", "to exclude"),
    # IU de-identification masks some hedge words ("most XXXX represents", "opacity, XXXX atelectasis").
    *_cues("hedge", "forward", "most xxxx", "xxxx represent*", "xxxx reflecting", "xxxx reflect", ", xxxx"),
    # Uncertainty after the finding ("X cannot be excluded").
    *_cues("hedge", "backward", "cannot be excluded", "can not be excluded", "cannot be ruled out",
           "can not be ruled out", "not be excluded", "not excluded", "is not excluded", "not ruled out",
           "not be ruled out", "is possible", "are possible", "is suspected", "are suspected", "is questioned",
           "is likely", "are likely", "is favored", "may be present", "could be present", "not entirely excluded",
           "is not entirely excluded", "not completely excluded", "difficult to exclude", "is in question"),
    *_cues("hedge", "both", "versus", "vs", "?"),
    # Look-alikes (NegEx PSEU): consumed, never scope.
    *_cues("pseudo", "forward", "no change", "no significant change", "no interval change",
           "no significant interval change", "without change", "without interval change", "not changed",
           "no increase", "no further", "not only", "not necessarily", "no appreciable change", "no substantial change",
           "not significantly changed", "no definite change", "no other change", "no significant interval",
           "not certain whether", "not certain if", "to suggest", "to indicate", "to explain", "without difficulty",
           "no relevant change", "no marked change", "no gross change", "no evident change", "no visible change",
           "has not changed", "have not changed", "not been changed", "almost completely resolved", "nearly resolved",
           "almost resolved", "partially resolved", "incompletely resolved", "not completely resolved",
           "not resolved", "has not resolved", "have not resolved"),
)

# Words that end a cue's scope and separate clauses (NegEx CONJ, negspacy termination).
TERMINATORS = ("but", "however", "although", "though", "whereas", "while", "except", "aside from", "apart from",
               "yet", "which", "with the exception of", "otherwise", "nevertheless", ";", "still", "(", ")")
# Once a scope has covered a mention, these start a new predication ("No effusion; the heart is enlarged").
SCOPE_BREAKERS = ("is", "are", "was", "were", "has", "have", "had", "remains", "remain", "remained", "persists",
                  "persist", "appears", "appear", "there", "that", "demonstrates", "shows")
# After "," or "and", these start a new noun phrase that a list-negation does not reach ("No effusion, small
# pneumothorax") unless the clause ends in an "or"-list ("No effusion, small pneumothorax, or consolidation").
# "large" is left out: "no large effusion" is how radiologists deny a large one.
NEW_PHRASE_STARTERS = ("a", "an", "the", "there", "small", "moderate", "mild", "severe", "trace",
                       "minimal", "tiny", "new", "increased", "decreased", "persistent", "stable", "some",
                       "mildly", "moderately", "slightly", "unchanged", "improved", "worsening", "worsened",
                       "interval", "again", "continued", "known", "marked", "extensive", "substantial")
LIST_OR = ("or", "nor")
# Cues that open a list of alternatives: their scope runs over "," and "and" to the end of the clause.
LIST_CUES = ("differential", "differential diagnosis", "differential considerations",
             "differential considerations include", "differential includes", "differential diagnosis includes",
             "differential diagnosis including")
# Words that may stand between a finding and a normal statement about it ("markings are within normal limits").
COPULAS = ("is", "are", "appear", "appears", "remain", "remains", "seem", "seems", "look", "looks", "grossly",
           "otherwise", "within", "limits", "of", "the", "again", "now", "stable", "still")
# Prepositions that put a region after its finding ("opacity in the right lower lobe").
LOCATIVES = ("in", "at", "within", "of", "over", "overlying", "into", "involving", "along", "throughout", "on",
             "projecting over", "projects over", "projected over", "terminates in", "terminating in",
             "terminates at", "terminating at", "ends in", "ends at", "near", "adjacent to", "from",
             "to the")
# Prepositions that make a region a landmark, not a location ("5 cm above the carina", "behind the heart").
REFERENCES = ("above", "below", "beneath", "under", "behind", "beyond", "superior to", "inferior to",
              "lateral to", "medial to", "distal to", "proximal to", "level of", "to the level of", "toward",
              "towards")
# Words that may stand between a side and the region or finding it qualifies ("right internal jugular line").
SIDE_WINDOW = 3

# ---------------------------------------------------------------------------------------- predicates
_ANY: tuple[str, ...] = ()
PREDICATE_TERMS: tuple[PredicateTerm, ...] = (
    *(PredicateTerm(p, "normal") for p in (
        "normal", "within normal limits", "normal limits", "unremarkable", "normal in size", "normal size",
        "normal in appearance", "normal in size and contour", "normal in contour", "are normal", "is normal",
        "normal appearing", "within normal limits for size", "no acute abnormality", "no acute abnormalities",
        "without acute abnormality", "grossly normal", "normal caliber", "not enlarged")),
    *(PredicateTerm(p, "normal", ("lungs", "pleura", "costophrenic")) for p in ("clear",)),
    PredicateTerm("sharp", "normal", ("costophrenic",)),
    *(PredicateTerm(p, "normal", ("bones",)) for p in ("intact", "grossly intact", "without acute fracture")),
    *(PredicateTerm(p, "position", ("trachea", "mediastinum")) for p in ("midline", "in midline")),
    *(PredicateTerm(p, "enlarge", ("heart", "cardiomediastinal", "mediastinum")) for p in (
        "enlarged", "enlargement", "enlarge", "enlarging", "increase in", "increased", "widened", "widening", "wide",
        "increased in size", "is large")),
    *(PredicateTerm(p, "enlarge", ("heart", "cardiomediastinal", "mediastinum"), hedged=True) for p in (
        "borderline enlarged", "top normal", "top normal in size", "upper limits of normal",
        "upper limit of normal", "top of normal", "at the upper limits of normal", "borderline in size",
        "upper limits normal", "upper limit normal", "upper normal", "high normal", "top limits of normal",
        "top limit of normal", "top normal limits", "borderline enlargement", "borderline")),
)
# What a statement about a region group asserts (normal -> absent, enlarge -> the tag's existence).
GROUP_IMPLICATIONS: dict[tuple[str, str], tuple[Implication, ...]] = {
    ("heart", "normal"): (Implication("cardiomegaly", ("cardiac silhouette",)),),
    ("heart", "enlarge"): (Implication("cardiomegaly", ("cardiac silhouette",)),),
    ("cardiomediastinal", "normal"): (Implication("cardiomegaly", ("cardiac silhouette",)),
                                      Implication("enlarged cardiomediastinum", ("mediastinum",))),
    ("cardiomediastinal", "enlarge"): (Implication("enlarged cardiomediastinum", ("mediastinum",)),),
    ("mediastinum", "normal"): (Implication("enlarged cardiomediastinum"),),
    ("mediastinum", "enlarge"): (Implication("enlarged cardiomediastinum"),),
    ("lungs", "normal"): (Implication("opacity"),),
    ("pleura", "normal"): (Implication("pleural effusion"),),
    ("costophrenic", "normal"): (Implication("blunt"),),
    ("bones", "normal"): (Implication("fracture"),),
    ("vessels", "normal"): (Implication("engorgement", BOTH_LUNGS),),
}
# Groups a normal statement is about even with no box of their own ("bones are intact", "vascularity is normal").
PLACELESS_GROUPS = ("bones", "vessels")

# ------------------------------------------------------------------------------------------ policies
_DIFFUSE_LUNG = ("opacity", "edema", "atelectasis", "consolidation", "pneumonia", "infiltration", "emphysema",
                 "hyperinflate", "aerate", "marking", "aspiration", "engorgement")
_FOCAL_LUNG = ("nodule", "mass", "lesion", "scar", "collapse", "pleural thicken")
_ANYWHERE = ("tube", "tip", "line", "fracture", "calcification", "device", "wire", "obscure", "deformity",
             "drainage", "distention", "stent", "hardware", "dilation")
_TO_ANGLE = (("lung", "costophrenic angle"), ("lower lung zone", "costophrenic angle"),
             ("hemidiaphragm", "costophrenic angle"))

TAG_POLICIES: dict[str, TagPolicy] = {
    **{t: TagPolicy(t, "lung", BOTH_LUNGS, side_zone="lung", refers_back=True) for t in _DIFFUSE_LUNG},
    **{t: TagPolicy(t, "lung", (UNSPECIFIED,), side_zone="lung", refers_back=True) for t in _FOCAL_LUNG},
    **{t: TagPolicy(t, "any", (UNSPECIFIED,)) for t in _ANYWHERE},
    # Convention: a sided rib fracture with no level named is placed on that side's lung, as Chest
    # ImaGenome places rib fractures on the lung zones they project over.
    "fracture": TagPolicy("fracture", "any", (UNSPECIFIED,), side_zone="lung", refers_back=True),
    "pleural effusion": TagPolicy("pleural effusion", "lung", BOTH_ANGLES, side_zone="costophrenic angle",
                                  zone_remap=_TO_ANGLE, refers_back=True),
    "blunt": TagPolicy("blunt", "lung", BOTH_ANGLES, side_zone="costophrenic angle", zone_remap=_TO_ANGLE,
                       refers_back=True),
    # Convention: "left pneumothorax" with no level named is apical (where air collects on an upright film);
    # with no side at all ("no pneumothorax") it concerns both lungs.
    "pneumothorax": TagPolicy("pneumothorax", "lung", BOTH_LUNGS, side_zone="apical zone", refers_back=True),
    "cardiomegaly": TagPolicy("cardiomegaly", "fixed", ("cardiac silhouette",)),
    "enlarged cardiomediastinum": TagPolicy("enlarged cardiomediastinum", "any", MEDIASTINUM,
                                            allowed=("mediastinum", "upper mediastinum")),
    "hernia": TagPolicy("hernia", "any", MEDIASTINUM, allowed=("mediastinum", "abdomen")),
    "shift": TagPolicy("shift", "any", MEDIASTINUM),
    "pacemaker": TagPolicy("pacemaker", "any", ("right atrium",)),
    "line": TagPolicy("line", "any", ("svc",)),
}
OTHER_POLICIES: dict[str, TagPolicy] = {
    **{t: TagPolicy(t, "lung", BOTH_LUNGS, side_zone="lung", refers_back=True) for t in (
        "low lung volumes", "bronchiolitis", "peribronchial cuffing", "interstitial lung disease")},
    **{t: TagPolicy(t, "lung", (UNSPECIFIED,), side_zone="lung") for t in ("cavitation", "bronchiectasis",
                                                                          "nipple shadow")},
    **{t: TagPolicy(t, "any", (UNSPECIFIED,), side_zone="lung") for t in ("granuloma", "foreign body")},
    **{t: TagPolicy(t, "any", (UNSPECIFIED,)) for t in ("degenerative change", "adenopathy", "metastasis",
                                                        "malignancy", "postoperative change", "dislocation")},
    **{t: TagPolicy(t, "fixed", SPINE) for t in ("scoliosis", "kyphosis")},
    "tortuosity": TagPolicy("tortuosity", "any", AORTA),
    "elevation": TagPolicy("elevation", "any", (UNSPECIFIED,), side_zone="hemidiaphragm",
                           allowed=("right hemidiaphragm", "left hemidiaphragm")),
    "pulmonary artery enlargement": TagPolicy("pulmonary artery enlargement", "any",
                                              ("right hilar structures", "left hilar structures"),
                                              allowed=("right hilar structures", "left hilar structures")),
    "subcutaneous emphysema": TagPolicy("subcutaneous emphysema", "any", (UNSPECIFIED,), side_zone="chest wall"),
    "pneumoperitoneum": TagPolicy("pneumoperitoneum", "fixed", ABDOMEN),
}
OTHER_FINDINGS: tuple[str, ...] = tuple(OTHER_POLICIES)
# Every finding the parser can name: the 40 tags, then the others.
POLICIES: dict[str, TagPolicy] = {**TAG_POLICIES, **OTHER_POLICIES}
# Devices: a region reached by a preposition ("terminates in the SVC") beats one that merely modifies.
DEVICE_TAGS = ("tube", "tip", "line", "device", "wire", "pacemaker", "stent", "hardware", "drainage")


def lung_family_regions() -> frozenset[str]:
    return frozenset(f"{side} {zone}" for side in SIDES for zone in LUNG_FAMILY_ZONES)
