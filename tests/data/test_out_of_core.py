"""The out-of-core build (edges on disk, positives by row blocks) equals the in-memory one."""

import math

import numpy as np
import torch

from heco_pyg.data.edge_files import EdgeFile, SymmetricEdgeWriter, open_edges, store_adjacency
from heco_pyg.data.metapaths import AddMetaPathCounts
from heco_pyg.data.pipeline import PAPER_METAPATHS, prepare_paper_graph
from heco_pyg.data.positives import AddPositives
from heco_pyg.data.synthetic import generate_synthetic


def small_graph():
    return generate_synthetic(num_papers=400, num_authors=500, num_concepts=200, seed=1)


def test_out_of_core_build_equals_in_memory(tmp_path, monkeypatch):
    # Small buckets and blocks, so the bucket routing and the block joins are exercised.
    monkeypatch.setattr("heco_pyg.data.edge_files.BUCKET_ENTRIES", 1_000)
    monkeypatch.setattr("heco_pyg.data.positives.POSITIVE_BLOCK_ROWS", 64)
    monkeypatch.setattr("heco_pyg.data.positives.POSITIVE_BLOCK_ENTRIES", 300)
    memory = prepare_paper_graph(small_graph(), {"author": 2, "concept": 2}, pos_num=4,
                                 metapath_topk=7)  # fmt: skip
    metapaths = AddMetaPathCounts(PAPER_METAPATHS, max_df={"concept": 0.05}, topk=7,
                                  max_degree={"author": "auto", "concept": "auto"},
                                  block_size=50, workdir=tmp_path)  # fmt: skip
    disk = AddPositives(4)(metapaths(small_graph()))
    assert disk.metapath_workdir == str(tmp_path) and not hasattr(memory, "metapath_workdir")
    for name in ("PAP", "PCP"):
        expected, actual = memory["paper", name, "paper"], disk["paper", name, "paper"]
        assert expected.edge_index.size(1) > 400
        assert torch.equal(actual.edge_index, expected.edge_index)
        assert torch.equal(actual.edge_weight, expected.edge_weight)
        assert disk.metapath_stats[name] == memory.metapath_stats[name]
    assert torch.equal(disk.positive_index, memory.positive_index)


def test_edges_on_disk_are_memory_mapped_and_read_back_by_rows(tmp_path):
    writer = SymmetricEdgeWriter(tmp_path, "PXP", num_nodes=5, expected_entries=4)
    writer.add(np.array([0, 0, 3]), np.array([1, 4, 1]), np.array([2.0, 1.0, 5.0]))
    writer.add(np.array([4]), np.array([0]), np.array([3.0]))  # the mirror of (0, 4): max wins
    assert writer.finish() == 6
    index, weight = open_edges(tmp_path, "PXP")
    assert index.tolist() == [[0, 0, 1, 1, 3, 4], [1, 4, 0, 3, 1, 0]]
    assert weight.tolist() == [2.0, 3.0, 2.0, 5.0, 5.0, 3.0]
    assert index.stride() == (1, 2)  # a view of the file's [E, 2] rows, not a copy
    block = EdgeFile(tmp_path, "PXP").block(1, 4)
    assert block.toarray().tolist() == [[2, 0, 0, 5, 0], [0] * 5, [0, 5, 0, 0, 0]]


def test_a_stored_adjacency_is_mapped_and_an_earlier_mapping_survives_a_rewrite(tmp_path):
    blocks = [(torch.tensor([0, 2]), torch.tensor([0.5, 0.25])), (torch.tensor([1]), torch.ones(1))]
    col, value = store_adjacency(tmp_path, "PXP", iter(blocks))
    assert col.tolist() == [0, 2, 1] and value.tolist() == [0.5, 0.25, 1.0]
    assert col.dtype == torch.long and value.dtype == torch.float32
    again, _ = store_adjacency(tmp_path, "PXP", iter([(torch.tensor([7]), torch.zeros(1))]))
    assert again.tolist() == [7] and col.tolist() == [0, 2, 1]  # the old file, still mapped
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "PXP_adjacency_col.npy", "PXP_adjacency_value.npy"]  # fmt: skip


def test_a_graph_built_out_of_core_trains_a_mini_batch_step(tmp_path):
    from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
    from heco_pyg.nn import HeCoMean
    from heco_pyg.training.loss import HeCoLoss
    from heco_pyg.training.trainer import Trainer

    data = prepare_paper_graph(small_graph(), {"author": 2, "concept": 2}, workdir=tmp_path)
    assert data["paper", "PCP", "paper"].edge_index.stride() == (1, 2)  # still the file's view
    torch.manual_seed(0)
    model = HeCoMean(**model_arguments(data), hidden_channels=8, sparse_embeddings=True,
                     metapath_sample_size=4)  # fmt: skip
    trainer = Trainer(max_epochs=1, batch_size=128, device="cpu", progress=False)
    trainer.fit(model, HeCoLoss(), model.prepare(**model_inputs(data)), positive_index(data))
    assert math.isfinite(trainer.history[0].loss)


def test_heco_prepared_on_an_out_of_core_graph_maps_its_adjacencies_from_files(
    tmp_path, monkeypatch
):
    from heco_pyg.data.edge_files import adjacency_paths
    from heco_pyg.data.graph import model_arguments, model_inputs, positive_index
    from heco_pyg.nn import HeCo
    from heco_pyg.training.loss import HeCoLoss
    from heco_pyg.training.trainer import Trainer

    monkeypatch.setattr("heco_pyg.nn.sparse.BLOCK_ROWS", 64)  # 7 blocks of 400 papers
    data = prepare_paper_graph(small_graph(), {"author": 2, "concept": 2}, workdir=tmp_path)
    inputs = model_inputs(data)
    assert set(inputs.pop("metapath_store")) == {"PAP", "PCP"}
    torch.manual_seed(0)
    model = HeCo(**model_arguments(data), hidden_channels=8, sparse_embeddings=True,
                 metapath_sample_size=4)  # fmt: skip
    streamed = model.prepare(**model_inputs(data))
    in_memory = model.prepare(**inputs)  # PyG's gcn_norm, then Adjacency.from_edges
    for name in ("PAP", "PCP"):
        got, want = streamed.metapaths[name].adjacency, in_memory.metapaths[name].adjacency
        assert want.degree.eq(1).any()  # papers with no meta-path neighbour
        assert torch.equal(got.rowptr, want.rowptr) and torch.equal(got.col, want.col)
        assert torch.equal(got.value, want.value)
        col_path, value_path = adjacency_paths(tmp_path, name)
        assert np.array_equal(np.load(col_path, mmap_mode="r"), want.col.numpy())
        assert np.array_equal(np.load(value_path, mmap_mode="r"), want.value.numpy())
    trainer = Trainer(max_epochs=1, batch_size=128, device="cpu", progress=False)
    trainer.fit(model, HeCoLoss(), streamed, positive_index(data))
    assert math.isfinite(trainer.history[0].loss)


def test_an_out_of_core_adjacency_moves_its_row_pointers_only(tmp_path):
    """Moved to a device that is not the host (``meta``: no GPU needed), a memory-mapped
    meta-path adjacency keeps its entries on the host (each batch's are gathered there and
    copied, ``Adjacency.entries``; on a GPU: tests/test_cuda.py); in-memory ones move."""
    from heco_pyg.data.graph import model_arguments, model_inputs
    from heco_pyg.nn import HeCo

    data = prepare_paper_graph(small_graph(), {"author": 2, "concept": 2}, workdir=tmp_path)
    model = HeCo(**model_arguments(data), hidden_channels=8, metapath_sample_size=4)
    moved = model.prepare(**model_inputs(data)).to("meta")
    for name in ("PAP", "PCP"):
        adjacency = moved.metapaths[name].adjacency
        assert adjacency.host_entries and adjacency.rowptr.device.type == "meta"
        assert adjacency.col.device.type == adjacency.value.device.type == "cpu"
    assert moved.schema["author"].col.device.type == "meta"
