"""The command line: output of the read-only verbs, and one-line errors with exit code 2."""
import json

import pydicom
import pytest

from asgbench.cli import main
from asgbench.data.synthetic.suite import DATASET_ORDER, SUITE_FILE


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_and_ls_datasets(capsys):
    code, out, _ = run(capsys, "ls", "datasets")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert names == list(DATASET_ORDER) == ["mimic", "chexpert", "rsna", "covidx", "nih", "siim"]
    assert "stage_2_train_labels.csv" in out and "train-rle.csv" in out
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0


@pytest.mark.parametrize("name", DATASET_ORDER)
def test_verify_counts_match_what_synth_wrote(capsys, tiny_suite, name):
    written = json.loads((tiny_suite / SUITE_FILE).read_text())["datasets"][name]
    code, out, err = run(capsys, "data", "verify", "--dataset", name, "--root", str(tiny_suite / name))
    assert code == 0, err
    rows = written["index_rows"]
    assert f"images: {rows} indexed, {rows} found, 0 missing" in out
    assert f"patients: {written['patients']}" in out
    for label, count in written["positives"].items():
        row = next(line for line in out.splitlines() if line.startswith(f"| {label} "))
        assert int(row.split("|")[2]) == count, (label, row)


def _assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asgbench: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_dataset_did_you_mean(capsys, tmp_path):
    code, _, err = run(capsys, "data", "verify", "--dataset", "chexpret", "--root", str(tmp_path))
    _assert_one_line_error(code, err, "unknown dataset 'chexpret'", "did you mean 'chexpert'")


def test_missing_csv(capsys, copy_dataset):
    root = copy_dataset("nih")
    (root / "Data_Entry_2017_v2020.csv").unlink()
    code, _, err = run(capsys, "data", "verify", "--dataset", "nih", "--root", str(root))
    _assert_one_line_error(code, err, str(root), "Data_Entry_2017_v2020.csv")


def test_wrong_header(capsys, copy_dataset):
    root = copy_dataset("rsna")
    path = root / "stage_2_train_labels.csv"
    path.write_text(path.read_text().replace("patientId,x,y,width,height,Target", "patientId,x,y,w,h,Target", 1))
    code, _, err = run(capsys, "data", "verify", "--dataset", "rsna", "--root", str(root))
    _assert_one_line_error(code, err, "stage_2_train_labels.csv", "expected CSV header patientId,x,y,width,height,Target", "found patientId,x,y,w,h,Target")


def test_truncated_jpeg(capsys, copy_dataset):
    root = copy_dataset("chexpert")
    victim = sorted(root.glob("train/*/*/*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[:1500])
    code, _, err = run(capsys, "data", "verify", "--dataset", "chexpert", "--root", str(root), "--decode", "1000")
    _assert_one_line_error(code, err, victim.name, "cannot decode")


def test_dicom_without_pixel_data(capsys, copy_dataset):
    root = copy_dataset("rsna")
    victim = sorted((root / "stage_2_train_images").glob("*.dcm"))[0]
    dataset = pydicom.dcmread(victim)
    del dataset.PixelData
    dataset.save_as(victim)
    code, _, err = run(capsys, "data", "verify", "--dataset", "rsna", "--root", str(root), "--decode", "1000")
    _assert_one_line_error(code, err, victim.name, "no pixel data")


def test_missing_images_are_counted(capsys, copy_dataset):
    root = copy_dataset("covidx")
    victims = sorted((root / "train").iterdir())[:2]
    for victim in victims:
        victim.unlink()
    code, out, _ = run(capsys, "data", "verify", "--dataset", "covidx", "--root", str(root))
    assert code == 0
    assert "2 missing" in out and f"missing: train/{victims[0].name}" in out
