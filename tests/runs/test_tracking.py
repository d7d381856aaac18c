from heco_pyg.runs.tracking import Tracker
from tests.helpers import wandb_files


def record_types(run_path):
    for record in wandb_files.read_records(run_path):
        yield record.WhichOneof("record_type"), record


def test_artifact_logged_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "fused.npy").write_bytes(b"embeddings")
    (tmp_path / "checkpoint.pt").write_bytes(b"weights")
    tracker = Tracker(mode="offline", dir=tmp_path, log_artifacts=True, group="g", tags=["t"])
    tracker.artifact("embeddings-synthetic", [tmp_path / "fused.npy", tmp_path / "checkpoint.pt"])
    run_path = tracker.run_path
    tracker.finish()
    artifacts = [r.artifact for kind, r in record_types(run_path) if kind == "artifact"]
    assert len(artifacts) == 1
    assert artifacts[0].name == "embeddings-synthetic" and artifacts[0].type == "embeddings"
    names = {entry.path for entry in artifacts[0].manifest.contents}
    assert names == {"fused.npy", "checkpoint.pt"}


def test_no_artifact_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "fused.npy").write_bytes(b"embeddings")
    tracker = Tracker(mode="offline", dir=tmp_path)
    tracker.artifact("embeddings-synthetic", [tmp_path / "fused.npy"])
    run_path = tracker.run_path
    tracker.finish()
    assert not [kind for kind, _ in record_types(run_path) if kind == "artifact"]


def test_plots_logged_as_images(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("WANDB_MODE", "offline")
    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    figure.savefig(tmp_path / "loss.png")
    plt.close(figure)
    tracker = Tracker(mode="offline", dir=tmp_path)
    tracker.images({"plots/loss": tmp_path / "loss.png"})
    run_path = tracker.run_path
    tracker.finish()
    assert list((run_path / "files" / "media" / "images").glob("plots/loss_*.png"))
    Tracker(mode="disabled").images({"plots/loss": tmp_path / "loss.png"})  # a no-op
