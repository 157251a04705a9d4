"""MedCLIP zero-shot: asgbench's scorer against MedCLIP's own PromptClassifier, on a release-layout checkpoint.

The reference is MedCLIP's code itself (the installed ``medclip`` 0.0.3, identical to RyanWangZf/MedCLIP@9c3396f
in modeling_medclip.py, prompts.py and constants.py), imported module by module: its package ``__init__``
imports ``dataset.py``, which needs a class transformers 5 removed. Its hub downloads (Bio_ClinicalBERT,
ImageNet ResNet-50, a tokenizer) are replaced by the same architectures with the checkpoint's weights and by an
offline WordPiece tokenizer; its ``.cuda()`` calls are made no-ops for the duration of the forward.
"""
from __future__ import annotations

import importlib
import importlib.util
import io
import json
import math
import shutil
import sys
import types
import zipfile
from importlib import resources

import pytest
import torch

from asgbench.encoders import create_encoder
from asgbench.encoders.text import load_tokenizer
from asgbench.encoders.tokenizer import train_wordpiece
from asgbench.tasks.scorers import SCORERS, ScorerInputs
from asgbench.tasks.scorers import medclip as medclip_scorer
from asgbench.tasks.scorers.prompts import PromptSet, load_prompts
from asgbench.tasks.specs import TASKS
from release_manifest import load_manifest, write_checkpoint

POSITION_IDS = "text_model.model.embeddings.position_ids"
# longer than MedCLIP's 77-token cut, so truncation is exercised (and padding of its class changes with it)
LONG = ("there is " + "patchy bibasilar opacity with small bilateral pleural effusion and mild cardiomegaly , " * 16).strip()


def _prompt_file(family: str, dataset: str) -> dict:
    return json.loads((resources.files("asgbench.tasks") / "prompts" / family / f"{dataset}.v1.json").read_text())


@pytest.fixture(scope="module")
def upstream():
    """medclip.constants, .prompts and .modeling_medclip, imported without running medclip/__init__.py."""
    spec = importlib.util.find_spec("medclip")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("MedCLIP's own package (pip install --no-deps medclip==0.0.3) is not installed")
    saved = {k: v for k, v in sys.modules.items() if k == "medclip" or k.startswith("medclip.")}
    package = types.ModuleType("medclip")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["medclip"] = package
    try:
        names = ("constants", "prompts", "modeling_medclip")
        modules = types.SimpleNamespace(**{n: importlib.import_module(f"medclip.{n}") for n in names})
    finally:
        for key in [k for k in sys.modules if k == "medclip" or k.startswith("medclip.")]:
            del sys.modules[key]
        sys.modules.update(saved)
    return modules


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """medclip-pretrained.zip written from the committed manifest, with a tokenizer folder beside it."""
    folder = tmp_path_factory.mktemp("medclip-release")
    path = write_checkpoint(load_manifest("medclip-r50"), folder, seed=0)
    texts = [LONG] + [p for name in ("rsna", "chexpert", "nih")
                      for c in _prompt_file("medclip", name)["classes"].values() for p in c["positive"]]
    train_wordpiece(texts, folder / "Bio_ClinicalBERT", vocab_size=1200)
    yield path
    shutil.rmtree(folder, ignore_errors=True)  # a full-size file: gone once the module is done


@pytest.fixture(scope="module")
def encoder(release):
    return create_encoder("medclip-r50", checkpoint=release)


@pytest.fixture(scope="module")
def vit_encoder(release, tmp_path_factory):
    """medclip-vit-pretrained.zip from its manifest (seed 0), with the same tokenizer folder beside it."""
    folder = tmp_path_factory.mktemp("medclip-vit-release")
    path = write_checkpoint(load_manifest("medclip-vit"), folder, seed=0)
    shutil.copytree(release.parent / "Bio_ClinicalBERT", folder / "Bio_ClinicalBERT")
    yield create_encoder("medclip-vit", checkpoint=path)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def reference_model(upstream, release):
    """MedCLIP's MedCLIPModel (ResNet-50 variant) holding the same file's weights."""
    from transformers import BertConfig, BertModel
    import torchvision

    modeling = upstream.modeling_medclip
    bert = lambda name, **kw: BertModel(BertConfig(vocab_size=28996, **kw))   # Bio_ClinicalBERT's sizes
    modeling.AutoModel = types.SimpleNamespace(from_pretrained=bert)
    modeling.AutoTokenizer = types.SimpleNamespace(from_pretrained=lambda name: load_tokenizer(release.parent / "Bio_ClinicalBERT"))
    modeling.torchvision = types.SimpleNamespace(models=types.SimpleNamespace(
        resnet50=lambda pretrained=False: torchvision.models.resnet50(weights=None)))
    model = modeling.MedCLIPModel(vision_cls=modeling.MedCLIPVisionModel)
    with zipfile.ZipFile(release) as archive:
        state = torch.load(io.BytesIO(archive.read(upstream.constants.WEIGHTS_NAME)), weights_only=True)
    # transformers 5 no longer keeps BERT's position_ids buffer, so MedCLIP's own strict load fails on it (its issue #37)
    assert torch.equal(state.pop(POSITION_IDS), torch.arange(512)[None])
    model.load_state_dict(state, strict=True)
    return model.eval()


def _prompts(release) -> dict[str, list[str]]:
    """A few prompts per class, of different lengths, one of them past 77 tokens."""
    chexpert = _prompt_file("medclip", "chexpert")["classes"]
    classes = {label: chexpert[label]["positive"][::37][:4] for label in ("Atelectasis", "Pleural Effusion")}
    classes["Pleural Effusion"] = classes["Pleural Effusion"][:3] + [LONG]
    tokenizer = load_tokenizer(release.parent / "Bio_ClinicalBERT")
    assert len(tokenizer(LONG)["input_ids"]) > 128   # past 77 and past the tokenizer's own 128
    return classes


def _images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    ramp = torch.linspace(0, 255, 256)
    noise = torch.rand(2, 256, 256, generator=generator) * 255
    return (0.5 * noise + 0.5 * ramp[None, :, None] * torch.tensor([1.0, 0.4])[:, None, None]).to(torch.uint8)


def _pixels() -> torch.Tensor:
    """Preprocessed input made directly (MedCLIP's one-channel mean/std, repeated to 3), independent of preprocess()."""
    grey = torch.rand(2, 1, 224, 224, generator=torch.Generator().manual_seed(5))
    return ((grey - 0.5862785803043838) / 0.27950088968644304).expand(-1, 3, -1, -1).contiguous()


# logit_scale below, inside and above MedCLIP's clamp range [0, 4.6052]; both of PromptClassifier's reductions
@pytest.mark.parametrize("scale, reduction, ensemble", [(-0.5, "max", False), (2.0, "mean", True), (5.3, "max", False)])
def test_scores_match_medclip_prompt_classifier(upstream, release, encoder, reference_model, monkeypatch, scale, reduction, ensemble):
    classes = _prompts(release)
    labels = tuple(classes)
    encoder.parts["logit_scale"].logit_scale.data.fill_(scale)
    reference_model.logit_scale.data.fill_(scale)   # (MedCLIP clamps it in place on every call)
    inputs = ScorerInputs(labels, PromptSet("medclip", "test", {k: {"positive": v} for k, v in classes.items()}, ""), "cpu")
    if ensemble:
        scorer = medclip_scorer.build(encoder, inputs, reduction=reduction)
    else:   # the registered scorer as it runs, against PromptClassifier's default (as MedCLIP's evaluation builds it)
        scorer = SCORERS.get("medclip").build(encoder, inputs)
    pixels = encoder.preprocess(_images())
    ours = scorer.score(pixels)

    upstream.prompts.AutoTokenizer = types.SimpleNamespace(
        from_pretrained=lambda name: load_tokenizer(release.parent / "Bio_ClinicalBERT"))
    prompt_inputs = upstream.prompts.process_class_prompts(classes)
    monkeypatch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)
    classify = upstream.modeling_medclip.PromptClassifier
    classifier = (classify(reference_model, ensemble=True) if ensemble else classify(reference_model)).eval()
    with torch.no_grad():
        out = classifier(pixel_values=pixels.clone(), prompt_inputs=prompt_inputs)
    assert out["class_names"] == list(labels)
    theirs = out["logits"]
    assert ours.shape == theirs.shape == (2, len(labels))
    difference = (ours - theirs).abs().max().item()
    print(f"medclip scorer vs PromptClassifier, logit_scale {scale}, {reduction}: max abs diff {difference:.3g}")
    assert difference <= 1e-5, (ours, theirs)
    assert scorer.details["reduction"] == reduction and scorer.details["max_length"] == 77
    assert scorer.details["logit_scale"] == pytest.approx(math.exp(min(max(scale, 0.0), 4.6052)))


# MedCLIP's PromptClassifier on MedCLIPModel(vision_cls=MedCLIPVisionModelViT), computed outside the project (MedCLIP
# @9c3396f under transformers 4.24.0, the Swin its release was saved with; Swin-Tiny and BERT built from their configs)
# on medclip-vit-pretrained.zip as write_checkpoint(manifest, seed=0) writes it (Swin's relative_position_index
# left as the model computes it: the recipe writes integer buffers as zeros, the release holds the real index),
# on _pixels() and on the token ids MedCLIP's process_class_prompts gives for _prompts() with this file's tokenizer.
VIT_REFERENCE = {
    (-0.5, "max"): [[-0.06590119749307632, -0.06024276465177536], [-0.03418213874101639, -0.03216388449072838]],
    (2.0, "mean"): [[-0.5307567715644836, -0.5571803450584412], [-0.297408789396286, -0.3314169645309448]],
    (5.3, "max"): [[-6.590314865112305, -6.024454593658447], [-3.4183151721954346, -3.2164835929870605]],
}


def test_vit_scores_match_medclip_reference_numbers(release, vit_encoder):
    classes = _prompts(release)
    inputs = ScorerInputs(tuple(classes), PromptSet("medclip", "test", {k: {"positive": v} for k, v in classes.items()}, ""), "cpu")
    pixels = _pixels()
    for (scale, reduction), expected in VIT_REFERENCE.items():
        vit_encoder.parts["logit_scale"].logit_scale.data.fill_(scale)
        scorer = SCORERS.get("medclip").build(vit_encoder, inputs) if reduction == "max" else \
            medclip_scorer.build(vit_encoder, inputs, reduction=reduction)
        difference = (scorer.score(pixels) - torch.tensor(expected)).abs().max().item()
        print(f"medclip-vit scorer vs MedCLIP's numbers, logit_scale {scale}, {reduction}: max abs diff {difference:.3g}")
        assert difference <= 1e-5, (scale, reduction, difference)


@pytest.mark.parametrize("entry", ["medclip-r50", "medclip-vit"])
def test_release_layout_loads_without_missing_or_unexpected_keys(request, entry):
    manifest = load_manifest(entry)
    loaded = request.getfixturevalue("encoder" if entry == "medclip-r50" else "vit_encoder")   # the scorer tests' files
    report = loaded.report
    assert report.container == "zip:pytorch_model.bin"
    assert {c.name for c in report.components} == {"backbone", "image_projection", "text", "text_projection", "logit_scale"}
    for component in report.components:
        assert component.loaded and not component.missing and not component.unexpected, component
    assert report.unused_keys == 0, report.unused_examples
    dropped = {c.name: c.dropped for c in report.components}
    # dropped: the buffers transformers 5 recomputes (BERT's position_ids, Swin's relative_position_index) and,
    # from the backbone's view only, the ResNet fc that the image_projection component loads
    assert dropped["text"] == ["embeddings.position_ids"]
    if entry == "medclip-r50":
        assert dropped["backbone"] == ["fc.weight"]
    else:
        assert len(dropped["backbone"]) == 12 and all(k.endswith("relative_position_index") for k in dropped["backbone"])
    assert not dropped["image_projection"] and not dropped["text_projection"] and not dropped["logit_scale"]
    assert loaded.has("zero-shot") and loaded.config.zero_shot == "medclip"
    listed = {key for _, key, _, _ in manifest["tensors"]}
    assert len(listed) == len(manifest["tensors"])


def test_prompt_files_are_medclips_full_prompt_lists(upstream):
    """rsna and chexpert are generate_*_class_prompts(n=None) exactly; nih reuses them for the same findings."""
    rsna = upstream.prompts.generate_rsna_class_prompts()
    chexpert = upstream.prompts.generate_chexpert_class_prompts()
    assert {k: v["positive"] for k, v in _prompt_file("medclip", "rsna")["classes"].items()} == rsna
    assert {k: v["positive"] for k, v in _prompt_file("medclip", "chexpert")["classes"].items()} == chexpert
    nih = _prompt_file("medclip", "nih")
    same = {"Atelectasis": chexpert["Atelectasis"], "Cardiomegaly": chexpert["Cardiomegaly"],
            "Consolidation": chexpert["Consolidation"], "Edema": chexpert["Edema"],
            "Effusion": chexpert["Pleural Effusion"], "Pneumonia": rsna["Pneumonia"]}
    for label, prompts in same.items():
        assert nih["classes"][label]["positive"] == prompts, label
    assert set(nih["written_for_asgbench"]) == set(nih["classes"]) - set(same)


@pytest.mark.parametrize("task", ["rsna-zs", "chexpert-zs", "nih-zs"])
def test_prompt_sets_cover_the_zero_shot_tasks(task):
    spec = TASKS.get(task)
    prompts = load_prompts(SCORERS.get("medclip").prompt_family, spec.dataset, "v1", spec.labels)
    assert tuple(prompts.classes) == spec.labels
    assert all(not c.get("negative") for c in prompts.classes.values())   # MedCLIP has affirmed prompts only
