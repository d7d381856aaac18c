"""heco_pyg: HeCo self-supervised embeddings of scholarly papers in PyTorch Geometric."""

from omegaconf import OmegaConf

__version__ = "0.1.0"


def _run_name(*parts: str) -> str:
    """:func:`heco_pyg.runs.naming.run_name`, imported when Hydra first resolves it: the
    package's root imports nothing of the package, so that importing a module of a low
    floor (``heco_pyg.core``) loads nothing above it (README, "Code map")."""
    from heco_pyg.runs.naming import run_name

    return run_name(*parts)


# ``${run_name:...}`` names run folders (conf/hydra/default.yaml); registered here because
# Hydra resolves hydra.run.dir before a command's own code runs.
if not OmegaConf.has_resolver("run_name"):
    OmegaConf.register_new_resolver("run_name", _run_name)
