import os

import numpy as np
import pytest

from asgbench.data.datasets import read_index
from asgbench.data.images import load_canonical
from asgbench.data.store import build_store
from asgbench.errors import DataLayoutError


def test_store_matches_direct_decoding_and_is_reused(tiny_suite, tmp_path):
    index = read_index("siim", tiny_suite / "siim")  # JPEG, raw, MONOCHROME1 and 12-bit DICOMs
    store = build_store(index, cache_dir=tmp_path, workers=2)
    assert len(store) == len(index.frame) and store.images.shape[1:] == (256, 256)
    for image_id, path in list(zip(index.frame["image_id"], index.frame["path"]))[:6]:
        assert np.array_equal(store.get(image_id), load_canonical(index.root / path))
    again = build_store(index, cache_dir=tmp_path, workers=2)
    assert again.directory == store.directory
    ids = index.frame["image_id"].tolist()
    batch = store.batch([ids[5], ids[0], ids[3]])
    assert np.array_equal(batch[0], store.get(ids[5])) and np.array_equal(batch[1], store.get(ids[0]))
    assert store.letterbox_of(ids[0]).original_height == 1024


def test_changed_file_gives_a_new_store(copy_dataset, tmp_path):
    root = copy_dataset("covidx")
    index = read_index("covidx", root)
    subset = index.frame["image_id"].tolist()[:5]
    first = build_store(index, subset, cache_dir=tmp_path / "c", workers=1)
    path = root / index.frame["path"].iloc[0]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = build_store(index, subset, cache_dir=tmp_path / "c", workers=1)
    assert second.directory != first.directory


def test_missing_file_and_unknown_id(copy_dataset, tmp_path):
    root = copy_dataset("covidx")
    index = read_index("covidx", root)
    (root / index.frame["path"].iloc[1]).unlink()
    with pytest.raises(DataLayoutError, match="1 of .* image file\\(s\\) are missing"):
        build_store(index, cache_dir=tmp_path)
    with pytest.raises(DataLayoutError, match="not in the covidx index"):
        build_store(index, ["nope.png"], cache_dir=tmp_path)
    assert not list(tmp_path.glob("*partial*"))


def test_a_disk_without_room_for_the_store_is_refused_before_any_image_is_decoded(copy_dataset, tmp_path, monkeypatch):
    from collections import namedtuple

    from asgbench.data import store as store_module
    from asgbench.errors import ConfigError

    index = read_index("covidx", copy_dataset("covidx"))
    ids = index.frame["image_id"].tolist()[:5]
    needed = store_module.store_bytes(len(ids)) + store_module.STORE_SLACK_BYTES
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda path: usage(10 * needed, 9 * needed, needed - 1))
    decoded = []
    monkeypatch.setattr(store_module, "_decode_chunk", lambda *args: decoded.append(args) or [])
    with pytest.raises(ConfigError, match=r"covidx image store \(5 images at 256 px\) needs 64 MiB and its disk "
                                          r"has 64 MiB free.*--cache-dir"):
        build_store(index, ids, cache_dir=tmp_path / "cache", workers=1)
    assert not decoded and not list(tmp_path.rglob("*partial*"))
    monkeypatch.undo()                     # with room (this disk), the same call builds the store
    assert store_module.shutil.disk_usage(tmp_path).free >= needed
    assert len(build_store(index, ids, cache_dir=tmp_path / "cache", workers=1)) == 5
