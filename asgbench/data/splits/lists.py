"""Split lists on disk: one image id per line, a MANIFEST.json with counts and hashes per list.

A list's hash is the sha256 of its text (ids joined by newlines, trailing newline), whether the file is
stored plain or gzipped, so results can record exactly which images they used. Lists above 1 MB are
stored as ``.txt.gz`` (written with a zero timestamp, so the bytes are reproducible).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asgbench.errors import DataLayoutError

MANIFEST = "MANIFEST.json"
GZIP_ABOVE_BYTES = 1 << 20


def list_text(ids: Sequence[str]) -> str:
    return "".join(f"{i}\n" for i in ids)


def list_sha256(ids: Sequence[str]) -> str:
    return hashlib.sha256(list_text(ids).encode()).hexdigest()


@dataclass(frozen=True)
class ListInfo:
    """What the manifest says about one list."""

    file: str | None                 # relative to the protocol folder; None when built from a download
    images: int
    patients: int
    positives: dict[str, int]
    sha256: str | None
    source: str                      # "public" (built from bundled metadata) or "download"


@dataclass
class SplitManifest:
    dataset: str
    protocol: str
    version: str
    built_from: str                  # "public metadata", "download" or "synthetic suite"
    sources: dict[str, str]          # source file -> sha256
    lists: dict[str, ListInfo]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, folder: Path) -> SplitManifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise DataLayoutError(f"{folder}: no {MANIFEST} (expected split lists built by `asgbench splits build`)")
        raw = json.loads(path.read_text())
        raw["lists"] = {name: ListInfo(**info) for name, info in raw["lists"].items()}
        return cls(**raw)


def list_file_name(name: str, ids: Sequence[str]) -> str:
    return f"{name}.txt.gz" if len(list_text(ids).encode()) > GZIP_ABOVE_BYTES else f"{name}.txt"


def write_list(folder: Path, name: str, ids: Sequence[str]) -> str:
    """Write list ``name`` into ``folder`` atomically; returns the file name used."""
    file_name = list_file_name(name, ids)
    path = folder / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = list_text(ids).encode()
    if file_name.endswith(".gz"):
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as handle:
            handle.write(data)
        data = buffer.getvalue()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    for stale in (folder / f"{name}.txt", folder / f"{name}.txt.gz"):
        if stale != path and stale.exists():
            stale.unlink()
    return file_name


def read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DataLayoutError(f"{path}: split list not found")
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [line for line in data.decode().split("\n") if line]


def write_manifest(folder: Path, manifest: SplitManifest) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(manifest.to_json())
    os.replace(tmp, folder / MANIFEST)
