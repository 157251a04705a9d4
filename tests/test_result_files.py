"""Result files: written atomically with the user's umask, and read back without hidden files or folders."""
from __future__ import annotations

import os
import stat

from asgbench.results import result_files, write_json_atomic


def test_atomic_writes_take_the_umask_not_mkstemps_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        import importlib

        import asgbench.results as results

        importlib.reload(results)   # the module reads the umask once, at import
        results.write_json_atomic(tmp_path / "run.json", {"a": 1})
    finally:
        os.umask(previous)
        importlib.reload(results)
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]   # no temporary file left beside it


def test_result_files_skip_hidden_files_and_folders(tmp_path):
    for relative in ("a.json", "sub/b.json", ".a.json.tmp1.json", ".failed/c.json", "sub/.partial/d.json"):
        write_json_atomic(tmp_path / relative, {})
    assert [p.relative_to(tmp_path).as_posix() for p in result_files(tmp_path)] == ["a.json", "sub/b.json"]
