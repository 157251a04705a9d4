"""Packaging: setup.cfg names every package, and a built wheel works from outside the checkout."""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "asgbench", "baselines", "splits")


def _setup_options() -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config["options"]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_every_package_is_listed():
    """An explicit package list must not forget a new subpackage (it would be missing from the wheel)."""
    listed = set(_lines(_setup_options()["packages"]))
    found = {".".join(p.parent.relative_to(REPO).parts) for top in ("asgbench", "baselines") for p in (REPO / top).rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found - listed == set(), "add these to [options] packages in setup.cfg"
    assert listed - found == {"asgbench.committed_splits"}
    assert _lines(_setup_options()["package_dir"]) == ["asgbench.committed_splits = splits"]


def test_torch_is_not_pinned_exactly():
    """A user's own CUDA build of torch must satisfy the requirements; the lock file keeps the exact pins."""
    requires = {line.split(">")[0].split("=")[0]: line for line in _lines(_setup_options()["install_requires"])}
    assert "==" not in requires["torch"] and "==" not in requires["torchvision"]
    assert "torch==2.14.1" in (REPO / "requirements.lock").read_text().splitlines()


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file (bytecode aside) with its size and mtime, to prove a run wrote nothing there."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def _table(text: str) -> dict[str, tuple[str, str]]:
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    return {row[0]: (row[1], row[2]) for row in rows if row[0] != "list"}


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(tmp_path, tiny_suite):
    """Build a wheel, install it in a fresh venv, and use it from a folder that is not the checkout.

    The venv gets the wheel without dependencies plus a ``.pth`` line naming this venv's site-packages
    (a plain path line, so this venv's editable-install finder never runs and ``asgbench`` is the wheel's).
    """
    start = time.monotonic()
    source = tmp_path / "source"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(tmp_path / "dist"), "-q"],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("asgbench-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True)
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGBENCH_") and k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", ASGBENCH_CACHE=str(tmp_path / "cache"), ASGBENCH_CONFIG=str(tmp_path / "no-config.yaml"),
               XDG_CACHE_HOME=str(tmp_path / "xdg"))

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    installed = Path(run(str(python), "-c", "import asgbench; print(asgbench.__file__)").strip()).parent
    assert installed == site / "asgbench"
    before = _snapshot(site)
    cli = str(venv / "bin" / "asgbench")

    shown = run(cli, "splits", "show", "--dataset", "rsna", "--protocol", "mgca")
    assert str(installed / "committed_splits" / "rsna" / "mgca") in shown.splitlines()[0]
    manifest = json.loads((REPO / "splits" / "rsna" / "mgca" / "MANIFEST.json").read_text())
    expected = {name: (str(info["images"]), str(info["patients"])) for name, info in manifest["lists"].items() if info["file"]}
    assert {name: counts for name, counts in _table(shown).items() if name in expected} == expected

    out = tmp_path / "runs"
    run(cli, "run", "--model", "random-r18", "--task", "rsna-lp", "--fraction", "100", "--data-root", str(tiny_suite),
        "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet")
    [result] = [json.loads(p.read_text()) for p in out.glob("*.json")]
    suite_lists = json.loads((tiny_suite / "splits" / "rsna" / "asgbench-v1" / "MANIFEST.json").read_text())["lists"]
    assert result["splits"]["lists"]["train"]["sha256"] == suite_lists["train"]["sha256"]  # the data root's own lists
    assert _snapshot(site) == before, "the installed package must stay read-only"
    assert list(cwd.iterdir()) == []
    print(f"wheel test took {time.monotonic() - start:.0f} s")
