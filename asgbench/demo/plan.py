"""What `asgbench demo` runs: the ASG ablation variants and the evaluation grid, full or quick.

The full plan is the ASG README's experiments in miniature (every objective switched on and off, against
random initialisation of the same network, on every task and label fraction); the quick plan runs the same
path at a size the test-suite can afford.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One pre-trained model of the ablation: its registry name and what it was trained with."""

    model: str
    objectives: tuple[str, ...]
    alignment: str = "rules"
    trained: bool = True              # False: the same network exported before any training step


RANDOM = Variant("asg-random", ("ira",), trained=False)
ABLATION: tuple[Variant, ...] = (
    RANDOM,
    Variant("asg-ira", ("ira",)),
    Variant("asg-ira-arsa-rules", ("ira", "arsa"), "rules"),
    Variant("asg-ira-arsa-scene-graph", ("ira", "arsa"), "scene-graph"),
    Variant("asg-ira-irl", ("ira", "irl")),
    Variant("asg-ira-irl-erl", ("ira", "irl", "erl")),
    Variant("asg-full", ("ira", "arsa", "irl", "erl"), "rules"),
)
FULL_MODEL = "asg-full"


@dataclass(frozen=True)
class DemoPlan:
    name: str
    suite: str                                 # synthetic suite size
    variants: tuple[Variant, ...]
    epochs: int
    probe_tasks: tuple[str, ...]
    fractions: tuple[int, ...]
    seeds: tuple[int, ...]
    zero_shot_tasks: tuple[str, ...]
    segmentation_tasks: tuple[str, ...]
    segmentation_fractions: tuple[int, ...]
    segmentation_overrides: tuple[str, ...]
    pretrain_config: str = "demo.yaml"         # in asgbench/pretrain/configs/
    pretrain_overrides: tuple[str, ...] = ()


FULL = DemoPlan(
    name="full", suite="medium", variants=ABLATION, epochs=6,
    probe_tasks=("nih-lp", "chexpert-lp", "rsna-lp", "covidx-lp"), fractions=(1, 10, 100), seeds=(0, 1, 2),
    zero_shot_tasks=("rsna-zs",), segmentation_tasks=("siim-seg", "rsna-seg"), segmentation_fractions=(1, 10, 100),
    # augment=false: the frozen encoder's maps are computed once per image and the decoder trains on them;
    # every epoch is 256 images whatever the fraction (the 1 % lists hold 16 to 28 images, which otherwise get
    # too few updates to learn anything; the 100 % lists would cost 11 times more); with 64 decoder steps in all,
    # a learning rate 10 times the protocol's, and the output starting at 10 % per pixel instead of 50 %
    segmentation_overrides=("max_epochs=4", "patience=3", "augment=false", "decoder_channels=32,16,8,8,8",
                            "min_epoch_images=256", "max_epoch_images=256", "learning_rate=0.005", "head_prior=0.1"),
)
QUICK = DemoPlan(
    name="quick", suite="tiny", variants=(RANDOM, Variant(FULL_MODEL, ("ira", "arsa", "irl", "erl"), "rules")), epochs=1,
    probe_tasks=("rsna-lp", "covidx-lp"), fractions=(10, 100), seeds=(0,),
    zero_shot_tasks=("rsna-zs",), segmentation_tasks=("siim-seg",), segmentation_fractions=(100,),
    segmentation_overrides=("max_epochs=1", "patience=1", "augment=false", "decoder_channels=16,16,8,8,8"),
    pretrain_overrides=("optim.batch_size=8",),   # the tiny suite has 15 training pairs
)
PLANS = {"full": FULL, "quick": QUICK}
