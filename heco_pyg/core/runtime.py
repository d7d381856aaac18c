"""The process's place in a run: its rank, its device and its thread count.

Every other module asks here; nothing else reads ``RANK``, calls
``torch.set_num_threads`` or picks a device.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import Tensor

from heco_pyg.core.errors import ConfigError

log = logging.getLogger(__name__)


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


def quiet_other_ranks() -> None:
    """Under ``torchrun``, ranks other than 0 log warnings and errors only: every info line
    appears once, from rank 0."""
    if not is_main_process():
        logging.getLogger().setLevel(logging.WARNING)


def resolve_device(device: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise ConfigError(f"trainer.device=cuda: torch {torch.__version__} ({build}) sees no "
                          "GPU here; use trainer.device=auto or trainer.device=cpu")  # fmt: skip
    return torch.device(device)


def preparation_device(
    device: torch.device, tensors: Iterable[Tensor], headroom: float = 8.0
) -> torch.device:
    """Where the model's one-off sparse products (:meth:`HeCo.prepare`) run, chosen
    explicitly: the training ``device`` when it is a GPU with ``headroom`` times the
    inputs' bytes free (the products and their sorted copies fit), else the CPU. Under
    ``torchrun`` a GPU is this rank's (``LOCAL_RANK``)."""
    if device.type != "cuda":
        return torch.device("cpu")
    if device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    needed = headroom * sum(t.numel() * t.element_size() for t in tensors)
    free, _ = torch.cuda.mem_get_info(device)
    return device if free >= needed else torch.device("cpu")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: taskset, cgroups' cpusets),
    shared among the ranks ``torchrun`` starts on this machine."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cpus or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def auto_threads(cpus: int | None = None, load: float | None = None) -> int:
    """``trainer.threads: auto``: the CPUs no other process is busy on, at least one.

    ``cpus`` defaults to :func:`available_cpus`, ``load`` to the 1-minute load average
    (``os.getloadavg``), which counts the runnable processes of the whole machine. Why:
    torch's default (one thread per core) spins OpenMP threads that wait for cores other
    jobs hold; beside two single-threaded busy jobs on a 2-core machine an epoch of
    ``data=synthetic`` took 10x longer at 2 threads than at 1 (BENCHMARKS.md, "Threads").
    On an idle machine this keeps every core.
    """
    cpus = available_cpus() if cpus is None else cpus
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cpus, math.floor(cpus - load + 0.5)))


_chosen_threads: int | None = None


def configure_threads(threads: int | str | None) -> int:
    """Sets torch's intra-op threads for the process and returns the count: an int as
    given, ``auto`` by :func:`auto_threads` (decided once per process, before this
    process's own work raises the load), ``None`` leaves torch's default."""
    global _chosen_threads
    if threads == "auto":
        if _chosen_threads is None:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
            _chosen_threads = auto_threads(load=load)
            log.info("threads: auto -> %d (%d CPUs available, load average %.1f)",
                     _chosen_threads, available_cpus(), load)  # fmt: skip
        threads = _chosen_threads
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()
