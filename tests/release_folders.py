"""What a release ships beside its tensors, for tests that load or run it: config objects and folders.

``write_checkpoint`` (``release_manifest.py``) writes the tensors a manifest lists. A release is more than that:
Lightning files pickle a config beside their ``state_dict`` (:func:`release_objects`); folder releases carry a
config (BiomedCLIP's ``open_clip_config.json``, CXR-BERT's ``config.json``) and their tokenizer; the other text
towers read a tokenizer folder (``Bio_ClinicalBERT``, ``Med-KEBERT``) and MedKLIP a whole Bio_ClinicalBERT from
``$ASGBENCH_WEIGHTS``. :func:`write_release` lays all of it out under one weights folder as a user would have it.

Tokenizer folders hold a small uncased WordPiece vocabulary, valid ids for every released BERT: :func:`vocabulary`
(a few words, the rest split into characters), or :func:`prompt_vocabulary`, every word of asgbench's prompt files,
so that prompts tokenize into words and have the lengths they have with the real vocabularies.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from release_manifest import load_manifest, random_state, write_checkpoint


def _lightning(hyper_parameters) -> dict:
    """What a Lightning checkpoint carries beside its ``state_dict``."""
    return {"epoch": 12, "global_step": 4200, "hyper_parameters": hyper_parameters,
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 2e-5}]}], "lr_schedulers": [{"last_epoch": 12}]}


def release_objects(name: str) -> dict:
    """The non-tensor entries each release pickles beside its tensors (config objects need placeholders)."""
    from omegaconf import OmegaConf

    if name == "gloria":
        return _lightning(OmegaConf.create({"model": {"vision": {"model_name": "resnet_50"}}}))
    if name.startswith("mgca"):
        return _lightning(argparse.Namespace(img_encoder="vit_base" if name == "mgca-vit" else "resnet_50", emb_dim=128))
    if name.startswith("asg"):
        return _lightning({"img_encoder": "vit_base" if name == "asg-vit" else "resnet_50", "lambda_irl": 5.0})
    if name == "mrm":
        return {"optimizer": {}, "epoch": 200, "args": argparse.Namespace(model="mrm", mask_ratio=0.75)}
    if name == "convirt":
        return {"optimizer": {}, "config": OmegaConf.create({"name": "convirt"}), "__version__": "1.3.2"}
    return {}


def vocabulary() -> list[str]:
    """A small uncased WordPiece vocabulary: specials, characters, continuation characters, some words."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    words = ["pneumonia", "lung", "the", "is", "of", "and", "in", "pleural", "effusion", "mass", "nodule", "edema", "heart",
             "air", "fluid", "tube", "it", "disease", "normal", "##s", "##ed", "##ing", "##ion", "##al", "##ic", "##y"]
    punctuation = list(".,;:'()-/\"?!")
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + punctuation + letters + [f"##{c}" for c in letters] + words


def prompt_vocabulary() -> list[str]:
    """Specials, characters and every word of the committed prompt files (``asgbench/tasks/prompts/``)."""
    from importlib import resources

    from asgbench.encoders.tokenizer import build_vocabulary

    def strings(node):
        if isinstance(node, str):
            yield node
        for child in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
            yield from strings(child)

    folder = resources.files("asgbench.tasks") / "prompts"
    texts = [text for family in folder.iterdir() if family.is_dir() for source in family.iterdir()
             if source.name.endswith(".json") for text in strings(json.loads(source.read_text()))]
    return build_vocabulary(texts, 4000)


def he_scaled(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Matrices and kernels from the recipe's 0.02 to sqrt(2 / fan_in), in place."""
    for value in tensors.values():
        if value.is_floating_point() and value.dim() >= 2:
            value *= (2 * value.shape[0] / value.numel()) ** 0.5 / 0.02
    return tensors


def write_bert_folder(folder, weights: bool, seed: int = 1, vocab: list[str] | None = None) -> None:
    """A tokenizer folder (vocab.txt, uncased; ``vocab`` or :func:`vocabulary`), with a small BERT's config and
    weights when ``weights``."""
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = vocab or vocabulary()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}))
    if weights:
        config = BertConfig(vocab_size=len(vocab), hidden_size=768, num_hidden_layers=2, num_attention_heads=12,
                            intermediate_size=256, max_position_embeddings=128)
        (folder / "config.json").write_text(config.to_json_string())
        shapes = {"tensors": [[[], key, list(value.shape), str(value.dtype).removeprefix("torch.")]
                              for key, value in BertModel(config).state_dict().items()]}
        torch.save(he_scaled(random_state(shapes, seed)), folder / "pytorch_model.bin")


# Entries whose scorer reads a whole BERT (config, weights, vocabulary) from their tokenizer folder, not only a
# tokenizer: MedKLIP embeds its entity descriptions with Bio_ClinicalBERT (its checkpoint holds no text tower).
WHOLE_BERT = {"medklip"}


def write_release(name: str, weights: Path, seed: int = 0) -> list[Path]:
    """Entry ``name``'s release under ``weights`` (a ``$ASGBENCH_WEIGHTS`` folder), named as the release names it,
    with everything it is run with: pickled config objects, a config beside the weights, a separate text folder
    (BioViL's CXR-BERT), and the tokenizer folder its config names. Returns the full-size files written, the
    checkpoint first (shared tokenizer folders are small and stay)."""
    from asgbench.encoders import MODELS

    manifest = load_manifest(name)
    path = write_checkpoint(manifest, weights, seed=seed, objects=release_objects(name))
    written = [path]
    if "config_file" in manifest:            # a folder release with its config beside the weights (BiomedCLIP)
        beside = manifest["config_file"]
        (path.parent / beside["name"]).write_text(json.dumps(beside["content"], indent=2))
    if "text_folder" in manifest:            # BioViL: CXR-BERT's Hugging Face folder, config.json included
        from transformers import BertConfig

        text = write_checkpoint(manifest["text_folder"], weights, seed=seed + 1)
        written.append(text)
        config = {**BertConfig(vocab_size=30522).to_dict(), "model_type": "cxr-bert", "projection_size": 128,
                  "architectures": ["CXRBertModel"]}
        (text.parent / "config.json").write_text(json.dumps(config, indent=2))
    folder_name = MODELS.get(name).tokenizer
    if folder_name:
        folder = weights / folder_name
        whole = name in WHOLE_BERT
        if not (folder / "vocab.txt").is_file() or (whole and not (folder / "pytorch_model.bin").is_file()):
            write_bert_folder(folder, weights=whole, vocab=prompt_vocabulary())
    return written
