import torch

from heco_pyg.nn import NodeAttention, SemanticAttention


def test_semantic_attention_weights_sum_to_one_and_mix_views():
    attention = SemanticAttention(8)
    views = torch.randn(3, 5, 8)
    out, weight = attention(views)
    assert out.shape == (5, 8) and weight.shape == (3,)
    assert torch.isclose(weight.sum(), torch.tensor(1.0))
    assert torch.allclose(out, torch.einsum("m,mnc->nc", weight, views))
    assert repr(attention) == "SemanticAttention(8)"


def test_node_attention_weights_sum_to_one_per_node():
    attention = NodeAttention(4)
    target, neighbours = torch.randn(6, 4), torch.randn(6, 3, 4)
    out, weight = attention(target, neighbours)
    assert out.shape == (6, 4) and weight.shape == (6, 3)
    assert torch.allclose(weight.sum(dim=1), torch.ones(6))
    # identical neighbours: the output is that neighbour whatever the weights
    same = neighbours[:, :1].expand(-1, 3, -1)
    assert torch.allclose(attention(target, same)[0], neighbours[:, 0], atol=1e-6)


def test_node_attention_over_distinct_rows_equals_the_gathered_form():
    # The model passes each distinct neighbour once and an index of the sampled slots.
    torch.manual_seed(0)
    attention = NodeAttention(4).eval()
    target, rows = torch.randn(5, 4), torch.randn(3, 4, requires_grad=True)
    index = torch.tensor([[0, 2], [1, 1], [2, 0], [0, 0], [1, 2]])
    out, weight = attention(target, rows, index)
    gathered, gathered_weight = attention(target, rows[index])
    assert torch.allclose(out, gathered, atol=1e-6)
    assert torch.allclose(weight, gathered_weight)
    grad = torch.autograd.grad(out.square().sum(), rows)[0]
    assert torch.allclose(grad, torch.autograd.grad(gathered.square().sum(), rows)[0], atol=1e-6)
