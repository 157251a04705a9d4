"""Where asgbench keeps things: caches, data roots, weights; resolved from flags, then the environment.

No absolute path is ever written into the repository: defaults are computed at run time.
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ASGBENCH_CACHE"
DATA_ENV = "ASGBENCH_DATA"
WEIGHTS_ENV = "ASGBENCH_WEIGHTS"


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Feature caches and preprocessed image stores: ``--cache-dir``, ``$ASGBENCH_CACHE`` or ``~/.cache/asgbench``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "asgbench"


CONFIG_ENV = "ASGBENCH_CONFIG"


def user_config_file() -> Path:
    """``$ASGBENCH_CONFIG`` or ``~/.config/asgbench/config.yaml`` (optional)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "asgbench" / "config.yaml"


def read_user_config() -> dict:
    """The user config file as a dict (``data_root``, ``datasets: {name: folder}``, ``weights``); {} if absent."""
    path = user_config_file()
    if not path.is_file():
        return {}
    import yaml

    from asgbench.errors import ConfigError

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with keys data_root, datasets, weights")
    return data


def dataset_root(dataset: str, data_root: str | Path | None = None) -> Path:
    """Where ``dataset`` lives: ``--data-root DIR``/<dataset>, ``$ASGBENCH_DATA``/<dataset>, or the config file.

    The config file may name one folder per dataset (``datasets: {nih: /data/ChestX-ray14}``) or a common
    ``data_root`` with one sub-folder per dataset, the layout ``asgbench data synth`` writes.
    """
    from asgbench.errors import ConfigError

    if data_root is not None:
        return Path(data_root) / dataset
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]) / dataset
    config = read_user_config()
    named = (config.get("datasets") or {}).get(dataset)
    if named:
        return Path(named).expanduser()
    if config.get("data_root"):
        return Path(config["data_root"]).expanduser() / dataset
    raise ConfigError(f"no data root for {dataset}: pass --data-root DIR (a folder with a {dataset}/ sub-folder), "
                      f"set ${DATA_ENV}, or name it in {user_config_file()}")


def _coerce(value: str, current, key: str):
    """Parse an override string into the type of the value it replaces (never evaluated as code)."""
    from asgbench.errors import ConfigError

    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, tuple):
            kind = type(current[0]) if current else str
            return tuple(kind(v.strip()) for v in value.split(",") if v.strip())
        if current is None and value.lower() in ("none", "null", ""):
            return None
        return value
    except ValueError:
        kinds = {bool: "true or false", int: "a whole number", float: "a number", tuple: "a comma-separated list"}
        raise ConfigError(f"override {key}={value}: expected {kinds.get(type(current), type(current).__name__)}") from None


def with_overrides(config, overrides, *, frozen_keys: frozenset[str] = frozenset()):
    """A copy of a (nested) dataclass with dotted ``key=value`` overrides applied; unknown keys are errors."""
    from dataclasses import fields, is_dataclass, replace

    from asgbench.errors import ConfigError

    for item in overrides or ():
        dotted, sep, value = item.partition("=")
        path = dotted.strip().split(".")
        if not sep or not path[0]:
            raise ConfigError(f"override {item!r}: expected key=value")

        def apply(node, keys):
            names = {f.name for f in fields(node)} - frozen_keys
            if keys[0] not in names:
                raise ConfigError(f"override {item!r}: unknown key {keys[0]!r}; known: {', '.join(sorted(names))}")
            current = getattr(node, keys[0])
            if len(keys) == 1:
                if is_dataclass(current):
                    raise ConfigError(f"override {item!r}: {keys[0]} is a section; name one of its keys")
                return replace(node, **{keys[0]: _coerce(value.strip(), current, dotted)})
            if not is_dataclass(current):
                raise ConfigError(f"override {item!r}: {keys[0]} has no sub-keys")
            return replace(node, **{keys[0]: apply(current, keys[1:])})

        config = apply(config, path)
    return config


def _check_type(hint, value, where: str, problems: list[str]):
    """``value`` as the type ``hint`` asks for (lists become tuples, ints pass as floats), or None with the
    problem appended: a YAML value is data, so it is checked, never converted from text or evaluated."""
    import types
    import typing

    from dataclasses import is_dataclass

    if isinstance(hint, type) and is_dataclass(hint):   # e.g. the values of a dict[str, SomeSettings]
        return from_mapping(hint, value if value is not None else {}, where, problems)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        trial: list[str] = []
        for option in options:
            checked = _check_type(option, value, where, trial)
            if len(trial) == 0:
                return checked
            trial.clear()
        problems.append(f"{where}: expected {' or '.join(_type_name(a) for a in args)}, found {value!r}")
        return None
    if origin is tuple:
        if isinstance(value, str) and args and args[0] is str:   # "ira,arsa" for a list of names
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, (list, tuple)):
            problems.append(f"{where}: expected a list (each item {_type_name(args[0]) if args else 'a value'}), found {value!r}")
            return None
        item = args[0] if args else typing.Any
        return tuple(_check_type(item, v, f"{where}[{i}]", problems) for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, found {value!r}")
            return None
        if not args:
            return dict(value)
        return {_check_type(args[0], k, f"{where} key", problems): _check_type(args[1], v, f"{where}.{k}", problems)
                for k, v in value.items()}
    if hint is typing.Any or hint is object:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false, found {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected a whole number, found {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, found {value!r}")
            return value
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            problems.append(f"{where}: expected text, found {value!r}")
        return value
    return value


def _type_name(hint) -> str:
    return {int: "a whole number", float: "a number", str: "text", bool: "true/false", type(None): "null"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def from_mapping(cls, data: dict, where: str = "config", problems: list[str] | None = None):
    """Build a (nested) dataclass from a mapping such as parsed YAML.

    Unknown keys and values of the wrong type are errors naming ``where`` and the key; every problem in the
    mapping is reported in one message, so a config is fixed in one pass.
    """
    import typing
    from dataclasses import fields, is_dataclass

    from asgbench.errors import ConfigError

    outermost = problems is None
    problems = [] if problems is None else problems
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping for {cls.__name__}, found {data!r}")
        data = {}
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)} in {cls.__name__}; known: {', '.join(sorted(known))}")
    values = {}
    for name, value in data.items():
        if name not in known:
            continue
        kind = hints.get(name)
        if isinstance(kind, type) and is_dataclass(kind):
            values[name] = from_mapping(kind, value or {}, f"{where}.{name}", problems)
        else:
            values[name] = _check_type(kind, value, f"{where}.{name}", problems)
    if outermost and problems:
        raise ConfigError("; ".join(problems))
    if problems:
        return None
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
