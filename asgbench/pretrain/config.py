"""The typed configuration of an ASG pre-training run: YAML file + dotted overrides, never evaluated.

Defaults are the released code's (ViT-B/16, 6-layer report BERT, AdamW 4e-5 / 0.05, cosine with 40 %
warm-up to 1e-8, batch 72, 50 epochs, early stopping patience 5, tau 0.07, losses IRA + ARSA + 5 IRL + ERL);
``asgbench/pretrain/configs/synthetic.yaml`` shrinks the model for CPU runs on the synthetic suite.

The release also starts from two downloads, which asgbench never fetches: given them as local files,
``text.bert`` (a Bio_ClinicalBERT folder) and ``image.init`` (DeiT-B/16's
``deit_base_patch16_224-b5f2ef4d.pth``), the defaults are the release's run. ``text.bert`` then also stands in
for an unset ``text.tokenizer`` (the reports are tokenised by Bio_ClinicalBERT's tokenizer) and an unset
``text.tag_bert`` (the 40 tag queries are the frozen 12-layer Bio_ClinicalBERT's [CLS]); see
``TrainConfig.resolved``. Without them both towers start from random weights and the tag queries are the report
BERT's standardised word-piece embeddings. ``validate`` checks both files before any work.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from asgbench.config import from_mapping, with_overrides
from asgbench.errors import ConfigError

OBJECTIVES = ("ira", "arsa", "irl", "erl")
ALIGNMENTS = ("rules", "scene-graph", "official")
IRL_HEADS = ("decoder", "linear")
# what a local BERT folder (transformers' layout, as the hub ships Bio_ClinicalBERT) must hold
BERT_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json")
# how the 40 tag queries are made (recorded in the export's JSON as ``tag_queries``)
TAG_BERT_CLS = "bert-cls"
TAG_WORD_PIECES = "word-piece-embeddings"


@dataclass(frozen=True)
class ImageConfig:
    architecture: str = "vit_base_patch16"      # resnet50 | resnet18 | vit_base_patch16 | vit_tiny_patch16
    init: str | None = None                     # a weights file for the backbone (the release: DeiT-B/16's
                                                # deit_base_patch16_224-b5f2ef4d.pth; or torchvision's R-50), or none
    size: int = 224                             # network input: the 224/256 crop of the canonical image, resized to this
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    upsample_to: int | None = None              # ResNet-50 in MGCA/ASG: 299
    width: int = 64                             # ResNet stem channels (64 = torchvision's; 32 costs about a quarter)


@dataclass(frozen=True)
class TextConfig:
    bert: str | None = None                     # a local BERT folder (config.json, weights, vocab.txt; the release:
                                                # Bio_ClinicalBERT); None: a BERT built from the sizes below, random
    tokenizer: str | None = None                # a local tokenizer folder; None: ``bert``'s own tokenizer when ``bert`` is
                                                # set (the release's), else a WordPiece trained on the training reports
    layers: int = 6                             # the first N layers of ``bert`` (ASG: 6 of 12)
    hidden: int = 768                           # sizes of a BERT built from scratch (ignored with a ``bert`` folder)
    heads: int = 12
    intermediate: int = 3072
    vocab_size: int = 8192                      # WordPiece size when the tokenizer is trained here
    max_words: int = 112
    pooling: str = "cls"                        # the report's global vector: "cls" (ASG) or "mean" of the tokens, which a
                                                # BERT trained from scratch separates from the first step ([CLS] does not)
    tag_bert: str | None = None                 # frozen BERT folder for the 40 tag queries (its last-layer [CLS], all
                                                # layers); None: ``bert`` when set (the release: frozen Bio_ClinicalBERT),
                                                # else the report BERT's initial word-piece embeddings, standardised


@dataclass(frozen=True)
class ModelConfig:
    embed_dim: int = 128
    head_hidden: int = 2048
    irl_layers: int = 4
    irl_heads: int = 4
    irl_ffn: int = 1024
    irl_init: str = "release"                   # "release" N(0, 0.02) or "fan-in" N(0, 1/fan_in) (narrow decoders)
    irl_head: str = "decoder"                   # "decoder": the released tag-query decoder; "linear": one logit per tag
                                                # from the pooled feature (trains in a few hundred steps from scratch)
    dropout: float = 0.1
    temperature: float = 0.07


@dataclass(frozen=True)
class LossConfig:
    objectives: tuple[str, ...] = OBJECTIVES
    arsa_alignment: str = "rules"               # rules: the parser's region-sentence links; scene-graph: Chest ImaGenome's;
                                                # official: the ASG release's labels.pickle (prepare --asg-labels)
    ira: float = 1.0
    arsa: float = 1.0
    irl: float = 5.0
    erl: float = 1.0
    max_regions: int = 23


@dataclass(frozen=True)
class OptimConfig:
    learning_rate: float = 4e-5
    weight_decay: float = 0.05
    warmup_fraction: float = 0.4
    min_learning_rate: float = 1e-8
    batch_size: int = 72
    accumulate: int = 1
    max_epochs: int = 50
    patience: int = 5
    grad_clip: float = 0.0                      # 0: off (the released code does not clip)


@dataclass(frozen=True)
class TrainConfig:
    annotations: str = ""                       # the folder `asgbench pretrain prepare` wrote
    out: str = "runs/asg"
    name: str = "asg"
    seed: int = 42
    device: str = "cpu"
    workers: int = 0
    max_train_images: int = 0                   # 0: all
    image: ImageConfig = field(default_factory=ImageConfig)
    text: TextConfig = field(default_factory=TextConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def resolved(self) -> TrainConfig:
        """The config with the settings derived from ``text.bert`` filled in (idempotent).

        As in the release, a pre-trained report BERT brings its tokenizer and its frozen twin for the tag queries:
        an unset ``text.tokenizer`` or ``text.tag_bert`` becomes the ``text.bert`` folder. Set either to another
        folder to depart from that; without ``text.bert`` nothing changes.
        """
        text = self.text
        if not text.bert:
            return self
        return replace(self, text=replace(text, tokenizer=text.tokenizer or text.bert, tag_bert=text.tag_bert or text.bert))

    @property
    def tag_encoding(self) -> str:
        """How the 40 tag queries are made: ``bert-cls`` (the frozen ``text.tag_bert``'s last-layer [CLS], the
        release's) or ``word-piece-embeddings`` (no pre-trained BERT: the report BERT's initial embeddings)."""
        return TAG_BERT_CLS if self.resolved().text.tag_bert else TAG_WORD_PIECES

    def validate(self) -> TrainConfig:
        """Every value checked before any work, all problems in one message naming the setting to change; the
        local files too (``text.bert``, ``text.tokenizer``, ``text.tag_bert``, ``image.init``: present, complete,
        and ``image.init``'s tensors fit ``image.architecture``, which reads that file). Returns ``resolved()``."""
        config = self.resolved()
        problems = config._problems()
        if problems:
            raise ConfigError("; ".join(problems))
        return config

    def _problems(self) -> list[str]:
        problems = [f"{key} must be {rule}, not {value!r}" for key, value, rule in self._range_problems()]
        unknown = set(self.loss.objectives) - set(OBJECTIVES)
        if unknown or not self.loss.objectives:
            problems.append(f"loss.objectives must be a non-empty subset of {', '.join(OBJECTIVES)}, not {self.loss.objectives}")
        for key, value, allowed in (("text.pooling", self.text.pooling, ("cls", "mean")),
                                    ("model.irl_head", self.model.irl_head, IRL_HEADS),
                                    ("model.irl_init", self.model.irl_init, ("release", "fan-in")),
                                    ("loss.arsa_alignment", self.loss.arsa_alignment, ALIGNMENTS)):
            if value not in allowed:
                problems.append(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
        if not self.annotations:
            problems.append("annotations is not set: point it at the folder `asgbench pretrain prepare` wrote")
        problems.extend(self._file_problems())
        return problems

    def _range_problems(self) -> list[tuple[str, object, str]]:
        """(setting, value, rule) for each value outside its range."""
        o, m, i, t, loss = self.optim, self.model, self.image, self.text, self.loss
        checks = (
            ("optim.batch_size", o.batch_size, o.batch_size >= 2, ">= 2 (contrastive losses need negatives)"),
            ("optim.accumulate", o.accumulate, o.accumulate >= 1, ">= 1"),
            ("optim.max_epochs", o.max_epochs, o.max_epochs >= 0, ">= 0 (0 exports the untrained model)"),
            ("optim.patience", o.patience, o.patience >= 1, ">= 1"),
            ("optim.learning_rate", o.learning_rate, o.learning_rate > 0, "> 0"),
            ("optim.min_learning_rate", o.min_learning_rate, 0 <= o.min_learning_rate <= o.learning_rate, "between 0 and optim.learning_rate"),
            ("optim.weight_decay", o.weight_decay, o.weight_decay >= 0, ">= 0"),
            ("optim.warmup_fraction", o.warmup_fraction, 0 <= o.warmup_fraction <= 1, "between 0 and 1"),
            ("optim.grad_clip", o.grad_clip, o.grad_clip >= 0, ">= 0 (0: off)"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
            ("workers", self.workers, self.workers >= 0, ">= 0"),
            ("max_train_images", self.max_train_images, self.max_train_images >= 0, ">= 0 (0: all)"),
            ("image.size", i.size, i.size >= 32, ">= 32"),
            ("image.width", i.width, i.width >= 8, ">= 8"),
            ("image.mean", i.mean, len(i.mean) == 3, "3 values"),
            ("image.std", i.std, len(i.std) == 3 and all(v > 0 for v in i.std), "3 values > 0"),
            ("text.layers", t.layers, t.layers >= 1, ">= 1"),
            ("text.max_words", t.max_words, t.max_words >= 8, ">= 8"),
            ("text.vocab_size", t.vocab_size, t.vocab_size >= 100, ">= 100"),
            ("text.hidden", t.hidden, t.hidden >= 1 and t.heads >= 1 and t.hidden % t.heads == 0, "a multiple of text.heads"),
            ("model.embed_dim", m.embed_dim, m.embed_dim >= 1, ">= 1"),
            ("model.temperature", m.temperature, m.temperature > 0, "> 0"),
            ("model.dropout", m.dropout, 0 <= m.dropout < 1, "in [0, 1)"),
            ("model.irl_layers", m.irl_layers, m.irl_layers >= 1, ">= 1"),
            ("loss.max_regions", loss.max_regions, loss.max_regions >= 1, ">= 1"),
        ) + tuple((f"loss.{name}", getattr(loss, name), getattr(loss, name) >= 0, ">= 0") for name in OBJECTIVES)
        return [(key, value, rule) for key, value, ok, rule in checks if not ok]

    def _file_problems(self) -> list[str]:
        """The local folders and files the config names: each present, complete and fitting its use."""
        text, problems = self.text, []
        if text.bert:
            # its tokenizer is needed when the reports or the tag phrases are tokenised by it (the default)
            problems += bert_folder_problems("text.bert", text.bert, layers=text.layers,
                                             tokenizer=text.bert in (text.tokenizer, text.tag_bert))
        if text.tag_bert and text.tag_bert != text.bert:
            problems += bert_folder_problems("text.tag_bert", text.tag_bert)
        if text.tokenizer and text.tokenizer not in (text.bert, text.tag_bert):
            problems += tokenizer_problems("text.tokenizer", text.tokenizer)
        if self.image.init:
            from asgbench.pretrain.model import init_problems   # imports torch: only when there is a file to read

            problems += init_problems(self)
        return problems

    def to_dict(self) -> dict:
        return asdict(self)


def tokenizer_problems(key: str, folder: str) -> list[str]:
    path = Path(folder)
    if not path.is_dir():
        return [f"{key}: {path} is not a folder (a tokenizer folder holds {' or '.join(TOKENIZER_FILES)})"]
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        return [f"{key}: {path} holds no tokenizer ({' or '.join(TOKENIZER_FILES)})"]
    return []


def bert_folder_problems(key: str, folder: str, *, layers: int | None = None, tokenizer: bool = True) -> list[str]:
    """Why ``folder`` is not a local BERT that transformers loads offline (none when it is): config.json of a BERT,
    PyTorch weights, and (with ``tokenizer``) its tokenizer files; at least ``layers`` layers."""
    path = Path(folder)
    what = "a local BERT folder such as Bio_ClinicalBERT's: config.json, model.safetensors or pytorch_model.bin, vocab.txt"
    if not path.is_dir():
        return [f"{key}: {path} is not a folder ({what})"]
    lacks = []
    config = path / "config.json"
    if not config.is_file():
        lacks.append("config.json")
    if not any((path / name).is_file() for name in BERT_WEIGHT_FILES):
        lacks.append(f"PyTorch weights ({' or '.join(BERT_WEIGHT_FILES[:2])})")
    if tokenizer and not any((path / name).is_file() for name in TOKENIZER_FILES):
        lacks.append(f"a tokenizer ({' or '.join(TOKENIZER_FILES)})")
    problems = [f"{key}: {path} lacks {', '.join(lacks)} ({what})"] if lacks else []
    if config.is_file():
        try:
            settings = json.loads(config.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [*problems, f"{key}: {config} is not readable JSON ({exc})"]
        if not isinstance(settings, dict):
            return [*problems, f"{key}: {config} is not a model config (a JSON object)"]
        if settings.get("model_type", "bert") != "bert":
            problems.append(f"{key}: {config} describes a {settings['model_type']!r} model, not a BERT")
        depth = settings.get("num_hidden_layers")
        if layers is not None and isinstance(depth, int) and layers > depth:
            problems.append(f"text.layers must be at most the {depth} layers of {key} {path}, not {layers}")
    return problems


def shipped_configs() -> dict[str, Path]:
    """The configs that ship with asgbench, by name (``demo``, ``synthetic``)."""
    from importlib import resources

    folder = Path(str(resources.files("asgbench.pretrain") / "configs"))
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def config_path(name_or_path: str | Path) -> Path:
    """A config file: a path that exists, else the shipped config of that name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_configs()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    raise ConfigError(f"{name_or_path}: no such config file, and no shipped config of that name "
                      f"(shipped: {', '.join(shipped)})")


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a YAML config (a file, or a shipped config by name; or start from defaults) and apply dotted
    overrides such as ``optim.max_epochs=3``."""
    import yaml

    data: dict = {}
    if path is not None:
        path = config_path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    config = from_mapping(TrainConfig, data, str(path or "config"))
    return with_overrides(config, list(overrides)).validate()
