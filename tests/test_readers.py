"""Each reader on the layouts and quirks of the real releases, and clear errors on bad input."""
import gzip
import shutil

import pandas as pd
import pytest

from asgbench.data.datasets import read_index
from asgbench.data.synthetic.context import PRESETS, SynthContext
from asgbench.errors import DataLayoutError

MINI = PRESETS["tiny"].__class__(**{**PRESETS["tiny"].__dict__, "name": "mini", "covidx_train": 9, "covidx_test": 4, "siim": 10})


def test_nih_header_with_trailing_comma_and_nested_images(copy_dataset):
    root = copy_dataset("nih")
    entry = root / "Data_Entry_2017_v2020.csv"
    lines = entry.read_text().splitlines()
    entry.write_text("\n".join(line + "," for line in lines) + "\n")  # the trailing comma some copies carry
    frame = read_index("nih", root).frame
    assert frame["path"].str.match(r"images_00[12]/images/\d{8}_\d{3}\.png").all()
    assert set(frame["official_split"]) == {"trainval", "test"}


def test_nih_unknown_label_token(copy_dataset):
    root = copy_dataset("nih")
    entry = root / "Data_Entry_2017_v2020.csv"
    text = entry.read_text().splitlines()
    fields = text[1].split(",")
    fields[1] = "Pneumonnia"
    text[1] = ",".join(fields)
    entry.write_text("\n".join(text) + "\n")
    with pytest.raises(DataLayoutError, match="Data_Entry_2017_v2020.csv.*Pneumonnia"):
        read_index("nih", root)


def test_chexpert_full_size_prefix_and_laterals(copy_dataset):
    root = copy_dataset("chexpert")
    for name in ("train.csv", "valid.csv"):
        path = root / name
        path.write_text(path.read_text().replace("CheXpert-v1.0-small/", "CheXpert-v1.0/"))
    index = read_index("chexpert", root)
    frame = index.frame
    assert frame["image_id"].str.startswith(("train/", "valid/")).all()
    assert (~frame["frontal"]).sum() >= 1 and (frame.loc[~frame["frontal"], "view"] == "LATERAL").all()
    assert set(frame.loc[frame["official_split"] == "val", "Atelectasis"].dropna()) <= {0.0, 1.0}


def test_chexpert_wrong_header_names_file(copy_dataset):
    root = copy_dataset("chexpert")
    path = root / "train.csv"
    path.write_text(path.read_text().replace("Frontal/Lateral", "Frontal-Lateral", 1))
    with pytest.raises(DataLayoutError, match=r"train.csv: expected CSV header Path,Sex,Age,Frontal/Lateral"):
        read_index("chexpert", root)


def test_missing_csv_names_what_was_expected(copy_dataset):
    root = copy_dataset("rsna")
    (root / "stage_2_train_labels.csv").unlink()
    with pytest.raises(DataLayoutError, match="stage_2_train_labels.csv"):
        read_index("rsna", root)
    with pytest.raises(DataLayoutError, match="is not a directory"):
        read_index("mimic", root / "nowhere")


def test_rsna_stage1_names_and_inconsistent_rows(copy_dataset):
    root = copy_dataset("rsna")
    (root / "stage_2_train_labels.csv").rename(root / "stage_1_train_labels.csv")
    (root / "stage_2_train_images").rename(root / "stage_1_train_images")
    frame = read_index("rsna", root).frame
    assert frame["path"].str.startswith("stage_1_train_images/").all()
    labels = root / "stage_1_train_labels.csv"
    lines = labels.read_text().splitlines()
    negative = next(i for i, line in enumerate(lines) if line.endswith(",,,,0"))
    lines[negative] = lines[negative][: -len(",,,,0")] + ",,,,1"
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match=f"line {negative + 1}"):
        read_index("rsna", root)


def test_rsna_boxes_are_corners(copy_dataset):
    root = copy_dataset("rsna")
    labels = pd.read_csv(root / "stage_2_train_labels.csv")
    first = labels.dropna().iloc[0]
    frame = read_index("rsna", root).frame
    boxes = frame.loc[frame["image_id"] == first["patientId"], "boxes"].iloc[0]
    assert boxes[0] == (first["x"], first["y"], first["x"] + first["width"], first["y"] + first["height"])


@pytest.mark.parametrize("style,labels,splits", [
    ("9A", ("normal", "pneumonia", "COVID-19"), {"train", "test"}),
    ("cxr2", ("negative", "positive"), {"train", "test"}),
    ("cxr4", ("negative", "positive"), {"train", "val", "test"}),
])
def test_covidx_styles(tmp_path, style, labels, splits):
    from asgbench.data.synthetic.writers import covidx

    covidx.write(SynthContext(root=tmp_path, dataset="covidx", preset=MINI, seed=1, workers=1), style=style)
    index = read_index("covidx", tmp_path)
    assert index.labels == labels
    assert set(index.frame["official_split"]) == splits
    assert index.frame["path"].str.contains(r"\.(?:png|jpe?g)$").all()


def test_covidx_malformed_line(copy_dataset):
    root = copy_dataset("covidx")
    path = root / "train_COVIDx9A.txt"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit(" ", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataLayoutError, match="train_COVIDx9A.txt line 3: expected 4 space-separated fields"):
        read_index("covidx", root)


def test_siim_leading_spaces_and_union_rows(copy_dataset):
    root = copy_dataset("siim")
    text = (root / "train-rle.csv").read_text()
    assert text.startswith("ImageId, EncodedPixels\n") and ", -1\n" in text
    raw = pd.read_csv(root / "train-rle.csv")
    frame = read_index("siim", root).frame
    assert len(frame) == raw["ImageId"].nunique()
    several = raw[raw[" EncodedPixels"].str.strip() != "-1"].groupby("ImageId").size()
    multi = several.index[several > 1][0]
    assert len(frame.loc[frame["image_id"] == multi, "rle"].iloc[0]) == several[multi]
    assert frame["path"].str.startswith("dicom-images-train/").all()


def test_siim_png_repack(tmp_path):
    from asgbench.data.synthetic.writers import siim

    siim.write(SynthContext(root=tmp_path, dataset="siim", preset=MINI, seed=2, workers=1), layout="png")
    index = read_index("siim", tmp_path)
    assert index.layout == "SIIM PNG re-pack"
    frame = index.frame
    assert frame["mask_path"].str.startswith("png_masks/").all()
    assert set(frame["official_split"]) == {"train", "test"}
    assert (frame["Pneumothorax"] == frame["image_id"].str.extract(r"_(\d)_$", expand=False).astype(float)).all()


def test_mimic_gzipped_csvs_and_optional_split(copy_dataset):
    root = copy_dataset("mimic")
    for name in ("mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-chexpert.csv"):
        with open(root / name, "rb") as source, gzip.open(root / f"{name}.gz", "wb") as target:
            shutil.copyfileobj(source, target)
        (root / name).unlink()
    (root / "mimic-cxr-2.0.0-split.csv").unlink()
    index = read_index("mimic", root)
    frame = index.frame
    assert frame["official_split"].isna().all()
    assert frame["path"].str.match(r"files/p1\d/p1\d{7}/s5\d{7}/[0-9a-f]{8}(-[0-9a-f]{8}){4}\.jpg").all()
    assert frame["report"].str.match(r"files/p1\d/p1\d{7}/s5\d{7}\.txt").all()
    assert set(frame.loc[frame["frontal"], "view"]) <= {"PA", "AP"}
    assert any("split" in note for note in index.notes)


def test_a_csv_saved_as_utf16_or_with_a_utf8_mark_reads_as_utf8(copy_dataset):
    """Spreadsheet programs save "Unicode text" as UTF-16 and "CSV UTF-8" with a byte-order mark."""
    root = copy_dataset("rsna")
    labels = next(root.glob("stage_2_train_labels.csv"))
    expected = read_index("rsna", root).frame
    text = labels.read_text(encoding="utf-8")
    for encoding in ("utf-16", "utf-8-sig"):
        labels.write_bytes(text.encode(encoding))
        pd.testing.assert_frame_equal(read_index("rsna", root).frame, expected)
    labels.write_bytes(text.encode("utf-8") + b"\xff\xfe\xfa")
    with pytest.raises(DataLayoutError, match="stage_2_train_labels.csv: not UTF-8 or UTF-16 text .*save the CSV as UTF-8"):
        read_index("rsna", root)
