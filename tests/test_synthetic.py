"""The synthetic suite: exact layouts, determinism, and what `asgbench data synth` prints."""
import hashlib

import numpy as np
import pydicom
import pytest

from asgbench.cli import main
from asgbench.data.synthetic.context import PRESETS, SynthContext
from asgbench.data.synthetic.writers import nih, siim

MINI = PRESETS["tiny"].__class__(**{**PRESETS["tiny"].__dict__, "name": "mini", "nih": 10, "siim": 8, "siim_unlabelled_test": 1})


def _digest(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    for name, writer in (("nih", nih.write), ("siim", siim.write)):
        a, b, c = tmp_path / f"{name}-a", tmp_path / f"{name}-b", tmp_path / f"{name}-c"
        for root, workers, seed in ((a, 1, 5), (b, 2, 5), (c, 1, 6)):
            root.mkdir()
            writer(SynthContext(root=root, dataset=name, preset=MINI, seed=seed, workers=workers))
        assert _digest(a) == _digest(b)
        assert _digest(a) != _digest(c)


def test_suite_layout_details(tiny_suite):
    assert (tiny_suite / "chexpert" / "train.csv").read_text().startswith("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,")
    first_path = (tiny_suite / "chexpert" / "train.csv").read_text().splitlines()[1].split(",")[0]
    assert first_path.startswith("CheXpert-v1.0-small/train/patient")
    assert (tiny_suite / "nih" / "Data_Entry_2017_v2020.csv").read_text().startswith(
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]\n")
    assert (tiny_suite / "nih" / "BBox_List_2017.csv").read_text().startswith("Image Index,Finding Label,Bbox [x,y,w,h],,,\n")
    report = next((tiny_suite / "mimic" / "files").rglob("s*.txt")).read_text()
    assert "\n FINDINGS:" in report and "\n IMPRESSION:" in report
    photometric, syntaxes = set(), set()
    for path in (tiny_suite / "siim" / "dicom-images-train").rglob("*.dcm"):
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        photometric.add(dataset.PhotometricInterpretation)
        syntaxes.add(str(dataset.file_meta.TransferSyntaxUID))
        assert path.stem == dataset.SOPInstanceUID and path.parent.name == dataset.SeriesInstanceUID
    assert photometric == {"MONOCHROME1", "MONOCHROME2"}
    assert "1.2.840.10008.1.2.4.50" in syntaxes and "1.2.840.10008.1.2.1" in syntaxes
    rsna = next((tiny_suite / "rsna" / "stage_2_train_images").glob("*.dcm"))
    header = pydicom.dcmread(rsna, stop_before_pixels=True)
    assert header.PatientID == rsna.stem and header.Modality == "CR" and header.Rows == 1024


def test_synth_cli_reuses_an_identical_suite(capsys, tiny_suite):
    before = (tiny_suite / "SUITE.json").stat().st_mtime_ns
    assert main(["data", "synth", "--out", str(tiny_suite), "--size", "tiny", "--seed", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "synthetic suite 'tiny' (seed 0)" in out and "| nih " in out
    assert (tiny_suite / "SUITE.json").stat().st_mtime_ns == before


def _truth_records(suite):
    import json

    return [json.loads(line) for line in (suite / "_truth" / "mimic_reports.jsonl").read_text().splitlines()]


def test_report_triplets_agree_with_ground_truth(tiny_suite):
    from asgbench.data.synthetic.reports import DEVICE_FACTS, KIND_TAG

    sentences = negative = hedged = 0
    for record in _truth_records(tiny_suite):
        present = {(KIND_TAG[f["kind"]], f["certainty"]) for f in record["findings"] if f["kind"] in KIND_TAG}
        devices = {DEVICE_FACTS[d][0] for f in record["findings"] for d in f.get("devices", [])}
        report = " ".join((tiny_suite / "mimic" / record["report"]).read_text().split())
        for sentence in record["sentences"]:
            sentences += 1
            assert sentence["text"] in report
            existences = {t[2] for t in sentence["triplets"]}
            negative += "absent" in existences
            hedged += "uncertain" in existences
            for region, tag, existence in sentence["triplets"]:
                if existence == "present":
                    hedged_opacity = tag == "opacity" and "uncertain" in existences  # "opacity ... may represent X"
                    assert (tag, "present") in present or tag in devices or hedged_opacity, (sentence, record["findings"])
                elif existence == "uncertain":
                    assert (tag, "uncertain") in present, (sentence, record["findings"])
                else:
                    assert not any(t == tag for t, _ in present), (sentence, record["findings"])
    assert negative / sentences >= 0.2
    assert hedged >= 1


def test_scene_graphs_match_images_and_reports(tiny_suite):
    import json

    import pandas as pd

    from asgbench.vocab import BOXLESS_LOCATIONS, IMAGENOME_REGIONS

    metadata = pd.read_csv(tiny_suite / "mimic" / "mimic-cxr-2.0.0-metadata.csv", dtype={"dicom_id": str})
    frontal = metadata[metadata["ViewPosition"].isin(["PA", "AP"])]
    graphs = sorted((tiny_suite / "chest-imagenome" / "silver_dataset" / "scene_graph").glob("*_SceneGraph.json"))
    assert len(graphs) == len(frontal)
    sentences = {r["study_id"]: {s["text"] for s in r["sentences"]} for r in _truth_records(tiny_suite)}
    sizes = {row.dicom_id: (row.Rows, row.Columns) for row in frontal.itertuples()}
    for path in graphs:
        graph = json.loads(path.read_text())
        height, width = sizes[graph["image_id"]]
        assert [o["bbox_name"] for o in graph["objects"]] == list(IMAGENOME_REGIONS)
        for box in graph["objects"]:
            assert 0 <= box["original_x1"] < box["original_x2"] <= width
            assert 0 <= box["original_y1"] < box["original_y2"] <= height
            assert 0 <= box["x1"] < box["x2"] <= 224 and 0 <= box["y1"] < box["y2"] <= 224
        for attribute in graph["attributes"]:
            assert attribute["bbox_name"] in IMAGENOME_REGIONS + BOXLESS_LOCATIONS
            assert set(attribute["phrases"]) <= sentences[graph["study_id"]]
            for labels in attribute["attributes"]:
                assert all(label.count("|") == 2 and label.split("|")[1] in ("yes", "no") for label in labels)


def test_whole_suite_is_byte_identical_for_a_seed(tiny_suite, tmp_path):
    from asgbench.data.synthetic.suite import synthesize

    synthesize(tmp_path / "again", "tiny", 0, workers=1)
    assert _digest(tmp_path / "again") == _digest(tiny_suite)


def test_preview_contact_sheet(tmp_path, capsys):
    from PIL import Image

    assert main(["data", "synth", "--preview", str(tmp_path / "sheet.png")]) == 0
    assert "preview contact sheet" in capsys.readouterr().out
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.size == (4 * 384, 3 * 384) and sheet.mode == "RGB"


def test_lung_outlines_come_from_real_masks():
    from asgbench.data.synthetic.lung_shapes import lung_shapes

    shapes = lung_shapes()
    assert shapes.shape[0] > 300 and shapes.shape[1:] == (2, 80, 2)
    assert np.all((shapes >= 0) & (shapes <= 1))


@pytest.mark.parametrize("blur", [0.8, 1.2, 1.5, 2.0, 3.5])
def test_blurring_the_shapes_box_gives_the_whole_canvas_blur(blur):
    """The renderer blurs only around a shape; PIL's blur of the whole canvas is the reference, for shapes in the
    middle, at the borders and in a corner."""
    from PIL import Image, ImageDraw, ImageFilter

    from asgbench.data.synthetic.canvas import _blur_in_place

    rng = np.random.default_rng(int(blur * 10))
    for shape in range(12):
        layer = Image.new("L", (96, 128), 0)
        draw = ImageDraw.Draw(layer)
        x, y = rng.uniform(-10, 96, 2)
        w, h = rng.uniform(1, 40, 2)
        draw.ellipse([x, y * 1.3, x + w, y * 1.3 + h], fill=int(rng.integers(1, 256)))
        if shape % 3 == 0:
            draw.line([(0, rng.uniform(0, 128)), (rng.uniform(0, 96), 127)], fill=255, width=3)
        reference = layer.filter(ImageFilter.GaussianBlur(blur))
        _blur_in_place(layer, blur)
        assert layer.tobytes() == reference.tobytes()
