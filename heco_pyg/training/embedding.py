"""From a trained model to the embeddings a run keeps: both views of every target node,
exact, in eval mode, and the three L2-normalised views (``schema``, ``semantic``,
``fused``)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from heco_pyg.nn.containers import GraphInputs, HeCoOutput
from heco_pyg.nn.heco import HeCo

#: The embedding views a run writes, in order.
VIEWS = ("schema", "semantic", "fused")


@torch.no_grad()
def embed(
    model: HeCo, inputs: GraphInputs, batch_size: int | None = None
) -> tuple[Tensor, Tensor, HeCoOutput]:
    """Schema and meta-path view embeddings of every target node, in eval mode, exact,
    ``batch_size`` nodes at a time (``None``: all at once)."""
    model.eval()
    device = next(model.parameters()).device
    output = model.embed(inputs.to(device), batch_size)
    return output.schema.cpu(), output.semantic.cpu(), output


def view_embeddings(schema: Tensor, semantic: Tensor) -> dict[str, np.ndarray]:
    """L2-normalised float32 ``schema``, ``semantic`` and ``fused`` = normalise(mean of both)."""
    schema, semantic = F.normalize(schema, dim=1), F.normalize(semantic, dim=1)
    fused = F.normalize((schema + semantic) / 2, dim=1)
    views = {"schema": schema, "semantic": semantic, "fused": fused}
    return {view: views[view].float().numpy() for view in VIEWS}
