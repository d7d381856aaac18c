"""Imported first by every command module, before torch: idle OpenMP threads sleep.

A spinning OpenMP thread holds a core that another job needs; on a busy 2-core machine 2
spinning threads made an epoch ~10x slower (BENCHMARKS.md, "Threads"). OpenMP reads
``OMP_WAIT_POLICY`` once, when torch loads it, so this runs before any torch import; a
value already in the environment wins. The commands set it, not ``import heco_pyg``: a
library leaves its caller's environment alone.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
