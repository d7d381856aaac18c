"""What every ranking shares, the evaluation's (:mod:`heco_pyg.evaluation.recommendation`)
and the search's (:mod:`heco_pyg.retrieval.search`): leaving items out of it."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mask_out(score: Tensor, exclude: Tensor) -> None:
    """Sets ``score[b, exclude[b]] = -inf`` in place where ``exclude[b] >= 0``."""
    batch = torch.nonzero(exclude >= 0).view(-1)
    score[batch, exclude[batch]] = -math.inf
