"""The release's pre-training run from its two downloads, built here at their real sizes with random weights.

The released ASG code starts its report BERT from Bio_ClinicalBERT (the first 6 of its 12 layers, with its
tokenizer), takes the 40 tag queries from the whole of the same BERT, frozen, as the last-layer [CLS] of each tag
phrase, and starts its ViT-B/16 from DeiT-B/16's ImageNet weights. Given a folder and a file of those shapes
(``text.bert``, ``image.init``), the default config is that run: one optimisation step of ``asgbench pretrain
train`` with nothing else set but the size of the step checks it. Nothing is downloaded: the folder is a
``BertConfig`` of Bio_ClinicalBERT's sizes saved by ``save_pretrained`` with a vocabulary of its length, the file
a timm ``vit_base_patch16_224`` state dict (classifier included) under ``"model"``, as the DeiT release holds it.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
import re
import string
from pathlib import Path

import pytest
import torch

from asgbench.cli import main
from asgbench.errors import ConfigError
from asgbench.pretrain.config import TextConfig, TrainConfig, load_config
from asgbench.vocab import ASG_TAGS
from small_models import report_texts
from test_pretrain import annotations  # noqa: F401 - the tiny suite's prepared annotations (a module fixture)

# emilyalsentzer/Bio_ClinicalBERT's config.json sizes (the layout of BERT-base cased)
BIO_CLINICAL_BERT = dict(vocab_size=28996, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
# BERT's special tokens sit at these ids in Bio_ClinicalBERT's vocab.txt, after [PAD] and [unused1..99]
SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
DEIT_FILE = "deit_base_patch16_224-b5f2ef4d.pth"
# backbone tensors compared with the DeiT file before the step (the first and last of the network)
WATCHED = ("pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.11.mlp.fc2.weight", "norm.weight")


def vocabulary(texts: list[str], size: int) -> list[str]:
    """``size`` entries in Bio_ClinicalBERT's layout: [PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK], then
    every character and its ``##`` continuation, the words of ``texts`` (lower-cased, as the tokenizer reads them
    without a tokenizer_config.json), and generated two- to four-letter pieces until the length is right."""
    entries = ["[PAD]", *(f"[unused{i}]" for i in range(1, 100)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    characters = string.ascii_lowercase + string.digits + string.punctuation
    entries += list(characters) + [f"##{c}" for c in characters]
    words = sorted({w for text in texts for w in re.findall(r"[a-z]+", text.lower())})
    seen = set(entries)
    pieces = (f"{prefix}{''.join(letters)}" for n in (2, 3, 4) for letters in itertools.product(string.ascii_lowercase, repeat=n)
              for prefix in ("", "##"))
    for entry in itertools.chain(words, pieces):
        if len(entries) == size:
            break
        if entry not in seen:
            seen.add(entry)
            entries.append(entry)
    assert len(entries) == size and all(entries[i] == token for token, i in SPECIAL_IDS.items())
    return entries


@pytest.fixture(scope="module")
def release_files(tiny_suite, tmp_path_factory):
    """(Bio_ClinicalBERT-shaped folder, DeiT-B-shaped weights file), random weights (seeded)."""
    import timm
    from transformers import BertConfig, BertModel

    root = tmp_path_factory.mktemp("release-downloads")
    bert = root / "Bio_ClinicalBERT"
    torch.manual_seed(0)
    BertModel(BertConfig(**BIO_CLINICAL_BERT)).save_pretrained(str(bert))   # config.json + model.safetensors
    (bert / "vocab.txt").write_text("\n".join(vocabulary([*report_texts(tiny_suite), *ASG_TAGS], 28996)) + "\n")
    deit = root / DEIT_FILE
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=1000)
    torch.save({"model": vit.state_dict()}, deit)
    yield bert, deit
    import shutil

    shutil.rmtree(root, ignore_errors=True)   # about 800 MB


@pytest.fixture(scope="module")
def two_and_two(annotations, tmp_path_factory) -> Path:  # noqa: F811
    """The tiny suite's prepared annotations cut to 2 training and 2 validation pairs (with aligned regions, so that
    ARSA has work to do): one step and one validation batch of ViT-B + BERT-base on a CPU."""
    import gzip
    import shutil

    out = tmp_path_factory.mktemp("release-annotations")
    shutil.copy(annotations / "manifest.json", out / "manifest.json")
    with gzip.open(annotations / "annotations.jsonl.gz", "rt") as handle:
        records = [json.loads(line) for line in handle]
    kept = [r for split in ("train", "val") for r in [r for r in records if r["split"] == split and r["slots"]["rules"]][:2]]
    with gzip.open(out / "annotations.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in kept)
    return out


def release_cls(folder: Path) -> torch.Tensor:
    """The release's tag queries: the frozen 12-layer BERT's last-layer [CLS] of each tag phrase. The release pads
    the 40 phrases to 128 tokens; padding is masked out of attention, so each phrase is encoded alone here."""
    from transformers import AutoTokenizer, BertModel

    model = BertModel.from_pretrained(str(folder), add_pooling_layer=False, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    with torch.no_grad():
        return torch.cat([model(**tokenizer(tag, return_tensors="pt")).last_hidden_state[:, 0] for tag in ASG_TAGS])


def one_tensor(path: Path, key: str) -> torch.Tensor:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor(key)


@pytest.mark.slow
def test_one_step_of_the_default_config_is_the_release_s_run(two_and_two, release_files, tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    from asgbench.pretrain import trainer
    from asgbench.pretrain.tag_decoder import TagDecoder

    bert, deit = release_files
    built: list[tuple[torch.nn.Module, dict[str, torch.Tensor], torch.Tensor]] = []

    class Recorded(trainer.ASGModel):
        """The trainer's model, with its backbone and word embeddings as they were before the first step."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            backbone = self.image_encoder.state_dict()
            built.append((self, {k: backbone[k].clone() for k in WATCHED},
                          self.text_encoder.embeddings.word_embeddings.weight.detach().clone()))

    monkeypatch.setattr(trainer, "ASGModel", Recorded)
    out = tmp_path / "release"
    # the defaults, the two downloads, and one step on two pairs
    assert main(["pretrain", "train", "--quiet", f"annotations={two_and_two}", f"out={out}", f"text.bert={bert}",
                 f"image.init={deit}", "optim.batch_size=2", "max_train_images=2", "optim.max_epochs=1"]) == 0

    # one optimisation step, every loss finite
    with open(out / "history.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert int(row["step"]) == 1
    for name in ("ira", "arsa", "irl", "erl", "total"):
        assert math.isfinite(float(row[f"train_{name}"])) and math.isfinite(float(row[f"val_{name}"])), (name, row)

    # the saved config: the release's widths, loss weights and optimiser; the tokenizer and tag BERT derived from text.bert
    saved = json.loads((out / "config.json").read_text())
    text, model, loss, optim = saved["text"], saved["model"], saved["loss"], saved["optim"]
    assert text["bert"] == text["tokenizer"] == text["tag_bert"] == str(bert)
    assert saved["image"]["architecture"] == "vit_base_patch16" and saved["image"]["size"] == 224
    assert (text["layers"], text["max_words"], text["pooling"]) == (6, 112, "cls")
    assert (model["embed_dim"], model["head_hidden"], model["temperature"]) == (128, 2048, 0.07)
    assert (model["irl_layers"], model["irl_heads"], model["irl_ffn"], model["irl_head"], model["irl_init"]) == \
        (4, 4, 1024, "decoder", "release")
    assert (loss["ira"], loss["arsa"], loss["irl"], loss["erl"], loss["max_regions"]) == (1.0, 1.0, 5.0, 1.0, 23)
    assert tuple(loss["objectives"]) == ("ira", "arsa", "irl", "erl") and loss["arsa_alignment"] == "rules"
    assert (optim["learning_rate"], optim["weight_decay"], optim["warmup_fraction"], optim["min_learning_rate"]) == \
        (4e-5, 0.05, 0.4, 1e-8)

    # the network that trained: Bio_ClinicalBERT's first 6 layers, ViT-B/16 on its 14 x 14 grid, 768-wide IRL decoder
    (network, backbone_before, words_before) = built[-1]
    assert network.text_encoder.config.num_hidden_layers == 6 and len(network.text_encoder.encoder.layer) == 6
    assert network.text_encoder.config.vocab_size == 28996 and network.text_encoder.config.hidden_size == 768
    assert network.grid == (14, 14) and network.feature_dim == network.token_dim == 768
    assert isinstance(network.irl, TagDecoder) and network.irl.config.width == 768 and len(network.irl.decoder.layers) == 4
    assert isinstance(network.irl.query_projection, torch.nn.Identity)       # queries and tokens are 768-d, as released
    assert isinstance(network.irl.memory_projection, torch.nn.Identity)
    assert (network.image_global.head[0].out_features, network.image_global.head[3].out_features) == (2048, 128)
    assert (network.text_global.head[0].in_features, network.text_global.head[3].out_features) == (768, 128)

    # both towers started from the files: the backbone from DeiT-B (its classifier dropped), the report BERT from text.bert
    file_state = torch.load(deit, weights_only=True)["model"]
    for key in WATCHED:
        assert torch.equal(backbone_before[key], file_state[key]), key
    assert not any(key.startswith("head") for key in network.image_encoder.state_dict())
    assert torch.equal(words_before, one_tensor(bert / "model.safetensors", "embeddings.word_embeddings.weight"))

    # the tag queries are the frozen 12-layer BERT's [CLS] of the 40 phrases, as the release encodes them
    expected = release_cls(bert)
    cached = torch.load(out / "tag_queries.pt", weights_only=True)
    assert tuple(cached["tags"]) == ASG_TAGS
    torch.testing.assert_close(cached["vectors"], expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(network.irl.tag_queries, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(one_tensor(out / "asg.safetensors", "irl.tag_queries"), expected, atol=1e-4, rtol=1e-4)

    # the export records it, and carries Bio_ClinicalBERT's tokenizer (not its weights)
    meta = json.loads((out / "asg.json").read_text())
    assert meta["tag_queries"]["encoding"] == "bert-cls" and meta["tag_queries"]["bert"] == str(bert)
    assert meta["initialised_from"] == {"text": str(bert), "image": str(deit)}
    assert not list((out / "tokenizer").glob("*.safetensors")) and not list((out / "tokenizer").glob("*.bin"))
    report = "Mild cardiomegaly with small bilateral pleural effusions; no pneumothorax."
    original = AutoTokenizer.from_pretrained(str(bert), local_files_only=True)
    copied = AutoTokenizer.from_pretrained(str(out / "tokenizer"), local_files_only=True)
    assert len(copied) == 28996 and copied(report)["input_ids"] == original(report)["input_ids"]


def test_release_files_are_derived_only_where_unset():
    plain = TrainConfig()
    assert plain.resolved() == plain and plain.tag_encoding == "word-piece-embeddings"
    given = TrainConfig(text=TextConfig(bert="bio"))
    assert (given.resolved().text.tokenizer, given.resolved().text.tag_bert) == ("bio", "bio")
    assert given.tag_encoding == "bert-cls" and given.resolved().resolved() == given.resolved()
    own = TrainConfig(text=TextConfig(bert="bio", tokenizer="mine", tag_bert="other"))
    assert own.resolved() == own


@pytest.mark.slow
@pytest.mark.parametrize("overrides, expected", [
    # an empty folder, and DeiT-B given to a ResNet: both named in one message
    (["text.bert={empty}", "image.init={deit}", "image.architecture=resnet50"],
     [r"text\.bert: \S+ lacks config\.json, PyTorch weights .*, a tokenizer",
      r"image\.init: \S+ does not fit image\.architecture resnet50"]),
    # a ViT at another input size: the position embeddings do not fit
    (["text.bert={bert}", "image.init={deit}", "image.size=256"],
     [r"pos_embed \(1, 197, 768\) in the file, \(1, 257, 768\) here"]),
    # more layers than the folder has; an architecture with no ImageNet weights; a file that is not there
    (["text.bert={bert}", "text.layers=13", "image.init={deit}", "image.architecture=vit_tiny_patch16"],
     [r"text\.layers must be at most the 12 layers",
      r"no ImageNet weights are registered for image\.architecture vit_tiny_patch16"]),
    (["text.bert={no_weights}", "image.init={missing}"],
     [r"text\.bert: \S+ lacks PyTorch weights", r"image\.init: \S+ is not a file"]),
])
def test_release_files_are_checked_before_any_work(release_files, tmp_path, capsys, overrides, expected):
    import shutil

    bert, deit = release_files
    (tmp_path / "empty").mkdir()
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    for name in ("config.json", "vocab.txt"):
        shutil.copy(bert / name, no_weights / name)
    paths = {"bert": bert, "deit": deit, "empty": tmp_path / "empty", "no_weights": no_weights, "missing": tmp_path / "none.pth"}
    settings = [f"annotations={tmp_path}", *(o.format(**paths) for o in overrides)]
    with pytest.raises(ConfigError) as caught:
        load_config(None, settings)
    for pattern in expected:
        assert re.search(pattern, str(caught.value)), (pattern, str(caught.value))
    out = tmp_path / "run"
    assert main(["pretrain", "train", "--quiet", f"out={out}", *settings]) == 2
    assert not out.exists()     # nothing written: the check comes before any work
    assert " ".join(str(caught.value).split()) in capsys.readouterr().err
