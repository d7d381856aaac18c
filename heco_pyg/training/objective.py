"""One training step's computation: the model and the loss as one module (what
DistributedDataParallel wraps), and the attention weights each epoch records."""

from __future__ import annotations

from torch import Tensor, nn

from heco_pyg.nn.containers import GraphInputs, HeCoOutput
from heco_pyg.nn.heco import HeCo
from heco_pyg.training.loss import HeCoLoss, LossParts


def attention_values(output: HeCoOutput) -> dict[str, float]:
    """Type-level and semantic attention weights as ``{"attention/type/author": w, ...}``."""
    values = {f"attention/type/{k}": v for k, v in output.type_attention.items()}
    values |= {f"attention/semantic/{k}": v for k, v in output.semantic_attention.items()}
    return {k: float(v) for k, v in values.items()}


class Objective(nn.Module):
    """Model + loss as one module, so that DistributedDataParallel sees the whole step."""

    def __init__(self, model: HeCo, loss_fn: HeCoLoss) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(
        self, inputs: GraphInputs, index: Tensor | None, pairs: Tensor
    ) -> tuple[LossParts, HeCoOutput]:
        output = self.model(inputs, index)
        head = self.model.head
        return self.loss_fn(head(output.semantic), head(output.schema), pairs), output
