"""The synthetic suite: exact layouts, determinism, and what `asgbench data synth` prints."""
import hashlib

import pydicom

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
