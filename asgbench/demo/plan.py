"""What `asgbench demo` runs: the ASG ablation variants and the evaluation grid, full or quick.

The full plan is the ASG README's experiments in miniature (every objective switched on and off, against
random initialisation of the same network, on every task and label fraction); the quick plan runs the same
path at a size the test-suite can afford.
"""
from __future__ import annotations

from dataclasses import dataclass

from asgbench.data.splits.protocol import FRACTIONS


@dataclass(frozen=True)
class AblationModel:
    """One pre-trained model of the ablation: the tag that names its weights and what it was trained with."""

    tag: str
    objectives: tuple[str, ...]
    alignment: str = "rules"
    trained: bool = True              # False: the same network exported before any training step

    @property
    def model(self) -> str:
        """The name to evaluate it under: the ``asg`` family reads the architecture from the checkpoint, so the
        results name it ``asg-<architecture>.<tag>`` (``asg-r18.full`` for the demo's ResNet-18)."""
        return f"asg.{self.tag}"


RANDOM = AblationModel("random", ("ira",), trained=False)
FULL_ASG = AblationModel("full", ("ira", "arsa", "irl", "erl"), "rules")
ABLATION: tuple[AblationModel, ...] = (
    RANDOM,
    AblationModel("ira", ("ira",)),
    AblationModel("ira-arsa-rules", ("ira", "arsa"), "rules"),
    AblationModel("ira-arsa-scene-graph", ("ira", "arsa"), "scene-graph"),
    AblationModel("ira-irl", ("ira", "irl")),
    AblationModel("ira-irl-erl", ("ira", "irl", "erl")),
    FULL_ASG,
)


@dataclass(frozen=True)
class DemoPlan:
    name: str
    suite: str                                 # synthetic suite size
    variants: tuple[AblationModel, ...]
    epochs: int | None                         # None: the pre-training config's optim.max_epochs
    probe_tasks: tuple[str, ...]
    fractions: tuple[int, ...]
    seeds: tuple[int, ...]
    zero_shot_tasks: tuple[str, ...]
    segmentation_tasks: tuple[str, ...]
    segmentation_fractions: tuple[int, ...]
    segmentation_protocol: str = "segmentation-demo"   # a registered evaluation protocol
    segmentation_overrides: tuple[str, ...] = ()
    pretrain_config: str = "demo"              # a config shipped in asgbench/pretrain/configs/
    pretrain_overrides: tuple[str, ...] = ()


FULL = DemoPlan(
    name="full", suite="medium", variants=ABLATION, epochs=None,
    probe_tasks=("nih-lp", "chexpert-lp", "rsna-lp", "covidx-lp"), fractions=FRACTIONS, seeds=(0, 1, 2),
    zero_shot_tasks=("rsna-zs",), segmentation_tasks=("siim-seg", "rsna-seg"), segmentation_fractions=FRACTIONS,
)
QUICK = DemoPlan(
    name="quick", suite="tiny", variants=(RANDOM, FULL_ASG), epochs=1,
    probe_tasks=("rsna-lp", "covidx-lp"), fractions=(10, 100), seeds=(0,),
    zero_shot_tasks=("rsna-zs",), segmentation_tasks=("siim-seg",), segmentation_fractions=(100,),
    segmentation_overrides=("max_epochs=1", "patience=1", "decoder_channels=16,16,8,8,8"),
    pretrain_overrides=("optim.batch_size=8",),   # the tiny suite has 15 training pairs
)
PLANS = {"full": FULL, "quick": QUICK}
