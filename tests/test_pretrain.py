"""ASG pre-training end to end on the tiny synthetic suite: prepare, train, load as `asg`, resume, data parallel."""
from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asgbench.cli import main
from asgbench.errors import ConfigError
from asgbench.pretrain.config import load_config
from asgbench.vocab import ASG_TAGS

pytestmark = pytest.mark.slow

# A CPU-sized model; one batch holds the whole tiny training list, so every epoch is one step on the same pairs.
SMALL = ["image.architecture=resnet18", "image.size=64", "text.layers=1", "text.hidden=64", "text.heads=2",
         "text.intermediate=128", "text.vocab_size=600", "model.embed_dim=32", "model.head_hidden=64", "model.irl_layers=1",
         "model.irl_ffn=64", "optim.batch_size=15", "optim.learning_rate=1e-3", "optim.warmup_fraction=0.1",
         "optim.patience=20", "seed=0"]


@pytest.fixture(scope="module")
def annotations(tiny_suite, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "annotations"
    assert main(["pretrain", "prepare", "--data-root", str(tiny_suite / "mimic"), "--out", str(out), "--quiet"]) == 0
    return out


def train_args(annotations: Path, out: Path, *extra: str) -> list[str]:
    return ["pretrain", "train", "--quiet", f"annotations={annotations}", f"out={out}", "name=asg-tiny", *SMALL, *extra]


def test_prepare_writes_pairs_tags_and_region_slots(annotations, capsys):
    manifest = json.loads((annotations / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["images"] > 20 and counts["train"] > 0 and counts["val"] > 0
    assert counts["scene_graph_boxes"] == counts["images"]  # the suite has a scene graph for every frontal image
    with gzip.open(annotations / "annotations.jsonl.gz", "rt") as handle:
        records = [json.loads(line) for line in handle]
    assert all(len(r["tags"]) == 40 and set(r["tags"]) <= {-1, 0, 1} for r in records)
    assert any(1 in r["tags"] for r in records)
    rules = [s for r in records for s in r["slots"]["rules"]]
    graph = [s for r in records for s in r["slots"]["scene-graph"]]
    assert rules and graph
    for slot in rules + graph:
        x1, y1, x2, y2 = slot["box"]
        assert 0 <= x1 < x2 <= 256 and 0 <= y1 < y2 <= 256 and slot["sentences"]


def test_config_rejects_unknown_keys_and_objectives(tmp_path):
    with pytest.raises(ConfigError, match="optim"):
        load_config(None, [f"annotations={tmp_path}", "optim.epochs=3"])
    with pytest.raises(ConfigError, match="objectives"):
        load_config(None, [f"annotations={tmp_path}", "loss.objectives=ira,xyz"])
    with pytest.raises(ConfigError, match="irl_head"):
        load_config(None, [f"annotations={tmp_path}", "model.irl_head=mlp"])
    config = load_config(Path("asgbench/pretrain/configs/synthetic.yaml"), ["optim.max_epochs=2"])
    assert config.optim.max_epochs == 2 and config.image.architecture == "resnet18"


def _history(out: Path) -> list[dict]:
    with open(out / "history.csv") as handle:
        return list(csv.DictReader(handle))


def test_training_lowers_every_loss_and_the_checkpoint_runs_as_asg(annotations, tmp_path, tiny_suite, capsys):
    out = tmp_path / "asg"
    assert main(train_args(annotations, out, "optim.max_epochs=20")) == 0
    history = _history(out)
    assert len(history) == 20
    for name in ("ira", "arsa", "irl", "erl"):
        values = [float(row[f"train_{name}"]) for row in history]
        # one step per epoch on 15 pairs is noisy: compare the first three epochs with the last three
        assert sum(values[-3:]) < sum(values[:3]), (name, values)
    checkpoint = out / "asg-tiny.safetensors"
    assert checkpoint.is_file() and (out / "asg-tiny.json").is_file() and (out / "tokenizer").is_dir()

    from asgbench.encoders import create_encoder

    encoder = create_encoder("asg", checkpoint)
    # the family reads the architecture from the file and the tag from the run's name
    assert encoder.config.name == "asg-r18.asg-tiny" and encoder.config.table_group == "CNN"
    assert encoder.config.architecture == "resnet18" and encoder.has("zero-shot")
    capsys.readouterr()
    code = main(["run", "--model", "asg", "--checkpoint", str(checkpoint), "--task", "rsna-lp", "--data-root", str(tiny_suite),
                 "--out", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "auc" in capsys.readouterr().out
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")]
    assert result["spec"]["model"] == "asg-r18.asg-tiny" and result["run_id"].startswith("asg-r18.asg-tiny__")
    assert result["encoder"]["group"] == "CNN" and result["encoder"]["display_name"] == "asg-r18.asg-tiny"


def test_objectives_can_be_switched_off(annotations, tmp_path):
    out = tmp_path / "ira-only"
    assert main(train_args(annotations, out, "optim.max_epochs=1", "loss.objectives=ira")) == 0
    row = _history(out)[0]
    assert "train_ira" in row and "train_arsa" not in row and "train_irl" not in row
    meta = json.loads((out / "asg-tiny.json").read_text())
    assert meta["objectives"] == ["ira"]


def test_linear_tag_head_reads_the_pooled_feature(annotations, tmp_path):
    from asgbench.pretrain.model import ASGModel

    config = load_config(None, [f"annotations={annotations}", f"out={tmp_path}", *SMALL, "model.irl_head=linear"])
    torch.manual_seed(0)
    model = ASGModel(config, 50, torch.randn(len(ASG_TAGS), 8))
    assert isinstance(model.irl, torch.nn.Linear) and model.irl.in_features == model.feature_dim
    # tag logits start at a 5 % prior, so the first steps do not spend the backbone's gradient on calibration
    torch.testing.assert_close(model.irl.bias.sigmoid(), torch.full((len(ASG_TAGS),), 0.05))
    images = torch.randn(2, 3, config.image.size, config.image.size)
    ids, mask = torch.randint(5, 50, (2, 6)), torch.ones(2, 6, dtype=torch.long)
    output = model(images, ids, mask, torch.arange(6).expand(2, -1))
    assert output.tag_logits.shape == (2, len(ASG_TAGS))
    output.tag_logits.sum().backward()
    assert model.image_encoder.conv1.weight.grad.abs().sum() > 0   # the tags train the backbone
    out = tmp_path / "linear-irl"
    assert main(train_args(annotations, out, "optim.max_epochs=1", "loss.objectives=ira,irl", "model.irl_head=linear")) == 0
    assert "train_irl" in _history(out)[0]


def test_existing_run_needs_resume(annotations, tmp_path, capsys):
    out = tmp_path / "again"
    assert main(train_args(annotations, out, "optim.max_epochs=1")) == 0
    capsys.readouterr()
    assert main(train_args(annotations, out, "optim.max_epochs=1")) == 2
    assert "--resume" in capsys.readouterr().err
    # a resume continues the run it finds: a changed objective is refused, naming it, before any work
    saved = (out / "config.json").read_text()
    assert main([*train_args(annotations, out, "optim.max_epochs=1", "loss.objectives=ira"), "--resume"]) == 2
    assert "loss.objectives" in capsys.readouterr().err and (out / "config.json").read_text() == saved


def test_a_killed_and_resumed_run_ends_with_the_same_weights(annotations, tmp_path):
    epochs = ["optim.max_epochs=4"]
    straight = tmp_path / "straight"
    assert main(train_args(annotations, straight, *epochs)) == 0

    resumed = tmp_path / "resumed"
    command = [sys.executable, "-m", "asgbench.cli", *train_args(annotations, resumed, *epochs)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (resumed / "state.pt").is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()[1].decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = torch.load(resumed / "state.pt", weights_only=True)["epoch"]
    assert killed_at < 4
    # nothing that looks like a finished model: the best-so-far waits in a hidden folder beside the state
    assert not list(resumed.glob("*.safetensors")) and list((resumed / ".best").glob("*.safetensors"))
    assert main([*train_args(annotations, resumed, *epochs), "--resume"]) == 0
    assert (resumed / "asg-tiny.safetensors").is_file() and (resumed / "asg-tiny.json").is_file()
    seconds = [float(row["seconds"]) for row in _history(resumed)]
    assert len(seconds) == 4 and seconds == sorted(seconds)   # the resumed epochs add to the killed attempt's time

    a = torch.load(straight / "state.pt", weights_only=True)
    b = torch.load(resumed / "state.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 4
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_two_process_gloo_run_completes(annotations, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "ASGBENCH_DIST_BACKEND": "gloo", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "asgbench.cli",
               *train_args(annotations, out, "optim.max_epochs=1", "optim.batch_size=4")]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert (out / "asg-tiny.safetensors").is_file()
    assert len(_history(out)) == 1


def test_an_untrained_export_is_a_random_init_baseline_under_its_own_name(annotations, tmp_path):
    from asgbench.encoders import create_encoder

    out = tmp_path / "untrained"
    assert main(train_args(annotations, out, "optim.max_epochs=0", "text.pooling=mean", "image.width=32")) == 0
    meta = json.loads((out / "asg-tiny.json").read_text())
    assert meta["objectives"] == [] and meta["best_epoch"] == 0 and meta["text_pooling"] == "mean"
    assert not (out / "history.csv").is_file() or not _history(out)
    encoder = create_encoder("asg.untrained", out / "asg-tiny.safetensors")
    assert encoder.config.name == "asg-r18.untrained" and encoder.config.provenance["best_epoch"] == 0
    # the export names its pre-training seed and recipe (the config without seed, name and place), which tables use
    # to pool the seeds of one recipe into one row
    from asgbench.pretrain.trainer import recipe_digest

    config = load_config(None, [f"annotations={annotations}", f"out={out}", *SMALL, "optim.max_epochs=0",
                                "text.pooling=mean", "image.width=32"])
    assert encoder.config.provenance["seed"] == config.seed
    assert encoder.config.provenance["recipe"] == meta["recipe"] == recipe_digest(config.resolved())
    reseeded = load_config(None, [f"annotations={annotations}", f"out={tmp_path / 'elsewhere'}", *SMALL,
                                  "optim.max_epochs=0", "text.pooling=mean", "image.width=32", "seed=7", "name=other"])
    assert recipe_digest(reseeded.resolved()) == meta["recipe"]
    changed = load_config(None, [f"annotations={annotations}", f"out={out}", *SMALL, "optim.max_epochs=0",
                                 "text.pooling=mean", "image.width=16"])
    assert recipe_digest(changed.resolved()) != meta["recipe"]
    assert encoder.config.feature_dim == 256 and encoder.config.text_pooling == "mean"
    assert encoder.config.table_group == "init"


def test_tag_queries_without_a_pretrained_text_model_tell_the_tags_apart(annotations, tmp_path):
    from asgbench.encoders.text import load_tokenizer
    from asgbench.pretrain.model import build_text_encoder
    from asgbench.pretrain.tag_decoder import encode_tag_queries

    out = tmp_path / "queries"
    assert main(train_args(annotations, out, "optim.max_epochs=0")) == 0
    raw = torch.load(out / "tag_queries.pt")["vectors"]
    # standardised rows: the scale of a LayerNorm'd [CLS] vector, not of a raw N(0, 0.02) embedding
    torch.testing.assert_close(raw.std(1), torch.ones(len(raw)), atol=1e-4, rtol=0)
    queries = torch.nn.functional.normalize(raw, dim=1)
    off_diagonal = (queries @ queries.T)[~torch.eye(len(queries), dtype=torch.bool)]
    assert off_diagonal.max() < 0.95
    # the [CLS] of the same untrained BERT is one vector for every tag: why it is not used
    config = load_config(None, [f"annotations={annotations}", f"out={out}", *SMALL])
    torch.manual_seed(0)
    cls = torch.nn.functional.normalize(
        encode_tag_queries(build_text_encoder(config, len(load_tokenizer(out / "tokenizer"))), load_tokenizer(out / "tokenizer")), dim=1)
    assert (cls @ cls.T).min() > 0.99


# -- the hedged policy: recorded by prepare, read by the trainer, honoured by IRL -------------------------------
@pytest.fixture(scope="module")
def annotations_ignore(tiny_suite, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain-ignore") / "annotations"
    assert main(["pretrain", "prepare", "--data-root", str(tiny_suite / "mimic"), "--out", str(out), "--hedged", "ignore",
                 "--quiet"]) == 0
    return out


def _irl_through_the_trainer(folder: Path, positions: list[int]) -> torch.Tensor:
    """IRL of fixed logits on the chosen records, with the masking the trainer derives from the manifest."""
    from types import SimpleNamespace

    from asgbench.pretrain.config import TrainConfig
    from asgbench.pretrain.data import Batch, masks_uncertain_tags, read_annotations
    from asgbench.pretrain.trainer import compute_losses

    manifest, records = read_annotations(folder)
    tags = torch.tensor([records[p].tags for p in positions])
    logits = torch.linspace(-3, 3, tags.numel(), dtype=torch.float64).reshape(tags.shape)
    batch = Batch(*(torch.zeros(1) for _ in range(4)), tags, *(torch.zeros(1) for _ in range(3)))

    def model(*_, **__):
        return SimpleNamespace(tag_logits=logits)

    return compute_losses(model, batch, TrainConfig(), {"irl"}, mask_uncertain=masks_uncertain_tags(manifest))["irl"]


def test_prepare_defaults_to_the_negative_policy_as_the_release_trains(annotations):
    from asgbench.pretrain.data import masks_uncertain_tags
    from asgbench.pretrain.report_parser import DEFAULT_HEDGED

    manifest = json.loads((annotations / "manifest.json").read_text())
    assert manifest["hedged"] == DEFAULT_HEDGED == "negative" and not masks_uncertain_tags(manifest)
    with gzip.open(annotations / "annotations.jsonl.gz", "rt") as handle:
        assert all(-1 not in json.loads(line)["tags"] for line in handle)
    assert not masks_uncertain_tags({}) and masks_uncertain_tags({"hedged": "ignore"})  # older data: as before


def test_ignore_leaves_hedged_tags_out_of_irl_and_negative_does_not(annotations, annotations_ignore):
    from asgbench.pretrain.data import read_annotations

    _, ignored = read_annotations(annotations_ignore)
    _, negative = read_annotations(annotations)
    assert [r.image_id for r in ignored] == [r.image_id for r in negative]
    hedged = [i for i, r in enumerate(ignored) if -1 in r.tags]
    certain = [i for i, r in enumerate(ignored) if -1 not in r.tags]
    assert hedged and len(certain) >= 2, "the tiny suite should hold hedged and unhedged reports"
    with_hedge, without = [hedged[0], *certain[:2]], certain[:3]
    assert _irl_through_the_trainer(annotations_ignore, with_hedge).item() != pytest.approx(
        _irl_through_the_trainer(annotations, with_hedge).item(), rel=1e-6)
    assert torch.equal(_irl_through_the_trainer(annotations_ignore, without), _irl_through_the_trainer(annotations, without))


def test_the_trainer_reads_the_policy_from_the_manifest(annotations, annotations_ignore, tmp_path):
    from asgbench.pretrain.data import read_annotations

    _, records = read_annotations(annotations_ignore)
    assert any(-1 in r.tags for r in records if r.split == "train")
    first = {}
    for name, folder in (("negative", annotations), ("ignore", annotations_ignore)):
        out = tmp_path / name
        assert main(train_args(folder, out, "optim.max_epochs=1", "loss.objectives=irl")) == 0
        first[name] = float(_history(out)[0]["train_irl"])
    assert first["ignore"] != pytest.approx(first["negative"], rel=1e-6)
