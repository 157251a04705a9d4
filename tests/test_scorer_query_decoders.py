"""MedKLIP's and KAD's zero-shot scorers against numbers their authors' own code gives on the same files.

Each release is written from its manifest (tests/release_manifests/, generated from the authors' model
classes) by the seeded recipe of tests/release_manifest.py. KAD's file stores shared tensors under two
names (``resnet.*`` and ``res_features.*``, ``decoder_norm`` and ``decoder.norm``); the real file holds
one storage for both, so the copy here ties them the same way. Every weight matrix and convolution kernel
(BERTs included) is then rescaled from the recipe's 0.02 to He's sqrt(2 / fan_in): at 0.02 the ResNet's
output no longer depends on the image and the BERT's hardly on the text, so the comparison would not see
the image path or which query is which. MedKLIP's entity queries need a
Bio_ClinicalBERT; a small one (2 layers, width 768) is written from a config by the same recipe, with a
WordPiece vocabulary made here.

REFERENCE holds the scores that the authors' code (MedKLIP@8e60b03 Sample_zero-shot_Classification_CXR14:
MedKLIP(config, disease_book) with its own BertTokenizer, softmax, [:, mapping, 1]; KAD@591d999 A3_CLIP:
ModelRes512 / ModelRes, CLP_clinical, TQN_Model, softmax(-1)[:, :, 1]) computed, in a scratch environment
(torch 2.14.1, torchvision 0.29.1, transformers 4.30.2), on files written by these functions and on the
tensors ``pixels`` below makes of IMAGES (the whole image resized bilinearly, ImageNet mean/std): the scorer is
compared here, each model's own transform in tests/test_native_transforms.py.
"""
from __future__ import annotations

import pytest
import torch

from asgbench.encoders import create_encoder
from asgbench.errors import MissingDependencyError
from asgbench.tasks.scorers import SCORERS, ScorerInputs
from asgbench.tasks.scorers.prompts import load_prompts
from asgbench.tasks.specs import TASKS as TASK_SPECS
from tests.release_folders import he_scaled, write_bert_folder
from tests.release_manifest import load_manifest, random_state

TASKS = {"nih": "nih-zs", "rsna": "rsna-zs", "chexpert": "chexpert-zs"}
SEQUENTIAL = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
TOLERANCE = 1e-4

# authors' code, 2 images (rows) x the task's labels (columns, in asgbench's label order)
REFERENCE: dict[str, dict[str, list[list[float]]]] = {
    "medklip": {
        "rsna": [
            [0.9216129],
            [0.947392],
        ],
        "nih": [
            [0.8424811, 0.8719283, 0.9112448, 0.9216301, 0.8914784, 0.9114944, 0.9216129, 0.9231318, 0.8758008, 0.9152316, 0.9211656, 0.9029776, 0.9225734, 0.9124531],
            [0.9286371, 0.9391314, 0.9274172, 0.9458855, 0.9403756, 0.9505568, 0.947392, 0.9248465, 0.9279237, 0.9518696, 0.9451686, 0.95109, 0.9459379, 0.9561814],
        ],
        "chexpert": [
            [0.8424811, 0.8719283, 0.8758008, 0.9152316, 0.9112448],
            [0.9286371, 0.9391314, 0.9279237, 0.9518696, 0.9274172],
        ],
    },
    "kad": {
        "rsna": [
            [0.781554],
            [0.7881299],
        ],
        "nih": [
            [0.6656847, 0.6979144, 0.6133643, 0.7116786, 0.6768253, 0.7426406, 0.7607813, 0.7255232, 0.7016829, 0.7083137, 0.7058285, 0.6749719, 0.6273798, 0.6721228],
            [0.6733102, 0.7064077, 0.6251151, 0.7213273, 0.6870493, 0.7527568, 0.7712302, 0.733243, 0.7105289, 0.718355, 0.7151662, 0.6813079, 0.6341959, 0.6810089],
        ],
        "chexpert": [
            [0.5782668, 0.6397477, 0.6487492, 0.6636456, 0.5519674],
            [0.5854923, 0.6490438, 0.6591118, 0.6737095, 0.56389],
        ],
    },
    "kad-224": {
        "rsna": [
            [0.3490781],
            [0.3469684],
        ],
        "nih": [
            [0.4236393, 0.4225649, 0.4451022, 0.4448304, 0.3552003, 0.3965768, 0.2635077, 0.4226623, 0.3774625, 0.2671611, 0.3176461, 0.4045781, 0.337345, 0.4142807],
            [0.4178351, 0.4150042, 0.4385392, 0.4381874, 0.3478092, 0.3905035, 0.2556387, 0.4167059, 0.372063, 0.2599111, 0.3140233, 0.3967779, 0.3332623, 0.4058588],
        ],
        "chexpert": [
            [0.4148329, 0.4206315, 0.3647355, 0.2623004, 0.3974519],
            [0.4077851, 0.4141304, 0.3582078, 0.2547411, 0.3889853],
        ],
    },
}


def write_release(name: str, folder, seed: int = 0):
    """The release file by the manifest recipe, with the tensors the real file shares tied together."""
    manifest = load_manifest(name)
    state = random_state(manifest, seed)
    for tensors in state.values():
        he_scaled(tensors)
    if name.startswith("kad"):
        image = state["image_encoder"]
        for key in [k for k in image if k.startswith("res_features.")]:
            index, rest = key[len("res_features."):].split(".", 1)
            image[key] = image[f"resnet.{SEQUENTIAL[index]}.{rest}"]
        for leaf in ("weight", "bias"):
            state["model"][f"decoder.norm.{leaf}"] = state["model"][f"decoder_norm.{leaf}"]
    path = folder / manifest["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def images() -> torch.Tensor:
    """Two canonical uint8 images (2 x 256 x 256): smooth seeded patterns."""
    coarse = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    smooth = torch.nn.functional.interpolate(coarse, size=(256, 256), mode="bilinear", align_corners=False)
    return (smooth[:, 0] * 255).round().to(torch.uint8)


def pixels(images: torch.Tensor, size: int) -> torch.Tensor:
    """The input the reference numbers were computed on: each uint8 image resized whole to ``size`` (bilinear,
    no antialias), as three channels normalised by ImageNet's mean and std."""
    x = torch.nn.functional.interpolate(images[:, None].float() / 255.0, size=(size, size), mode="bilinear",
                                        align_corners=False).expand(-1, 3, -1, -1)
    mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    return (x - mean) / std


def scorer_for(encoder, dataset: str):
    task = TASK_SPECS.get(TASKS[dataset])
    entry = SCORERS.get(encoder.config.zero_shot)
    prompts = load_prompts(entry.prompt_family, dataset, "v1", task.labels)
    return entry.build(encoder, ScorerInputs(task.labels, prompts, "cpu"))


def load(name: str, tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    write_bert_folder(weights / ("Bio_ClinicalBERT" if name == "medklip" else "Med-KEBERT"), weights=name == "medklip")
    monkeypatch.setenv("ASGBENCH_WEIGHTS", str(weights))
    encoder = create_encoder(name, checkpoint=write_release(name, tmp_path / "release"))
    for component in encoder.report.components:
        assert component.loaded and not component.missing and not component.unexpected, component
    assert encoder.report.unused_keys == 0
    return encoder.eval()


@pytest.mark.parametrize("name", ["medklip", "kad", "kad-224"])
def test_scores_are_the_authors(name, tmp_path, monkeypatch):
    encoder = load(name, tmp_path, monkeypatch)
    assert encoder.has("zero-shot")
    batch = pixels(images(), encoder.config.input.size)
    for dataset, expected in REFERENCE[name].items():
        with torch.inference_mode():
            scores = scorer_for(encoder, dataset).score(batch)
        expected = torch.tensor(expected, dtype=torch.float64)
        assert scores.shape == expected.shape
        assert (scores.double() - expected).abs().max().item() <= TOLERANCE, (name, dataset, scores.tolist())


def test_medklip_without_bio_clinicalbert_says_where_to_put_it(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    write_bert_folder(weights / "elsewhere", weights=False)
    monkeypatch.setenv("ASGBENCH_WEIGHTS", str(weights))
    encoder = create_encoder("medklip", checkpoint=write_release("medklip", tmp_path / "release"))
    with pytest.raises(MissingDependencyError, match="Bio_ClinicalBERT") as raised:
        scorer_for(encoder, "rsna")
    assert "\n" not in str(raised.value)
