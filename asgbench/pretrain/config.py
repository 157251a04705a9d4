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
        unknown = set(self.loss.objectives) - set(OBJECTIVES)
        if unknown or not self.loss.objectives:
            raise ConfigError(f"loss.objectives must be a non-empty subset of {', '.join(OBJECTIVES)}, not {self.loss.objectives}")
        if self.text.pooling not in ("cls", "mean"):
            raise ConfigError(f"text.pooling must be 'cls' or 'mean', not {self.text.pooling!r}")
        if self.model.irl_head not in IRL_HEADS:
            raise ConfigError(f"model.irl_head must be one of {', '.join(IRL_HEADS)}, not {self.model.irl_head!r}")
        if self.loss.arsa_alignment not in ALIGNMENTS:
            raise ConfigError(f"loss.arsa_alignment must be one of {', '.join(ALIGNMENTS)}, not {self.loss.arsa_alignment!r}")
        if not self.annotations:
            raise ConfigError("annotations is not set: point it at the folder `asgbench pretrain prepare` wrote")
        if self.optim.accumulate < 1 or self.optim.batch_size < 2:
            raise ConfigError("optim.batch_size must be >= 2 (contrastive losses need negatives) and optim.accumulate >= 1")
        return self

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
