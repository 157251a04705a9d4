"""The cost-at-real-sizes benchmark runs end to end at a tiny scale (its numbers are not checked, only that every
part measures, extrapolates and prints)."""
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_real_sizes.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_real_sizes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_real_sizes"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_real_sizes", None)


def test_probe_and_bootstrap_parts_run_tiny(bench, tmp_path, capsys):
    results = bench.main(["--part", "probe,bootstrap", "--scale", "0.0003", "--epochs", "1,2", "--inline",
                          "--probe-datasets", "nih", "--work", str(tmp_path / "work")])
    probe = results.probe["nih"]
    assert all(probe.per_epoch(p) >= 0 and probe.fixed(p) >= 0 for p in bench.FRACTIONS)
    assert all(run.detail["epochs"] == [1, 1, 2] for run in probe.runs.values())
    assert [c.way for c in results.bootstrap] == list(bench.BOOTSTRAP_WAYS)
    out = capsys.readouterr().out
    assert "Linear probe" in out and "exponent" in out and "EXTRAPOLATION" in out
    assert not (tmp_path / "work").exists()


def test_store_part_on_small_files(bench, tmp_path, monkeypatch, capsys):
    small = (bench.ImageFormat("png-64", ".png", 64, 48, ("NIH ChestX-ray14",), "png"),
             bench.ImageFormat("dicom-64", ".dcm", 64, 64, ("RSNA pneumonia",), "dicom"))
    monkeypatch.setattr(bench, "IMAGE_FORMATS", small)
    costs = bench.run_store(tmp_path, 0.0001, isolate=False)
    assert [c.fmt.name for c in costs] == ["png-64", "dicom-64"]
    assert all(c.rate_per_core > 0 and c.bytes_per_image >= 256 * 256 for c in costs)
    bench.report_store(costs)
    assert "store GiB" in capsys.readouterr().out


def test_leaderboard_extrapolates_every_task(bench, capsys):
    def measured(cpu):
        return bench.Measured(1.0, 1.0, 1.0, 1.0, {"cpu": cpu, "wall": cpu})

    probe = bench.ProbeCost(bench.list_sizes("nih"), (1, 2), {p: measured([2.0, 1.5, 1.7]) for p in bench.FRACTIONS},
                            (1, 2), (1.0, 2.0))
    assert probe.per_epoch(100) == pytest.approx(0.2) and probe.fixed(100) == pytest.approx(1.8)
    encode = {m: bench.RateCost(m, (1, 2), (1.0, 2.0), 1.0) for m in bench.SEG_MODELS}
    seg = {m: bench.SegCost(m, "unet", (1, 2), (1.0, 2.0), 0.5, 0.1, 1.0) for m in bench.SEG_MODELS}
    store = [bench.StoreCost(f, (1, 2), (1.0, 2.0), (1.0, 2.0), 2.0, 1.0, 65536.0) for f in bench.IMAGE_FORMATS]
    bench.report_leaderboard({"nih": probe, "chexpert": probe}, encode, seg, store, cores=2)
    out = capsys.readouterr().out
    for task in ("nih-lp", "chexpert-lp", "rsna-lp", "covidx-lp", "rsna-zs", "siim-seg", "rsna-seg", "image stores"):
        assert task in out
    assert "EXTRAPOLATION" in out
