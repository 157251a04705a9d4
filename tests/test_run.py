"""`asgbench run` end to end on the tiny synthetic suite: every task, result files, skipping, caching, resuming."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asgbench.cli import main
from asgbench.results import read_predictions, read_result, validate_result
from small_models import write_small_asg

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tiny_suite, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"suite": tiny_suite, "out": root / "results", "cache": root / "cache", "root": root}


@pytest.fixture(scope="module")
def small_asg(tiny_suite, tmp_path_factory) -> Path:
    return write_small_asg(tiny_suite, tmp_path_factory.mktemp("asg-small"))


def run_cli(workspace, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", "--data-root", str(workspace["suite"]), "--out", str(workspace["out"]), "--cache-dir",
                 str(workspace["cache"]), "--quiet", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def result_of(out: str, workspace) -> dict:
    run_id = out.split(":", 1)[0].strip()
    return read_result(workspace["out"] / f"{run_id}.json")


@pytest.mark.parametrize("task", ["rsna-lp", "covidx-lp", "chexpert-lp", "nih-lp"])
def test_linear_probe_tasks_run_and_write_valid_results(workspace, capsys, task):
    code, out, _ = run_cli(workspace, capsys, "--model", "random-r18", "--task", task)
    assert code == 0, out
    result = result_of(out, workspace)
    assert result["task"]["name"] == task and result["eval_protocol"]["name"] == "linear-probe"
    assert result["headline"]["ci95"][0] <= result["headline"]["value"] <= result["headline"]["ci95"][1]
    assert set(result["splits"]["lists"]) == {"train", "val", "test"}
    assert result["encoder"]["load_report"]["model"] == "random-r18"
    predictions = read_predictions(workspace["out"], result["run_id"])
    assert len(predictions) == result["counts"]["test"]
    assert {f"score:{label}" for label in result["task"]["labels"]} <= set(predictions.columns)
    # re-running the same command does no work
    code, again, _ = run_cli(workspace, capsys, "--model", "random-r18", "--task", task)
    assert code == 0 and "already done" in again and result["run_id"] in again


def test_metric_in_the_result_is_recomputable_from_the_predictions(workspace, capsys):
    from asgbench.tasks.metrics import macro_auc

    code, out, _ = run_cli(workspace, capsys, "--model", "random-r18", "--task", "chexpert-lp")
    result = result_of(out, workspace)
    predictions = read_predictions(workspace["out"], result["run_id"])
    labels = result["task"]["labels"]
    targets = predictions[[f"target:{label}" for label in labels]].to_numpy()
    scores = predictions[[f"score:{label}" for label in labels]].to_numpy()
    assert macro_auc(targets, scores) == pytest.approx(result["metrics"]["auc"]["value"], abs=1e-6)


@pytest.mark.parametrize("task", ["rsna-zs", "nih-zs", "chexpert-zs"])
def test_zero_shot_tasks_run_with_a_text_tower(workspace, capsys, small_asg, task):
    code, out, err = run_cli(workspace, capsys, "--model", "asg", "--checkpoint", str(small_asg), "--task", task)
    assert code == 0, err
    result = result_of(out, workspace)
    assert set(result["metrics"]) >= {"auc", "f1", "accuracy", "f1_test_threshold"}
    assert result["selection"]["thresholds_from"] == "val"
    assert result["selection"]["prompt_sha256"]


def test_zero_shot_without_a_text_side_is_a_clear_error(workspace, capsys):
    code, _, err = run_cli(workspace, capsys, "--model", "random-r18", "--task", "rsna-zs")
    assert code == 2 and "cannot run zero-shot" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("model", "task", "decoder"), [("random-r18", "siim-seg", "unet"), ("random-vit-tiny", "rsna-seg", "setr-pup")])
def test_segmentation_tasks_run(workspace, capsys, model, task, decoder):
    code, out, err = run_cli(workspace, capsys, "--model", model, "--task", task, "--set", "max_epochs=2", "--set", "batch_size=8")
    assert code == 0, err
    result = result_of(out, workspace)
    assert result["selection"]["decoder"] == decoder
    assert result["eval_protocol"]["params"]["max_epochs"] == 2 and "max_epochs=2" in result["spec"]["overrides"]
    predictions = read_predictions(workspace["out"], result["run_id"])
    # Dice again from the stored pixel counts, by the MGCA rule (both masks empty: 1), and the mean over images
    truth, predicted, both = (predictions[c].to_numpy(dtype=float) for c in ("true_pixels", "predicted_pixels", "intersection"))
    assert np.all(both <= np.minimum(truth, predicted))
    expected = np.where(truth + predicted == 0, 1.0, 2 * both / np.maximum(truth + predicted, 1))
    assert predictions["dice"].to_numpy() == pytest.approx(expected, abs=1e-9)
    assert result["metrics"]["dice"]["value"] == pytest.approx(expected.mean(), abs=1e-9)
    # beside it, what makes it readable: Dice on lesion images and the empty-mask baseline (share of empty images)
    assert result["metrics"]["dice_positive_images"]["value"] == pytest.approx(expected[truth > 0].mean(), abs=1e-9)
    assert result["metrics"]["empty_mask_dice"]["value"] == pytest.approx((truth == 0).mean(), abs=1e-9)
    assert result["metrics"]["dice_minus_empty"]["value"] == pytest.approx(expected.mean() - (truth == 0).mean(), abs=1e-9)
    # the truth counted is the test list's: an image labelled with the finding has mask pixels, the others none
    from asgbench.tasks.data import load_task_data
    from asgbench.tasks.specs import TASKS

    data = load_task_data(TASKS.get(task), data_root=workspace["suite"], cache_dir=workspace["cache"])
    labels = data.splits["test"].rows.set_index("image_id")[data.task.labels[0]].fillna(0)
    assert list(predictions["image_id"]) == data.splits["test"].image_ids
    assert np.array_equal(truth > 0, labels.loc[predictions["image_id"]].to_numpy() == 1)
    assert 0 < (truth > 0).sum() < len(truth)                # both kinds of image are in the test list


def _write_plain_dicom(path: Path, pixels: np.ndarray) -> None:
    """Replace a DICOM's image by ``pixels`` (uint8, MONOCHROME2, uncompressed, no window to apply)."""
    import pydicom

    dataset = pydicom.dcmread(path)
    for keyword in ("WindowCenter", "WindowWidth", "VOILUTSequence", "RescaleSlope", "RescaleIntercept"):
        if keyword in dataset:
            delattr(dataset, keyword)
    dataset.set_pixel_data(pixels.astype(np.uint8), photometric_interpretation="MONOCHROME2", bits_stored=8)
    dataset.save_as(path, enforce_file_format=True)


SHAPES = ((600, 1000), (1000, 640))    # landscape and portrait originals: the letterbox pads rows, then columns


def test_masks_lie_on_the_pixels_of_their_finding_after_the_letterbox(tiny_suite, tmp_path):
    """Every training image is rewritten as a non-square original that is bright exactly where its annotation
    (SIIM run-length mask, RSNA box) says the finding is; after decoding, letterboxing and mask building the
    bright pixels of each stored image and its mask must coincide. A mask shifted by the padding, transposed,
    scaled to the wrong side or read in the wrong run-length order misses its bright region."""
    import shutil

    from asgbench.data.masks import rle_encode
    from asgbench.tasks.data import load_task_data
    from asgbench.tasks.specs import TASKS

    for name in ("siim", "rsna", "splits"):
        shutil.copytree(tiny_suite / name, tmp_path / name)
    rng = np.random.default_rng(0)
    for task_name, label in (("siim-seg", "Pneumothorax"), ("rsna-seg", "Pneumonia")):
        task = TASKS.get(task_name)
        rows = load_task_data(task, data_root=tmp_path, cache_dir=tmp_path / "before").splits["train"].rows
        root = tmp_path / task.dataset
        annotations = []
        for k, row in enumerate(rows.itertuples(index=False)):
            height, width = SHAPES[k % 2]
            bright = np.zeros((height, width), np.uint8)
            if getattr(row, label) == 1:
                top, left = int(rng.uniform(0.1, 0.5) * height), int(rng.uniform(0.1, 0.5) * width)
                bottom, right = top + int(0.35 * height), left + int(0.3 * width)
                if task_name == "siim-seg":                    # an ellipse in the box: not symmetric under transposing
                    yy, xx = np.mgrid[:height, :width]
                    cy, cx, ry, rx = (top + bottom) / 2, (left + right) / 2, (bottom - top) / 2, (right - left) / 2
                    bright[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
                else:
                    bright[top:bottom, left:right] = 1
                annotations.append((row.image_id, rle_encode(bright) if task_name == "siim-seg" else
                                    f"{left},{top},{right - left},{bottom - top},1"))
            else:
                annotations.append((row.image_id, "-1" if task_name == "siim-seg" else ",,,,0"))
            _write_plain_dicom(root / row.path, 255 * bright)
        if task_name == "siim-seg":
            table = pd.read_csv(root / "train-rle.csv", skipinitialspace=True, dtype=str)
            kept = [f"{i}, {e}" for i, e in table.itertuples(index=False) if i not in set(rows["image_id"])]
            lines = ["ImageId, EncodedPixels", *kept, *(f"{i}, {e}" for i, e in annotations)]
            (root / "train-rle.csv").write_text("\n".join(lines) + "\n")
        else:
            table = pd.read_csv(root / "stage_2_train_labels.csv", dtype=str, keep_default_na=False)
            kept = [",".join(r) for r in table.itertuples(index=False) if r[0] not in set(rows["image_id"])]
            lines = [",".join(table.columns), *kept, *(f"{i},{box}" for i, box in annotations)]
            (root / "stage_2_train_labels.csv").write_text("\n".join(lines) + "\n")

        data = load_task_data(task, data_root=tmp_path, cache_dir=tmp_path / "after")
        ids = data.splits["train"].image_ids
        masks, images = data.masks("train").astype(bool), data.store.batch(ids)
        positive = data.splits["train"].rows[label].fillna(0).to_numpy() == 1
        assert masks.shape == images.shape == (len(ids), 256, 256)
        assert positive[0::2].any() and positive[1::2].any(), "both shapes need a finding"
        for image_id, mask, image, finding in zip(ids, masks, images, positive):
            shown = image > 127
            assert mask.any() == finding and shown.any() == finding, image_id
            if finding:
                overlap = (mask & shown).sum() / (mask | shown).sum()
                assert overlap > 0.95, f"{task_name} {image_id}: mask and finding overlap {overlap:.2f}"


def test_feature_cache_is_shared_across_fractions_and_seeds_and_keyed_by_weights(workspace, capsys, small_asg, tmp_path):
    base = ["--model", "asg", "--checkpoint", str(small_asg), "--task", "rsna-lp"]
    _, first, _ = run_cli(workspace, capsys, *base, "--fraction", "100")
    _, second, _ = run_cli(workspace, capsys, *base, "--fraction", "10", "--seed", "3")
    assert result_of(second, workspace)["extra"]["feature_cache"]["hit"] is True
    key = result_of(first, workspace)["extra"]["feature_cache"]["key"]
    assert result_of(second, workspace)["extra"]["feature_cache"]["key"] == key
    # other weights: a different checkpoint misses the cache
    other = write_small_asg(workspace["suite"], tmp_path / "other", seed=1)
    _, third, _ = run_cli(workspace, capsys, "--model", "asg", "--checkpoint", str(other), "--task", "rsna-lp")
    assert result_of(third, workspace)["extra"]["feature_cache"]["hit"] is False


def test_feature_cache_key_changes_with_preprocessing(tiny_suite, tmp_path):
    from asgbench.data.datasets import read_index
    from asgbench.data.store import build_store
    from asgbench.encoders import create_encoder
    from asgbench.tasks.features import cached_features

    index = read_index("rsna", tiny_suite / "rsna")
    store = build_store(index, cache_dir=tmp_path / "stores")
    ids = store.image_ids[:8]
    encoder = create_encoder("random-r18")
    a = cached_features(encoder, store, ids, tmp_path)
    assert cached_features(encoder, store, ids, tmp_path).hit
    encoder.config = replace(encoder.config, input=replace(encoder.config.input, crop=False))
    b = cached_features(encoder, store, ids, tmp_path)
    assert not b.hit and b.key != a.key
    assert not np.allclose(a.features, b.features)


def test_bad_inputs_are_one_line_errors(workspace, capsys):
    code, _, err = run_cli(workspace, capsys, "--model", "random-r18", "--task", "rsna-lpp")
    assert code == 2 and "rsna-lp" in err
    code, _, err = run_cli(workspace, capsys, "--model", "random-r18", "--task", "rsna-lp", "--set", "epochs=3")
    assert code == 2 and "max_epochs" in err
    code, _, err = run_cli(workspace, capsys, "--model", "random-r18", "--task", "siim-seg", "--set", "lr_schedule=linear")
    assert code == 2 and "lr_schedule='linear'" in err and "cosine" in err and len(err.strip().splitlines()) == 1
    code, _, err = main(["run", "--model", "random-r18", "--task", "rsna-lp", "--data-root", str(workspace["root"] / "nowhere"),
                         "--out", str(workspace["out"]), "--quiet"]), None, capsys.readouterr().err
    assert code == 2 and "nowhere" in err


def test_ls_tasks_lists_every_task(capsys):
    assert main(["ls", "tasks"]) == 0
    out = capsys.readouterr().out
    for task in ("nih-lp", "chexpert-lp", "rsna-lp", "covidx-lp", "rsna-zs", "nih-zs", "chexpert-zs", "siim-seg", "rsna-seg"):
        assert task in out


def test_a_killed_run_leaves_no_result_and_the_next_run_resumes(workspace, tmp_path):
    out = tmp_path / "results"
    command = [sys.executable, "-m", "asgbench.cli", "run", "--model", "random-r18", "--task", "siim-seg", "--data-root",
               str(workspace["suite"]), "--out", str(out), "--cache-dir", str(workspace["cache"]), "--quiet",
               "--set", "max_epochs=4", "--set", "patience=10", "--set", "batch_size=8", "--set", "lr_schedule=cosine"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    deadline = time.monotonic() + 300
    while not list((out / ".partial").glob("*.pt")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()[1].decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list(out.glob("*.json")), "a killed run must not leave a result file"
    import torch

    earlier = torch.load(next((out / ".partial").glob("*.pt")), weights_only=True)["seconds"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    results = list(out.glob("*.json"))
    assert len(results) == 1
    result = json.loads(results[0].read_text())
    validate_result(result)
    assert result["selection"]["resumed_from_epoch"] >= 1
    assert result["selection"]["epochs_run"] == 4
    # the cosine schedule resumed where it stopped: the rate falls every epoch and reaches 0 at the last
    rates = [h["learning_rate"] for h in result["selection"]["history"]]
    assert all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] == pytest.approx(0, abs=1e-12)
    assert rates[1] == pytest.approx(0.5 * result["eval_protocol"]["params"]["learning_rate"], rel=1e-6)
    # the seconds of the killed attempt, up to the state resumed from, count in the result's timings
    assert earlier > 0 and result["timings"]["earlier_attempts_s"] == pytest.approx(earlier)
    assert result["timings"]["train_s"] > earlier and result["timings"]["total_s"] > result["timings"]["train_s"]
    assert not list((out / ".partial").glob("*.pt"))
    predictions = pd.read_parquet(out / f"{result['run_id']}.predictions.parquet")
    assert len(predictions) == result["counts"]["test"] and predictions["image_id"].is_unique
    assert result["metrics"]["dice"]["value"] == pytest.approx(predictions["dice"].mean(), abs=1e-9)


def assert_encoding_every_epoch_gives(reference: dict, workspace, capsys, monkeypatch, *args: str) -> None:
    """Run ``args`` again with no encodings kept (the encoder runs every epoch) and compare with ``reference``."""
    from asgbench.tasks import segmentation

    monkeypatch.setattr(segmentation, "ENCODINGS", segmentation.EncodingCache())
    monkeypatch.setattr(segmentation, "ENCODING_CACHE_BYTES", 0)          # too small: encode every epoch
    code, out, err = run_cli(workspace, capsys, *args, "--force")
    assert code == 0, err
    again = result_of(out, workspace)
    assert reference["selection"]["encodings_reused"] is True and again["selection"]["encodings_reused"] is False
    assert [h["val_dice"] for h in again["selection"]["history"]] == pytest.approx(
        [h["val_dice"] for h in reference["selection"]["history"]], abs=1e-6)
    assert again["metrics"]["dice"]["value"] == pytest.approx(reference["metrics"]["dice"]["value"], abs=1e-6)


def test_reused_encodings_give_the_same_segmentation_as_encoding_every_epoch(workspace, capsys, monkeypatch):
    args = ("--model", "random-vit-tiny", "--task", "siim-seg", "--set", "max_epochs=2", "--set", "batch_size=8",
            "--set", "augment=false", "--seed", "3")
    code, out, err = run_cli(workspace, capsys, *args)
    assert code == 0, err
    assert_encoding_every_epoch_gives(result_of(out, workspace), workspace, capsys, monkeypatch, *args)


@pytest.mark.parametrize("model", ["random-r18", "random-vit-tiny"])
def test_head_prior_starts_every_output_pixel_at_that_probability(model):
    import torch

    from asgbench.encoders import create_encoder
    from asgbench.tasks.seg_models import SegmentationModel

    encoder = create_encoder(model)
    widths = {"decoder_channels": (16, 16, 8, 8, 8), "pup_channels": (16, 8, 8, 8)}
    for prior, expected in ((0.1, 0.1), (0.0, 0.5)):
        model_ = SegmentationModel(encoder, prior=prior, **widths).eval()
        output = model_.head[0] if model_.kind == "unet" else model_.decoder.head
        torch.nn.init.zeros_(output.weight)                   # the output is then its bias alone
        size = encoder.config.input.size
        with torch.no_grad():
            probability = model_(torch.rand(1, 3, size, size)).sigmoid()
        assert torch.allclose(probability, torch.full_like(probability, expected), atol=0.05 if prior == 0 else 1e-6)


def test_runs_in_one_process_share_encodings_and_get_what_encoding_every_epoch_gets(workspace, capsys, monkeypatch):
    from asgbench.tasks import segmentation

    args = ("--model", "random-r18", "--task", "siim-seg", "--set", "max_epochs=2", "--set", "batch_size=8",
            "--set", "augment=false", "--set", "threshold_on_val=true", "--seed", "4")
    monkeypatch.setattr(segmentation, "ENCODINGS", segmentation.EncodingCache())
    code, out, err = run_cli(workspace, capsys, *args, "--fraction", "10", "--force")
    assert code == 0, err
    after_ten = len(segmentation.ENCODINGS.per_image)
    code, out, err = run_cli(workspace, capsys, *args, "--fraction", "100", "--force")
    assert code == 0, err
    shared = result_of(out, workspace)
    assert 0 < after_ten < len(segmentation.ENCODINGS.per_image)          # the 100 % run encoded only what was new
    thresholds = [h["threshold"] for h in shared["selection"]["history"]]
    assert set(thresholds) <= set(segmentation.THRESHOLD_GRID)              # chosen on val, epoch by epoch
    assert shared["selection"]["threshold"] == thresholds[shared["selection"]["best_epoch"] - 1]
    assert_encoding_every_epoch_gives(shared, workspace, capsys, monkeypatch, *args, "--fraction", "100")


def test_a_named_evaluation_protocol_is_recorded_with_its_own_settings(workspace, capsys):
    code, out, err = run_cli(workspace, capsys, "--model", "random-r18", "--task", "siim-seg", "--fraction", "10",
                             "--eval-protocol", "segmentation-demo", "--set", "max_epochs=1")
    assert code == 0, err
    result = result_of(out, workspace)
    assert result["spec"]["eval_protocol"] == "segmentation-demo" and result["eval_protocol"]["name"] == "segmentation-demo"
    params = result["eval_protocol"]["params"]
    assert (params["min_epoch_images"], params["max_epoch_images"], params["head_prior"]) == (256, 256, 0.1)
    assert params["max_epochs"] == 1 and result["spec"]["overrides"] == ["max_epochs=1"]
    history = result["selection"]["history"]
    assert len(history) == 1
    code, _, err = run_cli(workspace, capsys, "--model", "random-r18", "--task", "siim-seg", "--eval-protocol", "linear-probe")
    assert code == 2 and "linear probe protocol, not segmentation" in err
