"""The readers on the real metadata files that torchxrayvision bundles (counts from the published releases)."""
import shutil
import zipfile

import pytest

from asgbench.data.datasets import read_index


@pytest.fixture(scope="module")
def roots(tmp_path_factory, public_data):
    base = tmp_path_factory.mktemp("public")
    nih = base / "nih"
    nih.mkdir()
    shutil.copy(public_data.path_of(public_data.NIH_DATA_ENTRY), nih / "Data_Entry_2017_v2020.csv.gz")
    shutil.copy(public_data.path_of(public_data.NIH_BBOX), nih / "BBox_List_2017.csv.gz")
    chexpert = base / "chexpert"
    chexpert.mkdir()
    shutil.copy(public_data.path_of(public_data.CHEXPERT_TRAIN), chexpert / "train.csv.gz")
    rsna = base / "rsna"
    (rsna / "stage_2_train_images").mkdir(parents=True)
    with zipfile.ZipFile(public_data.path_of(public_data.RSNA_LABELS)) as archive:
        archive.extract("stage_2_train_labels.csv", rsna)
    siim = base / "siim"
    (siim / "dicom-images-train").mkdir(parents=True)
    shutil.copy(public_data.path_of(public_data.SIIM_RLE), siim / "train-rle.csv.gz")
    return {"nih": nih, "chexpert": chexpert, "rsna": rsna, "siim": siim}


def test_nih_data_entry(roots):
    index = read_index("nih", roots["nih"])
    frame = index.frame
    assert len(frame) == 112120
    assert frame["patient_id"].nunique() == 30805
    assert len(index.labels) == 15  # 14 findings + No Finding
    assert int(frame["No Finding"].sum()) == 60361
    assert int(frame["Hernia"].sum()) == 227
    assert int(frame["Pleural_Thickening"].sum()) == 3385
    assert (frame["view"] == "PA").sum() == 67310
    # BBox_List: 984 boxes over 880 images, Infiltrate renamed Infiltration
    assert int(frame["boxes"].map(len).sum()) == 984
    assert "Infiltration" in {label for labels in frame["box_labels"] for label in labels}
    assert frame["path"].isna().all()  # no PNGs below this root


def test_rsna_labels(roots):
    frame = read_index("rsna", roots["rsna"]).frame
    assert len(frame) == 26684
    assert int(frame["Pneumonia"].sum()) == 6012
    assert int(frame["boxes"].map(len).sum()) == 9555
    assert frame["boxes"].map(len).value_counts().to_dict() == {0: 20672, 1: 2614, 2: 3266, 3: 119, 4: 13}
    x1, y1, x2, y2 = frame.loc[frame["image_id"] == "00436515-870c-4b36-a041-de91049b9ab4", "boxes"].iloc[0][0]
    assert (x1, y1, x2, y2) == (264.0, 152.0, 477.0, 531.0)


def test_rsna_raw_row_count(public_data):
    from asgbench.data.synthetic.public_rows import rsna_labels

    labels = rsna_labels()
    assert len(labels) == 30227 and labels["patientId"].nunique() == 26684


def test_siim_rle(roots):
    frame = read_index("siim", roots["siim"]).frame
    assert int(frame["rle"].map(len).sum()) + int((frame["Pneumothorax"] == 0).sum()) == 12954
    assert len(frame) == 12047
    assert int(frame["Pneumothorax"].sum()) == 2669


def test_chexpert_train(roots):
    index = read_index("chexpert", roots["chexpert"])
    frame = index.frame
    assert len(frame) == 223414
    assert frame["patient_id"].nunique() == 64540
    assert int(frame["frontal"].sum()) == 191027
    assert frame["image_id"].iloc[0] == "train/patient00001/study1/view1_frontal.jpg"
    assert set(frame["No Finding"].dropna()) == {1.0}
    assert (frame["Atelectasis"] == -1).any()
