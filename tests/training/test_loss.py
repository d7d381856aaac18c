import math

import pytest
import torch

from heco_pyg.training.loss import (
    CrossViewLogSumExp,
    HeCoLoss,
    Workspace,
    scatter_logsumexp,
)


def hand_loss(metapath, schema, positives, tau):
    """Literal HeCo eq. 9-11 with Python loops: -log(sum_pos exp / sum_all exp)."""
    n = len(metapath)

    def cos(a, b):
        return float(torch.dot(a, b) / (a.norm() * b.norm()))

    def term(anchor_view, other_view):
        total = 0.0
        for i in range(n):
            all_ = sum(math.exp(cos(anchor_view[i], other_view[k]) / tau) for k in range(n))
            pos = sum(math.exp(cos(anchor_view[i], other_view[j]) / tau) for j in positives[i])
            total += -math.log(pos / all_)
        return total / n

    return term(metapath, schema), term(schema, metapath)


def test_loss_matches_hand_computation():
    torch.manual_seed(0)
    metapath, schema = torch.randn(4, 3), torch.randn(4, 3)
    positives = {0: [0, 2], 1: [1], 2: [2, 0, 3], 3: [3]}
    pairs = torch.tensor([[a, p] for a, ps in positives.items() for p in ps]).t()
    parts = HeCoLoss(tau=0.7, lam=0.3)(metapath, schema, pairs)
    expected_mp, expected_sc = hand_loss(metapath, schema, positives, 0.7)
    assert parts.metapath.item() == pytest.approx(expected_mp, rel=1e-5)
    assert parts.schema.item() == pytest.approx(expected_sc, rel=1e-5)
    assert parts.loss.item() == pytest.approx(0.3 * expected_mp + 0.7 * expected_sc, rel=1e-5)


def test_loss_is_zero_when_everything_is_positive_and_finite_when_extreme():
    z = torch.randn(5, 4)
    everything = torch.cartesian_prod(torch.arange(5), torch.arange(5)).t()
    assert HeCoLoss()(z, z, everything).loss.abs().item() < 1e-5
    # Huge logits (tiny tau) stay finite thanks to log-sum-exp.
    self_only = torch.arange(5).repeat(2, 1)
    assert torch.isfinite(HeCoLoss(tau=1e-4)(z, z * -1, self_only).loss)


def test_loss_gradient_flows_to_both_views():
    metapath = torch.randn(6, 4, requires_grad=True)
    schema = torch.randn(6, 4, requires_grad=True)
    HeCoLoss()(metapath, schema, torch.arange(6).repeat(2, 1)).loss.backward()
    assert metapath.grad.abs().sum() > 0 and schema.grad.abs().sum() > 0


def test_scatter_logsumexp():
    src = torch.tensor([1.0, 2.0, 3.0, 1000.0])
    index = torch.tensor([0, 0, 1, 2])
    out = scatter_logsumexp(src, index, 3)
    assert out[0].item() == pytest.approx(math.log(math.e + math.e**2), rel=1e-6)
    assert out[2].item() == pytest.approx(1000.0)


def test_invalid_hyperparameters():
    with pytest.raises(ValueError, match="tau"):
        HeCoLoss(tau=0)
    with pytest.raises(ValueError, match="lam"):
        HeCoLoss(lam=1.5)


@pytest.mark.parametrize("tau", [0.8, 0.2, 0.01])
def test_fused_log_sum_exp_matches_autograd(tau):
    torch.manual_seed(1)
    a = torch.randn(7, 5, requires_grad=True)
    b = torch.randn(7, 5, requires_grad=True)
    pairs = torch.tensor([[0, 0, 1, 2, 3, 4, 5, 6, 6], [0, 3, 1, 2, 3, 4, 5, 6, 1]])
    loss = HeCoLoss(tau=tau, lam=0.4)(a, b, pairs).loss
    grad_a, grad_b = torch.autograd.grad(loss, (a, b))

    na, nb = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
    s = na @ nb.t() / tau
    mask = torch.zeros(7, 7, dtype=torch.bool)
    mask[pairs[0], pairs[1]] = True
    l_mp = (s.logsumexp(1) - s.masked_fill(~mask, -torch.inf).logsumexp(1)).mean()
    l_sc = (s.logsumexp(0) - s.t().masked_fill(~mask, -torch.inf).logsumexp(1)).mean()
    reference = 0.4 * l_mp + 0.6 * l_sc
    ref_a, ref_b = torch.autograd.grad(reference, (a, b))
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)
    assert torch.allclose(grad_a, ref_a, atol=1e-5) and torch.allclose(grad_b, ref_b, atol=1e-5)


def _reference_log_sums(a, b, tau, anchor, positive):
    s = a @ b.t() / tau
    mask = torch.zeros_like(s, dtype=torch.bool)
    mask[anchor, positive] = True
    return (s.logsumexp(dim=1), s.logsumexp(dim=0),
            s.masked_fill(~mask, -torch.inf).logsumexp(dim=1),
            s.t().masked_fill(~mask, -torch.inf).logsumexp(dim=1))  # fmt: skip


def _weighted_sum(outputs, weights):
    return sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))


# (anchor, positive) pairs of 6 nodes, not symmetric, not all with self.
PAIRS = torch.tensor([[0, 0, 1, 2, 2, 3, 4, 5, 5], [0, 4, 3, 2, 5, 3, 1, 5, 0]])


@pytest.mark.parametrize("block_rows", [1, 4, 256])
def test_blocked_log_sums_match_autograd(block_rows):
    torch.manual_seed(2)
    a = torch.nn.functional.normalize(torch.randn(6, 4), dim=1).requires_grad_()
    b = torch.nn.functional.normalize(torch.randn(6, 4), dim=1).requires_grad_()
    weights = [torch.randn(6) for _ in range(4)]
    outputs = CrossViewLogSumExp.apply(a, b, 0.5, *PAIRS, Workspace(), block_rows)
    grads = torch.autograd.grad(_weighted_sum(outputs, weights), (a, b))
    references = _reference_log_sums(a, b, 0.5, *PAIRS)
    ref_grads = torch.autograd.grad(_weighted_sum(references, weights), (a, b))
    for output, reference in zip(outputs, references, strict=True):
        assert torch.allclose(output, reference, atol=1e-6)
    for grad, ref in zip(grads, ref_grads, strict=True):
        assert torch.allclose(grad, ref, atol=1e-6)


def test_workspace_is_reused_across_steps_and_never_shared_by_live_graphs():
    torch.manual_seed(3)
    workspace = Workspace()
    a = torch.nn.functional.normalize(torch.randn(6, 3), dim=1).requires_grad_()
    b = torch.nn.functional.normalize(torch.randn(6, 3), dim=1).requires_grad_()

    def gradients(outputs):
        return torch.autograd.grad(sum(o.sum() for o in outputs), (a, b))

    expected = gradients(_reference_log_sums(a, b, 0.8, *PAIRS))
    first = CrossViewLogSumExp.apply(a, b, 0.8, *PAIRS, workspace)
    buffer = workspace.buffer
    # A second graph while the first is alive must not overwrite the first's exp(S).
    second = CrossViewLogSumExp.apply(a, b * -1.0, 0.8, *PAIRS, workspace)
    assert workspace.buffer is buffer
    for grad, ref in zip(gradients(first), expected, strict=True):
        assert torch.allclose(grad, ref, atol=1e-6)
    gradients(second)
    # Backward has released the lease: the next step reuses the same memory.
    third = CrossViewLogSumExp.apply(a, b, 0.8, *PAIRS, workspace)
    assert workspace.buffer.data_ptr() == buffer.data_ptr()
    for grad, ref in zip(gradients(third), expected, strict=True):
        assert torch.allclose(grad, ref, atol=1e-6)
    # A graph dropped without backward releases it too.
    del third
    fourth = CrossViewLogSumExp.apply(a, b, 0.8, *PAIRS, workspace)
    assert workspace.lease() is not None and workspace.buffer is buffer
    del fourth
    # A smaller (mini-)batch reuses the same storage.
    smaller = CrossViewLogSumExp.apply(
        a[:4], b[:4], 0.8, *torch.tensor([[0, 1], [0, 3]]), workspace
    )
    assert workspace.buffer is buffer
    del smaller
    workspace.release()
    assert workspace.buffer is None


def test_blocked_log_sums_backward_runs_once():
    a = torch.randn(6, 2, requires_grad=True)
    outputs = CrossViewLogSumExp.apply(a, torch.randn(6, 2), 1.0, *PAIRS)
    sum(o.sum() for o in outputs).backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once per forward"):
        sum(o.sum() for o in outputs).backward()
