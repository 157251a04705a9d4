"""The prepared GPU check (benchmarks/gpu_check.py) runs on CPU at its smallest sizes, reports every figure, and
its feature comparison tells the bare network's computation from another one."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
# Tiny networks at 32 px, one step of everything: seconds on two cores, every path of the full check.
SMALLEST = ["--device", "cpu", "--models", "random-r18,random-vit-tiny", "--image-size", "32", "--batch-size", "2",
            "--warmup", "0", "--batches", "1", "--seg-model", "random-r18", "--seg-images", "2", "--seg-batch", "2",
            "--pretrain-batch", "2", "--pretrain-steps", "1", "--vocab-size", "300", "--pretrain-override",
            "image.architecture=vit_tiny_patch16", "image.size=32", "text.layers=1", "text.hidden=32", "text.heads=2",
            "text.intermediate=64", "model.head_hidden=32", "model.embed_dim=16", "model.irl_ffn=32", "model.irl_layers=1"]


@pytest.fixture(scope="module")
def gpu_check():
    """The script loaded as a module (registered while its dataclasses are built, as they need)."""
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_smallest_run_reports_every_figure_with_agreeing_features(gpu_check, tmp_path, capsys):
    out = tmp_path / "check.json"
    assert gpu_check.main([*SMALLEST, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"]["device"] == "cpu" and report["device"]["name"] and report["device"]["torch"] == torch.__version__

    rows = {(r["model"], r["mode"]): r for r in report["features"]}
    # without --quick the CPU measures bf16 + channels-last too; extract() runs in its own mode (fp32 on CPU) only
    assert set(rows) == {(m, mode) for m in ("random-r18", "random-vit-tiny") for mode in ("fp32", "bf16-channels-last")}
    for (model, mode), row in rows.items():
        assert all(positive(row[k]) for k in ("bare_images_per_s", "asgbench_images_per_s", "ratio", "feature_scale")), row
        assert row["agree"] and row["max_abs_diff"] <= 1e-4 * max(1.0, row["feature_scale"]) or mode != "fp32", row
        if mode == "fp32":
            assert positive(row["extract_images_per_s"]) and positive(row["extract_ratio"]), row
            assert row["extract_max_abs_diff"] <= 1e-4 * max(1.0, row["feature_scale"]), row
        else:
            assert row["extract_images_per_s"] is None and row["agree"], row
    assert report["features_agree"] is True

    seg = report["segmentation"]
    assert seg["head"] == "unet" and seg["input_size"] == 32 and seg["batch_size"] == 2 and seg["loss_finite"]
    assert all(positive(seg[k]) for k in ("train_s_per_1000_images", "predict_s_per_1000_images", "epoch_s_per_1000_images"))
    assert seg["epoch_s_per_1000_images"] == pytest.approx(seg["train_s_per_1000_images"] + seg["predict_s_per_1000_images"])

    pre = report["pretrain"]
    assert pre["architecture"] == "vit_tiny_patch16" and pre["batch_size"] == 2 and pre["release_batch_size"] == 72
    assert pre["text_tokens"] == 112 and pre["loss_finite"] and "not the release's" in pre["note"]
    assert all(positive(pre[k]) for k in ("seconds_per_step", "images_per_s", "peak_memory_mib"))
    printed = capsys.readouterr().out
    assert report["device"]["name"] in printed and "features agree: True" in printed


def test_feature_check_catches_a_network_that_computes_something_else(gpu_check, monkeypatch):
    """The agreement is a real check: a bare network with one weight changed no longer agrees, and main fails."""
    settings, _ = gpu_check.parse_settings(["--device", "cpu", "--quick", "--models", "random-r18", "--image-size", "32",
                                            "--batch-size", "2", "--warmup", "0", "--batches", "1"])
    built = gpu_check.bare_network

    def changed(encoder):
        net = built(encoder)
        with torch.no_grad():
            net.layer4[-1].conv2.weight.mul_(1.5)
        return net

    monkeypatch.setattr(gpu_check, "bare_network", changed)
    (row,) = gpu_check.feature_rows(settings)
    assert not row.agree and row.max_abs_diff > 1e-4 * max(1.0, row.feature_scale)
    assert row.extract_max_abs_diff == pytest.approx(row.max_abs_diff)   # extract() is measured against the same reference
