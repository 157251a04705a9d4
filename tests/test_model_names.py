"""Model names as timm's ``architecture.tag``: the entry fixes the architecture, the tag names the weights,
and the ``asg`` family reads the architecture from the checkpoint itself."""
from __future__ import annotations

import json
import shutil

import pytest

from asgbench.encoders import resolve_model
from asgbench.errors import ConfigError, DataLayoutError
from small_models import write_small_asg


@pytest.fixture(scope="module")
def own_r18(tiny_suite, tmp_path_factory):
    return write_small_asg(tiny_suite, tmp_path_factory.mktemp("asg-own"))


def test_the_asg_family_resolves_a_resnet_checkpoint_to_the_resnet_entry(own_r18):
    resolved = resolve_model("asg", own_r18)
    assert resolved.name == "asg-r18" and resolved.config.architecture == "resnet18"
    assert resolved.config.table_group == "CNN" and resolved.checkpoint == own_r18
    tagged = resolve_model("asg.mine", own_r18)
    assert tagged.name == "asg-r18.mine" and tagged.config.label == "asg-r18.mine"
    assert resolve_model("asg-r18", own_r18).name == "asg-r18"


def test_an_entry_of_another_architecture_names_the_one_that_fits(own_r18):
    with pytest.raises(DataLayoutError, match="resnet18.*--model asg-r18"):
        resolve_model("asg-vit", own_r18)


def test_the_file_supplies_its_tag_unless_the_name_gives_one(own_r18, tmp_path):
    folder = tmp_path / "tagged"
    shutil.copytree(own_r18.parent, folder)
    sidecar = folder / own_r18.with_suffix(".json").name
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "tag": "full", "best_epoch": 0}))
    checkpoint = folder / own_r18.name
    resolved = resolve_model("asg", checkpoint)
    assert resolved.name == "asg-r18.full"
    assert resolved.config.table_group == "init"          # exported before any training step: an initialisation
    assert resolve_model("asg.other", checkpoint).name == "asg-r18.other"


def test_tags_and_entries_without_a_file(tmp_path, monkeypatch):
    monkeypatch.delenv("ASGBENCH_WEIGHTS", raising=False)
    assert resolve_model("random-r18").config.table_group == "init"
    assert resolve_model("random-r18.seedless").name == "random-r18.seedless"
    with pytest.raises(ConfigError, match="letters, digits"):
        resolve_model("random-r18.a/b")
    with pytest.raises(ConfigError, match="asg_vit.ckpt"):
        resolve_model("asg")                                # the family without a file: the released ViT-B/16
    official_like = tmp_path / "asg_r18.ckpt"
    official_like.write_bytes(b"not used")
    with pytest.raises(DataLayoutError, match="no released checkpoint"):
        resolve_model("asg-r18", official_like)
