"""Result files: one JSON per run plus its per-image predictions, written atomically, validated by a schema.

The JSON is written last, by renaming a finished temporary file, so its presence means the run is complete;
an interrupted run leaves at most temporary files that the next attempt overwrites. Readers (tables,
checks) use :func:`load_results`, which validates every file against ``result.schema.json``.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd

from asgbench.errors import DataLayoutError

SCHEMA_VERSION = 1
PREDICTIONS_SUFFIX = ".predictions.parquet"


def result_path(out: Path, run_id: str) -> Path:
    return Path(out) / f"{run_id}.json"


def predictions_path(out: Path, run_id: str) -> Path:
    return Path(out) / f"{run_id}{PREDICTIONS_SUFFIX}"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would keep results from the rest of a group
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=False, allow_nan=True) + "\n"))


def write_text_atomic(path: Path, text: str) -> None:
    _atomic_write(path, lambda p: p.write_text(text))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda p: p.write_bytes(data))


def write_result(out: Path, result: dict, predictions: pd.DataFrame) -> Path:
    """Predictions first, then the JSON that marks the run finished."""
    validate_result(result)
    run_id = result["run_id"]
    _atomic_write(predictions_path(out, run_id), lambda p: predictions.to_parquet(p, index=False))
    path = result_path(out, run_id)
    write_json_atomic(path, result)
    return path


def schema() -> dict:
    return json.loads((resources.files("asgbench") / "result.schema.json").read_text())


def validate_result(result: dict, where: str = "result") -> None:
    import jsonschema

    try:
        jsonschema.validate(result, schema())
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise DataLayoutError(f"{where}: does not match the result schema at {path}: {exc.message}") from None


def upgrade(result: dict) -> dict:
    """A result as the current schema names it. Files written before the split protocol and the evaluation
    protocol had distinct names call the latter ``protocol`` (in ``spec`` and at the top level) and the former
    ``splits.protocol``; they are read under the new names, with nothing else changed."""
    if not isinstance(result, dict):
        return result
    if "protocol" in result and "eval_protocol" not in result:
        result["eval_protocol"] = result.pop("protocol")
    spec = result.get("spec")
    if isinstance(spec, dict) and "protocol" in spec and "eval_protocol" not in spec:
        spec["eval_protocol"] = spec.pop("protocol")
    splits = result.get("splits")
    if isinstance(splits, dict) and "protocol" in splits and "split_protocol" not in splits:
        splits["split_protocol"] = splits.pop("protocol")
    return result


def read_result(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise DataLayoutError(f"{path}: not a JSON result file ({exc})") from None
    data = upgrade(data)
    validate_result(data, str(path))
    return data


def finished(out: Path, run_id: str) -> dict | None:
    path = result_path(out, run_id)
    return read_result(path) if path.is_file() else None


def result_files(folder: Path) -> Iterator[Path]:
    """Every result JSON under ``folder`` (recursively), skipping hidden files and folders: temporary files of
    atomic writes and the sweep's ``.failed/`` records are not results."""
    root = Path(folder)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: no such results folder")
    for path in sorted(root.rglob("*.json")):
        if not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def load_results(folder: Path) -> Iterator[dict]:
    """Every result JSON under ``folder`` (recursively), validated."""
    for path in result_files(folder):
        yield read_result(path)


def read_predictions(out: Path, run_id: str) -> pd.DataFrame:
    path = predictions_path(out, run_id)
    if not path.is_file():
        raise DataLayoutError(f"{path}: predictions of run {run_id} are missing")
    return pd.read_parquet(path)
