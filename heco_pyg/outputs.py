"""Everything a run writes into its Hydra run dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F


def view_embeddings(schema: torch.Tensor, semantic: torch.Tensor) -> dict[str, np.ndarray]:
    """L2-normalised float32 ``schema``, ``semantic`` and ``fused`` = normalise(mean of both)."""
    schema, semantic = F.normalize(schema, dim=1), F.normalize(semantic, dim=1)
    fused = F.normalize((schema + semantic) / 2, dim=1)
    return {k: v.float().numpy() for k, v in
            {"schema": schema, "semantic": semantic, "fused": fused}.items()}  # fmt: skip


def write_embeddings(
    run_dir: Path, embeddings: dict[str, np.ndarray], ids: list[str]
) -> list[Path]:
    folder = run_dir / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for view, z in embeddings.items():
        np.save(folder / f"{view}.npy", z.astype(np.float32))
        paths.append(folder / f"{view}.npy")
    pd.DataFrame({"row": range(len(ids)), "paper_id": ids}).to_csv(folder / "ids.csv", index=False)
    return [*paths, folder / "ids.csv"]


def write_paper_metadata(run_dir: Path, ids: list[str], store) -> Path | None:
    """``papers.csv`` (``paper_id``, ``title``, ``doi``) when the graph knows titles or DOIs:
    ``heco_pyg.recommend`` shows the titles and accepts DOIs as queries."""
    columns = {k: getattr(store, k + "s", None) for k in ("title", "doi")}
    if all(v is None for v in columns.values()):
        return None
    table = {"paper_id": ids} | {k: v if v is not None else [""] * len(ids)
                                 for k, v in columns.items()}  # fmt: skip
    pd.DataFrame(table).to_csv(run_dir / "papers.csv", index=False)
    return run_dir / "papers.csv"


def write_history(run_dir: Path, rows: list[dict[str, float]]) -> pd.DataFrame:
    history = pd.DataFrame(rows)
    history.to_csv(run_dir / "history.csv", index=False)
    return history


def write_metrics(run_dir: Path, metrics: dict) -> None:
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))


def plot_history(run_dir: Path, history: pd.DataFrame) -> None:
    """``loss.png`` (total, L_mp, L_sc) and ``attention.png`` (every attention weight)."""
    import matplotlib  # imported late: training does not need its ~30 MiB

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for column, label in (("loss", "loss"), ("loss_metapath", "L_mp"), ("loss_schema", "L_sc")):
        axis.plot(history["epoch"], history[column], label=label)
    axis.set(xlabel="epoch", ylabel="contrastive loss", title="HeCo training loss")
    axis.legend()
    figure.tight_layout()
    figure.savefig(run_dir / "loss.png", dpi=120)
    plt.close(figure)

    columns = [c for c in history.columns if c.startswith("attention/")]
    groups = sorted({c.split("/")[1] for c in columns})
    figure, axes = plt.subplots(1, max(len(groups), 1), figsize=(5 * max(len(groups), 1), 4),
                                squeeze=False)  # fmt: skip
    titles = {"type": "type-level attention (schema view)",
              "semantic": "semantic attention (meta-path view)"}  # fmt: skip
    for axis, group in zip(axes[0], groups, strict=False):
        for column in (c for c in columns if c.split("/")[1] == group):
            axis.plot(history["epoch"], history[column], label=column.split("/")[-1])
        axis.set(xlabel="epoch", ylabel="weight", ylim=(0, 1), title=titles.get(group, group))
        axis.legend()
    figure.tight_layout()
    figure.savefig(run_dir / "attention.png", dpi=120)
    plt.close(figure)
