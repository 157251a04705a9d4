"""Synthetic MIMIC-CXR-JPG 2.0.0: the files/ tree of JPGs and reports, and the metadata/chexpert/split CSVs.

Each study has one ground truth (findings drawn in every image of the study, described in its report,
summarised in its label row). The triplets of every report sentence are saved beside the suite.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from asgbench.data.datasets.mimic import LABEL_FILE_COLUMNS, METADATA_COLUMNS, MIMIC_LABELS, image_path, report_path
from asgbench.data.synthetic.context import DatasetCounts, SynthContext
from asgbench.data.synthetic.jobs import ImageJob
from asgbench.data.synthetic.labels import PRIOR, chexpert_labels, sample_findings
from asgbench.data.synthetic.reports import write_report
from asgbench.data.synthetic.scene_graphs import SCENE_GRAPH_DIR, scene_graph, write_scene_graph
from asgbench.data.synthetic.truth import ImageTruth

VIEW_MEANING = {"PA": "postero-anterior", "AP": "antero-posterior", "LATERAL": "lateral", "LL": "left lateral", "": ""}
# ASG tag of a negative statement -> the CheXpert-labeler label it sets to 0
TAG_TO_LABEL = {
    "pleural effusion": "Pleural Effusion", "pneumothorax": "Pneumothorax", "consolidation": "Consolidation",
    "edema": "Edema", "pneumonia": "Pneumonia", "cardiomegaly": "Cardiomegaly", "opacity": "Lung Opacity",
    "enlarged cardiomediastinum": "Enlarged Cardiomediastinum", "fracture": "Fracture",
}
SPLIT_SHARES = (("train", 0.8), ("validate", 0.1), ("test", 0.1))
# The suite's corpus is 2,600 studies, about 1 % of MIMIC-CXR: at MIMIC's 4 % a pneumothorax was in 105 of them,
# too few for the demo's pre-training to learn it (generator 7: a linear read-out of the full model's pooled maps
# found SIIM's pneumothoraces at image AUC 0.65-0.73, the untrained network's at 0.62-0.68, and SIIM segmentation
# did not separate the two; benchmarks/bench_lesion_depth.py). The corpus draws pneumothorax this many times as often.
PNEUMOTHORAX_OVERSAMPLING = 5
CORPUS_PRIOR = {**PRIOR, "pneumothorax": PRIOR["pneumothorax"] * PNEUMOTHORAX_OVERSAMPLING}


def _dicom_id(rng: np.random.Generator) -> str:
    return "-".join(f"{int(v):08x}" for v in rng.integers(0, 2**32, 5, dtype=np.uint64))


def write(ctx: SynthContext, truth_dir=None, scene_graph_root=None) -> DatasetCounts:
    rng = ctx.rng("ids")
    n_studies = ctx.preset.mimic_studies
    n_subjects = max(2, int(n_studies / 1.4))
    subjects = sorted(rng.choice(np.arange(10000000, 20000000), n_subjects, replace=False).tolist())
    study_subject = sorted(rng.choice(subjects, n_studies).tolist())
    study_ids = sorted(rng.choice(np.arange(50000000, 60000000), n_studies, replace=False).tolist())
    split_rng = ctx.rng("split")
    subject_split = {s: split_rng.choice([n for n, _ in SPLIT_SHARES], p=[p for _, p in SPLIT_SHARES]) for s in subjects}

    metadata, label_rows, split_rows, jobs, truths, reports = [], [], [], [], [], {}
    for subject, study in zip(study_subject, study_ids):
        srng = ctx.rng("study", study)
        frontal_view = "PA" if srng.random() < 0.55 else "AP"
        findings = sample_findings(srng, CORPUS_PRIOR)
        study_truth = ImageTruth(f"s{study}", 0, 0, view=frontal_view, findings=findings)
        report = write_report(study_truth, srng, view=frontal_view)
        negatives = {TAG_TO_LABEL[t[1]] for s in report.sentences for t in s.triplets if t[2] == "absent" and t[1] in TAG_TO_LABEL}
        labels = chexpert_labels(study_truth, negatives)
        label_rows.append({"subject_id": subject, "study_id": study, **{k: labels[k] for k in MIMIC_LABELS}})
        rpath = ctx.root / report_path(subject, study)
        rpath.parent.mkdir(parents=True, exist_ok=True)
        rpath.write_text(report.text)
        truths.append({"study_id": study, "subject_id": subject, "report": report_path(subject, study),
                       "findings": [{"kind": f.kind, "region": f.region, "severity": round(f.severity, 3), "certainty": f.certainty,
                                     "devices": list(f.devices)} for f in findings],
                       "sentences": [{"text": s.text, "section": s.section, "triplets": s.triplets} for s in report.sentences]})
        reports[study] = report
        views = [frontal_view]
        if srng.random() < (0.4 if frontal_view == "PA" else 0.1):
            views.append("LATERAL" if srng.random() < 0.85 else "LL")
        if srng.random() < 0.03:
            views.append("")  # a blank ViewPosition, as some real rows have
        date = 21000000 + int(srng.integers(0, 99)) * 10000 + int(srng.integers(1, 13)) * 100 + int(srng.integers(1, 29))
        for view in views:
            dicom_id = _dicom_id(srng)
            height, width = int(srng.integers(560, 641)), int(srng.integers(480, 561))
            truth = ImageTruth(dicom_id, height, width, view=view or frontal_view, seed=ctx.image_seed(dicom_id), findings=findings)
            jobs.append(ImageJob(image_path(subject, study, dicom_id), truth, "jpeg", lateral=view in ("LATERAL", "LL", "")))
            procedure = "CHEST (PA AND LAT)" if frontal_view == "PA" else "CHEST (PORTABLE AP)"
            metadata.append({
                "dicom_id": dicom_id, "subject_id": subject, "study_id": study,
                "PerformedProcedureStepDescription": procedure, "ViewPosition": view, "Rows": height, "Columns": width,
                "StudyDate": date, "StudyTime": f"{int(srng.integers(0, 24)):02d}{int(srng.integers(0, 60)):02d}{int(srng.integers(0, 60)):02d}.{int(srng.integers(0, 1000)):03d}",
                "ProcedureCodeSequence_CodeMeaning": procedure, "ViewCodeSequence_CodeMeaning": VIEW_MEANING[view],
                "PatientOrientationCodeSequence_CodeMeaning": "Erect" if frontal_view == "PA" else "Recumbent",
            })
            split_rows.append({"dicom_id": dicom_id, "study_id": study, "subject_id": subject, "split": subject_split[subject]})
    results = ctx.run(jobs)
    if scene_graph_root is not None:
        for row, job, result in zip(metadata, jobs, results):
            if row["ViewPosition"] in ("PA", "AP"):
                graph = scene_graph(row["dicom_id"], row["subject_id"], row["study_id"], row["ViewPosition"], row["Rows"],
                                    row["Columns"], result.regions, reports[row["study_id"]].sentences, row["StudyDate"])
                write_scene_graph(scene_graph_root / SCENE_GRAPH_DIR, graph)
    pd.DataFrame(metadata, columns=list(METADATA_COLUMNS)).to_csv(ctx.root / "mimic-cxr-2.0.0-metadata.csv", index=False)
    pd.DataFrame(label_rows, columns=list(LABEL_FILE_COLUMNS)).to_csv(ctx.root / "mimic-cxr-2.0.0-chexpert.csv", index=False)
    pd.DataFrame(split_rows, columns=["dicom_id", "study_id", "subject_id", "split"]).to_csv(ctx.root / "mimic-cxr-2.0.0-split.csv", index=False)
    if truth_dir is not None:
        truth_dir.mkdir(parents=True, exist_ok=True)
        with open(truth_dir / "mimic_reports.jsonl", "w") as handle:
            for record in truths:
                handle.write(json.dumps(record) + "\n")
    per_image = pd.DataFrame(metadata)[["study_id"]].merge(pd.DataFrame(label_rows), on="study_id", how="left")
    return DatasetCounts(
        dataset="mimic", index_rows=len(metadata), image_files=len(jobs), patients=len(set(study_subject)),
        positives={label: int((per_image[label] == 1).sum()) for label in MIMIC_LABELS},
        extra={"studies": n_studies, "reports": n_studies,
               "frontal_images": sum(1 for m in metadata if m["ViewPosition"] in ("PA", "AP"))},
    )
