"""A finished run brought back to life: its graph rebuilt from its saved config (so
evaluation-only attributes such as ``data.citation_index`` come back) and checked
against its saved ids, and its model with the best weights. Both read through
:class:`RunDir`, which refuses a run that is not finished or whose files changed."""

from __future__ import annotations

import os

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.data import build_data
from heco_pyg.data.graph import model_arguments, model_inputs
from heco_pyg.nn.containers import GraphInputs
from heco_pyg.nn.heco import HeCo
from heco_pyg.runs.run_dir import RunDir


def load_run_graph(run: RunDir | str | os.PathLike, cfg: DictConfig | None = None) -> HeteroData:
    """The run's graph, rebuilt from its saved config; checked against its saved ids."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    cfg = run.config() if cfg is None else cfg
    saved_ids = run.ids()  # checked against the manifest before the graph is built
    data = build_data(cfg.data)
    node_ids = getattr(data[data.target], "node_ids", None)
    if node_ids is not None and saved_ids != list(node_ids):
        raise DataError(
            f"{run.ids_path}: the rebuilt graph's {data.target} ids differ from the run's "
            "(did the data change since training?)"
        )
    return data


def load_trained_model(
    run: RunDir | str | os.PathLike, cfg: DictConfig | None = None, data: HeteroData | None = None
) -> tuple[HeCo, HeteroData, GraphInputs]:
    """The run's model with its best weights in eval mode, its graph and its inputs."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    cfg = run.config() if cfg is None else cfg
    run.verified(run.checkpoint)  # before the graph is built
    data = load_run_graph(run, cfg) if data is None else data
    model = instantiate(cfg.model, **model_arguments(data))
    model.load_state_dict(run.checkpoint_state())
    model.eval()
    return model, data, model.prepare(**model_inputs(data))
