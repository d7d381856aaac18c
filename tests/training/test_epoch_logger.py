import math

import pytest
import torch

from heco_pyg.evaluation.diagnostics import alignment, pair_alignment, uniformity
from heco_pyg.nn.containers import HeCoOutput
from heco_pyg.training.epoch_logger import EpochLogger, attention_entropy, view_diagnostics
from heco_pyg.training.trainer import EpochRecord


class RecordingTracker:
    def __init__(self, mode="offline"):
        self.mode = mode
        self.calls = []

    def log(self, values, step=None):
        self.calls.append((step, dict(values)))

    def histogram(self, values, num_bins=32):  # the adapter's: None when disabled
        return None if self.mode == "disabled" else ("histogram", values.numel(), num_bins)


def output(num_nodes=6, channels=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    schema = torch.randn(num_nodes, channels, generator=generator)
    return HeCoOutput(
        schema=schema,
        semantic=schema + 0.1 * torch.randn(num_nodes, channels, generator=generator),
        type_attention={"author": torch.tensor(0.7), "concept": torch.tensor(0.3)},
        semantic_attention={"PAP": torch.tensor(0.4), "PCP": torch.tensor(0.6)},
        node_attention={"author": torch.softmax(torch.randn(num_nodes, 3, generator=generator), 1)},
    )


def record(epoch):
    attention = {"attention/type/author": 0.7, "attention/semantic/PAP": 0.4}
    return EpochRecord(epoch, 3.0, 2.0, 4.0, 0.001, 0.5, attention)


def test_alignment_hand_computed():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[0.0, 2.0], [0.0, 3.0]])  # normalised: (0,1), (0,1)
    assert alignment(a, b) == pytest.approx((2 + 0) / 2)  # ||(1,-1)||^2 = 2
    assert alignment(a, b, alpha=1) == pytest.approx(math.sqrt(2) / 2)
    with pytest.raises(ValueError, match="paired rows"):
        alignment(a, b[:1])


def test_pair_alignment_equals_alignment_of_gathered_rows_in_any_chunks():
    torch.manual_seed(0)
    a, b = torch.randn(7, 3), torch.randn(5, 3)
    first, second = torch.randint(0, 7, (23,)), torch.randint(0, 5, (23,))
    expected = alignment(a[first], b[second])
    for chunk in (1, 4, 100):
        assert pair_alignment(a, b, first, second, chunk=chunk) == pytest.approx(expected)


def test_uniformity_hand_computed_and_bounds():
    z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    distances = torch.tensor([4.0, 2.0, 2.0])  # squared, pairs (0,1), (0,2), (1,2)
    assert uniformity(z) == pytest.approx(float(torch.exp(-2 * distances).mean().log()), rel=1e-5)
    assert uniformity(torch.ones(5, 3)) == pytest.approx(0.0, abs=1e-6)  # collapsed
    spread = torch.randn(3000, 16, generator=torch.Generator().manual_seed(0))
    state = torch.get_rng_state()
    sampled = uniformity(spread, max_nodes=500)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched
    assert sampled == pytest.approx(uniformity(spread, max_nodes=None), abs=0.05)


def test_attention_entropy():
    assert attention_entropy(torch.full((4, 5), 0.2)) == pytest.approx(1.0)
    assert attention_entropy(torch.eye(3)) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(attention_entropy(torch.ones(4, 1)))


def test_view_diagnostics_keys_and_positives():
    out = output()
    positives = torch.tensor([[0, 0, 1, 2], [0, 1, 1, 2]])
    values = view_diagnostics(out, positives)
    assert set(values) == {
        "diagnostics/alignment", "diagnostics/alignment_positives",
        *(f"diagnostics/{m}/{v}" for m in ("uniformity", "mean_cosine", "effective_rank")
          for v in ("schema", "semantic")),
    }  # fmt: skip
    self_only = view_diagnostics(out, torch.arange(6).repeat(2, 1))
    assert self_only["diagnostics/alignment_positives"] == pytest.approx(
        self_only["diagnostics/alignment"]
    )
    assert "diagnostics/alignment_positives" not in view_diagnostics(out)


def test_epoch_logger_policy():
    tracker = RecordingTracker()
    logger = EpochLogger(tracker, torch.arange(6).repeat(2, 1), histogram_every=2,
                         diagnostics_every=3)  # fmt: skip
    for epoch in range(1, 7):
        logger(record(epoch), output())
    steps = [step for step, _ in tracker.calls]
    assert steps == [1, 2, 3, 4, 5, 6]
    histogram_steps = [s for s, values in tracker.calls if "node_attention/author" in values]
    diagnostics_steps = [s for s, values in tracker.calls if "diagnostics/alignment" in values]
    assert histogram_steps == [1, 2, 4, 6] and diagnostics_steps == [1, 3, 6]
    first = tracker.calls[0][1]
    assert first["loss/total"] == 3.0 and first["loss/metapath"] == 2.0
    assert first["attention/type/author"] == 0.7 and "learning_rate" in first
    assert "diagnostics/alignment_positives" in first  # full batch: 6 rows, 6 nodes
    # history.csv rows: the same scalars, histograms as entropies, nothing due left out.
    assert len(logger.rows) == 6 and logger.rows[0]["loss"] == 3.0
    assert "node_attention/author/entropy" in logger.rows[0]
    assert "node_attention/author/entropy" not in logger.rows[2]
    assert not any(hasattr(v, "histogram") for row in logger.rows for v in row.values())


def test_epoch_logger_mini_batch_and_disabled_tracker():
    tracker = RecordingTracker(mode="disabled")
    logger = EpochLogger(tracker, torch.arange(10).repeat(2, 1), 1, 1)
    logger(record(1), output(num_nodes=4))  # a batch of 4 of 10 nodes
    values = tracker.calls[0][1]
    assert "diagnostics/alignment" in values
    assert "diagnostics/alignment_positives" not in values  # rows are not node ids
    assert "node_attention/author" not in values  # no histogram objects when disabled
    assert "node_attention/author/entropy" in values
    assert logger.rows[0]["epoch"] == 1 and "EpochLogger(histogram_every=1" in repr(logger)
