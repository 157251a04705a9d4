"""What `asgbench demo` runs: the ASG ablation variants and the evaluation grid, full or quick.

The full plan is the ASG README's experiments in miniature (every objective switched on and off, against
random initialisation of the same network, on every task and label fraction); the quick plan runs the same
path at a size the test-suite can afford. The two models the acceptance claims compare (full ASG and the
untrained network) are pre-trained with several seeds, because pre-training on a CPU is not bit-reproducible
across machines and one draw of it is not a measurement; the other ablation variants get one seed and only
the ablation table's tasks.
"""
from __future__ import annotations

from dataclasses import dataclass

from asgbench.data.splits.protocol import FRACTIONS
from asgbench.tables.layout import ABLATION_COLUMNS


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


@dataclass(frozen=True)
class Pretraining:
    """One pre-training run of the demo: a variant and its seed. Every seed of a variant exports under the same
    tag (so its results share a table row) and records its seed (so the tables can show the spread over seeds)."""

    model: AblationModel
    seed: int

    @property
    def folder(self) -> str:
        return f"{self.model.tag}-seed{self.seed}"


RANDOM = AblationModel("random", ("ira",), trained=False)
FULL_ASG = AblationModel("full", ("ira", "arsa", "irl", "erl"), "rules")
CLAIM_MODELS = (RANDOM, FULL_ASG)     # the acceptance claims compare these two
ABLATION: tuple[AblationModel, ...] = (
    RANDOM,
    AblationModel("ira", ("ira",)),
    AblationModel("ira-arsa-rules", ("ira", "arsa"), "rules"),
    AblationModel("ira-arsa-scene-graph", ("ira", "arsa"), "scene-graph"),
    AblationModel("ira-irl", ("ira", "irl")),
    AblationModel("ira-irl-erl", ("ira", "irl", "erl")),
    FULL_ASG,
)
ABLATION_TASKS = tuple(dict.fromkeys(column.task for column in ABLATION_COLUMNS))   # the ablation table's tasks


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
    segmentation_seeds: tuple[int, ...] = (0,)         # decoder seeds per pre-trained checkpoint
    segmentation_protocol: str = "segmentation-demo"   # a registered evaluation protocol
    segmentation_overrides: tuple[str, ...] = ()
    pretrain_config: str = "demo"              # a config shipped in asgbench/pretrain/configs/
    pretrain_overrides: tuple[str, ...] = ()
    pretrain_seeds: tuple[int, ...] = (0,)     # the claims' models get every seed, the other variants the first

    def pretrainings(self) -> tuple[Pretraining, ...]:
        """Every pre-training run, the claims' models' seeds first (they are what the summary needs)."""
        runs = [Pretraining(model, seed) for seed in self.pretrain_seeds for model in self.variants
                if model in CLAIM_MODELS]
        runs += [Pretraining(model, self.pretrain_seeds[0]) for model in self.variants if model not in CLAIM_MODELS]
        return tuple(runs)

    def tasks_of(self, model: AblationModel) -> tuple[str, ...]:
        """The claims' models are evaluated on every task; the other variants on the ablation table's."""
        tasks = self.probe_tasks + self.zero_shot_tasks + self.segmentation_tasks
        return tasks if model in CLAIM_MODELS else tuple(task for task in tasks if task in ABLATION_TASKS)


# One probe seed per pre-trained model: the spread that matters is over pre-training seeds, and the test-set CIs
# come from the per-image outputs. Two decoder seeds per checkpoint for segmentation: a decoder trained for 10
# epochs on a few hundred images is a draw of its own (generator 8, one decoder seed: on SIIM at 100 % the decoder
# on the untrained network of pre-training seed 0 chose on val to predict nothing; those of seeds 1 and 2 did not).
FULL = DemoPlan(
    name="full", suite="small", variants=ABLATION, epochs=None,
    probe_tasks=("nih-lp", "chexpert-lp", "rsna-lp", "covidx-lp"), fractions=FRACTIONS, seeds=(0,),
    zero_shot_tasks=("rsna-zs",), segmentation_tasks=("siim-seg", "rsna-seg"), segmentation_fractions=FRACTIONS,
    segmentation_seeds=(0, 1),
    pretrain_seeds=(0, 1, 2),
)
QUICK = DemoPlan(
    name="quick", suite="tiny", variants=(RANDOM, FULL_ASG), epochs=1,
    probe_tasks=("rsna-lp", "covidx-lp"), fractions=(10, 100), seeds=(0,),
    zero_shot_tasks=("rsna-zs",), segmentation_tasks=("siim-seg",), segmentation_fractions=(100,),
    segmentation_overrides=("max_epochs=1", "patience=1", "decoder_channels=16,16,8,8,8"),
    pretrain_overrides=("optim.batch_size=8",),   # the tiny suite has 15 training pairs
    pretrain_seeds=(0, 1),
)
PLANS = {"full": FULL, "quick": QUICK}
