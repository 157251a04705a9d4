"""The segmentation protocol: train a decoder on the encoder's maps, stop early on val Dice, test once.

Loss is MGCA's ``10 * focal - log(soft Dice)``; AdamW at 5e-4 with weight decay 0.05; train-time
augmentation is a random scale (+-10 %) and rotation (+-10 degrees) applied to image and mask together.
Per-image Dice at threshold 0.5, where an image whose mask and prediction are both empty scores 1, averaged
over the whole test split. Because that rule lets a model that predicts nothing score the share of images
without a lesion, a result also records, on the same bootstrap resamples, Dice on the images with a lesion,
that empty-mask baseline and the paired difference model - empty. With the encoder frozen and augmentation off, the decoder's inputs are computed
once per image and reused every epoch, and by the other runs of the same process on the same encoder and
dataset (the same numbers, without the repeated forward passes). After every
epoch the training state is saved beside the run's output, so an interrupted run resumes from its last
finished epoch.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from asgbench.data.store import ImageStore
from asgbench.encoders.model import Encoder
from asgbench.progress import EpochProgress
from asgbench.tasks import metrics as m
from asgbench.tasks.data import TaskData
from asgbench.tasks.features import weights_digest
from asgbench.tasks.protocols import ProtocolJob, SegmentationProtocol
from asgbench.tasks.scoring import Outcome
from asgbench.tasks.seg_models import SegmentationModel



def mixed_loss(logits: torch.Tensor, target: torch.Tensor, focal_weight: float, gamma: float) -> torch.Tensor:
    """focal_weight * focal(logits) - log(soft Dice over the whole batch)."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_true = torch.exp(-bce)
    focal = ((1 - p_true) ** gamma * bce).mean()
    probability = logits.sigmoid()
    dice = (2 * (probability * target).sum() + 1) / (probability.sum() + target.sum() + 1)
    return focal_weight * focal - torch.log(dice)


def random_affine(images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Half of the images get a random scale in [0.9, 1.1] and rotation in [-10, 10] degrees (zero border)."""
    b = images.shape[0]
    apply = torch.rand(b, generator=generator) < 0.5
    scale = 1 + (torch.rand(b, generator=generator) * 0.2 - 0.1)
    angle = (torch.rand(b, generator=generator) * 20 - 10) * math.pi / 180
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    theta = torch.where(apply[:, None, None], theta, identity)
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Outside the image the normalised value of black, not zero, keeps the border what the encoder expects.
    black = F.grid_sample(torch.ones_like(images[:, :1]), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    fill = images.amin(dim=(2, 3), keepdim=True)
    warped = warped * black + fill * (1 - black)
    warped_masks = F.grid_sample(masks, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return warped, warped_masks


def _batches(n: int, size: int, order: np.ndarray | None = None, min_size: int = 1):
    """Consecutive batches of ``size``; a last batch smaller than ``min_size`` joins the one before it."""
    order = np.arange(n) if order is None else order
    starts = list(range(0, n, size))
    if len(starts) > 1 and n - starts[-1] < min_size:
        starts.pop()
    for start, end in zip(starts, [*starts[1:], n]):
        yield order[start:end]


def epoch_length(n: int, min_images: int = 0, max_images: int = 0) -> int:
    """How many images :func:`epoch_order` gives (whatever its generator draws)."""
    length = n * math.ceil(min_images / n) if 0 < n < min_images else n
    return min(length, max_images) if max_images else length


def make_scheduler(optimizer: torch.optim.Optimizer, spec: SegmentationProtocol, steps_per_epoch: int):
    """The learning-rate schedule ``spec`` asks for, stepped once per batch; None for a constant rate."""
    if spec.lr_schedule == "constant":
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, spec.max_epochs * steps_per_epoch))


def epoch_order(rng: np.random.Generator, n: int, min_images: int = 0, max_images: int = 0) -> np.ndarray:
    """One epoch's image order: a permutation, repeated in fresh orders until it holds ``min_images``, and
    cut to its first ``max_images`` (a fresh random subset each epoch) when that is set and smaller."""
    order = rng.permutation(n)
    while n and len(order) < min_images:
        order = np.concatenate([order, rng.permutation(n)])
    return order[:max_images] if max_images else order


def predict(model: SegmentationModel, encoder: Encoder, images: np.ndarray | None, batch_size: int, device: str,
            threshold: float | None, encoded: tuple[torch.Tensor, ...] | None = None) -> np.ndarray:
    """Binary predictions (N x S x S, bool) for canonical uint8 images, or for their cached encodings; with
    ``threshold`` None, the pixel probabilities (float32) instead."""
    model.eval()
    out = []
    size = (encoder.config.input.size, encoder.config.input.size)
    count = len(encoded[0]) if encoded is not None else len(images)
    with torch.inference_mode():
        for index in _batches(count, batch_size):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                if encoded is not None:
                    logits = model.decode(tuple(t[index].to(device) for t in encoded), size)
                else:
                    logits = model(encoder.preprocess(torch.from_numpy(images[index]).to(device)))
            probability = logits.float().sigmoid()[:, 0]
            out.append((probability if threshold is None else probability >= threshold).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1, 1), dtype=bool)


# Cached encodings are kept in memory only below this size; above it the encoder runs every epoch.
ENCODING_CACHE_BYTES = 3 * 2**30


@dataclass
class EncodingCache:
    """The decoder's inputs per image for one (encoder weights, input contract, image store), kept in memory.

    Frozen and without augmentation, an encoder maps an image to the same tensors in every epoch and in every
    run: the runs of one process that share an encoder and a dataset (a sweep trial holds every fraction and
    seed of one model and task) encode each train, val and test image once between them.
    """

    key: str = ""
    per_image: dict[str, tuple[torch.Tensor, ...]] = field(default_factory=dict)
    image_bytes: int = 0

    @staticmethod
    def key_of(model: SegmentationModel, encoder: Encoder, store: ImageStore) -> str:
        """What the encodings depend on: the encoder's weights and input contract, the head (its kind and the
        blocks it reads), the images."""
        return f"{weights_digest(encoder)}|{encoder.config.input}|{model.head_spec}|{store.key}"

    def take(self, key: str, model: SegmentationModel, encoder: Encoder, store: ImageStore, image_ids: list[str],
             batch_size: int, device: str, budget: int) -> tuple[torch.Tensor, ...] | None:
        """The encodings of ``image_ids`` (stacked in that order) under ``key`` (:meth:`key_of`), computing the
        missing ones; None when all the images this cache would then hold do not fit in ``budget`` bytes."""
        if not image_ids:
            return None
        if key != self.key:
            self.key, self.per_image, self.image_bytes = key, {}, 0
        missing = [i for i in dict.fromkeys(image_ids) if i not in self.per_image]
        model.eval()
        with torch.inference_mode():
            for index in _batches(len(missing), batch_size):
                ids = [missing[i] for i in index]
                encoded = model.encode(encoder.preprocess(torch.from_numpy(store.batch(ids)).to(device)))
                self.image_bytes = self.image_bytes or sum(t[0].numel() * t.element_size() for t in encoded)
                if self.image_bytes * (len(self.per_image) + len(missing)) > budget:
                    return None
                for row, image_id in enumerate(ids):
                    self.per_image[image_id] = tuple(t[row].cpu() for t in encoded)
        if self.image_bytes * len(self.per_image) > budget:
            return None
        return tuple(torch.stack(column) for column in zip(*(self.per_image[i] for i in image_ids)))


ENCODINGS = EncodingCache()


# The thresholds a run may choose from on val (``threshold_on_val``).
THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def best_threshold(truth: np.ndarray, probabilities: np.ndarray, grid: tuple[float, ...] = THRESHOLD_GRID) -> tuple[float, float]:
    """(threshold, mean per-image Dice) of the grid's threshold with the highest mean Dice; ties go to the lowest."""
    scores = [float(m.dice_per_image(truth, probabilities >= t).mean()) for t in grid]
    best = int(np.argmax(scores))
    return grid[best], scores[best]


def _epoch_progress(spec: SegmentationProtocol, epoch: int, history: list[dict], started: float, loop_started: float,
                    epochs_timed: int) -> EpochProgress:
    """The progress state at the start of ``epoch``: the last val Dice, time spent, and the epochs that may follow
    (``max_epochs`` bounds them; early stopping may end sooner), timed by this attempt's finished epochs."""
    now = time.perf_counter()
    return EpochProgress(epoch=epoch, max_epochs=spec.max_epochs, epochs_left=spec.max_epochs - epoch,
                         elapsed_s=now - started, epoch_s=(now - loop_started) / epochs_timed if epochs_timed else 0.0,
                         last_score=history[-1]["val_dice"] if history else None)


def _aligned_masks(encoder: Encoder, masks: np.ndarray) -> np.ndarray:
    return encoder.preprocess_masks(torch.from_numpy(masks)).cpu().numpy()[:, 0] >= 0.5


def run_segmentation(encoder: Encoder, data: TaskData, spec: SegmentationProtocol, job: ProtocolJob) -> Outcome:
    seed, device, state_file, progress = job.seed, job.device, job.state_file, job.progress
    started = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SegmentationModel(encoder, finetune=spec.finetune, decoder_channels=spec.decoder_channels,
                              upernet_channels=spec.upernet_channels, prior=spec.output_prior(),
                              head=spec.segmentation_head).to(device)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)
    steps_per_epoch = len(list(_batches(epoch_length(len(data.splits["train"].image_ids), *spec.epoch_bounds()),
                                        spec.batch_size, None, model.min_batch)))
    scheduler = make_scheduler(optimizer, spec, steps_per_epoch)

    store = data.store
    train, val, test = data.splits["train"], data.splits["val"], data.splits["test"]
    train_masks, val_truth = data.masks("train"), _aligned_masks(encoder, data.masks("val"))
    reuse_encodings = not spec.finetune and not spec.augment

    encodings_key = EncodingCache.key_of(model, encoder, store) if reuse_encodings else ""

    def encodings(image_ids: list[str]) -> tuple[torch.Tensor, ...] | None:
        if not reuse_encodings:
            return None
        return ENCODINGS.take(encodings_key, model, encoder, store, image_ids, spec.batch_size, device, ENCODING_CACHE_BYTES)

    train_encoded = encodings(train.image_ids)
    val_encoded = encodings(val.image_ids) if train_encoded is not None else None
    train_images = store.batch(train.image_ids) if train_encoded is None else None
    val_images = store.batch(val.image_ids) if val_encoded is None else None
    size = (encoder.config.input.size, encoder.config.input.size)

    epoch, best_dice, best_epoch, stale, best_state, history = 0, -1.0, 0, 0, None, []
    chosen_threshold = spec.threshold
    earlier_s = 0.0   # seconds earlier attempts spent up to the state this one resumes from
    if state_file is not None and state_file.is_file():
        saved = torch.load(state_file, weights_only=True)
        earlier_s = float(saved.get("seconds", 0.0))
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        epoch, best_dice, best_epoch, stale = saved["epoch"], saved["best_dice"], saved["best_epoch"], saved["stale"]
        best_state, history = saved["best_state"], saved["history"]
        chosen_threshold = saved.get("best_threshold", spec.threshold)
        generator.set_state(saved["generator"])
        rng.bit_generator.state = saved["rng"]
        if "torch_rng" in saved:  # dropout in a head draws from torch's own generators
            torch.set_rng_state(saved["torch_rng"])
            if saved.get("cuda_rng") and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(saved["cuda_rng"])
    resumed_from = epoch
    loop_started, epochs_timed = time.perf_counter(), 0

    while epoch < spec.max_epochs and stale < spec.patience:
        epoch += 1
        model.train()
        order = epoch_order(rng, len(train.image_ids), *spec.epoch_bounds())
        losses = []
        batches = list(_batches(len(order), spec.batch_size, order, model.min_batch))
        state = _epoch_progress(spec, epoch, history, started, loop_started, epochs_timed)
        for done, index in enumerate(batches):
            y = encoder.preprocess_masks(torch.from_numpy(train_masks[index]).to(device))
            if train_encoded is not None:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                    logits = model.decode(tuple(t[index].to(device) for t in train_encoded), size)
            else:
                x = encoder.preprocess(torch.from_numpy(train_images[index]).to(device))
                if spec.augment:
                    x, y = random_affine(x, y, generator)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                    logits = model(x)
            loss = mixed_loss(logits.float(), y, spec.focal_weight, spec.focal_gamma)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if progress:
                progress(state.phase(), done + 1, len(batches))
        if spec.threshold_on_val:
            probabilities = predict(model, encoder, val_images, spec.batch_size, device, None, val_encoded)
            threshold, val_dice = best_threshold(val_truth, probabilities)
        else:
            predicted = predict(model, encoder, val_images, spec.batch_size, device, spec.threshold, val_encoded)
            threshold, val_dice = spec.threshold, float(m.dice_per_image(val_truth, predicted).mean())
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"), "val_dice": val_dice,
                        "threshold": threshold, "learning_rate": float(optimizer.param_groups[0]["lr"])})
        epochs_timed += 1
        if val_dice > best_dice:
            best_dice, best_epoch, chosen_threshold, stale = val_dice, epoch, threshold, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if state_file is not None:
            state_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = state_file.with_name(f".{state_file.name}.{os.getpid()}")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None, "epoch": epoch, "best_dice": best_dice,
                        "best_epoch": best_epoch, "best_threshold": chosen_threshold, "stale": stale, "best_state": best_state, "history": history,
                        "generator": generator.get_state(), "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                        "cuda_rng": torch.cuda.get_rng_state_all() if device.startswith("cuda") else [],
                        "seconds": earlier_s + time.perf_counter() - started}, temporary)
            os.replace(temporary, state_file)
    train_seconds = earlier_s + time.perf_counter() - started

    if best_state is not None:
        model.load_state_dict(best_state)
    test_truth = _aligned_masks(encoder, data.masks("test"))
    test_encoded = encodings(test.image_ids) if train_encoded is not None else None
    test_images = store.batch(test.image_ids) if test_encoded is None else None
    predicted = predict(model, encoder, test_images, spec.batch_size, device, chosen_threshold, test_encoded)
    dice = m.dice_per_image(test_truth, predicted)
    metrics = {"dice": m.bootstrap(lambda i: float(dice[i].mean()), len(dice), patients=test.patients, seed=seed).to_dict()}
    empty = test_truth.reshape(len(test_truth), -1).sum(1) == 0
    if len(dice):
        metrics.update(m.read_segmentation(dice, ~empty, patients=test.patients, seed=seed).to_metrics())
    flat_truth, flat_pred = test_truth.reshape(len(dice), -1), predicted.reshape(len(dice), -1)
    predictions = pd.DataFrame({
        "image_id": test.image_ids, "patient_id": test.patients, "dice": dice,
        "true_pixels": flat_truth.sum(1), "predicted_pixels": flat_pred.sum(1), "intersection": (flat_truth & flat_pred).sum(1),
    })
    return Outcome(
        metrics=metrics, per_class={"dice": {data.task.labels[0]: metrics["dice"]["value"]}}, predictions=predictions,
        selection={"encodings_reused": train_encoded is not None, "best_epoch": best_epoch, "val_dice": best_dice, "threshold": chosen_threshold, "epochs_run": epoch, "resumed_from_epoch": resumed_from,
                   "history": history, "decoder": model.kind, "decoder_head": model.describe_head(), "trainable_parameters": sum(p.numel() for p in model.trainable_parameters())},
        counts={"train_positive": int((train_masks.reshape(len(train_masks), -1).sum(1) > 0).sum()),
                "test_positive": int((~empty).sum())},
        timings={"train_s": train_seconds, "total_s": earlier_s + time.perf_counter() - started,
                 "earlier_attempts_s": earlier_s},
        extra={"headline": "dice"},
    )
