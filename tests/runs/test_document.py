import json

import numpy as np
import pandas as pd
import pytest
import yaml

from heco_pyg.report import main
from heco_pyg.runs.document import metrics_table, write_report
from heco_pyg.runs.run_dir import RunDir
from heco_pyg.runs.session import RunSession
from heco_pyg.runs.sweep import write_summary
from tests.helpers.runs import TAMPERINGS, tamper


def fake_run(run_dir, overrides, seed=0, epochs=12):
    """The files a training run leaves (history.csv, metrics.json, overrides), by hand,
    sealed by its manifest."""
    rng = np.random.default_rng(seed)
    run = RunDir(run_dir)
    RunSession(run, {"seed": seed}).start(overrides)
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    author = rng.uniform(0.3, 0.7, epochs)
    pap = rng.uniform(0.2, 0.8, epochs)
    history = pd.DataFrame({
        "epoch": range(1, epochs + 1), "loss": np.linspace(6, 5, epochs),
        "loss_metapath": np.linspace(6.1, 5.1, epochs),
        "loss_schema": np.linspace(5.9, 4.9, epochs),
        "learning_rate": 0.001, "seconds": 0.1,
        "attention/type/author": author, "attention/type/concept": 1 - author,
        "attention/semantic/PAP": pap, "attention/semantic/PCP": 1 - pap,
    })  # fmt: skip
    history.loc[::5, "diagnostics/alignment"] = 0.5
    history.loc[::5, "node_attention/author/entropy"] = 0.9
    history.to_csv(run_dir / "history.csv", index=False)
    metrics = {"loss": 5.0, "epochs": epochs, "best_epoch": epochs,
               "fused/micro_f1": 0.6 + 0.1 * seed, "fused/micro_f1_std": 0.01,
               "semantic/micro_f1": 0.5, "features/micro_f1": 0.4}  # fmt: skip
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    RunSession(run).finish("complete", epochs_done=epochs, best_epoch=epochs)


def test_run_report_html(tmp_path):
    fake_run(tmp_path, ["loss.tau=0.5"])
    path = write_report(tmp_path)
    assert path == tmp_path / "report.html"
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("data:image/png;base64,") == 1
    assert "loss.tau=0.5" in text and "micro_f1" in text and "fused" in text


def test_run_report_markdown(tmp_path):
    fake_run(tmp_path / "run", [])
    path = write_report(tmp_path / "run", "md", tmp_path / "out" / "run.md")
    text = path.read_text()
    assert "![training](run_files/training.png)" in text
    assert (tmp_path / "out" / "run_files" / "training.png").stat().st_size > 0
    assert "| view | micro_f1 |" in text  # _std columns left out


def test_metrics_table():
    table = metrics_table({"loss": 1.0, "fused/nmi": 0.2, "semantic/nmi": 0.1,
                           "semantic/nmi_std": 0.0, "fused/ari": 0.3})  # fmt: skip
    assert list(table.columns) == ["view", "ari", "nmi"]
    assert table["view"].tolist() == ["fused", "semantic"]
    assert np.isnan(table.loc[1, "ari"])


def test_sweep_report(tmp_path, capsys):
    for number, (tau, lam) in enumerate([(0.2, 0.3), (0.2, 0.7), (0.8, 0.3), (0.8, 0.7)]):
        fake_run(tmp_path / str(number), [f"loss.tau={tau}", f"loss.lam={lam}", "seed=1"], number)
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"optimized_metric": "fused/micro_f1"}))
    path = main([str(tmp_path), "--format", "md"])
    assert path == tmp_path / "report.md" and str(path) in capsys.readouterr().out
    text = path.read_text()
    summary = pd.read_csv(tmp_path / "sweep_summary.csv")  # written on the way
    assert len(summary) == 4 and (tmp_path / "sweep_heatmap.png").exists()
    assert "![sweep_heatmap]" in text and "![runs]" in text
    assert "optimised metric fused/micro_f1" in text and "seed=1" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 5 and "loss.tau=" in table[1] and "seed" not in table[1]


def test_sweep_heatmap_falls_back_to_best_loss(tmp_path, caplog):
    for number, tau in enumerate([0.2, 0.8]):
        fake_run(tmp_path / str(number), [f"loss.tau={tau}"], number)
    summary = write_summary(tmp_path, "val/macro_f1")
    assert "val/macro_f1" in caplog.text and len(summary) == 2
    assert (tmp_path / "sweep_heatmap.png").stat().st_size > 0


def test_report_of_an_empty_dir(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path)])


@pytest.mark.parametrize("how", TAMPERINGS)
def test_report_refuses_a_run_whose_files_changed_in_one_line(tmp_path, capsys, how):
    fake_run(tmp_path / "run", [])
    run = RunDir(tmp_path / "run")
    z = np.eye(4, dtype=np.float32)
    run.write_embeddings({"schema": z, "semantic": z, "fused": z}, ["a", "b", "c", "d"])
    RunSession(run).finish("complete", epochs_done=12)
    expected = tamper(run.path, how)
    with pytest.raises(SystemExit) as stopped:
        main([str(run.path)])
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {expected}") and error.count("\n") == 1
    assert not run.report_path("html").exists()


def test_sweep_summary_marks_runs_it_cannot_read(tmp_path):
    for number, tau in enumerate([0.2, 0.8]):
        fake_run(tmp_path / str(number), [f"loss.tau={tau}"], number)
    (tmp_path / "1" / "metrics.json").write_text("{}")  # changed after training
    summary = write_summary(tmp_path)
    assert summary["status"].tolist() == ["complete", "mismatch"]
    assert "metrics.json: " in summary["problem"].iloc[1]
    assert summary["fused/micro_f1"].isna().tolist() == [False, True]
