"""Every registry entry that reads a released file loads one written from its committed manifest.

A manifest (``tests/release_manifests/<entry>.json``, see ``release_manifest.py``) lists the released file's
tensors as the authors' own model code makes them; the checkpoint written from it must load strictly (nothing
missing, unexpected or left unused), every backbone tensor must be the file's, and the feature must have the
documented size. References in ``tests/release_references/`` were computed by the authors' code, outside the
project, on the same seeded files: MRM's fine-tuning feature and MGCA's text tower as its released code calls it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from asgbench.encoders import MODELS, create_encoder
from asgbench.encoders.checkpoint_io import file_sha256
from asgbench.encoders.loading import _container, map_keys
from asgbench.encoders.config import EncoderConfig
from release_folders import release_objects
from release_manifest import MANIFESTS, OWN_EXPORTS, load_manifest, random_state, released_entries, write_checkpoint

REFERENCES = Path(__file__).resolve().parent / "release_references"


def _reference(name: str) -> dict:
    return json.loads((REFERENCES / f"{name}.json").read_text())


def _mrm_input() -> torch.Tensor:
    """The fixed input of ``release_references/mrm.json``."""
    return (torch.arange(2 * 3 * 224 * 224, dtype=torch.float64) * 0.001).sin().reshape(2, 3, 224, 224).float()


PLACEHOLDERS = {
    "gloria": "omegaconf.dictconfig.DictConfig", "mgca-r50": "argparse.Namespace", "mgca-vit": "argparse.Namespace",
    "mrm": "argparse.Namespace", "convirt": "omegaconf.dictconfig.DictConfig",
}
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
# what the report says it skipped on purpose, per release
IGNORED = {"kad": "duplicate", "kad-224": "duplicate", "mrm": "pre-training only", "asg-vit": "pre-training only",
           "mgca-vit": "pre-training only", "convirt": "text tower"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Seeded checkpoints from the manifests, the two last asked for kept on disk (they are full-size files)."""
    folder = tmp_path_factory.mktemp("releases")
    cache: dict[str, Path] = {}

    def write(name: str) -> Path:
        if name in cache:
            cache[name] = cache.pop(name)  # most recently used last
            return cache[name]
        while len(cache) >= 2:
            shutil.rmtree(folder / next(iter(cache)), ignore_errors=True)
            del cache[next(iter(cache))]
        manifest = load_manifest(name)
        cache[name] = write_checkpoint(manifest, folder / name, seed=0, objects=release_objects(name))
        if "config_file" in manifest:  # a release that is a folder with its config beside the weights
            beside = manifest["config_file"]
            (cache[name].parent / beside["name"]).write_text(json.dumps(beside["content"], indent=2))
        return cache[name]

    yield write
    shutil.rmtree(folder, ignore_errors=True)


def test_own_exports_are_not_releases():
    for name in OWN_EXPORTS:
        config = MODELS.get(name)
        assert config.file_name.endswith(".safetensors") and config.checkpoint_config, name


@pytest.mark.parametrize("name", released_entries())
def test_release_loads_strictly_from_its_manifest(written, name):
    assert (MANIFESTS / f"{name}.json").is_file(), f"{name} reads a released file but has no manifest in {MANIFESTS}"
    manifest = load_manifest(name)
    config: EncoderConfig = MODELS.get(name)
    assert manifest["file"].endswith(config.file_name), (manifest["file"], config.file_name)
    assert manifest.get("generated_from"), "a manifest says how it was generated"
    path = written(name)
    encoder = create_encoder(name, checkpoint=path)
    report = encoder.report
    assert report.sha256 == file_sha256(path)
    # strict: every declared component loaded, nothing missing or unexpected, no key of the file left unused
    assert {c.name for c in report.components} == {c.name for c in config.components}
    for component in report.components:
        assert component.loaded and component.missing == [] and component.unexpected == [], component
    assert report.unused_keys == 0, report.unused_examples
    # every backbone tensor is the file's tensor, under the entry's declared key map
    state = torch.load(path, map_location="cpu", weights_only=False) if manifest.get("format", "torch") == "torch" else None
    if state is not None:
        keys = config.components[0].keys
        mapped, _, _ = map_keys(_container(state, keys.container, str(path)), keys)
        loaded = encoder.backbone.state_dict()
        assert set(loaded) == set(mapped), sorted(set(loaded) ^ set(mapped))[:5]
        for key, value in loaded.items():
            assert torch.equal(value, mapped[key]), key
    # the documented feature
    with torch.no_grad():
        features = encoder.encode(encoder.preprocess(torch.full((1, 256, 256), 128, dtype=torch.uint8)))
    assert features.global_feature.shape == (1, config.feature_dim)
    assert len(encoder.pyramid(encoder.preprocess(torch.zeros((1, 256, 256), dtype=torch.uint8)))) == len(config.taps)
    # optional parts: loaded where the release has them, so zero-shot stays enabled
    assert ZERO_SHOT_PARTS.get(name, set()) <= {c.name for c in report.components if c.loaded}
    assert encoder.has("zero-shot") == (config.zero_shot is not None)
    # config objects pickled beside the tensors load as placeholders, without running the release's code
    if name in PLACEHOLDERS:
        assert PLACEHOLDERS[name] in report.placeholders, report.placeholders
    if name in IGNORED:
        assert any(IGNORED[name] in why for why in report.ignored), report.ignored
    text = next((c for c in report.components if c.name == "text"), None)
    if name in ("mgca-r50", "mgca-vit"):  # BLIP's BERT: no token types, a cross-attention block per layer
        assert text.zero_filled == ["embeddings.token_type_embeddings.weight"]
        assert any("crossattention" in k for k in text.dropped)


def test_every_manifest_names_an_entry():
    for path in sorted(MANIFESTS.glob("*.json")):
        assert load_manifest(path.stem)["entry"] == path.stem


def test_mrm_feature_is_its_fine_tuning_feature(written):
    """MRM's models_vit.VisionTransformer(global_pool=True): pre-norm patch mean, then a fresh fc_norm."""
    reference = _reference("mrm")
    assert reference["checkpoint"] == {"manifest": "mrm", "seed": 0}
    expected = torch.tensor(reference["feature"])
    encoder = create_encoder("mrm", checkpoint=written("mrm"))
    with torch.no_grad():
        ours = encoder.backbone(_mrm_input()).global_feature
    torch.testing.assert_close(ours, expected, atol=2e-5, rtol=1e-5)
    # the mean patch token after the released norm (asgbench's feature before) is measurably another feature
    before = create_encoder("mrm", checkpoint=written("mrm"), pool="avg")
    with torch.no_grad():
        other = before.backbone(_mrm_input()).global_feature
    assert (other - expected).abs().max() > 0.1


def _mgca_text_inputs() -> dict[str, torch.Tensor]:
    reference = _reference("mgca-vit-text")
    return {"input_ids": torch.tensor(reference["input_ids"]), "attention_mask": torch.tensor(reference["attention_mask"])}


def test_mgca_text_runs_at_position_zero_as_released(written):
    from asgbench.tasks.scorers.text import pooled_text

    reference = _reference("mgca-vit-text")
    assert reference["checkpoint"] == {"manifest": "mgca-vit", "seed": 0}
    encoder = create_encoder("mgca-vit", checkpoint=written("mgca-vit"))
    assert encoder.config.text_positions == "zeros"
    tokens = _mgca_text_inputs()
    released = pooled_text(encoder, tokens)
    torch.testing.assert_close(released, torch.tensor(reference["cls"]), atol=2e-5, rtol=1e-5)
    sequential = pooled_text(encoder, tokens, "sequential")
    assert (released - sequential).abs().max() > 0.1


def test_zero_positions_equal_a_bert_called_with_position_ids_zero(written):
    """Independently of asgbench's tower: transformers' BertModel on the file's tensors, position_ids = 0."""
    from transformers import BertConfig, BertModel

    from asgbench.tasks.scorers.text import pooled_text

    encoder = create_encoder("asg-vit", checkpoint=written("asg-vit"))
    assert encoder.config.text_positions == "zeros"
    state = random_state(load_manifest("asg-vit"), seed=0)["state_dict"]
    prefix = "text_encoder_q.model."
    tensors = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and not k.endswith("position_ids")}
    tensors["embeddings.token_type_embeddings.weight"] = torch.zeros(2, 768)  # BLIP's BERT has no token types
    bert = BertModel(BertConfig(vocab_size=28996, num_hidden_layers=6), add_pooling_layer=False).eval()
    bert.load_state_dict(tensors, strict=True)
    tokens = _mgca_text_inputs()
    with torch.no_grad():
        at_zero = bert(**tokens, position_ids=torch.zeros_like(tokens["input_ids"])).last_hidden_state[:, 0]
        in_order = bert(**tokens).last_hidden_state[:, 0]
    torch.testing.assert_close(pooled_text(encoder, tokens), at_zero, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled_text(encoder, tokens, "sequential"), in_order, atol=1e-5, rtol=1e-5)
    assert (at_zero - in_order).abs().max() > 0.1


def test_text_positions_by_entry_and_by_run():
    from asgbench.errors import ConfigError
    from asgbench.tasks.protocols import ZeroShotProtocol
    from asgbench.tasks.scorers import ScorerInputs
    from baselines.asg import own_config

    for name in ("mgca-r50", "mgca-vit", "asg-vit", "asg-r50"):
        assert MODELS.get(name).text_positions == "zeros", name
    for name in ("gloria", "medclip-r50", "kad", "asg-r18"):
        assert MODELS.get(name).text_positions == "sequential", name
    # asgbench's own pre-training trains with sequential positions, so its exports keep them
    export = own_config(MODELS.get("asg-vit"), {"architecture": "vit_base_patch16", "feature_dim": 768})
    assert export.text_positions == "sequential"
    assert ZeroShotProtocol().text_positions == "released"
    assert ScorerInputs((), None, "cpu").text_positions == "released"
    from asgbench.tasks.scorers.text import text_positions

    class Stub:
        config = MODELS.get("mgca-vit")

    assert text_positions(Stub(), "released") == "zeros"
    assert text_positions(Stub(), "sequential") == "sequential"
    with pytest.raises(ConfigError, match="released, sequential"):
        text_positions(Stub(), "backwards")


def test_cosine_scorer_records_the_positions_it_ran(written, tmp_path, monkeypatch):
    """A run's text_positions reaches the cosine scorer and its details; "sequential" changes the class side."""
    from asgbench.encoders.tokenizer import train_wordpiece
    from asgbench.tasks.scorers import SCORERS, ScorerInputs
    from asgbench.tasks.scorers.prompts import load_prompts

    labels = ("Atelectasis", "Cardiomegaly")
    prompts = load_prompts("generic", "chexpert", "v1", labels)
    texts = [t for label in labels for side in prompts.classes[label].values() for t in side]
    weights = tmp_path / "weights"
    train_wordpiece(texts * 4, weights / "Bio_ClinicalBERT", vocab_size=200)
    monkeypatch.setenv("ASGBENCH_WEIGHTS", str(weights))
    encoder = create_encoder("mgca-r50", checkpoint=written("mgca-r50"))
    images = encoder.preprocess(torch.full((2, 256, 256), 100, dtype=torch.uint8))
    scorers = {asked: SCORERS.get("cosine").build(encoder, ScorerInputs(labels, prompts, "cpu", asked))
               for asked in ("released", "sequential")}
    assert scorers["released"].details["text_positions"] == "zeros"
    assert scorers["sequential"].details["text_positions"] == "sequential"
    assert scorers["sequential"].details["text_positions_asked"] == "sequential"
    assert not torch.allclose(scorers["released"].score(images), scorers["sequential"].score(images))
