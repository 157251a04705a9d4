"""Helpers the dataset readers share: locating files, checking headers, walking image trees.

Every failure is a DataLayoutError that names the file, what was expected and what was found, because
the most common support question for a harness is "why does my download not load".
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from asgbench.data.index import SourceFile
from asgbench.errors import DataLayoutError


def require_root(root: Path, dataset: str, expected: Sequence[str]) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: {dataset} root is not a directory (expected it to contain {', '.join(expected)})")
    return root


def find_first(root: Path, candidates: Iterable[str], *, what: str, required: bool = True) -> Path | None:
    """The first of ``candidates`` (each also tried with ``.gz`` and ``.zip``) that exists under ``root``."""
    names = list(candidates)
    for name in names:
        for variant in (name, name + ".gz", name + ".zip"):
            path = root / variant
            if path.is_file():
                return path
    if required:
        raise DataLayoutError(f"{root}: missing {what} (expected one of {', '.join(names)}, optionally .gz or .zip)")
    return None


def find_dir(root: Path, candidates: Iterable[str], *, what: str, required: bool = True) -> Path | None:
    names = list(candidates)
    for name in names:
        if (root / name).is_dir():
            return root / name
    if required:
        raise DataLayoutError(f"{root}: missing {what} folder (expected one of {', '.join(names)})")
    return None


def _encoding(head: bytes) -> str:
    """UTF-8, unless a byte-order mark says otherwise: spreadsheet programs save "Unicode text" as UTF-16."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8-sig"


def open_text(path: Path) -> io.TextIOBase:
    """Open a CSV/TXT file (UTF-8 or UTF-16 with its mark), un-gzipping ``.gz`` and reading a single-member ``.zip``."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as probe:
            encoding = _encoding(probe.read(2))
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    if path.suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise DataLayoutError(f"{path}: expected a zip with exactly one CSV inside, found {members[:5]}")
        with archive.open(members[0]) as probe:
            encoding = _encoding(probe.read(2))
        return io.TextIOWrapper(archive.open(members[0]), encoding=encoding, newline="")
    with open(path, "rb") as probe:
        encoding = _encoding(probe.read(2))
    return open(path, encoding=encoding, newline="")


def read_header(path: Path) -> list[str]:
    try:
        with open_text(path) as handle:
            return next(csv.reader(handle), [])
    except UnicodeDecodeError as exc:
        raise DataLayoutError(f"{path}: not UTF-8 or UTF-16 text (byte {exc.start}: {exc.reason}); save the CSV as "
                              f"UTF-8") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataLayoutError(f"{path}: cannot read as CSV ({exc})") from exc


def read_csv_checked(
    path: Path,
    expected_columns: Sequence[str],
    *,
    strip_names: bool = False,
    allow_extra: bool = False,
    allow_trailing_empty: bool = False,
    dtype: dict | type | None = None,
) -> pd.DataFrame:
    """Read a CSV whose header must be exactly ``expected_columns`` (in order).

    ``strip_names`` compares names after stripping spaces (SIIM's ``ImageId, EncodedPixels``);
    ``allow_extra`` accepts additional columns after the expected ones; ``allow_trailing_empty`` accepts
    a trailing comma that yields an empty last column (some copies of NIH's Data_Entry).
    """
    header = read_header(path)
    found = [h.strip() for h in header] if strip_names else list(header)
    if allow_trailing_empty:
        while found and found[-1].strip() == "":
            found = found[:-1]
    expected = list(expected_columns)
    ok = found[: len(expected)] == expected and (allow_extra or len(found) == len(expected))
    if not ok:
        raise DataLayoutError(f"{path}: expected CSV header {','.join(expected)} but found {','.join(header)}")
    try:
        with open_text(path) as handle:
            frame = pd.read_csv(handle, dtype=dtype, keep_default_na=True, skipinitialspace=False)
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as exc:
        raise DataLayoutError(f"{path}: malformed CSV ({exc})") from exc
    if strip_names:
        frame.columns = [str(c).strip() for c in frame.columns]
    if allow_trailing_empty:
        frame = frame[[c for c in frame.columns if not str(c).startswith("Unnamed:")]]
    return frame


def read_required_columns(path: Path, required: Sequence[str], dtype: dict | type | None = None) -> pd.DataFrame:
    """Read a CSV that must contain ``required`` columns in any order (re-packs vary in extras)."""
    header = [h.strip() for h in read_header(path)]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataLayoutError(f"{path}: expected columns {', '.join(required)} but found {','.join(header)}")
    with open_text(path) as handle:
        frame = pd.read_csv(handle, dtype=dtype)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def walk_files(root: Path, suffixes: tuple[str, ...]) -> dict[str, str]:
    """Map file name -> path relative to ``root`` for every file below ``root`` with one of ``suffixes``.

    Used where a dataset's images may sit in any sub-folder (NIH's images_0XX/images/, SIIM's
    study/series/instance tree); the first occurrence wins if a name repeats.
    """
    found: dict[str, str] = {}
    if not root.is_dir():
        return found
    lowered = tuple(s.lower() for s in suffixes)
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        rel_dir = os.path.relpath(directory, root)
        for name in sorted(files):
            if name.lower().endswith(lowered) and name not in found:
                found[name] = name if rel_dir == "." else f"{rel_dir}/{name}"
    return found


def source(root: Path, path: Path) -> SourceFile:
    return SourceFile(relative_path=os.path.relpath(path, root), absolute_path=path)


def read_id_list(path: Path) -> list[str]:
    """A plain list of ids, one per line (a missing final newline is fine)."""
    with open_text(path) as handle:
        return [line.strip() for line in handle if line.strip()]
