"""The process's place in a run: its rank, its device and its thread count.

Every other module asks here; nothing else reads ``RANK``, calls
``torch.set_num_threads`` or picks a device.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def rank() -> int:
    """This process's rank: from the process group once it exists, else from ``RANK``
    (set by ``torchrun`` before the group is initialised); 0 outside distributed runs."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """The number of processes in this run (``torchrun`` sets ``WORLD_SIZE``); 1 outside
    distributed runs."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True outside distributed training and on rank 0 inside it: the process that logs
    and writes the run's outputs."""
    return rank() == 0


def resolve_device(device: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("trainer.device=cuda but CUDA is not available; use auto or cpu")
    return torch.device(device)


def configure_threads(threads: int | None) -> None:
    """Sets torch's intra-op threads once for the process (``None``: torch's default)."""
    if threads:
        torch.set_num_threads(int(threads))


def init_process_group(backend: str, device: torch.device) -> tuple[int, int, torch.device]:
    """Joins the ``torchrun`` rendezvous (once); returns rank, world size and this rank's
    device (``cuda:LOCAL_RANK`` on GPUs)."""
    if not dist.is_initialized():
        dist.init_process_group(backend)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device
