"""Shared fixtures: the tiny synthetic suite (written once per test session) and real public metadata."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Image stores and feature caches of the test-suite go to a temporary folder, not the user's cache."""
    previous = os.environ.get("ASGBENCH_CACHE")
    os.environ["ASGBENCH_CACHE"] = str(tmp_path_factory.mktemp("asgbench-cache"))
    yield
    if previous is None:
        os.environ.pop("ASGBENCH_CACHE", None)
    else:
        os.environ["ASGBENCH_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_suite(tmp_path_factory) -> Path:
    """The ``tiny`` synthetic suite, seed 0; tests must not modify it (copy what you corrupt)."""
    from asgbench.data.synthetic.suite import synthesize

    out = tmp_path_factory.mktemp("suite") / "tiny"
    synthesize(out, "tiny", 0, workers=2)
    return out


@pytest.fixture
def copy_dataset(tiny_suite, tmp_path):
    """Copy one dataset of the tiny suite to a scratch folder that a test may damage."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(tiny_suite / name, target)
        return target

    return copy


@pytest.fixture(scope="session")
def public_data():
    from asgbench.data import public_metadata

    return public_metadata
