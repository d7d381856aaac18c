import os
import subprocess
import sys

import pandas as pd
import pytest

from heco_pyg.runs.sweep import (
    best_line,
    markdown_table,
    optimising_sweeper,
    optimized_value,
    ranking,
    summarise,
    swept_keys,
    write_summary,
)
from tests.conftest import ROOT, TINY_SYNTHETIC, compose_config
from tests.helpers import wandb_files
from tests.helpers.wandb_files import read_history

GRID = ["loss.tau=0.3,0.8", "loss.lam=0.2,0.7"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A 2x2 multirun over tau and lambda, two epochs each, logged to offline wandb."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    tiny = [o for o in TINY_SYNTHETIC if not o.startswith("trainer.max_epochs")]
    command = [sys.executable, "-m", "heco_pyg.train", "-m", *GRID, *tiny,
               "trainer.max_epochs=2", "logger=wandb", "epoch_logging.histogram_every=1",
               "epoch_logging.diagnostics_every=1", "optimized_metric=fused/nmi",
               f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir.parent / "stdout.txt").write_text(result.stdout)
    return sweep_dir


def test_sweep_summary_files(sweep_dir):
    summary = pd.read_csv(sweep_dir / "sweep_summary.csv")
    assert len(summary) == 4 and (summary["status"] == "complete").all()
    assert sorted(zip(summary["loss.tau"], summary["loss.lam"], strict=True)) == [
        (0.3, 0.2), (0.3, 0.7), (0.8, 0.2), (0.8, 0.7)]  # fmt: skip
    assert (summary["epochs"] == 2).all()
    for column in (
        "best_loss",
        "fused/nmi",
        "fused/micro_f1",
        "semantic/mean_cosine",
        "final attention/type/author",
        "final attention/semantic/PAP",
    ):
        assert summary[column].notna().all(), column  # fmt: skip
    markdown = (sweep_dir / "sweep_summary.md").read_text()
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 4  # header + one row per run
    assert table[0] == "| rank | run | fused/nmi | std | epochs | overrides |"
    assert table[1].startswith("| best |") and "loss.tau=" in table[1]
    assert "data.num_papers=300" in markdown  # shared overrides listed once
    assert (sweep_dir / "sweep_heatmap.png").stat().st_size > 0


def test_sweep_ends_with_its_best_run(sweep_dir):
    last = (sweep_dir.parent / "stdout.txt").read_text().strip().splitlines()[-2]
    best = ranking(pd.read_csv(sweep_dir / "sweep_summary.csv"), "fused/nmi").iloc[0]
    assert last.startswith(f"best run by fused/nmi: {best['run']} (loss.tau=")
    assert last.endswith(f": {best['fused/nmi']:.4f}")  # clustering: no std over splits


def test_ranking_calls_runs_within_noise_ties():
    summary = pd.DataFrame({
        "run": ["0", "1", "2"], "overrides": ["loss.tau=0.3", "loss.tau=0.5", "loss.tau=0.8"],
        "loss.tau": [0.3, 0.5, 0.8], "status": "complete", "f1": [0.8895, 0.8896, 0.85],
        "f1_std": [0.009, 0.009, 0.01], "epochs": [3, 4, 5]})  # fmt: skip
    table = ranking(summary, "f1")
    assert list(table["rank"]) == ["best", "tie", "3"] and list(table["run"]) == ["1", "0", "2"]
    assert list(table.columns) == ["rank", "run", "f1", "std", "epochs", "overrides"]
    assert best_line(table) == (
        "best run by f1: 1 (loss.tau=0.5): 0.8896 ± 0.0090; tied within "
        "noise (gap <= std): 0 (loss.tau=0.3): 0.8895 ± 0.0090"
    )
    assert "tied" not in best_line(ranking(summary.assign(f1_std=0.00001), "f1"))


def test_sweep_runs_logged_to_offline_wandb(sweep_dir):
    runs = sorted(sweep_dir.glob("*/wandb/offline-run-*"))
    assert len(runs) == 4
    for run in runs:
        rows = read_history(run)
        assert [row["_step"] for row in rows] == [1, 2]
        for key in (
            "loss/total",
            "loss/metapath",
            "loss/schema",
            "learning_rate",
            "attention/type/author",
            "attention/type/concept",
            "attention/semantic/PAP",
            "attention/semantic/PCP",
            "diagnostics/alignment",
            "diagnostics/uniformity/schema",
        ):
            assert all(key in row for row in rows), (run, key)  # fmt: skip
        # wandb flattens the histogram: node_attention/<type>/{_type,values,bins}
        for node_type in ("author", "concept"):
            assert rows[0][f"node_attention/{node_type}/_type"] == "histogram"
            assert sum(rows[-1][f"node_attention/{node_type}/values"]) > 0
            assert 0 <= rows[-1][f"node_attention/{node_type}/entropy"] <= 1


def run_records(run_path):
    """The ``run`` records (metadata: group, tags) of an offline wandb run."""
    for record in wandb_files.read_records(run_path):
        if record.WhichOneof("record_type") == "run":
            yield record.run


def test_sweep_runs_share_a_wandb_group(sweep_dir):
    groups, tags = set(), set()
    for run in sweep_dir.glob("*/wandb/offline-run-*"):
        for record in run_records(run):
            groups.add(record.run_group)
            tags |= set(record.tags)
    assert groups == {f"train-{sweep_dir.name}"}
    assert {"synthetic", "heco"} <= tags  # data and model choices


def test_summary_reads_a_finished_sweep_again(sweep_dir, tmp_path):
    summary = summarise(sweep_dir)
    assert swept_keys(summary) == ["loss.tau", "loss.lam"]
    again = write_summary(sweep_dir, "fused/micro_f1", axes=["loss.lam", "loss.tau"])
    assert len(again) == 4


def test_optimized_value():
    metrics = {"fused/micro_f1": 0.5, "loss": 3.0}
    assert optimized_value(metrics, "loss") == 3.0
    assert optimized_value(metrics, None) is None
    assert optimized_value(metrics, "val/macro_f1", required=False) is None
    with pytest.raises(KeyError, match="optimized_metric='val/macro_f1'.*fused/micro_f1, loss"):
        optimized_value(metrics, "val/macro_f1", required=True)


def test_markdown_table():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.123456, float("nan")], "c": ["x|y", "z"]})
    assert markdown_table(frame).splitlines() == [
        "| a | b | c |", "|---|---|---|", "| 1 | 0.1235 | x\\|y |", "| 2 |  | z |"]  # fmt: skip


def test_sweep_group_resolver():
    cfg = compose_config(["hydra.mode=MULTIRUN", "hydra.sweep.dir=/sweeps/tau_lambda"])
    assert cfg.logger.group.endswith("-tau_lambda")
    assert compose_config([]).logger.group is None  # single runs: no group


def test_missing_metric_fails_only_under_an_optimising_sweeper(caplog):
    compose_config(["hydra.mode=MULTIRUN"])  # the basic grid sweeper ignores the value
    assert not optimising_sweeper()
    assert optimized_value({"loss": 1.0}, "fused/micro_f1") is None
    assert "optimized_metric='fused/micro_f1'" in caplog.text
    compose_config(["hydra.mode=MULTIRUN", "hydra.sweeper._target_=optuna_like.Sweeper"])
    assert optimising_sweeper()
    with pytest.raises(KeyError, match="choose|one of: loss"):
        optimized_value({"loss": 1.0}, "fused/micro_f1")
