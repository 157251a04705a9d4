"""GLoRIA zero-shot against GLoRIA's own code: a checkpoint in the release's layout, scored on fixed inputs.

The checkpoint is written from ``tests/release_manifests/gloria.json`` by the seeded recipe of
``tests/release_manifest.py`` (seed 0) and loaded through the registry. The reference numbers below were
computed outside the project with GLoRIA's code (marshuang80/gloria at 416466a: ``GLoRIA`` built from
``configs/chexpert_pretrain_config.yaml``, transformers 4.30.2, the same file loaded with ``load_state_dict``)
on the same input (the preprocessed :func:`fixed_images` times :data:`INPUT_GAIN`; GLoRIA's own test
transform gives the same preprocessed tensor, checked there to 0.0), with the prompts of
``prompts/gloria/chexpert.v1.json`` through ``process_class_prompts``, a tokenizer made from
:data:`VOCABULARY`, then ``get_similarities(..., "both")`` per class (max over prompts) and
``zero_shot_classification`` (which also z-scores each class).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from asgbench.encoders import create_encoder
from asgbench.tasks.scorers import SCORERS, ScorerInputs
from asgbench.tasks.scorers import gloria as gloria_scorer
from asgbench.tasks.scorers.gloria_text import WORD_NUM, character_count, clean_prompt
from asgbench.tasks.scorers.prompts import load_prompts
from asgbench.tasks.specs import TASKS
from release_manifest import load_manifest, write_checkpoint

# A WordPiece vocabulary: whole words, words split into pieces (so GLoRIA's word aggregation has work), and
# words left out (they become [UNK]).
VOCABULARY = """[PAD] [UNK] [CLS] [SEP] [MASK] the at of in is lung left right lobe base bases zone upper lower mid
mild mildly minimal trace tiny large stable increased decreased improved moderate partial patchy bilateral
heart size chest view erect ap normal limits remains enlarged prominent cardiac silhouette edema pleural
ate ##lect ##asis cardio ##megaly consol ##ida ##tion eff ##usion sub ##segment ##al ##pul ##monic inter
##stitial pulmon ##ary band ##like resid ##ual air ##space improve ##ment demon ##strates port ##able""".split()
IMAGE_SEED = 7
IMAGES = 3
# The recipe's small weights (0.02 * randn convolutions, BatchNorm in eval with its seeded statistics) let a
# 50-layer ResNet forget a [-1, 1] input: its layer3 and layer4 outputs are the BatchNorm biases' echo, equal
# across images to 1e-5. Multiplying the preprocessed images by this gain lets their content reach the
# similarities (layer3 maps then differ by ~60 % across images, pooled layer4 by ~6 %).
INPUT_GAIN = 1e6

# GLoRIA's get_similarities("both"), max over each class's prompts: images x (Atelectasis, Cardiomegaly,
# Consolidation, Edema, Pleural Effusion).
REFERENCE_RAW = [
    [0.10344705, 0.0941826925, 0.117440097, 0.0656468794, 0.0808928385],
    [0.108350225, 0.106296428, 0.129106969, 0.0738371983, 0.0823007077],
    [0.101955637, 0.108994275, 0.119109511, 0.0657479316, 0.0839487687],
]
# GLoRIA's zero_shot_classification on the same images (the raw scores z-scored per class over the images).
REFERENCE_NORMALISED = [
    [-0.416326344, -1.39338553, -0.86292088, -0.72023344, -1.19143105],
    [1.37863731, 0.487272799, 1.40178216, 1.41413116, -0.0641095117],
    [-0.962305486, 0.906113863, -0.538864195, -0.693899632, 1.25554049],
]


def tokenizer_folder(folder):
    """A tokenizer folder as Bio_ClinicalBERT's ships one (vocab.txt, no tokenizer.json), lower-casing."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True}))
    return folder


def fixed_images() -> torch.Tensor:
    """Canonical 256 x 256 uint8 images (smooth seeded patterns, so the regions differ from one another)."""
    generator = torch.Generator().manual_seed(IMAGE_SEED)
    coarse = torch.rand(IMAGES, 1, 8, 8, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(256, 256), mode="bicubic", align_corners=False)
    noise = 0.1 * torch.rand(IMAGES, 1, 256, 256, generator=generator)
    return ((smooth + noise).clamp(0, 1) * 255).round().to(torch.uint8)[:, 0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gloria")
    path = write_checkpoint(load_manifest("gloria"), folder, seed=0)
    tokenizer_folder(folder / "Bio_ClinicalBERT")
    encoder = create_encoder("gloria", checkpoint=path)
    task = TASKS.get("chexpert-zs")
    prompts = load_prompts("gloria", "chexpert", "v1", task.labels)
    scorer = SCORERS.get("gloria").build(encoder, ScorerInputs(task.labels, prompts, "cpu"))
    with torch.inference_mode():
        scores = scorer.score(encoder.preprocess(fixed_images()) * INPUT_GAIN).numpy().astype(np.float64)
    yield encoder, scores
    shutil.rmtree(folder, ignore_errors=True)  # a full-size file: gone once the module is done


def test_release_layout_loads_without_missing_or_unexpected_keys(setup):
    encoder, _ = setup
    report = encoder.report
    assert encoder.has("zero-shot")
    for component in report.components:
        assert component.loaded and not component.missing and not component.unexpected, component
    assert report.unused_keys == 0
    assert [c.dropped for c in report.components if c.dropped] == [["embeddings.position_ids"]]
    assert encoder.backbone.local == "layer3" and encoder.encode(torch.zeros(1, 3, 224, 224)).grid == (19, 19)


@pytest.mark.parametrize("task_name", ["rsna-zs", "nih-zs", "chexpert-zs"])
def test_prompt_files_cover_the_task_and_fit_gloria_code(task_name):
    task = TASKS.get(task_name)
    prompts = load_prompts("gloria", task.dataset, "v1", task.labels)
    for label in task.labels:
        texts = prompts.classes[label]["positive"]
        assert len(texts) == 5
        # get_local_similarities reads len(prompt) word positions after [CLS]: at most 96 fit in 97
        assert all(character_count(t) <= WORD_NUM - 1 and len(clean_prompt(t).split()) > 1 for t in texts), label


def test_scores_match_gloria_code(setup):
    _, scores = setup
    assert np.abs(scores - np.array(REFERENCE_RAW)).max() <= 1e-4
    assert np.abs(gloria_scorer.normalize(scores) - np.array(REFERENCE_NORMALISED)).max() <= 1e-4
