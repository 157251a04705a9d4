"""The ASG pre-training loop: AdamW + cosine with warm-up, early stopping, exact resume, data parallel.

After every epoch the whole training state (model, optimiser, step, best val loss, history) is written
atomically to ``<out>/state.pt`` and the per-loss history to ``<out>/history.csv``; the best model on val
is exported to ``<out>/<name>.safetensors`` + ``.json`` with its tokenizer beside it. ``resume`` continues
from the last finished epoch and gives the same weights as an uninterrupted run, because every random
choice is derived from (seed, epoch). A non-finite loss stops training with a clear message and leaves the
last good state in place. Under ``torchrun`` each process trains on its shard of every batch list (gloo on
CPU, NCCL on CUDA) and only rank 0 writes files.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from asgbench.data.datasets import read_index
from asgbench.data.store import build_store
from asgbench.encoders.text import load_tokenizer
from asgbench.encoders.tokenizer import train_wordpiece
from asgbench.errors import AsgbenchError, ConfigError
from asgbench.pretrain import losses
from asgbench.pretrain.config import TAG_BERT_CLS, TAG_WORD_PIECES, TrainConfig
from asgbench.pretrain.data import Batch, BatchMaker, PairRecord, epoch_order, masks_uncertain_tags, read_annotations
from asgbench.pretrain.model import ASGModel, backbone_options
from asgbench.pretrain.tag_decoder import TagQueries, embedding_tag_queries, encode_tag_queries
from asgbench.progress import Progress
from asgbench.vocab import ASG_TAGS

STATE_FILE = "state.pt"
HISTORY_FILE = "history.csv"
BEST_FOLDER = ".best"          # best-so-far weights while training runs (see _publish)
LOSS_NAMES = ("ira", "arsa", "irl", "erl")


class TrainingDiverged(AsgbenchError):
    """A loss became NaN or infinite; the last good state is kept."""


@dataclass
class TrainOutcome:
    checkpoint: Path
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    history: list[dict]
    resumed_from: int


def learning_rate_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up from the minimum over the first fraction of steps, then cosine down to the minimum."""
    optim = config.optim
    warmup = max(1, int(total * optim.warmup_fraction))
    if step < warmup:
        return optim.min_learning_rate + (optim.learning_rate - optim.min_learning_rate) * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return optim.min_learning_rate + 0.5 * (optim.learning_rate - optim.min_learning_rate) * (1 + math.cos(math.pi * progress))


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("ASGBENCH_DIST_BACKEND") != "gloo" else "gloo"
        torch.distributed.init_process_group(backend)
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def _atomic_torch_save(obj, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def _tokenizer(config: TrainConfig, out: Path, records: list[PairRecord], rank: int, world: int):
    if config.text.tokenizer:
        return load_tokenizer(config.text.tokenizer), Path(config.text.tokenizer)
    folder = out / "tokenizer"
    if rank == 0 and not (folder / "tokenizer.json").is_file():
        texts = [" ".join(r.sentences) for r in records if r.split == "train"]
        train_wordpiece(texts, folder, vocab_size=config.text.vocab_size, max_length=config.text.max_words)
    if world > 1:
        torch.distributed.barrier()
    return load_tokenizer(folder), folder


def _tag_queries(config: TrainConfig, out: Path, tokenizer, vocab_size: int) -> torch.Tensor:
    """The 40 frozen tag queries, encoded once and cached in ``<out>/tag_queries.pt``.

    With ``text.tag_bert`` (by default ``text.bert``, see ``TrainConfig.resolved``) the last-layer [CLS] of each
    tag phrase from that whole frozen BERT, as the release does; without any pre-trained BERT, the report BERT's
    initial word-piece embeddings (``config.tag_encoding`` says which; the export records it)."""
    cache = out / "tag_queries.pt"
    if cache.is_file():
        return TagQueries.load(cache, ASG_TAGS).vectors
    from transformers import BertModel

    from asgbench.pretrain.model import build_text_encoder

    if config.text.tag_bert:
        tag_model = BertModel.from_pretrained(config.text.tag_bert, add_pooling_layer=False, local_files_only=True)
        tag_tokenizer = load_tokenizer(config.text.tag_bert)
        vectors = encode_tag_queries(tag_model, tag_tokenizer, ASG_TAGS, "cpu")
    else:  # no pre-trained text model: the report BERT's initial word-piece embeddings (same seed), frozen
        torch.manual_seed(config.seed)
        vectors = embedding_tag_queries(build_text_encoder(config, vocab_size), tokenizer, ASG_TAGS)
    TagQueries(ASG_TAGS, vectors).save(cache)
    return vectors


def compute_losses(model: nn.Module, batch: Batch, config: TrainConfig, enabled: set[str], *,
                   mask_uncertain: bool = False) -> dict[str, torch.Tensor]:
    """The enabled losses of one batch; ``mask_uncertain`` (from the manifest's hedged policy, see
    ``data.masks_uncertain_tags``) leaves -1 tags out of IRL."""
    output = model(batch.images, batch.input_ids, batch.attention_mask, batch.word_slots, with_tags="irl" in enabled)
    tau = config.model.temperature
    parts: dict[str, torch.Tensor] = {}
    if "ira" in enabled:
        parts["ira"] = losses.ira_loss(output.image_global, output.report_global, tau)
    if "arsa" in enabled:
        parts["arsa"] = losses.arsa_loss(output.patch_map, batch.boxes, batch.box_valid, output.word_embeddings,
                                         batch.sentence_index, tau)
    if "irl" in enabled:
        parts["irl"] = losses.irl_loss(output.tag_logits, batch.tags, mask_uncertain=mask_uncertain)
    if "erl" in enabled:
        parts["erl"] = losses.erl_loss(output.image_global, output.report_global, batch.tags, tau)
    return parts


def _tag_provenance(config: TrainConfig) -> dict:
    """How the run's tag queries were made, for the export's JSON."""
    if config.tag_encoding == TAG_BERT_CLS:
        return {"encoding": TAG_BERT_CLS, "bert": config.resolved().text.tag_bert,
                "what": "last-layer [CLS] of each tag phrase from the frozen BERT (the release's)"}
    return {"encoding": TAG_WORD_PIECES, "bert": None,
            "what": "standardised mean word-piece embeddings of the report BERT at its initialisation "
                    "(no pre-trained BERT)"}


def _export(model: ASGModel, config: TrainConfig, out: Path, tokenizer, tokenizer_folder: Path, best_epoch: int,
            val_loss: float) -> Path:
    from baselines.asg import save_own_checkpoint

    target_tokenizer = out / "tokenizer"
    if tokenizer_folder.resolve() != target_tokenizer.resolve():
        # the tokenizer's files only: a folder such as text.bert also holds the BERT's weights
        tokenizer.save_pretrained(str(target_tokenizer))
    meta = {
        "tag": config.name,   # names the weights: an export loads as <entry>.<tag>, e.g. asg-r18.full
        "seed": config.seed, "recipe": recipe_digest(config),
        "architecture": config.image.architecture, "feature_dim": model.feature_dim, "backbone_options": backbone_options(config),
        "input": {"size": config.image.size, "mean": list(config.image.mean), "std": list(config.image.std), "channels": 3, "crop": True},
        "tokenizer": "tokenizer", "text_pooling": config.text.pooling,
        # an export before any training (best_epoch 0) learnt no objective: it is a random-init baseline
        "objectives": list(config.loss.objectives) if best_epoch else [],
        "arsa_alignment": config.loss.arsa_alignment if best_epoch else None, "best_epoch": best_epoch,
        "val_loss": val_loss if math.isfinite(val_loss) else None,
        "text_tower": f"BERT ({model.text_encoder.config.num_hidden_layers} layers, hidden {model.text_encoder.config.hidden_size}) "
                      f"+ {config.model.embed_dim}-d global head; [CLS]",
        "feature": "global feature of the pre-trained backbone",
        "tag_queries": _tag_provenance(config),
        "initialised_from": {"text": config.text.bert, "image": config.image.init},   # None: random weights
    }
    staging = out / f".{config.name}.export"
    path = save_own_checkpoint(staging / config.name, model.export_parts(), meta)
    best = out / BEST_FOLDER / path.name
    best.parent.mkdir(exist_ok=True)
    os.replace(path.with_suffix(".json"), best.with_suffix(".json"))
    os.replace(path, best)
    shutil.rmtree(staging, ignore_errors=True)
    return best


def _publish(out: Path, name: str) -> Path:
    """The best weights become the export only when training has ended: a killed run leaves its best-so-far in
    the hidden ``.best/`` folder beside the state it resumes from, never a file that looks like a finished model."""
    best = out / BEST_FOLDER / f"{name}.safetensors"
    final = out / best.name
    os.replace(best, final)
    os.replace(best.with_suffix(".json"), final.with_suffix(".json"))
    return final


# what a recipe is not: the seed, the run's name and where and how it runs
NOT_RECIPE = frozenset({"seed", "name", "out", "device", "workers"})


def recipe_digest(config: TrainConfig) -> str:
    """The training config without its seed, name and place, hashed: exports of one recipe trained with other
    seeds share it, so tables pool them as one row and show the spread over pre-training seeds."""
    settings = {key: value for key, value in _flat(config.to_dict()).items() if key not in NOT_RECIPE}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


# what a resumed run may change: how long it goes on and where it runs, never what it trains
RESUMABLE_CHANGES = frozenset({"optim.max_epochs", "optim.patience", "device", "workers"})


def _flat(mapping: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _refuse_changed_config(saved: Path, config: TrainConfig) -> None:
    """A resume continues the run it finds: a changed setting (a tokenizer now derived from ``text.bert``, another
    objective) would silently train a different model from the middle on."""
    if not saved.is_file():
        return
    before, now = _flat(json.loads(saved.read_text())), _flat(config.to_dict())
    changed = sorted(key for key in before.keys() | now.keys()
                     if before.get(key) != now.get(key) and key not in RESUMABLE_CHANGES)
    if changed:
        details = ", ".join(f"{key}: {before.get(key)!r} -> {now.get(key)!r}" for key in changed)
        raise ConfigError(f"{saved}: --resume with a changed config ({details}); resume with the run's own settings "
                          f"(only {', '.join(sorted(RESUMABLE_CHANGES))} may change) or start a new out folder")


def train(config: TrainConfig, *, resume: bool = False, progress: Progress | None = None,
          say: Callable[[str], None] | None = None) -> TrainOutcome:
    config = config.resolved()   # text.bert's tokenizer and tag BERT, as load_config gives them
    rank, world = _distributed()
    main_process = rank == 0
    out = Path(config.out)
    state_path = out / STATE_FILE
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        if state_path.is_file() and not resume:
            raise ConfigError(f"{state_path} exists: pass --resume to continue that run, or choose another out folder")
        if resume and state_path.is_file():
            _refuse_changed_config(out / "config.json", config)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    if world > 1:
        torch.distributed.barrier()
    device = config.device
    manifest, records = read_annotations(Path(config.annotations))
    mask_uncertain = masks_uncertain_tags(manifest)
    train_records = [r for r in records if r.split == "train"]
    val_records = [r for r in records if r.split == "val"]
    if config.max_train_images:
        train_records = train_records[: config.max_train_images]
    per_process = config.optim.batch_size
    if len(train_records) < per_process * world or len(val_records) < 2:
        raise ConfigError(f"{config.annotations}: {len(train_records)} training and {len(val_records)} validation pairs; "
                          f"need at least {per_process * world} (optim.batch_size x processes) and 2: lower "
                          f"optim.batch_size, or start from the small config (--config synthetic)")
    tokenizer, tokenizer_folder = _tokenizer(config, out, records, rank, world)
    vocab_size = len(tokenizer)
    if main_process:
        _tag_queries(config, out, tokenizer, vocab_size)
    if world > 1:
        torch.distributed.barrier()
    tag_vectors = _tag_queries(config, out, tokenizer, vocab_size)

    index = read_index("mimic", Path(manifest["mimic_root"]))
    store = build_store(index, [r.image_id for r in train_records + val_records])
    torch.manual_seed(config.seed)
    model = ASGModel(config, vocab_size, tag_vectors).to(device)
    enabled = set(config.loss.objectives)
    weights = losses.LossWeights(config.loss.ira, config.loss.arsa, config.loss.irl, config.loss.erl)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.learning_rate, weight_decay=config.optim.weight_decay)
    common = dict(size=config.image.size, grid=model.grid, mean=config.image.mean, std=config.image.std,
                  max_words=config.text.max_words, max_regions=config.loss.max_regions, alignment=config.loss.arsa_alignment,
                  seed=config.seed)
    train_maker = BatchMaker(train_records, store, tokenizer, train=True, **common)
    val_maker = BatchMaker(val_records, store, tokenizer, train=False, **common)
    global_batch = per_process * world
    batches_per_epoch = len(train_records) // global_batch
    steps_per_epoch = max(1, batches_per_epoch // config.optim.accumulate)
    total_steps = steps_per_epoch * config.optim.max_epochs

    epoch, step, best_val, best_epoch, stale, history = 0, 0, float("inf"), 0, 0, []
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, best_val, best_epoch, stale = state["epoch"], state["step"], state["best_val"], state["best_epoch"], state["stale"]
        history = json.loads(state["history"])
    resumed_from = epoch
    trained = model
    if world > 1:
        trained = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)

    def run_epoch_train(current: int) -> dict[str, float]:
        nonlocal step
        trained.train()
        torch.manual_seed(config.seed * 1000 + current)  # dropout: a function of (seed, epoch) only
        order = epoch_order(len(train_records), config.seed, current)
        sums = {name: 0.0 for name in (*LOSS_NAMES, "total")}
        counts = 0
        optimizer.zero_grad(set_to_none=True)
        for b in range(batches_per_epoch):
            chosen = order[b * global_batch : (b + 1) * global_batch][rank * per_process : (rank + 1) * per_process]
            batch = train_maker.make([int(p) for p in chosen], current).to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                parts = compute_losses(trained, batch, config, enabled, mask_uncertain=mask_uncertain)
                total = losses.total_loss(parts, weights, enabled)
            if not torch.isfinite(total):
                detail = ", ".join(f"{k} {float(v):.4g}" for k, v in parts.items())
                raise TrainingDiverged(f"non-finite loss at epoch {current}, batch {b + 1} ({detail}); training stopped, "
                                       f"the last good state is {state_path} (lower optim.learning_rate and --resume)")
            (total / config.optim.accumulate).backward()
            if (b + 1) % config.optim.accumulate == 0:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate_at(step, total_steps, config)
                if config.optim.grad_clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
            for name, value in parts.items():
                sums[name] += float(value.detach())
            sums["total"] += float(total.detach())
            counts += 1
            if progress and main_process:
                progress(f"epoch {current} train", b + 1, batches_per_epoch)
        return {name: value / max(1, counts) for name, value in sums.items() if name == "total" or name in enabled}

    def run_epoch_val(current: int) -> dict[str, float]:
        model.eval()
        sums = {name: 0.0 for name in (*LOSS_NAMES, "total")}
        counts = 0
        size = max(2, per_process)
        with torch.no_grad():
            for start in range(0, len(val_records) - 1, size):
                positions = list(range(start, min(start + size, len(val_records))))
                if len(positions) < 2:
                    break
                batch = val_maker.make(positions, current).to(device)
                parts = compute_losses(model, batch, config, enabled, mask_uncertain=mask_uncertain)
                total = losses.total_loss(parts, weights, enabled)
                for name, value in parts.items():
                    sums[name] += float(value.detach())
                sums["total"] += float(total.detach())
                counts += 1
        return {name: value / max(1, counts) for name, value in sums.items() if name == "total" or name in enabled}

    if config.optim.max_epochs == 0 and main_process:
        # no training: the initial weights, a random-init baseline with exactly the trained models' architecture
        _export(model, config, out, tokenizer, tokenizer_folder, 0, math.nan)
    started = time.perf_counter()
    earlier_seconds = float(history[-1]["seconds"]) if history else 0.0   # attempts before a --resume count too
    while epoch < config.optim.max_epochs and stale < config.optim.patience:
        epoch += 1
        train_losses = run_epoch_train(epoch)
        val_losses = run_epoch_val(epoch)
        if not math.isfinite(val_losses["total"]):
            raise TrainingDiverged(f"non-finite validation loss at epoch {epoch}; the last good state is {state_path}")
        improved = val_losses["total"] < best_val
        if improved:
            best_val, best_epoch, stale = val_losses["total"], epoch, 0
        else:
            stale += 1
        row = {"epoch": epoch, "step": step, "learning_rate": learning_rate_at(step, total_steps, config),
               **{f"train_{k}": v for k, v in train_losses.items()}, **{f"val_{k}": v for k, v in val_losses.items()},
               "seconds": earlier_seconds + time.perf_counter() - started}
        history.append(row)
        if main_process:
            if improved:
                _export(model, config, out, tokenizer, tokenizer_folder, best_epoch, best_val)
            _atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "step": step,
                                "best_val": best_val, "best_epoch": best_epoch, "stale": stale,
                                "history": json.dumps(history)}, state_path)
            _write_history(out / HISTORY_FILE, history)
            if say:
                say(f"epoch {epoch}: train {train_losses['total']:.4f}, val {val_losses['total']:.4f}"
                    + (" (best)" if improved else f" (best {best_val:.4f} at epoch {best_epoch})"))
    if main_process and (out / BEST_FOLDER / f"{config.name}.safetensors").is_file():
        _publish(out, config.name)
    if world > 1:
        torch.distributed.barrier()
    return TrainOutcome(out / f"{config.name}.safetensors", epoch, best_epoch, best_val, history, resumed_from)


def _write_history(path: Path, history: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in history for k in row))
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
    os.replace(temporary, path)
