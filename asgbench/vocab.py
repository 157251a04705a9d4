"""Fixed vocabularies shared by the synthetic suite, the report parser and the models.

Facts, not code: the 29 Chest ImaGenome regions that carry boxes (rgrg's order), and ASG's 40 image
tags in the order of the released code (KAD's 40 fine-grained entities); the label sets tasks are defined on.
"""
from __future__ import annotations

IMAGENOME_REGIONS = (
    "right lung", "right upper lung zone", "right mid lung zone", "right lower lung zone", "right hilar structures",
    "right apical zone", "right costophrenic angle", "right hemidiaphragm", "left lung", "left upper lung zone",
    "left mid lung zone", "left lower lung zone", "left hilar structures", "left apical zone",
    "left costophrenic angle", "left hemidiaphragm", "trachea", "spine", "right clavicle", "left clavicle",
    "aortic arch", "mediastinum", "upper mediastinum", "svc", "cardiac silhouette", "cavoatrial junction",
    "right atrium", "carina", "abdomen",
)
# Locations reports mention that have no box (Chest ImaGenome attaches phrases to them too).
BOXLESS_LOCATIONS = (
    "neck", "right chest wall", "left chest wall", "right shoulder", "left shoulder", "right arm", "left arm",
    "right breast", "left breast",
)
UNSPECIFIED = "unspecified"

ASG_TAGS = (
    "pleural effusion", "opacity", "pneumothorax", "edema", "atelectasis", "tube", "consolidation",
    "enlarged cardiomediastinum", "tip", "pneumonia", "line", "cardiomegaly", "fracture", "calcification", "device",
    "engorgement", "nodule", "wire", "pacemaker", "pleural thicken", "marking", "scar", "hyperinflate", "blunt",
    "collapse", "emphysema", "aerate", "mass", "infiltration", "obscure", "deformity", "hernia", "drainage",
    "distention", "shift", "stent", "lesion", "hardware", "dilation", "aspiration",
)
EXISTENCE = ("present", "absent", "uncertain")

# The 14 findings in the order of MRM's split files and KAD's prompts (the ASG NIH table follows KAD).
NIH_FINDINGS = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia", "Pneumothorax",
    "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)
# The 5 competition tasks, in the order MGCA/GLoRIA use.
COMPETITION_TASKS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
