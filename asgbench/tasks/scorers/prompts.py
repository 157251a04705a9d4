"""Versioned prompt sets, one family per method (its paper's or code's prompts), one file per dataset."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources

from asgbench.errors import ConfigError, DataLayoutError


@dataclass(frozen=True)
class PromptSet:
    """Per class: ``positive`` (affirmed) prompts and optionally ``negative`` ones, plus the file's identity."""

    family: str
    version: str
    classes: dict[str, dict[str, list[str]]]
    sha256: str


def load_prompts(family: str, dataset: str, version: str, labels: tuple[str, ...]) -> PromptSet:
    """``prompts/<family>/<dataset>.<version>.json``; every label of the task must have affirmed prompts."""
    name = f"{family}/{dataset}.{version}.json"
    source = resources.files("asgbench.tasks") / "prompts" / family / f"{dataset}.{version}.json"
    if not source.is_file():
        raise ConfigError(f"no zero-shot prompts {name} (prompt family {family}, dataset {dataset}, version {version})")
    raw = source.read_bytes()
    data = json.loads(raw)
    classes = data.get("classes", {})
    missing = [label for label in labels if not classes.get(label, {}).get("positive")]
    if missing:
        raise DataLayoutError(f"prompts/{name}: no positive prompts for {missing}")
    return PromptSet(family, data.get("version", version), {label: classes[label] for label in labels},
                     hashlib.sha256(raw).hexdigest())
