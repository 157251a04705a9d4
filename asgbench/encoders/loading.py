"""From a raw checkpoint to loaded modules: explicit key mapping, strict loading, and a load report.

A missing key of a required component is an error that lists the keys; an optional component (a
projection head, a text tower) that the file lacks is reported and the features needing it are
disabled; unexpected keys are listed, never silently ignored; the file's sha256 goes into the report.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from asgbench.encoders.checkpoint_io import RawCheckpoint
from asgbench.encoders.config import Component, KeyMap
from asgbench.errors import DataLayoutError


@dataclass
class ComponentReport:
    name: str
    loaded: bool
    matched: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    zero_filled: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    model: str
    file: str | None
    sha256: str | None
    container: str | None
    top_level_keys: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    components: list[ComponentReport] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)    # why -> how many keys (duplicates, pre-training only parts)
    unused_keys: int = 0
    unused_examples: list[str] = field(default_factory=list)
    disabled: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _container(content: Any, path: tuple[str, ...], what: str) -> dict[str, torch.Tensor]:
    node = content
    for key in path:
        if not isinstance(node, dict) or key not in node:
            found = list(node.keys())[:10] if isinstance(node, dict) else type(node).__name__
            raise DataLayoutError(f"{what}: expected a {'/'.join(path)!r} entry holding the weights, found {found}")
        node = node[key]
    if not isinstance(node, dict):
        raise DataLayoutError(f"{what}: expected a state dict at {'/'.join(path) or 'the top level'}, found {type(node).__name__}")
    return node


def map_keys(state: dict[str, Any], keys: KeyMap) -> tuple[dict[str, torch.Tensor], list[str], set[str]]:
    """Apply ``keys`` to a state dict: (mapped tensors, dropped names, original names claimed)."""
    mapped: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    claimed: set[str] = set()
    for original, value in state.items():
        if not isinstance(original, str) or not original.startswith(keys.prefix) or not isinstance(value, torch.Tensor):
            continue
        claimed.add(original)
        name = original[len(keys.prefix):]
        if keys.include is not None and not re.search(keys.include, name):
            claimed.discard(original)
            continue
        for pattern, replacement in keys.renames:
            name = re.sub(pattern, replacement, name)
        if any(re.search(pattern, name) for pattern in keys.drop):
            dropped.append(name)
            continue
        mapped[name] = value
    return mapped, sorted(dropped), claimed


def zero_fill(module: nn.Module, tensors: dict[str, torch.Tensor], keys: KeyMap) -> list[str]:
    """Add the by-design-absent keys of ``keys.zero_fill`` as zeros shaped like the module's tensors."""
    expected = module.state_dict()
    filled = [k for k in keys.zero_fill if k in expected and k not in tensors]
    for k in filled:
        tensors[k] = torch.zeros_like(expected[k])
    return filled


def load_module(module: nn.Module, tensors: dict[str, torch.Tensor], component: Component, what: str) -> ComponentReport:
    """Strictly load ``tensors`` into ``module``; shape mismatches and missing required keys are errors."""
    expected = module.state_dict()
    missing = sorted(k for k in expected if k not in tensors)
    unexpected = sorted(k for k in tensors if k not in expected)
    wrong_shape = [f"{k} {tuple(tensors[k].shape)} vs {tuple(expected[k].shape)}" for k in expected
                   if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
    if wrong_shape:
        raise DataLayoutError(f"{what}: {component.name} tensors have the wrong shape (file vs model): {'; '.join(wrong_shape[:5])}")
    if missing and component.required:
        listed = ", ".join(missing[:12]) + (f" ... ({len(missing)} in all)" if len(missing) > 12 else "")
        raise DataLayoutError(f"{what}: checkpoint lacks {len(missing)} {component.name} key(s) (is it the right model?): {listed}")
    if missing:  # an optional part the file does not have: leave the module untouched
        return ComponentReport(component.name, False, 0, missing, unexpected)
    module.load_state_dict({k: v for k, v in tensors.items() if k in expected}, strict=True)
    return ComponentReport(component.name, True, len(expected), [], unexpected)


def load_components(raw: RawCheckpoint, model_name: str, modules: dict[str, nn.Module], components: tuple[Component, ...],
                    build: "Callable[[Component, dict[str, torch.Tensor]], nn.Module]",
                    ignored: tuple[tuple[tuple[str, ...], str, str], ...] = ()) -> LoadReport:
    """Load every component of ``model_name`` from ``raw`` (building modules as needed) and report it."""
    what = str(raw.path)
    content = raw.content
    report = LoadReport(model_name, what, raw.sha256, raw.container,
                        sorted(str(k) for k in content.keys())[:40] if isinstance(content, dict) else [],
                        list(raw.placeholders))
    claimed_by_container: dict[tuple[str, ...], set[str]] = {}
    for component in components:
        try:
            state = _container(content, component.keys.container, what)
        except DataLayoutError:
            if component.required:
                raise
            report.components.append(ComponentReport(component.name, False, 0, ["(container missing)"]))
            for feature in component.enables:
                report.disabled[feature] = f"the file has no {'/'.join(component.keys.container)} entry for {component.name}"
            continue
        tensors, dropped, claimed = map_keys(state, component.keys)
        claimed_by_container.setdefault(component.keys.container, set()).update(claimed)
        if component.name not in modules:
            if not tensors and not component.required:
                report.components.append(ComponentReport(component.name, False, 0, ["(no keys under " + (component.keys.prefix or "the top level") + ")"]))
                for feature in component.enables:
                    report.disabled[feature] = f"the file has no {component.name} weights"
                continue
            modules[component.name] = build(component, tensors)
        filled = zero_fill(modules[component.name], tensors, component.keys)
        result = load_module(modules[component.name], tensors, component, what)
        result.dropped, result.zero_filled = dropped, filled
        report.components.append(result)
        if not result.loaded:
            for feature in component.enables:
                report.disabled[feature] = f"the file has no {component.name} weights"
    unused = []
    for container, _, _ in ignored:
        claimed_by_container.setdefault(container, set())
    for container, claimed in claimed_by_container.items():
        try:
            state = _container(content, container, what)
        except DataLayoutError:
            continue
        for key in state:
            if key in claimed:
                continue
            why = next((reason for c, pattern, reason in ignored if c == container and re.search(pattern, str(key))), None)
            if why is not None:
                report.ignored[why] = report.ignored.get(why, 0) + 1
            else:
                unused.append(f"{'/'.join(container) + ':' if container else ''}{key}")
    report.unused_keys = len(unused)
    report.unused_examples = sorted(unused)[:10]
    return report
