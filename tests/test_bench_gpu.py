"""``scripts/bench.py gpu``: says why it measures nothing without CUDA, and its code path runs
on the CPU (``--device cpu``) on a tiny graph."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.scripts import load_script


def test_without_cuda_the_gpu_benchmark_says_why_and_measures_nothing(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    load_script("bench").main(["gpu"])
    out = capsys.readouterr().out
    assert "skipped: torch.cuda.is_available() is False" in out and "|" not in out


def test_the_gpu_benchmark_runs_on_the_cpu_and_prints_table_rows(capsys, tmp_path):
    load_script("bench").main(["gpu", "--device", "cpu", "--graphs", "acm", "synthetic",
                               "--papers", "300", "--epochs", "2", "--batch-size", "100",
                               "--data-dir", str(tmp_path)])  # fmt: skip
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| acm | | skipped: no ")  # no ACM folder under --data-dir
    full, mini = (row.split(" | ") for row in rows[2:])
    assert full[:3] == ["| synthetic", "300", "full batch"]
    assert mini[2] == "mini-batch 100" and float(mini[4]) > 0 and mini[5] == "nan"


@pytest.mark.cuda
def test_the_gpu_benchmark_on_a_gpu(capsys, tmp_path):
    load_script("bench").main(["gpu", "--graphs", "synthetic", "--papers", "2000",
                               "--epochs", "2", "--data-dir", str(tmp_path)])  # fmt: skip
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| synth")]
    assert len(rows) == 2 and all(float(r.split(" | ")[5].replace(",", "")) > 0 for r in rows)
