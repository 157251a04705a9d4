"""Every published entry loads a checkpoint written in its release's exact layout, strictly and reported."""
import pytest
import torch

from asgbench.cli import main
from asgbench.encoders import MODELS, create_encoder
from asgbench.encoders.checkpoint_io import file_sha256
from asgbench.errors import ConfigError, DataLayoutError
from release_layouts import WRITERS, write_malicious

ZERO_SHOT_PARTS = {
    "gloria": {"text", "image_global_projection", "image_local_projection"},
    "mgca-r50": {"text", "image_global_projection", "text_global_projection"},
    "mgca-vit": {"text", "image_global_projection", "text_global_projection"},
    "asg-vit": {"text", "image_global_projection", "text_global_projection"},
    "medclip-r50": {"text", "image_projection", "text_projection", "logit_scale"},
    "medclip-vit": {"text", "image_projection", "text_projection", "logit_scale"},
    "kad": {"text", "text_mlp", "query_decoder", "patch_projection"},
    "kad-224": {"text", "text_mlp", "query_decoder", "patch_projection"},
    "medklip": {"query_decoder"},
}
PLACEHOLDERS = {
    "gloria": "omegaconf.dictconfig.DictConfig", "mgca-r50": "argparse.Namespace", "mgca-vit": "argparse.Namespace",
    "mrm": "argparse.Namespace", "convirt": "omegaconf.dictconfig.DictConfig",
}
IGNORED = {"kad": "duplicate", "kad-224": "duplicate", "mrm": "pre-training only", "asg-vit": "pre-training only",
           "mgca-vit": "pre-training only", "convirt": "text tower"}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_release_layout_loads_strictly(tmp_path, name):
    path, mapping = WRITERS[name](tmp_path)
    raw = torch.load(path, weights_only=False) if path.suffix != ".zip" else None
    encoder = create_encoder(name, checkpoint=path)
    report = encoder.report
    assert report.sha256 == file_sha256(path)
    backbone = next(c for c in report.components if c.name == "backbone")
    assert backbone.loaded and backbone.missing == [] and backbone.unexpected == []
    # every backbone tensor equals the file's tensor
    loaded = encoder.backbone.state_dict()
    assert set(loaded) == set(mapping), sorted(set(loaded) ^ set(mapping))[:5]
    if raw is not None:
        source = raw
        for key in MODELS.get(name).components[0].keys.container:
            source = source[key]
        for ours, theirs in mapping.items():
            assert torch.equal(loaded[ours], source[theirs]), ours
    # the documented feature, on one image
    config = encoder.config
    with torch.no_grad():
        features = encoder.encode(encoder.preprocess(torch.full((1, 256, 256), 128, dtype=torch.uint8)))
    assert features.global_feature.shape == (1, config.feature_dim)
    assert len(encoder.pyramid(encoder.preprocess(torch.zeros((1, 256, 256), dtype=torch.uint8)))) == len(config.taps)
    # optional parts: loaded where the release has them, so zero-shot stays enabled
    loaded_parts = {c.name for c in report.components if c.loaded} - {"backbone"}
    assert ZERO_SHOT_PARTS.get(name, set()) <= loaded_parts
    assert encoder.has("zero-shot") == (config.zero_shot is not None)
    if name in PLACEHOLDERS:
        assert PLACEHOLDERS[name] in report.placeholders
    if name in IGNORED:
        assert any(IGNORED[name] in why for why in report.ignored), report.ignored
    assert report.unused_keys == 0, report.unused_examples
    text = next((c for c in report.components if c.name == "text"), None)
    if text is not None and name not in ("mgca-r50", "mgca-vit", "asg-vit"):
        assert "embeddings.position_ids" in text.dropped
    if name in ("mgca-r50", "mgca-vit", "asg-vit"):
        assert text.zero_filled == ["embeddings.token_type_embeddings.weight"]
        assert any("crossattention" in k for k in text.dropped)


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
    path, _ = WRITERS["mgca-vit"](tmp_path)
    with pytest.raises(DataLayoutError, match=r"lacks \d+ backbone key\(s\) \(is it the right model\?\): .*conv1.weight"):
        create_encoder("mgca-r50", checkpoint=path)
    with pytest.raises(DataLayoutError, match="expected a 'model' entry"):
        create_encoder("mrm", checkpoint=path)


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
    path, _ = WRITERS["medklip"](tmp_path)
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
