"""Hydra configs, shipped in the package. A package (this file) so that Hydra finds them as
``pkg://heco_pyg.conf`` when a command runs as a console script (``heco-train``).
"""
