"""A prepared GPU check: what asgbench costs on a device, measured in one short run, the device named.

Three figures, each from random inputs and random weights (nothing is downloaded):

- feature extraction: asgbench's encoder path against the bare torchvision / timm network carrying the same
  weights, on the same batches, in fp32 and in bf16 autocast with channels-last (fp32 only on CPU with
  ``--quick``). ``asgbench forward`` is ``Encoder.forward`` on the preprocessed batch; ``asgbench extract`` is
  :func:`asgbench.tasks.features.extract` itself, from uint8 store images to host features, in the one mode it
  runs (bf16 + channels-last on CUDA, fp32 on CPU). Every path's features are compared with the bare network's,
  so the throughputs are of the same computation;
- a segmentation epoch: the segmentation protocol's U-Net training step (augmentation, 10 focal - log Dice,
  AdamW) and its prediction pass, per 1,000 images at the protocol's input size;
- an ASG ViT-B/16 pre-training step at the release's settings (batch 72, 224 px, 112 tokens, 6-layer BERT
  with Bio_ClinicalBERT's vocabulary, tag-query decoder, all four losses): seconds per step and peak memory.

Every measured loop stops at its time budget, so the whole check takes a few minutes on a GPU and about two on
CPU with ``--quick``. Run: ``python benchmarks/gpu_check.py --device cuda --out gpu_check.json``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")   # random weights only: nothing may be fetched (set before transformers loads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from asgbench.config import with_overrides  # noqa: E402
from asgbench.encoders import create_encoder, resolve_model  # noqa: E402
from asgbench.encoders.model import Encoder  # noqa: E402
from asgbench.encoders.transforms import full_frames  # noqa: E402
from asgbench.pretrain import losses  # noqa: E402
from asgbench.pretrain.config import TrainConfig  # noqa: E402
from asgbench.pretrain.data import Batch  # noqa: E402
from asgbench.pretrain.model import ASGModel  # noqa: E402
from asgbench.pretrain.trainer import compute_losses  # noqa: E402
from asgbench.tasks import segmentation  # noqa: E402
from asgbench.tasks.features import extract  # noqa: E402
from asgbench.tasks.protocols import EVAL_PROTOCOLS, SegmentationProtocol  # noqa: E402
from asgbench.tasks.seg_models import SegmentationModel  # noqa: E402
from asgbench.vocab import ASG_TAGS  # noqa: E402

BIO_CLINICALBERT_VOCAB = 28996   # the vocabulary of Bio_ClinicalBERT, the ASG release's text tower
TAG_QUERY_DIM = 768              # the frozen 12-layer ClinicalBERT's [CLS] the 40 tag queries are
RELATIVE_TOLERANCE = {"fp32": 1e-4, "bf16-channels-last": 3e-2}


@dataclass(frozen=True)
class Settings:
    """Everything one run measures, with its sizes; defaults depend on the device and ``--quick``."""

    device: str
    quick: bool
    models: tuple[str, ...]
    image_size: int                 # 0: each entry's own input size
    batch_size: int                 # feature-extraction batch
    warmup: int                     # untimed steps before each measured loop
    batches: int                    # measured steps per figure, at most
    budget_s: float                 # a measured loop stops after this many seconds (at least one step)
    seg_model: str
    seg_images: int                 # training images in the measured segmentation epoch, at most
    seg_batch: int                  # 0: the protocol's
    pretrain_batch: int             # 0: the release's
    pretrain_steps: int
    pretrain_overrides: tuple[str, ...]
    vocab_size: int
    seed: int = 0


@dataclass(frozen=True)
class Mode:
    """How a forward pass runs: autocast to bf16 or not, channels-last or not."""

    name: str
    bf16: bool
    channels_last: bool


FP32 = Mode("fp32", False, False)
BF16_CL = Mode("bf16-channels-last", True, True)


@dataclass(frozen=True)
class Timing:
    """A measured loop: how many steps and items it finished in how many seconds."""

    steps: int
    items: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.inf


@dataclass(frozen=True)
class FeatureRow:
    """One model in one mode: throughputs of the three paths and how far their features are from the bare net's."""

    model: str
    architecture: str
    mode: str
    batch_size: int
    batches: int
    bare_images_per_s: float
    asgbench_images_per_s: float
    ratio: float                            # asgbench forward / bare
    max_abs_diff: float                     # asgbench forward vs bare, same batch
    extract_images_per_s: float | None      # asgbench's extract(), in its own mode only
    extract_ratio: float | None
    extract_max_abs_diff: float | None
    feature_scale: float                    # max |feature| of the bare net, what the differences are relative to
    agree: bool


@dataclass(frozen=True)
class SegmentationRow:
    model: str
    head: str
    input_size: int
    batch_size: int
    train_images: int
    train_s_per_1000_images: float
    predict_images: int
    predict_s_per_1000_images: float
    epoch_s_per_1000_images: float          # one training pass plus one prediction pass over 1,000 images
    loss_finite: bool


@dataclass(frozen=True)
class PretrainRow:
    architecture: str
    batch_size: int
    release_batch_size: int
    image_size: int
    text_tokens: int
    text_layers: int
    vocab_size: int
    steps: int
    seconds_per_step: float
    images_per_s: float
    peak_memory_mib: float
    peak_memory_kind: str
    loss_finite: bool
    note: str


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Preset:
    """Default sizes for a device: a GPU gets enough steps for stable figures in a minute or two; CPU just enough
    to exercise every path (``--quick``: about two minutes on two cores)."""

    batch_size: int
    warmup: int
    batches: int
    budget_s: float
    seg_images: int
    pretrain_batch: int     # 0: the release's
    pretrain_steps: int


PRESETS = {
    ("cuda", False): Preset(64, 3, 20, 15.0, 1024, 0, 5),
    ("cuda", True): Preset(64, 2, 10, 8.0, 512, 0, 3),
    ("cpu", False): Preset(8, 1, 4, 30.0, 64, 8, 2),
    ("cpu", True): Preset(4, 1, 2, 10.0, 16, 2, 1),
}


def parse_settings(argv: Sequence[str] | None) -> tuple[Settings, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="fewer steps; on CPU fp32 only and pre-training batch 2")
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--models", default="random-r50,random-vit", help="registry entries for feature extraction")
    parser.add_argument("--image-size", type=int, default=0, help="input size for every part (0: the entries' own, 224)")
    parser.add_argument("--batch-size", type=int, default=0, help="feature batch (0: by device)")
    parser.add_argument("--warmup", type=int, default=-1, help="untimed steps before each loop (-1: by device)")
    parser.add_argument("--batches", type=int, default=0, help="measured steps per figure, at most (0: by device)")
    parser.add_argument("--budget", type=float, default=0.0, help="seconds per measured loop, at most (0: by device)")
    parser.add_argument("--seg-model", default="random-r50")
    parser.add_argument("--seg-images", type=int, default=0, help="training images in the measured epoch (0: by device)")
    parser.add_argument("--seg-batch", type=int, default=0, help="0: the protocol's batch size")
    parser.add_argument("--pretrain-batch", type=int, default=0, help="0: the release's 72 (on CPU: 8, with --quick 2)")
    parser.add_argument("--pretrain-steps", type=int, default=0, help="measured pre-training steps (0: by device)")
    parser.add_argument("--pretrain-override", nargs="*", default=[], metavar="KEY=VALUE",
                        help="dotted TrainConfig overrides, e.g. image.architecture=vit_tiny_patch16")
    parser.add_argument("--vocab-size", type=int, default=BIO_CLINICALBERT_VOCAB)
    args = parser.parse_args(argv)
    sizes = PRESETS[(args.device, args.quick)]
    settings = Settings(
        device=args.device, quick=args.quick, models=tuple(m for m in args.models.split(",") if m),
        image_size=args.image_size, batch_size=args.batch_size or sizes.batch_size,
        warmup=args.warmup if args.warmup >= 0 else sizes.warmup, batches=args.batches or sizes.batches,
        budget_s=args.budget or sizes.budget_s, seg_model=args.seg_model, seg_images=args.seg_images or sizes.seg_images,
        seg_batch=args.seg_batch, pretrain_batch=args.pretrain_batch or sizes.pretrain_batch,
        pretrain_steps=args.pretrain_steps or sizes.pretrain_steps,
        pretrain_overrides=tuple(args.pretrain_override),
        vocab_size=args.vocab_size,
    )
    return settings, args.out


# -------------------------------------------------------------------------------------------------- timing


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_paths(paths: dict[str, Callable[[int], int]], *, warmup: int, steps: int, budget_s: float,
                  device: str) -> dict[str, Timing]:
    """Each ``path(i)`` (it returns how many items it handled) ``warmup`` times untimed, then the paths in turn,
    step by step, up to ``steps`` steps or until they have spent ``budget_s`` each, at least one step: taking turns
    exposes them alike to whatever else the machine does. The device is synchronised around every timed step."""
    for i in range(warmup):
        for path in paths.values():
            path(i)
    seconds, items, done = dict.fromkeys(paths, 0.0), dict.fromkeys(paths, 0), 0
    while done < steps and (done == 0 or sum(seconds.values()) < budget_s * len(paths)):
        for name, path in paths.items():
            synchronise(device)
            started = time.perf_counter()
            items[name] += path(warmup + done)
            synchronise(device)
            seconds[name] += time.perf_counter() - started
        done += 1
    return {name: Timing(done, items[name], seconds[name]) for name in paths}


def measure(step: Callable[[int], int], *, warmup: int, steps: int, budget_s: float, device: str) -> Timing:
    """One path measured as :func:`measure_paths` measures several."""
    return measure_paths({"step": step}, warmup=warmup, steps=steps, budget_s=budget_s, device=device)["step"]


# ---------------------------------------------------------------------------------------- feature extraction


class MemoryStore:
    """The two methods of :class:`ImageStore` that ``extract`` reads, over images held in memory (ids are row
    numbers as strings), so the benchmark times asgbench's own extraction loop without a dataset on disk."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def batch(self, image_ids: Sequence[str]) -> np.ndarray:
        return self.images[[int(i) for i in image_ids]]

    def content_boxes(self, image_ids: Sequence[str]) -> np.ndarray:
        return full_frames(len(image_ids), self.images.shape[-1])


def build_encoder(name: str, image_size: int) -> Encoder:
    """A registry entry with random weights, at ``image_size`` when one is asked for (a ViT is built for it)."""
    config = resolve_model(name).config
    if not image_size or image_size == config.input.size:
        return create_encoder(name)
    encoder = create_encoder(name, **({"img_size": image_size} if config.architecture.startswith("vit") else {}))
    encoder.use_transform(replace(encoder.config.input, size=image_size))
    return encoder


def bare_network(encoder: Encoder) -> nn.Module:
    """The plain torchvision ResNet / timm ViT the encoder's backbone is built from, carrying the same weights
    (loaded strictly), whose forward gives the same global feature."""
    architecture, options = encoder.config.architecture, encoder.config.backbone_options
    if architecture in ("resnet18", "resnet50") and not set(options) - {"local"}:
        import torchvision

        net = getattr(torchvision.models, architecture)(weights=None)
        net.fc = nn.Identity()
    elif architecture.startswith("vit") and options.get("pool", "token") == "token":
        import timm

        size = encoder.backbone.patch_embed.img_size
        net = timm.create_model(f"{architecture}_224", pretrained=False, num_classes=0, global_pool="token", img_size=size)
    else:
        raise SystemExit(f"{encoder.config.name}: no bare network to compare with ({architecture}, {options})")
    net.load_state_dict(encoder.backbone.state_dict(), strict=True)
    return net.eval()


def random_store_images(count: int, side: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, side, side), dtype=np.uint8)


def in_mode(module: nn.Module, mode: Mode) -> nn.Module:
    return module.to(memory_format=torch.channels_last if mode.channels_last else torch.contiguous_format)


def as_input(x: torch.Tensor, mode: Mode) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last if mode.channels_last else torch.contiguous_format)


def forward_features(module: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, mode: Mode, device: str) -> torch.Tensor:
    """Global features of one batch on the host, as ``extract`` returns them (float32)."""
    with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=mode.bf16):
        return module(x).float().cpu()


def max_abs_diff(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def feature_row(name: str, encoder: Encoder, bare: nn.Module, inputs: list[torch.Tensor], store: MemoryStore,
                mode: Mode, native: bool, settings: Settings) -> FeatureRow:
    """Time the bare net, asgbench's forward and (in extract's own mode) extract() on the same batches."""
    device, size = settings.device, settings.batch_size
    bare, encoder = in_mode(bare, mode), in_mode(encoder, mode)
    batches = [as_input(x, mode) for x in inputs]

    def run(module):
        return lambda i: len(forward_features(module, batches[i % len(batches)], mode, device))

    def ids(i: int) -> list[str]:
        start = (i % len(batches)) * size
        return [str(row) for row in range(start, start + size)]

    paths = {"bare": run(bare), "asgbench": run(encoder)}
    if native:
        paths["extract"] = lambda i: len(extract(encoder, store, ids(i), device=device, batch_size=size))
    timings = measure_paths(paths, warmup=settings.warmup, steps=settings.batches, budget_s=settings.budget_s, device=device)
    reference = forward_features(bare, batches[0], mode, device)
    diff = max_abs_diff(forward_features(encoder, batches[0], mode, device), reference)
    scale = float(reference.abs().max())
    extract_diff = max_abs_diff(extract(encoder, store, ids(0), device=device, batch_size=size), reference) if native else None
    bare_speed, ours_speed = timings["bare"].per_second, timings["asgbench"].per_second
    extract_speed = timings["extract"].per_second if native else None
    tolerance = RELATIVE_TOLERANCE[mode.name] * max(1.0, scale)
    agree = diff <= tolerance and (extract_diff is None or extract_diff <= tolerance)
    return FeatureRow(name, encoder.config.architecture, mode.name, size, timings["bare"].steps, bare_speed, ours_speed,
                      ours_speed / bare_speed, diff, extract_speed, None if extract_speed is None else extract_speed / bare_speed,
                      extract_diff, scale, agree)


def feature_modes(settings: Settings) -> tuple[Mode, ...]:
    return (FP32,) if settings.device == "cpu" and settings.quick else (FP32, BF16_CL)


def extract_mode(device: str) -> Mode:
    """The one mode ``extract`` runs in: bf16 autocast and channels-last on CUDA, fp32 elsewhere."""
    return BF16_CL if device.startswith("cuda") else FP32


def feature_rows(settings: Settings) -> list[FeatureRow]:
    """Each model in each mode, its bare twin and asgbench's paths fed the same preprocessed batches."""
    rows = []
    for name in settings.models:
        torch.manual_seed(settings.seed)
        encoder = build_encoder(name, settings.image_size).to(settings.device).eval()
        bare = bare_network(encoder).to(settings.device)
        distinct = max(1, min(4, settings.warmup + settings.batches))
        images = random_store_images(distinct * settings.batch_size, encoder.config.input.store, settings.seed)
        store = MemoryStore(images)
        with torch.inference_mode():
            inputs = [encoder.preprocess(torch.from_numpy(chunk).to(settings.device))
                      for chunk in np.split(images, distinct)]
        for mode in feature_modes(settings):
            rows.append(feature_row(name, encoder, bare, inputs, store, mode, mode == extract_mode(settings.device), settings))
        del encoder, bare, inputs
        release_memory(settings.device)
    return rows


def release_memory(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------------ segmentation


def random_masks(count: int, side: int, seed: int) -> np.ndarray:
    """One random rectangle per image (some empty), uint8 in the store frame like ``TaskData.masks``."""
    rng = np.random.default_rng(seed + 1)
    masks = np.zeros((count, side, side), dtype=np.uint8)
    for row in np.flatnonzero(rng.random(count) < 0.7):
        top, left = rng.integers(0, side // 2, size=2)
        height, width = rng.integers(max(1, side // 16), side // 2, size=2)
        masks[row, top : top + height, left : left + width] = 1
    return masks


def segmentation_step(model: SegmentationModel, encoder: Encoder, optimizer: torch.optim.Optimizer, spec: SegmentationProtocol,
                      images: np.ndarray, masks: np.ndarray, generator: torch.Generator, device: str) -> float:
    """One training step of ``run_segmentation``'s loop (encoder run every step, as augmentation requires)."""
    y = encoder.preprocess_masks(torch.from_numpy(masks).to(device))
    x = encoder.preprocess(torch.from_numpy(images).to(device))
    if spec.augment:
        x, y = segmentation.random_affine(x, y, generator)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        logits = model(x)
    loss = segmentation.mixed_loss(logits.float(), y, spec.focal_weight, spec.focal_gamma)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def segmentation_row(settings: Settings) -> SegmentationRow:
    """The segmentation protocol's model, optimiser and batch size on random images and masks: training steps,
    then ``segmentation.predict`` over as many images, each per 1,000 images."""
    spec: SegmentationProtocol = EVAL_PROTOCOLS.get("segmentation")
    device, batch = settings.device, settings.seg_batch or spec.batch_size
    torch.manual_seed(settings.seed)
    encoder = build_encoder(settings.seg_model, settings.image_size).to(device)
    model = SegmentationModel(encoder, finetune=spec.finetune, decoder_channels=spec.decoder_channels,
                              upernet_channels=spec.upernet_channels, prior=spec.output_prior(),
                              head=spec.segmentation_head).to(device)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)
    side, pool = encoder.config.input.store, max(2, min(4, settings.seg_images // batch))
    images = random_store_images(pool * batch, side, settings.seed)
    masks = random_masks(pool * batch, side, settings.seed)
    generator, losses_seen = torch.Generator().manual_seed(settings.seed), []

    def train(i: int) -> int:
        rows = slice((i % pool) * batch, (i % pool + 1) * batch)
        model.train()
        losses_seen.append(segmentation_step(model, encoder, optimizer, spec, images[rows], masks[rows], generator, device))
        return batch

    steps = max(1, settings.seg_images // batch)
    trained = measure(train, warmup=settings.warmup, steps=steps, budget_s=settings.budget_s, device=device)
    predict_images = images[np.arange(max(batch, trained.items)) % len(images)]   # as many as were trained on
    if device.startswith("cuda"):   # on CPU the training steps have warmed the same kernels
        segmentation.predict(model, encoder, predict_images[:batch], batch, device, spec.threshold)
    synchronise(device)
    started = time.perf_counter()
    segmentation.predict(model, encoder, predict_images, batch, device, spec.threshold)
    synchronise(device)
    predicted_s = time.perf_counter() - started
    train_per_1000 = 1000 * trained.seconds / trained.items
    predict_per_1000 = 1000 * predicted_s / len(predict_images)
    row = SegmentationRow(settings.seg_model, model.kind, encoder.config.input.size, batch, trained.items, train_per_1000,
                          len(predict_images), predict_per_1000, train_per_1000 + predict_per_1000,
                          all(math.isfinite(v) for v in losses_seen))
    return row


# -------------------------------------------------------------------------------------------------- pre-training


def pretrain_config(settings: Settings) -> TrainConfig:
    """The release's settings (TrainConfig's defaults), with the check's overrides and batch size."""
    config = with_overrides(TrainConfig(device=settings.device), list(settings.pretrain_overrides))
    if settings.pretrain_batch:
        config = replace(config, optim=replace(config.optim, batch_size=settings.pretrain_batch))
    return config


def random_batch(config: TrainConfig, grid: tuple[int, int], vocab_size: int, generator: torch.Generator) -> Batch:
    """Random inputs shaped like ``BatchMaker.make``'s: reports padded to 112 tokens as the release pads them (56 to
    112 of them real), one word slot per token, 23 region boxes on the feature grid with their sentences' words."""
    size, words, regions = config.optim.batch_size, config.text.max_words, config.loss.max_regions
    images = torch.randn(size, 3, config.image.size, config.image.size, generator=generator)
    lengths = torch.randint(words // 2, words + 1, (size,), generator=generator)
    positions = torch.arange(words).expand(size, -1)
    present = positions < lengths[:, None]
    input_ids = torch.where(present, torch.randint(5, vocab_size, (size, words), generator=generator), 0)
    word_slots = torch.where(present, positions.clamp_max(words - 1), -1)
    tags = torch.randint(-1, 2, (size, len(ASG_TAGS)), generator=generator)
    rows, cols = grid
    corner = torch.rand(size, regions, 2, generator=generator) * torch.tensor([cols - 1.0, rows - 1.0])
    extent = 1 + torch.rand(size, regions, 2, generator=generator) * torch.tensor([cols / 3, rows / 3])
    far = torch.minimum(corner + extent, torch.tensor([float(cols), float(rows)]))
    boxes = torch.cat([corner, far], dim=-1)
    box_valid = torch.rand(size, regions, generator=generator) < 0.7
    sentence_index = torch.full((size, regions, words - 1), -1, dtype=torch.long)
    sentence_index[..., :6] = torch.randint(0, words // 2 - 1, (size, regions, 6), generator=generator)
    return Batch(images, input_ids, present.long(), word_slots, tags, boxes, box_valid, sentence_index)


def pretrain_step(model: ASGModel, batch: Batch, config: TrainConfig, optimizer: torch.optim.Optimizer) -> float:
    """One optimiser step of the trainer's loop (bf16 autocast on CUDA, all enabled losses, AdamW)."""
    enabled = set(config.loss.objectives)
    weights = losses.LossWeights(config.loss.ira, config.loss.arsa, config.loss.irl, config.loss.erl)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=config.device.startswith("cuda")):
        total = losses.total_loss(compute_losses(model, batch, config, enabled), weights, enabled)
    total.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(total.detach())


def peak_memory(device: str) -> tuple[float, str]:
    """(MiB, what it is): the CUDA allocator's peak since the last reset, or the process's peak RSS on CPU."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20, "torch.cuda.max_memory_allocated (measured steps)"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak RSS of the whole process"


def pretrain_row(settings: Settings) -> PretrainRow:
    """The ASG model at the release's settings, stepped on one random batch: time per step and peak memory."""
    config, release = pretrain_config(settings), TrainConfig().optim.batch_size
    device = settings.device
    torch.manual_seed(settings.seed)
    model = ASGModel(config, settings.vocab_size, torch.randn(len(ASG_TAGS), TAG_QUERY_DIM)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.learning_rate, weight_decay=config.optim.weight_decay)
    batch = random_batch(config, model.grid, settings.vocab_size, torch.Generator().manual_seed(settings.seed)).to(device)
    seen: list[float] = []

    def step(i: int) -> int:
        if i == settings.warmup and device.startswith("cuda"):   # the peak of the measured steps alone
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        seen.append(pretrain_step(model, batch, config, optimizer))
        return config.optim.batch_size

    timing = measure(step, warmup=settings.warmup, steps=settings.pretrain_steps, budget_s=settings.budget_s * 2, device=device)
    memory, kind = peak_memory(device)
    size = config.optim.batch_size
    note = "the release's batch size" if size == release else f"batch {size}, not the release's {release} (CPU)"
    row = PretrainRow(config.image.architecture, size, release, config.image.size, config.text.max_words, config.text.layers,
                      settings.vocab_size, timing.steps, timing.seconds / timing.steps, timing.per_second, memory, kind,
                      all(math.isfinite(v) for v in seen), note)
    return row


# ---------------------------------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str) -> dict:
    """What the figures were measured on: the device named, torch, and the threads or CUDA build."""
    info = {"device": device, "torch": torch.__version__, "python": platform.python_version(),
            "cpu": cpu_model(), "cpu_threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        info.update(name=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                    tf32_matmul=torch.backends.cuda.matmul.allow_tf32, cudnn_benchmark=torch.backends.cudnn.benchmark)
    else:
        info["name"] = f"{info['cpu']} ({torch.get_num_threads()} threads)"
        info["load_average_1min"] = os.getloadavg()[0]   # other work on the same cores slows every figure
    return info


def format_number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


def print_report(report: dict) -> None:
    print(f"device: {report['device']['name']}, torch {report['device']['torch']}")
    print("\nfeature extraction (images/s; ratio = asgbench / bare; diff = max |asgbench - bare| feature)")
    print(f"{'model':16} {'mode':19} {'batch':>5} {'bare':>8} {'asgbench':>9} {'ratio':>6} {'extract':>8} {'ratio':>6} "
          f"{'diff':>8} {'agree':>5}")
    for r in report["features"]:
        diffs = max(r["max_abs_diff"], r["extract_max_abs_diff"] or 0.0)
        print(f"{r['model']:16} {r['mode']:19} {r['batch_size']:>5} {format_number(r['bare_images_per_s']):>8} "
              f"{format_number(r['asgbench_images_per_s']):>9} {format_number(r['ratio'], 2):>6} "
              f"{format_number(r['extract_images_per_s']):>8} {format_number(r['extract_ratio'], 2):>6} "
              f"{format_number(diffs, 3):>8} {str(r['agree']):>5}")
    s = report["segmentation"]
    print(f"\nsegmentation ({s['model']}, {s['head']} head, {s['input_size']} px, batch {s['batch_size']}): "
          f"train {s['train_s_per_1000_images']:.1f} s, predict {s['predict_s_per_1000_images']:.1f} s, "
          f"epoch {s['epoch_s_per_1000_images']:.1f} s per 1,000 images")
    p = report["pretrain"]
    print(f"\nASG pre-training step ({p['architecture']}, batch {p['batch_size']}, {p['image_size']} px, {p['text_tokens']} tokens, "
          f"{p['text_layers']}-layer BERT): {p['seconds_per_step']:.3f} s/step, {format_number(p['images_per_s'], 2)} images/s, "
          f"peak {p['peak_memory_mib']:.0f} MiB ({p['peak_memory_kind']}); {p['note']}")
    print(f"\ntotal {report['seconds']:.0f} s; features agree: {report['features_agree']}")


def run_check(settings: Settings) -> dict:
    started = time.perf_counter()
    features = feature_rows(settings)
    seg = segmentation_row(settings)
    release_memory(settings.device)   # the segmentation model is gone with its function's frame
    pre = pretrain_row(settings)
    return {"device": device_info(settings.device), "settings": asdict(settings),
            "features": [asdict(r) for r in features], "features_agree": all(r.agree for r in features),
            "segmentation": asdict(seg), "pretrain": asdict(pre), "seconds": time.perf_counter() - started}


def main(argv: Sequence[str] | None = None) -> int:
    settings, out = parse_settings(argv)
    if settings.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device is visible", file=sys.stderr)
        return 2
    report = run_check(settings)
    print_report(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["features_agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
