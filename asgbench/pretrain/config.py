"""The typed configuration of an ASG pre-training run: YAML file + dotted overrides, never evaluated.

Defaults are the released code's (ViT-B/16, 6-layer report BERT, AdamW 4e-5 / 0.05, cosine with 40 %
warm-up to 1e-8, batch 72, 50 epochs, early stopping patience 5, tau 0.07, losses IRA + ARSA + 5 IRL + ERL);
``asgbench/pretrain/configs/synthetic.yaml`` shrinks the model for CPU runs on the synthetic suite.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from asgbench.config import from_mapping, with_overrides
from asgbench.errors import ConfigError

OBJECTIVES = ("ira", "arsa", "irl", "erl")
ALIGNMENTS = ("rules", "scene-graph", "official")
IRL_HEADS = ("decoder", "linear")


@dataclass(frozen=True)
class ImageConfig:
    architecture: str = "vit_base_patch16"      # resnet50 | resnet18 | vit_base_patch16 | vit_tiny_patch16
    init: str | None = None                     # a weights file for the backbone (e.g. DeiT-B or torchvision R-50), or none
    size: int = 224                             # network input: the 224/256 crop of the canonical image, resized to this
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    upsample_to: int | None = None              # ResNet-50 in MGCA/ASG: 299
    width: int = 64                             # ResNet stem channels (64 = torchvision's; 32 costs about a quarter)


@dataclass(frozen=True)
class TextConfig:
    bert: str | None = None                     # a local BERT folder (e.g. Bio_ClinicalBERT); None: built from the sizes below
    tokenizer: str | None = None                # a local tokenizer folder; None: train a WordPiece on the training reports
    layers: int = 6                             # the first N layers of ``bert`` (ASG: 6 of 12)
    hidden: int = 768                           # sizes of a BERT built from scratch (no ``bert`` folder)
    heads: int = 12
    intermediate: int = 3072
    vocab_size: int = 8192                      # WordPiece size when the tokenizer is trained here
    max_words: int = 112
    pooling: str = "cls"                        # the report's global vector: "cls" (ASG) or "mean" of the tokens, which a
                                                # BERT trained from scratch separates from the first step ([CLS] does not)
    tag_bert: str | None = None                 # frozen BERT for the 40 tag queries ([CLS]); None: the report BERT's initial word-piece embeddings


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

    def validate(self) -> TrainConfig:
        """Every value checked before any work, all problems in one message naming the setting to change."""
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
        if problems:
            raise ConfigError("; ".join(problems))
        return self

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

    def to_dict(self) -> dict:
        return asdict(self)


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
