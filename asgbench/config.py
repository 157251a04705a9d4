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
