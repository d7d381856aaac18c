"""heco_pyg: HeCo self-supervised embeddings of scholarly papers in PyTorch Geometric."""

from omegaconf import OmegaConf

from heco_pyg.runs.naming import run_name

__version__ = "0.1.0"

# ``${run_name:...}`` names run folders (conf/hydra/default.yaml); registered here because
# Hydra resolves hydra.run.dir before a command's own code runs.
if not OmegaConf.has_resolver("run_name"):
    OmegaConf.register_new_resolver("run_name", run_name)
