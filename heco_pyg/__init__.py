"""heco_pyg: HeCo self-supervised embeddings of scholarly papers in PyTorch Geometric."""

__version__ = "0.1.0"
