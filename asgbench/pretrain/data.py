"""Pre-training batches: image crops with their region boxes, tokenised reports with word and sentence indices.

Everything random is derived from (seed, epoch, image position), never from a global stream, so the same
config gives the same batches whether training runs in one go or resumes after an interruption, and every
data-parallel process agrees on the order.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from asgbench.data.store import ImageStore
from asgbench.errors import DataLayoutError
from asgbench.pretrain.anatomy import crop_to_grid
from asgbench.pretrain.report_parser import HEDGED_POLICIES
from asgbench.vocab import ASG_TAGS

ANNOTATIONS_FILE = "annotations.jsonl.gz"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Slot:
    region: str
    box: tuple[float, float, float, float]    # canonical 256 frame
    sentences: tuple[int, ...]


@dataclass(frozen=True)
class PairRecord:
    image_id: str
    split: str
    sentences: tuple[str, ...]
    tags: tuple[int, ...]
    slots: dict[str, tuple[Slot, ...]]         # alignment source ("rules", "scene-graph") -> slots

    @classmethod
    def from_json(cls, data: dict) -> PairRecord:
        slots = {source: tuple(Slot(s["region"], tuple(s["box"]), tuple(s["sentences"])) for s in items)
                 for source, items in data["slots"].items()}
        return cls(data["image_id"], data["split"], tuple(data["sentences"]), tuple(data["tags"]), slots)


HEDGED_KEY = "hedged"      # the manifest's record of the policy the tag vectors were made with
MASKED_HEDGED = "ignore"   # the policy whose -1 tags IRL leaves out


def masks_uncertain_tags(manifest: dict) -> bool:
    """Whether IRL leaves the -1 tags out: only when the data were prepared with ``--hedged ignore``. A manifest
    without the key (prepared before the policy was recorded, or imported from the release) trains as before,
    with -1 counted as absent as the release does."""
    policy = manifest.get(HEDGED_KEY)
    if policy is not None and policy not in HEDGED_POLICIES:
        raise DataLayoutError(f"{MANIFEST_FILE}: hedged policy {policy!r}; expected one of {', '.join(HEDGED_POLICIES)}")
    return policy == MASKED_HEDGED


def read_annotations(folder: Path) -> tuple[dict, list[PairRecord]]:
    folder = Path(folder)
    manifest_path, records_path = folder / MANIFEST_FILE, folder / ANNOTATIONS_FILE
    if not manifest_path.is_file() or not records_path.is_file():
        raise DataLayoutError(f"{folder}: expected {MANIFEST_FILE} and {ANNOTATIONS_FILE} (run `asgbench pretrain prepare`)")
    manifest = json.loads(manifest_path.read_text())
    records = []
    with gzip.open(records_path, "rt") as handle:
        for number, line in enumerate(handle, 1):
            try:
                records.append(PairRecord.from_json(json.loads(line)))
            except (KeyError, ValueError, TypeError) as exc:
                raise DataLayoutError(f"{records_path}: line {number} is not an annotation record ({exc})") from None
    if records and len(records[0].tags) != len(ASG_TAGS):
        raise DataLayoutError(f"{records_path}: tag vectors have {len(records[0].tags)} entries, expected {len(ASG_TAGS)}")
    return manifest, records


@dataclass
class Batch:
    images: torch.Tensor           # B x 3 x S x S normalised
    input_ids: torch.Tensor        # B x T
    attention_mask: torch.Tensor   # B x T
    word_slots: torch.Tensor       # B x T: 0 = [CLS], 1.. words, -1 dropped
    tags: torch.Tensor             # B x 40 in {1, 0, -1}
    boxes: torch.Tensor            # B x K x 4 grid units
    box_valid: torch.Tensor        # B x K
    sentence_index: torch.Tensor   # B x K x max_words-1 word positions (-1 padding)

    def to(self, device: str) -> Batch:
        return Batch(**{name: value.to(device) for name, value in vars(self).items()})


def epoch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(count)


class BatchMaker:
    """Turns records into model inputs: crop, box mapping, tokenisation, word and sentence indices."""

    def __init__(self, records: list[PairRecord], store: ImageStore, tokenizer, *, size: int, grid: tuple[int, int],
                 mean: tuple[float, ...], std: tuple[float, ...], max_words: int, max_regions: int, alignment: str,
                 train: bool, seed: int) -> None:
        self.records, self.store, self.tokenizer = records, store, tokenizer
        self.crop = round(store.size * 224 / 256)  # MGCA/ASG: 224 of the 256 letterboxed image, then resized to ``size``
        self.size, self.grid, self.max_words, self.max_regions = size, grid, max_words, max_regions
        self.alignment, self.train, self.seed = alignment, train, seed
        self._tokenised: dict[int, tuple] = {}     # a report tokenises the same way every epoch
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def _crop_origin(self, position: int, epoch: int) -> tuple[int, int]:
        room = self.store.size - self.crop
        if not self.train or room <= 0:
            return room // 2, room // 2
        rng = np.random.default_rng([self.seed, epoch, position])
        top, left = rng.integers(0, room + 1, size=2)
        return int(top), int(left)

    def _words(self, sentences: tuple[str, ...]):
        """Tokenise the caption; map tokens to word slots and each sentence to its word positions."""
        starts, caption = [], ""
        for sentence in sentences:
            starts.append(len(caption))
            caption += sentence + " "
        encoded = self.tokenizer(caption.strip(), truncation=True, max_length=self.max_words, return_offsets_mapping=True)
        word_ids = encoded.word_ids()
        offsets = encoded["offset_mapping"]
        slots, word_sentence, slot_of_word = [], [], {}
        for token, word in enumerate(word_ids):
            if token == 0:
                slots.append(0)                   # [CLS]
            elif word is None:                    # [SEP]: the last "word", as the released aggregation keeps it
                slots.append(min(len(slot_of_word) + 1, self.max_words - 1))
            else:
                if word not in slot_of_word:
                    slot_of_word[word] = min(len(slot_of_word) + 1, self.max_words - 1)
                    position = offsets[token][0]
                    word_sentence.append(int(np.searchsorted(starts, position, side="right") - 1))
                slots.append(slot_of_word[word])
        return encoded["input_ids"], slots, word_sentence

    def make(self, positions: list[int], epoch: int) -> Batch:
        records = [self.records[p] for p in positions]
        raw = self.store.batch([r.image_id for r in records])
        crops, boxes, valid, index, tags = [], [], [], [], []
        ids, slot_rows = [], []
        width = self.max_words - 1
        for position, record, image in zip(positions, records, raw):
            top, left = self._crop_origin(position, epoch)
            crops.append(image[top : top + self.crop, left : left + self.crop])
            if position not in self._tokenised:
                self._tokenised[position] = self._words(record.sentences)
            input_ids, word_slots, word_sentence = self._tokenised[position]
            ids.append(input_ids)
            slot_rows.append(word_slots)
            tags.append(record.tags)
            words_of_sentence: dict[int, list[int]] = {}
            for word_position, sentence in enumerate(word_sentence):
                words_of_sentence.setdefault(sentence, []).append(word_position)
            slots = record.slots.get(self.alignment, ())[: self.max_regions]
            box_rows = np.zeros((self.max_regions, 4), dtype=np.float32)
            valid_rows = np.zeros(self.max_regions, dtype=bool)
            index_rows = np.full((self.max_regions, width), -1, dtype=np.int64)
            if slots:
                grid_boxes, inside = crop_to_grid(np.array([s.box for s in slots]), top, left, self.crop, self.grid)
                for k, slot in enumerate(slots):
                    words = sorted({w for s in slot.sentences for w in words_of_sentence.get(s, [])})[:width]
                    if inside[k] and words:
                        box_rows[k], valid_rows[k] = grid_boxes[k], True
                        index_rows[k, : len(words)] = words
            boxes.append(box_rows)
            valid.append(valid_rows)
            index.append(index_rows)
        length = max(len(i) for i in ids)
        input_ids = torch.zeros(len(ids), length, dtype=torch.long)
        attention = torch.zeros(len(ids), length, dtype=torch.long)
        word_slots = torch.full((len(ids), length), -1, dtype=torch.long)
        for row, (tokens, slots) in enumerate(zip(ids, slot_rows)):
            input_ids[row, : len(tokens)] = torch.tensor(tokens)
            attention[row, : len(tokens)] = 1
            word_slots[row, : len(slots)] = torch.tensor(slots)
        pixels = torch.from_numpy(np.stack(crops)).float().div(255.0)[:, None]
        if self.size != self.crop:
            pixels = F.interpolate(pixels, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        images = (pixels.expand(-1, self.mean.shape[1], -1, -1) - self.mean) / self.std
        return Batch(images, input_ids, attention, word_slots, torch.tensor(np.array(tags), dtype=torch.long),
                     torch.from_numpy(np.stack(boxes)), torch.from_numpy(np.stack(valid)), torch.from_numpy(np.stack(index)))
