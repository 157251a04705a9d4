"""Import the annotation file of the official ASG release (``labels.pickle``) as asgbench's pre-training annotations.

The ASG authors released the sentences, tags, boxes and region-sentence alignment they trained with, but never the
code that made them. Importing their file lets a run train on exactly that alignment (``loss.arsa_alignment=official``)
instead of the report parser's. A pickle can run code when loaded, so ``labels.pickle`` is read by an unpickler that
resolves only numpy array reconstruction and builtin containers and refuses every other global without calling it.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import importlib
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from asgbench.data.datasets import read_index
from asgbench.data.images import CANONICAL_SIZE, Letterbox
from asgbench.errors import DataLayoutError
from asgbench.pretrain.anatomy import to_canonical
from asgbench.pretrain.data import ANNOTATIONS_FILE, MANIFEST_FILE
from asgbench.pretrain.prepare import FORMAT, image_shape
from asgbench.vocab import ASG_TAGS

LABELS_FILE = "labels.pickle"
SPLIT_FILES = {"train": "train_filenames.csv", "val": "valid_filenames.csv"}
ALIGNMENT_SOURCE = "official"
MANIFEST_SOURCE = "asg-labels-pickle"
RECORD_KEYS = ("path2sent", "labels", "region", "sent_index")
IMAGE_SUFFIXES = (".jpg", ".png")
TAG_VALUES = frozenset({1, 0, -1})

# -- restricted unpickling -------------------------------------------------------------------------------------------
_NUMPY_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMPY_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")
_BUILTIN_MODULES = ("builtins", "__builtin__")
_BUILTIN_CONTAINERS = {"dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset,
                       "bytearray": bytearray, "bytes": bytes}


def _numpy_core(leaf: str):
    """``numpy._core.<leaf>`` on numpy 2, ``numpy.core.<leaf>`` on numpy 1: a pickle may name either."""
    try:
        return importlib.import_module(f"numpy._core.{leaf}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{leaf}")


def _numpy_dtype_class(name: str) -> type | None:
    candidate = getattr(importlib.import_module("numpy.dtypes"), name, None) if name.endswith("DType") else None
    return candidate if isinstance(candidate, type) and issubclass(candidate, np.dtype) else None


def allowed_global(module: str, name: str) -> object | None:
    """What a labels pickle may reference as ``module.name``: array reconstruction and containers; None otherwise."""
    if module in _NUMPY_MULTIARRAY and name in ("_reconstruct", "scalar"):
        return getattr(_numpy_core("multiarray"), name)
    if module in _NUMPY_NUMERIC and name == "_frombuffer":    # arrays written with pickle protocol 5
        return getattr(_numpy_core("numeric"), name, None)
    if module == "numpy" and name in ("ndarray", "dtype"):
        return getattr(np, name)
    if module == "numpy.dtypes":
        return _numpy_dtype_class(name)
    if module in _BUILTIN_MODULES:
        return _BUILTIN_CONTAINERS.get(name)
    if module == "_codecs" and name == "encode":               # protocols 0-2 store bytes (array buffers) this way
        return codecs.encode
    return None


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def __init__(self, handle, path: Path) -> None:
        super().__init__(handle)
        self.path = path

    def find_class(self, module: str, name: str) -> object:
        found = allowed_global(module, name)
        if found is None:
            raise DataLayoutError(f"{self.path}: refused to load global {module}.{name} (only numpy arrays and "
                                  "builtin containers are allowed in an ASG labels pickle)")
        return found


def load_restricted_pickle(path: Path) -> object:
    """Unpickle ``path`` resolving only numpy array reconstruction and builtin containers."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return _ArrayOnlyUnpickler(handle, path).load()
    except DataLayoutError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise DataLayoutError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None


# -- words and sentences ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _word_splitter() -> Callable[[str], list[str]]:
    """The released code's word split: a lower-casing BERT BasicTokenizer (in transformers 5 it lives in the
    ``tokenization_bert_legacy`` module), so word positions in labels.pickle land on the same words here."""
    from transformers.models.bert.tokenization_bert_legacy import BasicTokenizer

    return BasicTokenizer(do_lower_case=True).tokenize


def word_sentence_map(sentences: list[str] | tuple[str, ...]) -> list[int]:
    """The sentence index of each word of the caption (the sentences joined by single spaces)."""
    split = _word_splitter()
    return [index for index, sentence in enumerate(sentences) for _ in split(sentence)]


# -- reading the release ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OfficialRegion:
    slot: int                                  # row of the record's region array: the slot is named slot-NN
    box: tuple[float, float, float, float]     # x1, y1, x2, y2 in pixels of the full-resolution JPG
    words: tuple[int, ...]                     # caption word positions aligned to the region
    sentences: tuple[int, ...]                 # indices of the sentences holding those words

    @property
    def name(self) -> str:
        return f"slot-{self.slot:02d}"


@dataclass(frozen=True)
class OfficialRecord:
    key: str                                   # the image's path relative to the release's data_dir
    sentences: tuple[str, ...]                 # non-empty report sentences
    tags: tuple[int, ...]                      # over ASG_TAGS, in {1, 0, -1}
    regions: tuple[OfficialRegion, ...]        # rows whose box is not all -1

    @property
    def dicom_id(self) -> str:
        return Path(self.key).stem


def _require_file(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise DataLayoutError(f"{path}: file not found (expected {expected})")
    return path


def _sentences(key: str, value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, np.ndarray)):
        raise DataLayoutError(f"{where}: record {key!r} path2sent is {type(value).__name__}, expected a list of sentences")
    if not all(isinstance(s, str) for s in value):
        raise DataLayoutError(f"{where}: record {key!r} path2sent holds non-strings, expected a list of sentences")
    return tuple(s.strip() for s in value if s.strip())


def _tags(key: str, value: object, where: str) -> tuple[int, ...]:
    try:
        vector = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataLayoutError(f"{where}: record {key!r} labels is not a numeric vector") from None
    if len(vector) != len(ASG_TAGS):
        raise DataLayoutError(f"{where}: record {key!r} labels has {len(vector)} entries, expected {len(ASG_TAGS)} "
                              "(one per ASG tag)")
    if not set(vector.tolist()) <= TAG_VALUES:
        raise DataLayoutError(f"{where}: record {key!r} labels holds {sorted(set(vector.tolist()) - TAG_VALUES)}, "
                              "expected only 1, 0, -1")
    return tuple(int(v) for v in vector)


def _boxes(key: str, value: object, where: str) -> np.ndarray:
    try:
        boxes = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataLayoutError(f"{where}: record {key!r} region is not a K x 4 numeric array") from None
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise DataLayoutError(f"{where}: record {key!r} region has shape {boxes.shape}, expected K x 4 finite boxes")
    return boxes


def _word_rows(key: str, value: object, where: str) -> list[tuple[int, ...]]:
    """Rows of word positions, -1 padding removed; arrays and (possibly ragged) nested lists alike."""
    try:
        rows = [np.asarray(row, dtype=np.float64).reshape(-1) for row in value]
    except (TypeError, ValueError):
        raise DataLayoutError(f"{where}: record {key!r} sent_index is not a K x N integer array") from None
    if any(not np.all(np.isfinite(row) & (row == np.round(row))) for row in rows):
        raise DataLayoutError(f"{where}: record {key!r} sent_index holds non-integers, expected word positions")
    return [tuple(int(w) for w in row if w >= 0) for row in rows]


def _record(key: str, raw: object, where: str) -> OfficialRecord:
    if not isinstance(raw, dict):
        raise DataLayoutError(f"{where}: record {key!r} is {type(raw).__name__}, expected a dict with "
                              f"{', '.join(RECORD_KEYS)}")
    missing = [name for name in RECORD_KEYS if name not in raw]
    if missing:
        raise DataLayoutError(f"{where}: record {key!r} lacks {', '.join(missing)} (expected {', '.join(RECORD_KEYS)})")
    sentences = _sentences(key, raw["path2sent"], where)
    tags = _tags(key, raw["labels"], where)
    boxes = _boxes(key, raw["region"], where)
    word_rows = _word_rows(key, raw["sent_index"], where)
    if len(word_rows) != len(boxes):
        raise DataLayoutError(f"{where}: record {key!r} has {len(boxes)} region rows but {len(word_rows)} sent_index "
                              "rows, expected one per region")
    word_sentence = word_sentence_map(sentences)
    regions = []
    for slot, (box, words) in enumerate(zip(boxes, word_rows)):
        if np.all(box == -1):
            continue
        beyond = [w for w in words if w >= len(word_sentence)]
        if beyond:
            raise DataLayoutError(f"{where}: record {key!r} region {slot} names word {beyond[0]}, but its caption has "
                                  f"{len(word_sentence)} words")
        sentence_indices = tuple(sorted({word_sentence[w] for w in words}))
        regions.append(OfficialRegion(slot, tuple(float(v) for v in box), words, sentence_indices))
    return OfficialRecord(key, sentences, tags, tuple(regions))


def read_official_labels(data_dir: Path) -> dict[str, OfficialRecord]:
    """Every record of ``<data_dir>/labels.pickle``, checked; keys are image paths relative to ``data_dir``."""
    path = _require_file(Path(data_dir) / LABELS_FILE, "the ASG release's labels pickle: image key -> record dict")
    raw = load_restricted_pickle(path)
    if not isinstance(raw, dict):
        raise DataLayoutError(f"{path}: holds a {type(raw).__name__}, expected a dict of image key -> record")
    return {str(key): _record(str(key), value, str(path)) for key, value in raw.items()}


def _listed_keys(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and row[0].strip()]
    keys = [row[0].strip() for row in rows]
    if keys and not keys[0].lower().endswith(IMAGE_SUFFIXES):
        keys = keys[1:]                                    # a header row
    return keys


def read_official_splits(data_dir: Path) -> dict[str, str]:
    """Image key -> "train" or "val", from the release's train_filenames.csv and valid_filenames.csv."""
    splits: dict[str, str] = {}
    for split, name in SPLIT_FILES.items():
        path = _require_file(Path(data_dir) / name, f"a CSV whose first column lists the {split} image paths")
        for key in _listed_keys(path):
            if splits.get(key, split) != split:
                raise DataLayoutError(f"{path}: image {key!r} is also listed in {SPLIT_FILES[splits[key]]}")
            splits[key] = split
    return splits


# -- conversion ------------------------------------------------------------------------------------------------------
def canonical_slots(record: OfficialRecord, letterbox: Letterbox) -> list[dict]:
    """The record's aligned regions as annotation slots, boxes in the canonical frame; unusable ones dropped."""
    aligned = {region.name: region for region in record.regions if region.sentences}
    boxes = to_canonical({name: region.box for name, region in aligned.items()}, letterbox)
    return [{"region": name, "box": [round(float(v), 2) for v in boxes[name]], "sentences": list(region.sentences)}
            for name, region in aligned.items() if name in boxes]


def annotation_record(record: OfficialRecord, *, image_id: str, study_id: str, split: str, letterbox: Letterbox) -> dict:
    """One line of annotations.jsonl.gz, as `asgbench pretrain prepare` writes it, from an official record."""
    return {"image_id": image_id, "split": split, "study_id": study_id, "sentences": list(record.sentences),
            "tags": list(record.tags), "slots": {ALIGNMENT_SOURCE: canonical_slots(record, letterbox)},
            "box_source": ALIGNMENT_SOURCE}


@dataclass(frozen=True)
class _IndexedImage:
    image_id: str
    path: str
    study_id: str


def _mimic_images(mimic_root: Path) -> dict[str, _IndexedImage]:
    """The MIMIC index by dicom id, which is the file stem of a release key."""
    frame = read_index("mimic", mimic_root).frame
    frame = frame[frame["path"].notna()]
    return {str(image_id): _IndexedImage(str(image_id), str(path), str(study))
            for image_id, path, study in zip(frame["image_id"], frame["path"], frame["study_id"])}


def _skip_reason(record: OfficialRecord, split: str | None, image: _IndexedImage | None) -> str | None:
    if split is None:
        return "unlisted"
    if image is None:
        return "unmatched"
    return None if record.sentences else "empty_reports"


def _letterbox_of(mimic_root: Path, image: _IndexedImage, key: str) -> Letterbox:
    path = mimic_root / image.path
    if not path.is_file():
        raise DataLayoutError(f"{path}: image file missing (labels.pickle key {key!r})")
    return Letterbox.fit(*image_shape(path), CANONICAL_SIZE)


def prepare_from_official(mimic_root: Path, labels_dir: Path, out: Path, progress: Callable[[int, int], None] | None = None
                          ) -> dict:
    """Write annotations.jsonl.gz + manifest.json from the official release's labels; returns the manifest."""
    mimic_root, labels_dir, out = Path(mimic_root), Path(labels_dir), Path(out)
    records = read_official_labels(labels_dir)
    splits = read_official_splits(labels_dir)
    images = _mimic_images(mimic_root)
    counts = {"images": 0, "train": 0, "val": 0, "unmatched": 0, "unlisted": 0, "empty_reports": 0,
              "official_slots": 0, "sentences": 0}
    out.mkdir(parents=True, exist_ok=True)
    temporary = out / f".{ANNOTATIONS_FILE}.{os.getpid()}"
    try:
        with gzip.open(temporary, "wt") as handle:
            for done, record in enumerate(records.values(), 1):
                split, image = splits.get(record.key), images.get(record.dicom_id)
                skip = _skip_reason(record, split, image)
                if skip:
                    counts[skip] += 1
                else:
                    line = annotation_record(record, image_id=image.image_id, study_id=image.study_id, split=split,
                                             letterbox=_letterbox_of(mimic_root, image, record.key))
                    handle.write(json.dumps(line) + "\n")
                    counts["images"] += 1
                    counts[split] += 1
                    counts["sentences"] += len(record.sentences)
                    counts["official_slots"] += len(line["slots"][ALIGNMENT_SOURCE])
                if progress:
                    progress(done, len(records))
        if counts["images"] == 0:
            raise DataLayoutError(f"{labels_dir / LABELS_FILE}: none of its {len(records)} records is both listed in "
                                  f"{' or '.join(SPLIT_FILES.values())} and an image of the MIMIC index at {mimic_root} "
                                  f"({counts['unlisted']} unlisted, {counts['unmatched']} not in the index)")
        os.replace(temporary, out / ANNOTATIONS_FILE)
    finally:
        temporary.unlink(missing_ok=True)
    manifest = {"format": FORMAT, "version": 1, "parser_version": None, "mimic_root": str(mimic_root.resolve()),
                "scene_graphs": None, "source": MANIFEST_SOURCE, "asg_labels": str(labels_dir.resolve()),
                "counts": counts, "official_split": True}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
