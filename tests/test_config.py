"""Data roots resolve from the flag, then $ASGBENCH_DATA, then the user config file; else a clear error."""
from __future__ import annotations

from pathlib import Path

import pytest

from asgbench.config import dataset_root
from asgbench.errors import ConfigError


@pytest.fixture
def no_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ASGBENCH_DATA", raising=False)
    monkeypatch.setenv("ASGBENCH_CONFIG", str(tmp_path / "config.yaml"))
    return tmp_path / "config.yaml"


def test_flag_then_environment_then_config(no_environment, monkeypatch, tmp_path):
    config = no_environment
    config.write_text("data_root: /data/all\ndatasets:\n  nih: /data/ChestX-ray14\n")
    assert dataset_root("nih") == Path("/data/ChestX-ray14")
    assert dataset_root("rsna") == Path("/data/all/rsna")
    monkeypatch.setenv("ASGBENCH_DATA", "/env/data")
    assert dataset_root("nih") == Path("/env/data/nih")
    assert dataset_root("nih", tmp_path) == tmp_path / "nih"


def test_missing_root_and_bad_config_are_clear_errors(no_environment):
    with pytest.raises(ConfigError, match="--data-root"):
        dataset_root("siim")
    no_environment.write_text("data_root: [unclosed\n")
    with pytest.raises(ConfigError, match="config.yaml"):
        dataset_root("siim")
