"""Importing the official ASG release (labels.pickle + split CSVs) for images of the tiny synthetic suite's MIMIC."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from asgbench.cli import main
from asgbench.data.datasets import read_index
from asgbench.data.images import Letterbox
from asgbench.errors import DataLayoutError
from asgbench.pretrain.anatomy import to_canonical
from asgbench.pretrain.data import read_annotations
from asgbench.pretrain.official_labels import (prepare_from_official, read_official_labels, read_official_splits,
                                               word_sentence_map)

SLOTS, WIDTH = 23, 110
HAND_SENTENCES = ["No effusion.", "", "Heart is normal."]        # words: no effusion . | heart is normal .
OTHER_SENTENCES = ["The lungs are clear.", "There is a small left pleural effusion."]
NOT_IN_INDEX = "files/p10/p10000000/s50000000/00000000-not-in-the-index.jpg"


def _padded_rows(boxes: list[list[float]], words: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Region and sent_index arrays as the release stores them: valid rows first, -1 elsewhere."""
    region = np.full((SLOTS, 4), -1, dtype=np.int64)
    sent_index = np.full((SLOTS, WIDTH), -1, dtype=np.int64)
    for k, (box, row) in enumerate(zip(boxes, words)):
        region[k] = box
        sent_index[k, : len(row)] = row
    return region, sent_index


def _tags(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice([1.0, 0.0, -1.0], size=40)


def _pixel_box(width: int, height: int, left: float, top: float, right: float, bottom: float) -> list[int]:
    return [round(width * left), round(height * top), round(width * right), round(height * bottom)]


@pytest.fixture(scope="module")
def images(tiny_suite) -> list[dict]:
    """Seven frontal images of the suite's MIMIC: key (path relative to the root), dicom id, pixel size."""
    root = tiny_suite / "mimic"
    frame = read_index("mimic", root).frame
    frame = frame[frame["frontal"].astype(bool)].sort_values("image_id").head(7)
    chosen = []
    for image_id, path in zip(frame["image_id"], frame["path"]):
        with Image.open(root / path) as image:
            chosen.append({"key": str(path), "image_id": image_id, "width": image.width, "height": image.height})
    assert len(chosen) == 7
    return chosen


def _hand_record(image: dict) -> dict:
    width, height = image["width"], image["height"]
    boxes = [_pixel_box(width, height, 0.2, 0.2, 0.5, 0.7),   # words 0-2 -> sentence 0
             _pixel_box(width, height, 0.5, 0.2, 0.8, 0.7),   # words 3-6 -> sentence 1
             _pixel_box(width, height, 0.3, 0.4, 0.7, 0.8),   # words 2, 3 -> both
             _pixel_box(width, height, 0.4, 0.4, 0.6, 0.6),   # no words: dropped
             [50, 50, 50, 120]]                                # zero width: dropped
    region, sent_index = _padded_rows(boxes, [[0, 1, 2], [3, 4, 5, 6], [2, 3], [], [0]])
    return {"path2sent": HAND_SENTENCES, "labels": _tags(0), "region": region, "sent_index": sent_index}


def _other_record(image: dict, seed: int) -> dict:
    width, height = image["width"], image["height"]
    boxes = [_pixel_box(width, height, 0.15, 0.15, 0.5, 0.75), _pixel_box(width, height, 0.5, 0.15, 0.85, 0.75)]
    region, sent_index = _padded_rows(boxes, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11, 12]])
    if seed % 2:                                     # the release's nested-list variant, ragged word rows
        return {"path2sent": OTHER_SENTENCES, "labels": [int(v) for v in _tags(seed)], "region": region.tolist(),
                "sent_index": [[w for w in row if w >= 0] or [-1] for row in sent_index.tolist()]}
    return {"path2sent": OTHER_SENTENCES, "labels": _tags(seed), "region": region, "sent_index": sent_index}


def write_release(folder: Path, images: list[dict]) -> Path:
    """labels.pickle for all seven images plus one key outside the index; images 0-3 train, 4-5 val, 6 unlisted."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {images[0]["key"]: _hand_record(images[0])}
    labels.update({image["key"]: _other_record(image, seed) for seed, image in enumerate(images[1:], 1)})
    labels[NOT_IN_INDEX] = _other_record(images[1], 1)
    with open(folder / "labels.pickle", "wb") as handle:
        pickle.dump(labels, handle)
    train = ["image_path,view"] + [f"{image['key']},PA" for image in images[:4]] + [f"{NOT_IN_INDEX},PA"]
    (folder / "train_filenames.csv").write_text("\n".join(train) + "\n")
    (folder / "valid_filenames.csv").write_text("\n".join(image["key"] for image in images[4:6]) + "\n")
    return folder


@pytest.fixture(scope="module")
def release(images, tmp_path_factory) -> Path:
    return write_release(tmp_path_factory.mktemp("asg-release"), images)


@pytest.fixture(scope="module")
def imported(tiny_suite, release, tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("official") / "annotations"
    prepare_from_official(tiny_suite / "mimic", release, out)
    manifest, records = read_annotations(out)
    return manifest, {record.image_id: record for record in records}


def test_words_and_sentences_follow_bert_basic_tokenisation():
    # BERT's BasicTokenizer, as the released code splits captions: punctuation characters are words of their own
    assert word_sentence_map(["No effusion.", "Heart is normal."]) == [0, 0, 0, 1, 1, 1, 1]
    assert word_sentence_map(["Left-sided PICC's tip, 3.5 cm;", "x\x00y (2)"]) == [0] * 13 + [1] * 4


def test_import_keeps_sentences_tags_splits_and_counts(imported, images):
    manifest, records = imported
    assert manifest["format"] == "asgbench-asg-annotations" and manifest["version"] == 1
    assert manifest["source"] == "asg-labels-pickle"
    counts = manifest["counts"]
    assert (counts["images"], counts["train"], counts["val"], counts["unmatched"], counts["unlisted"]) == (6, 4, 2, 1, 1)
    assert counts["official_slots"] == 3 + 5 * 2 and counts["sentences"] == 2 * 6
    assert images[6]["image_id"] not in records
    for position, image in enumerate(images[:6]):
        record = records[image["image_id"]]
        assert record.split == ("train" if position < 4 else "val")
        assert list(record.tags) == [int(v) for v in _tags(position)]
        expected = [s for s in HAND_SENTENCES if s] if position == 0 else OTHER_SENTENCES
        assert list(record.sentences) == expected
        assert list(record.slots) == ["official"]


def test_import_maps_boxes_to_the_canonical_frame_and_words_to_sentences(imported, images):
    _, records = imported
    image = images[0]
    slots = records[image["image_id"]].slots["official"]
    assert [(s.region, s.sentences) for s in slots] == [("slot-00", (0,)), ("slot-01", (1,)), ("slot-02", (0, 1))]
    letterbox = Letterbox.fit(image["height"], image["width"], 256)
    pixel_box = _pixel_box(image["width"], image["height"], 0.5, 0.2, 0.8, 0.7)
    expected = to_canonical({"box": tuple(float(v) for v in pixel_box)}, letterbox)["box"]
    np.testing.assert_allclose(slots[1].box, expected, atol=0.01)
    scale = 256 / max(image["height"], image["width"])
    assert slots[1].box[0] == pytest.approx(pixel_box[0] * scale + letterbox.pad_left, abs=0.01)
    for record in records.values():
        assert all(0 <= s.box[0] < s.box[2] <= 256 and 0 <= s.box[1] < s.box[3] <= 256 for s in record.slots["official"])


def test_batches_built_on_the_official_alignment_have_valid_boxes(imported, tiny_suite, tmp_path):
    from asgbench.data.store import build_store
    from asgbench.encoders.text import load_tokenizer
    from asgbench.encoders.tokenizer import train_wordpiece
    from asgbench.pretrain.data import BatchMaker

    manifest, by_id = imported
    records = list(by_id.values())
    tokenizer = load_tokenizer(train_wordpiece([" ".join(r.sentences) for r in records], tmp_path / "tokenizer", 200))
    store = build_store(read_index("mimic", tiny_suite / "mimic"), [r.image_id for r in records], cache_dir=tmp_path,
                        workers=1)
    maker = BatchMaker(records, store, tokenizer, size=64, grid=(7, 7), mean=(0.5,), std=(0.5,), max_words=32,
                       max_regions=23, alignment="official", train=False, seed=0)
    batch = maker.make(list(range(len(records))), 0)
    assert batch.box_valid.sum(dim=1).min() >= 1
    hand = next(i for i, r in enumerate(records) if r.sentences[0] == "No effusion.")
    assert batch.sentence_index[hand, 0, :3].tolist() == [0, 1, 2] and batch.sentence_index[hand, 0, 3] == -1
    assert batch.sentence_index[hand, 1, :4].tolist() == [3, 4, 5, 6]


def _class_reducing_to(function, argument):
    class Payload:
        def __reduce__(self):
            return function, (argument,)

    return Payload()


@pytest.mark.parametrize("payload", ["os.system", "eval"])
def test_a_pickle_that_would_run_code_is_refused_without_running_it(release, tmp_path, payload):
    folder = Path(shutil.copytree(release, tmp_path / "release"))
    marker = tmp_path / "SOMEFILE"
    command = f"touch {marker}"
    evil = (_class_reducing_to(os.system, command) if payload == "os.system"
            else _class_reducing_to(eval, f"__import__('os').system({command!r})"))
    with open(folder / "labels.pickle", "wb") as handle:
        pickle.dump({"files/p10/x.jpg": {"path2sent": ["a."], "labels": evil}}, handle)
    with pytest.raises(DataLayoutError, match=r"labels\.pickle: refused to load global \S*(system|eval) "):
        read_official_labels(folder)
    assert not marker.exists()


def _rewrite_first_record(release: Path, target: Path, change) -> Path:
    folder = Path(shutil.copytree(release, target))
    labels = pickle.loads((folder / "labels.pickle").read_bytes())
    first = next(iter(labels))
    change(labels[first])
    (folder / "labels.pickle").write_bytes(pickle.dumps(labels))
    return folder


def test_a_labels_vector_of_39_is_refused_naming_the_file(release, tmp_path):
    folder = _rewrite_first_record(release, tmp_path / "release", lambda r: r.update(labels=r["labels"][:39]))
    with pytest.raises(DataLayoutError, match=r"labels\.pickle: record .* labels has 39 entries, expected 40"):
        read_official_labels(folder)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("sent_index"), "lacks sent_index"),
    (lambda r: r.update(sent_index=r["sent_index"][:5]), "23 region rows but 5 sent_index rows"),
    (lambda r: r.update(region=r["region"][:, :3]), r"region has shape \(23, 3\)"),
    (lambda r: r["sent_index"].__setitem__((0, 0), 40), "region 0 names word 40, but its caption has 7 words"),
])
def test_malformed_records_are_refused_with_one_line(release, tmp_path, change, message):
    folder = _rewrite_first_record(release, tmp_path / "release", change)
    with pytest.raises(DataLayoutError, match=message) as caught:
        read_official_labels(folder)
    assert "\n" not in str(caught.value) and "labels.pickle" in str(caught.value)


def test_split_lists_with_and_without_header(release, images):
    splits = read_official_splits(release)
    assert [splits[image["key"]] for image in images[:6]] == ["train"] * 4 + ["val"] * 2
    assert "image_path" not in splits and images[6]["key"] not in splits


def test_missing_split_list_is_refused(release, tmp_path):
    folder = Path(shutil.copytree(release, tmp_path / "release"))
    (folder / "valid_filenames.csv").unlink()
    with pytest.raises(DataLayoutError, match="valid_filenames.csv: file not found"):
        read_official_splits(folder)


def test_cli_imports_and_reports_a_missing_pickle_in_one_line(tiny_suite, release, tmp_path, capsys):
    mimic = str(tiny_suite / "mimic")
    out = tmp_path / "annotations"
    assert main(["pretrain", "prepare", "--data-root", mimic, "--asg-labels", str(release), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "6 image-report pairs" in printed and "official 13" in printed
    assert (out / "annotations.jsonl.gz").is_file() and (out / "manifest.json").is_file()

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["pretrain", "prepare", "--data-root", mimic, "--asg-labels", str(empty), "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "labels.pickle: file not found" in error
