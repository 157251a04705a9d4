"""Loading released files: no code runs from a pickle, wrong files and missing weights say what is wrong.

That every entry loads its release strictly is tested from the manifests (``test_release_manifests.py``).
"""
from pathlib import Path

import pytest
import torch

from asgbench.cli import main
from asgbench.encoders import MODELS, create_encoder
from asgbench.encoders.checkpoint_io import file_sha256
from asgbench.errors import ConfigError, DataLayoutError
from release_manifest import load_manifest, random_state, write_checkpoint


class Payload:
    """Unpickling this runs os.system: a checkpoint that carries code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def write_malicious(folder: Path, marker: Path) -> Path:
    """MGCA's ResNet-50 tensors (from its manifest) in a Lightning file whose hyper_parameters carry code."""
    state = random_state(load_manifest("mgca-r50"), seed=0)["state_dict"]
    image = {k: v for k, v in state.items() if k.startswith("img_encoder_q.model.")}
    path = folder / "malicious.ckpt"
    torch.save({"state_dict": image, "hyper_parameters": {"trap": Payload(marker)}}, path)
    return path


def test_code_in_a_pickle_is_not_run(tmp_path):
    marker = tmp_path / "payload-ran"
    path = write_malicious(tmp_path, marker)
    encoder = create_encoder("mgca-r50", checkpoint=path)
    assert not marker.exists()
    assert "posix.system" in encoder.report.placeholders or "os.system" in encoder.report.placeholders
    assert encoder.report.disabled  # no heads or text tower in this file: zero-shot is off, the backbone is fine
    create_encoder("mgca-r50", checkpoint=path, trust_checkpoint=True)
    assert marker.exists()  # only an explicit trust unpickles for real


def test_wrong_architecture_lists_missing_keys(tmp_path):
    path = write_checkpoint(load_manifest("mgca-vit"), tmp_path, seed=0)
    # the error names the entries whose release the file is (MGCA-ViT's and ASG-ViT's layouts are the same)
    with pytest.raises(DataLayoutError, match=r"lacks \d+ backbone key\(s\) \(is it the right model\?\): .*conv1.weight.*"
                                              r"looks like the release of (asg-vit or mgca-vit|mgca-vit or asg-vit)"):
        create_encoder("mgca-r50", checkpoint=path)
    with pytest.raises(DataLayoutError, match="expected a 'model' entry.*looks like the release of .*mgca-vit"):
        create_encoder("mrm", checkpoint=path)
    medklip = write_checkpoint(load_manifest("medklip"), tmp_path / "medklip", seed=0)
    with pytest.raises(DataLayoutError, match="looks like the release of medklip: run it as --model medklip$"):
        create_encoder("gloria", checkpoint=medklip)


def test_missing_weights_say_where_to_get_them(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ASGBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(ConfigError, match="chexpert_resnet50.ckpt.*marshuang80/gloria"):
        create_encoder("gloria")
    assert main(["models", "inspect", "--model", "gloria"]) == 2
    assert "chexpert_resnet50.ckpt" in capsys.readouterr().err


def test_ls_models_and_inspect(tmp_path, capsys):
    assert main(["ls", "models"]) == 0
    out = capsys.readouterr().out
    for name in ("asg-vit", "gloria", "medklip", "medclip-vit", "kad", "mgca-r50", "mrm", "random-r50", "imagenet-vit"):
        assert f"| {name} " in out
    path = write_checkpoint(load_manifest("medklip"), tmp_path, seed=0)
    assert main(["models", "inspect", "--model", "medklip", "--checkpoint", str(path)]) == 0
    out = capsys.readouterr().out
    assert file_sha256(path) in out
    assert "backbone: loaded" in out and "feature: (1, 1024)" in out


def test_random_entries_are_seeded():
    a = create_encoder("random-r18", seed=3)
    b = create_encoder("random-r18", seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not a.has("zero-shot") or a.config.zero_shot is None


def test_a_narrow_resnet_keeps_torchvision_names_at_a_quarter_of_the_compute():
    import torchvision

    from asgbench.encoders.backbones import build_backbone

    full, narrow = build_backbone("resnet18"), build_backbone("resnet18", width=32)
    reference = {k for k in torchvision.models.resnet18(weights=None).state_dict() if not k.startswith("fc.")}
    assert set(narrow.state_dict()) == set(full.state_dict()) == reference
    features = narrow(torch.zeros(2, 3, 64, 64))
    assert features.global_feature.shape == (2, 256) and narrow.feature_dim == 256
    assert features.maps["layer1"].shape[1] == 32 and features.maps["layer4"].shape[1] == 256
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert 0.2 < count(narrow) / count(full) < 0.3
