"""What a result file says about the table row it belongs to: block, label, order and checkpoint variant.

Runs record their encoder's table metadata (``encoder.group``, ``encoder.display_name``, ``encoder.order``,
see :meth:`asgbench.encoders.config.EncoderConfig.table_metadata`), so tables never guess it from names.
Files written before those fields existed get the same answers from their architecture, their training
provenance and the encoder registry; only that fallback imports the registry (and with it torch).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asgbench.tables.layout import OBJECTIVE_ORDER

LEGACY_INIT_PREFIXES = ("random-", "imagenet-")   # untrained baselines' names, for files without encoder.group


@dataclass(frozen=True)
class EncoderRow:
    """Where a run's encoder is printed: its block ("init", "CNN", "ViT"), row label and row order."""

    group: str
    display_name: str
    order: int


def encoder_row(result: dict) -> EncoderRow:
    """The encoder's table metadata as the result records it, each missing field from the legacy fallback."""
    encoder, model = result["encoder"], result["spec"]["model"]
    group = encoder.get("group") or _legacy_group(model, encoder["architecture"], encoder.get("provenance") or {})
    display_name = encoder.get("display_name") or model
    order = encoder.get("order")
    return EncoderRow(group, display_name, int(order) if order is not None else _legacy_order(model))


def _legacy_group(model: str, architecture: str, provenance: dict) -> str:
    """Untrained exports and random/ImageNet baselines are initialisations; others go by their backbone."""
    from asgbench.encoders.config import ARCHITECTURE_GROUPS, CNN, INIT

    if provenance.get("best_epoch") == 0 or model.startswith(LEGACY_INIT_PREFIXES):
        return INIT
    return ARCHITECTURE_GROUPS.get(architecture, CNN)


def _legacy_order(model: str) -> int:
    """The registry entry's order for ``entry[.tag]``; an unregistered model gets the config's default."""
    from asgbench.encoders import MODELS
    from asgbench.encoders.config import EncoderConfig

    entry = model.partition(".")[0]
    return MODELS.get(entry).order if entry in MODELS else EncoderConfig.__dataclass_fields__["order"].default


def registry_order(model: str) -> int:
    """The row order of a registered model (published rows name theirs)."""
    from asgbench.encoders import MODELS

    return MODELS.get(model).order


def objectives_label(objectives: Iterable[str], arsa_alignment: str | None) -> str:
    """``["ira", "arsa"]``, ``"rules"`` -> ``"IRA+ARSA (rules)"``: how ablation rows are named."""
    chosen = [name for name in OBJECTIVE_ORDER if name in set(objectives)]
    chosen += sorted(set(objectives) - set(OBJECTIVE_ORDER))
    label = "+".join(name.upper() for name in chosen)
    return f"{label} ({arsa_alignment})" if "arsa" in chosen and arsa_alignment else label


def checkpoint_variant(result: dict) -> str:
    """The ablation label of an asgbench-trained ASG checkpoint, "" for every other encoder."""
    provenance = result["encoder"].get("provenance") or {}
    objectives = provenance.get("objectives") or []
    return objectives_label(objectives, provenance.get("arsa_alignment")) if objectives else ""


def known_objectives(result: dict) -> list[str]:
    """The checkpoint's pre-training objectives that the ablation table orders, in :data:`OBJECTIVE_ORDER`."""
    chosen = set((result["encoder"].get("provenance") or {}).get("objectives") or [])
    return [name for name in OBJECTIVE_ORDER if name in chosen]
