"""Data-parallel set-up under ``torchrun``: joining the process group (rank, world size and
device of the process: :mod:`heco_pyg.core.runtime`)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from heco_pyg.training.optimizers import sparse_tables


def init_process_group(backend: str, device: torch.device) -> tuple[int, int, torch.device]:
    """Joins the ``torchrun`` rendezvous (once); returns rank, world size and this rank's
    device (``cuda:LOCAL_RANK`` on GPUs).

    On GPUs the rank's device is set first and handed to the group as ``device_id``: NCCL
    then binds its communicator to that GPU at once instead of guessing one from the rank
    at the first collective (several ranks on GPU 0, or a hang, when it guesses wrong), and
    ``barrier()`` knows its device."""
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    return dist.get_rank(), dist.get_world_size(), device


def backend_for(backend: str, device: torch.device) -> str:
    """The process group's backend: the running group's, else ``auto`` -> ``nccl`` on CUDA,
    ``gloo`` on the CPU."""
    if dist.is_initialized():
        return dist.get_backend()
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    return backend


def join_process_group(
    model: nn.Module, backend: str, device: torch.device
) -> tuple[int, int, torch.device]:
    """:func:`init_process_group` for training ``model``, refusing what the backend cannot
    do (NCCL has no sparse all-reduce) before the first step."""
    backend = backend_for(backend, device)
    if backend == "nccl" and sparse_tables(model):
        raise ValueError(
            "trainer=ddp with the nccl backend cannot all-reduce the sparse gradients of "
            "model.sparse_embeddings=true (NCCL has no sparse all-reduce); set "
            "model.sparse_embeddings=false (dense gradients for the embedding tables) or "
            "trainer.backend=gloo"
        )
    return init_process_group(backend, device)
