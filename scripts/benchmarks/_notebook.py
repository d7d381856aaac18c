"""The research notebook's training step (../shared/seed/notebook.txt), kept only as the
timing baseline: Python loops per node, a dense one-hot author matrix, the stored
(complete) PCP. Not part of the package; nothing imports it but the epoch benchmark."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn


def _lists(indptr, indices, batch):
    starts, ends = indptr[batch], indptr[batch + 1]
    return [indices[s:e].tolist() for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def _mean(table, lists):
    rows = [table[nb].mean(dim=0) if nb else torch.zeros(table.size(1)) for nb in lists]
    return torch.stack(rows)


def _positive_mask(batch, pap, pcp, cap=20):
    size = batch.numel()
    mask = torch.zeros(size, size, dtype=torch.bool)
    ids = batch.tolist()
    sets = []
    for u in ids:
        found = set()
        for indptr, indices in (pap, pcp):
            s, e = indptr[u].item(), indptr[u + 1].item()
            found.update(indices[s:e].tolist())
        if len(found) > cap:
            found = set(np.random.choice(list(found), size=cap, replace=False).tolist())
        sets.append(found)
    for i in range(size):
        for j, v in enumerate(ids):
            if i != j and v in sets[i]:
                mask[i, j] = True
    return mask


def time_notebook_batches(artifacts: dict, batches: int = 2, batch_size: int = 512) -> float:
    """Seconds per 512-paper training batch of the notebook's loop implementation.

    ``artifacts``: xp, xa (dense one-hot), xc, and CSR (indptr, indices) tensors pa, pc,
    pap, pcp as the notebook built them.
    """
    xp, xa, xc = artifacts["xp"], artifacts["xa"], artifacts["xc"]
    hidden = 128
    layers = nn.ModuleDict({
        "pa": nn.Linear(xa.size(1), hidden), "pc": nn.Linear(xc.size(1), hidden),
        "pap": nn.Linear(xp.size(1), hidden), "pcp": nn.Linear(xp.size(1), hidden),
        "head1": nn.Linear(hidden, hidden), "head2": nn.Linear(hidden, hidden),
    })  # fmt: skip
    optimizer = torch.optim.AdamW(layers.parameters(), lr=0.005)
    permutation = torch.randperm(xp.size(0))
    seconds = []
    for step in range(batches):
        batch = permutation[step * batch_size : (step + 1) * batch_size]
        start = time.perf_counter()
        optimizer.zero_grad()
        a = layers["pa"](_mean(xa, _lists(*artifacts["pa"], batch)))
        c = layers["pc"](_mean(xc, _lists(*artifacts["pc"], batch)))
        z_sc = torch.nn.functional.normalize(
            (torch.nn.functional.elu(a) + torch.nn.functional.elu(c)) / 2, dim=-1
        )
        p1 = layers["pap"](_mean(xp, _lists(*artifacts["pap"], batch)))
        p2 = layers["pcp"](_mean(xp, _lists(*artifacts["pcp"], batch)))
        z_mp = torch.nn.functional.normalize(
            (torch.nn.functional.elu(p1) + torch.nn.functional.elu(p2)) / 2, dim=-1
        )
        mask = _positive_mask(batch, artifacts["pap"], artifacts["pcp"])
        head = lambda z: layers["head2"](torch.nn.functional.elu(layers["head1"](z)))
        logits = (
            torch.nn.functional.normalize(head(z_sc), dim=-1)
            @ torch.nn.functional.normalize(head(z_mp), dim=-1).t()
            / 0.6
        )
        logits = logits.masked_fill(torch.eye(len(batch), dtype=torch.bool), -torch.inf)
        positive = logits.masked_fill(~mask, -torch.inf).logsumexp(1)
        positive = torch.where(
            torch.isneginf(positive), torch.full_like(positive, -18.42), positive
        )
        loss = -(positive - logits.logsumexp(1)).mean()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return float(np.mean(seconds))
