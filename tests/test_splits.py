"""Split protocols: committed lists reproduce from public metadata, v1 properties, verify, reader API."""
import ast
import gzip
import re
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from asgbench.cli import main
from asgbench.data.datasets import read_index
from asgbench.config import cache_dir
from asgbench.data.splits import LOCAL_DIR, build_splits, committed_root, load_split, read_manifest, select_rows, split_folders
from asgbench.data.splits.lists import SplitManifest, read_list
from asgbench.data.synthetic.suite import SPLITS_DIR
from asgbench.errors import ConfigError, DataLayoutError

COMMITTED = sorted((p.parent.parent.name, p.parent.name) for p in committed_root().glob("*/*/MANIFEST.json"))


def test_every_public_protocol_is_committed():
    assert COMMITTED == [("chexpert", "asgbench-v1"), ("chexpert", "mgca"), ("nih", "asgbench-v1"),
                         ("rsna", "asgbench-v1"), ("rsna", "mgca"), ("siim", "asgbench-v1")]


@pytest.mark.parametrize("dataset,protocol", COMMITTED)
def test_committed_lists_rebuild_byte_for_byte(tmp_path, dataset, protocol):
    committed = committed_root() / dataset / protocol
    build_splits(dataset, protocol, out=tmp_path / "rebuilt")
    rebuilt = {p.name: p.read_bytes() for p in (tmp_path / "rebuilt").iterdir()}
    assert {p.name: p.read_bytes() for p in committed.iterdir()} == rebuilt


def test_mgca_rsna_counts_as_published(capsys):
    assert main(["splits", "show", "--dataset", "rsna", "--protocol", "mgca"]) == 0
    out = capsys.readouterr().out
    counts = {line.split("|")[1].strip(): int(line.split("|")[2]) for line in out.splitlines() if line.startswith("| ") and "images" not in line}
    assert (counts["train"], counts["val"], counts["test"]) == (18678, 4003, 4003)
    assert (counts["seg_train"], counts["seg_val"], counts["seg_test"]) == (16010, 5337, 5337)
    manifest = SplitManifest.read(committed_root() / "rsna" / "mgca")
    # positives of the segmentation split as re-running MGCA's recipe gives them
    assert [manifest.lists[n].positives["Pneumonia"] for n in ("seg_train", "seg_val", "seg_test")] == [3579, 1182, 1251]


def test_mgca_chexpert_quirks_reproduced():
    manifest = SplitManifest.read(committed_root() / "chexpert" / "mgca")
    lists = manifest.lists
    assert lists["train"].images == 185771 and lists["val"].images == 4284
    assert lists["train_1pct"].images == 1858 and lists["train_10pct"].images == 18577
    assert lists["5x200"].images == 1000
    assert lists["test"].file is None and "valid.csv" in lists["test"].source
    folder = committed_root() / "chexpert" / "mgca"
    overlap = set(read_list(folder / lists["val"].file)) & set(read_list(folder / lists["train"].file))
    assert len(overlap) > 4000  # validation rows dropped by index label stay in train


def _labels(folder: Path) -> pd.DataFrame:
    with gzip.open(folder / "labels.csv.gz") as handle:
        return pd.read_csv(io.BytesIO(handle.read()), dtype={"image_id": str, "patient_id": str}).set_index("image_id")


@pytest.mark.parametrize("dataset", ["nih", "chexpert", "rsna", "siim"])
def test_v1_patient_disjoint_nested_stratified(dataset):
    folder = committed_root() / dataset / "asgbench-v1"
    manifest = SplitManifest.read(folder)
    labels = _labels(folder)
    names = [c for c in labels.columns if c != "patient_id"]
    lists = {name: read_list(folder / info.file) for name, info in manifest.lists.items() if info.file}
    patients = {name: set(labels.loc[ids, "patient_id"]) for name, ids in lists.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        if a in lists and b in lists:
            assert not patients[a] & patients[b], (a, b)
    overall = (labels[names] == 1).mean()
    train_positive = (labels.loc[lists["train"], names] == 1).any()
    for draw in range(3):
        ten, one = set(lists[f"train_10pct_d{draw}"]), set(lists[f"train_1pct_d{draw}"])
        assert one <= ten <= set(lists["train"])
        assert abs(len(ten) / len(lists["train"]) - 0.10) < 0.01
        for label in names:
            if train_positive[label]:
                assert (labels.loc[list(one), label] == 1).any(), (draw, label)
    assert lists["train_1pct_d0"] != lists["train_1pct_d1"]
    for name, ids in lists.items():
        tolerance = 0.02 if "1pct" in name else 0.01
        deviation = ((labels.loc[ids, names] == 1).mean() - overall).abs().max()
        assert deviation <= tolerance, (name, deviation)


@pytest.fixture
def suite_copy(tiny_suite, tmp_path):
    """A data root holding the tiny suite's split lists and the named dataset (no SUITE.json: the lists suffice)."""

    def copy(name: str) -> Path:
        target = tmp_path / "suite"
        target.mkdir()
        shutil.copytree(tiny_suite / "splits", target / "splits")
        shutil.copytree(tiny_suite / name, target / name)
        return target / name

    return copy


def test_suite_has_its_own_lists(tiny_suite):
    for dataset in ("mimic", "chexpert", "rsna", "covidx", "nih", "siim"):
        manifest = SplitManifest.read(tiny_suite / "splits" / dataset / "asgbench-v1")
        assert manifest.built_from == "synthetic suite"
        assert all(info.file for info in manifest.lists.values())
    selection = load_split("rsna", "asgbench-v1", "train", 10, draw=1, data_root=tiny_suite / "rsna")
    assert selection.name == "train_10pct_d1" and selection.folder.parent.parent == tiny_suite / "splits"
    rows = select_rows(read_index("rsna", tiny_suite / "rsna"), selection)
    assert rows["image_id"].tolist() == list(selection.ids)
    chexpert_test = load_split("chexpert", "mgca", "test", data_root=tiny_suite / "chexpert")
    assert all(i.startswith("valid/") for i in chexpert_test.ids)


def test_verify_reports_missing_extra_and_changed_label(capsys, suite_copy):
    root = suite_copy("nih")
    assert main(["splits", "verify", "--dataset", "nih", "--protocol", "asgbench-v1", "--root", str(root)]) == 0
    assert "ok: the download matches the lists" in capsys.readouterr().out
    entry = root / "Data_Entry_2017_v2020.csv"
    table = pd.read_csv(entry, dtype=str)
    victim = table["Image Index"].iloc[0]
    next(root.rglob(victim)).unlink()                                   # a missing image
    changed = table["Image Index"].iloc[1]
    old_labels = table.loc[1, "Finding Labels"]
    table.loc[1, "Finding Labels"] = "Hernia" if old_labels != "Hernia" else "No Finding"   # a changed label
    extra = table.iloc[[2]].copy()
    extra["Image Index"] = "99999999_000.png"
    extra["Patient ID"] = "99999999"
    table = pd.concat([table, extra], ignore_index=True)                # an extra image
    shutil.copy(next(root.rglob(table["Image Index"].iloc[2])), root / "images_001" / "images" / "99999999_000.png")
    header = entry.read_text().splitlines()[0]
    entry.write_text(header + "\n" + table.to_csv(index=False, header=False))
    code = main(["splits", "verify", "--dataset", "nih", "--protocol", "asgbench-v1", "--root", str(root)])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"missing: 1, e.g. {victim}" in out
    assert "extra (in no list): 1, e.g. 99999999_000.png" in out
    assert "label changes:" in out and changed in out
    assert re.search(r"^asgbench: error: .*: 1 missing, 1 extra, [1-9]\d* label change\(s\)$", err.strip())


def test_reader_api_errors(suite_copy):
    root = suite_copy("covidx")
    selection = load_split("covidx", "asgbench-v1", "test", data_root=root)
    index = read_index("covidx", root)
    path = root / index.frame.set_index("image_id").loc[selection.ids[0], "path"]
    path.unlink()
    index.frame.loc[index.frame["image_id"] == selection.ids[0], "path"] = None
    with pytest.raises(DataLayoutError, match="1 of the .* images of list 'test'"):
        select_rows(index, selection)
    assert len(select_rows(index, selection, allow_subset=True)) == len(selection.ids) - 1
    list_file = selection.folder / "test.txt"
    list_file.write_text("\n".join(selection.ids[1:]) + "\n")
    with pytest.raises(DataLayoutError, match="do not match the sha256"):
        load_split("covidx", "asgbench-v1", "test", data_root=root)
    with pytest.raises(Exception, match="fraction must be 1, 10 or 100"):
        load_split("covidx", "asgbench-v1", "train", 5, data_root=root)
    with pytest.raises(Exception, match="single draw"):
        load_split("covidx", "mgca", "train", 10, draw=2, data_root=root)


def test_build_without_out_goes_to_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASGBENCH_CACHE", str(tmp_path / "cache"))
    committed = {p.name: p.read_bytes() for p in (committed_root() / "siim" / "asgbench-v1").iterdir()}
    result = build_splits("siim", "asgbench-v1")
    assert result.folder == cache_dir() / "splits" / "siim" / "asgbench-v1"
    assert {p.name: p.read_bytes() for p in result.folder.iterdir()} == committed
    assert {p.name: p.read_bytes() for p in (committed_root() / "siim" / "asgbench-v1").iterdir()} == committed


def test_a_data_root_carries_its_own_lists_first(copy_dataset, tmp_path):
    """Any data root (no suite marker needed) with ``splits/<dataset>/<protocol>/`` is searched first."""
    root = copy_dataset("rsna")  # tmp_path/rsna: tmp_path is the data root
    local = tmp_path / LOCAL_DIR / "rsna" / "asgbench-v1"
    assert read_manifest("rsna", "v1", data_root=root)[0] == committed_root() / "rsna" / "asgbench-v1"
    built = build_splits("rsna", "asgbench-v1", root=root, out=local)
    assert built.manifest.built_from == "download"  # origin is the caller's to say, never guessed
    assert split_folders("rsna", "v1", root)[0] == local
    assert read_manifest("rsna", "v1", data_root=root)[0] == local
    selection = load_split("rsna", "asgbench-v1", "test", data_root=root)
    assert selection.folder == local and len(select_rows(read_index("rsna", root), selection)) == len(selection.ids)
    assert SPLITS_DIR == LOCAL_DIR  # the suite writes its lists where the rule looks


def test_origin_is_supplied_by_the_caller(tiny_suite, tmp_path):
    told = build_splits("covidx", "asgbench-v1", root=tiny_suite / "covidx", out=tmp_path / "a", origin="synthetic")
    assert told.manifest.built_from == "synthetic suite"
    assert SplitManifest.read(tmp_path / "a").lists == SplitManifest.read(tiny_suite / "splits" / "covidx" / "asgbench-v1").lists
    untold = build_splits("covidx", "asgbench-v1", root=tiny_suite / "covidx", out=tmp_path / "b")
    assert untold.manifest.built_from == "download"
    with pytest.raises(ConfigError, match="unknown split origin"):
        build_splits("covidx", "asgbench-v1", root=tiny_suite / "covidx", out=tmp_path / "c", origin="suite")


def test_split_code_does_not_import_the_synthetic_suite():
    package = Path(__file__).resolve().parents[1] / "asgbench" / "data" / "splits"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("asgbench.data.synthetic") for n in names), path.name
