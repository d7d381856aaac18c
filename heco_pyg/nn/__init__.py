"""HeCo's building blocks: attention layers, the two view encoders and the model."""

from heco_pyg.nn.attention import NodeAttention, SemanticAttention
from heco_pyg.nn.containers import GraphInputs, HeCoOutput
from heco_pyg.nn.heco import HeCo
from heco_pyg.nn.heco_mean import HeCoMean
from heco_pyg.nn.metapath import GraphConvolution, MeanMetaPathEncoder, MetaPathEncoder
from heco_pyg.nn.projection import TypeProjection
from heco_pyg.nn.schema import MeanSchemaEncoder, SchemaEncoder
from heco_pyg.nn.sparse import Adjacency

__all__ = [
    "Adjacency",
    "GraphConvolution",
    "GraphInputs",
    "HeCo",
    "HeCoMean",
    "HeCoOutput",
    "MeanMetaPathEncoder",
    "MeanSchemaEncoder",
    "MetaPathEncoder",
    "NodeAttention",
    "SchemaEncoder",
    "SemanticAttention",
    "TypeProjection",
]
