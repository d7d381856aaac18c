"""Helpers shared by the benchmarks: machine description, peak memory, timing."""

from __future__ import annotations

import os
import platform
import resource
import time
from contextlib import contextmanager

import torch


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads")  # fmt: skip


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_memory_mib() -> dict[str, float]:
    """Resident memory now, split into anonymous memory and pages of mapped files (clean
    file pages, e.g. of memory-mapped edges, count in the peak but the kernel can drop
    them); empty where ``/proc`` has no such lines."""
    fields = {"RssAnon": "anonymous", "RssFile": "file"}
    try:
        with open("/proc/self/status") as f:
            lines = [line.split() for line in f if line.split(":")[0] in fields]
    except OSError:
        return {}
    return {fields[line[0].rstrip(":")]: int(line[1]) / 1024 for line in lines}


@contextmanager
def timer():
    result = {}
    start = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - start
