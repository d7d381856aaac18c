"""scripts/reproduce.py's statistics and table rows (the script is not part of the package)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.scripts import load_script


@pytest.fixture(scope="module")
def reproduce():
    return load_script("reproduce")


def test_statistics_across_seeds(reproduce):
    cell = reproduce.statistics([88.0, 90.0, 89.0])
    assert cell["mean"] == pytest.approx(89.0)
    assert cell["std_across_seeds"] == pytest.approx(1.0)  # sample std, ddof 1
    low, high = cell["ci95"]
    assert (low, high) == pytest.approx((89.0 - 2.4843, 89.0 + 2.4843), abs=1e-3)  # t(0.975, 2)
    row = reproduce._row("Macro-F1", "20", cell, 88.56)
    assert "89.00 ± 1.00" in row and "[86.52, 91.48]" in row and "+0.44" in row


def test_one_seed_has_no_spread_and_writes_valid_json(reproduce):
    cell = reproduce.statistics([90.74])
    assert cell["std_across_seeds"] is None and cell["ci95"] is None
    json.loads(json.dumps(cell, allow_nan=False))  # no NaN in summary.json
    row = reproduce._row("Macro-F1", "20", cell, 91.28)
    assert "90.74 (one seed)" in row and "nan" not in row and "-0.54" in row
