"""Data-parallel set-up under ``torchrun``: joining the process group (rank, world size and
device of the process: :mod:`heco_pyg.core.runtime`)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_process_group(backend: str, device: torch.device) -> tuple[int, int, torch.device]:
    """Joins the ``torchrun`` rendezvous (once); returns rank, world size and this rank's
    device (``cuda:LOCAL_RANK`` on GPUs)."""
    if not dist.is_initialized():
        dist.init_process_group(backend)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device
