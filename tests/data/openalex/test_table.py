"""WorkTable: the columns read back equal to the reduced Work objects they were made of."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heco_pyg.data.openalex.graph import WorkReducer
from heco_pyg.data.openalex.table import FLAGS, WorkTable
from tests.helpers.openalex_factory import work


def reduced_works():
    reducer = WorkReducer()
    records = [
        work(1, authors=("A1", None, "A2"), references=(2, 3)),
        work(2, authors=(), title=None, abstract=None, topic=None),
        work(3, authors=("A2", "A3"), concepts=(), is_authors_truncated=True, references=(1,)),
        work(1, authors=("A4",), references=(3,), updated="2026-01-01"),  # W1, newer
    ]
    return [reducer.reduce(record)[0] for record in records]


def test_selected_rows_read_back_as_the_works_fields():
    works = reduced_works()
    table = WorkTable()
    rows = [table.add(w) for w in works]
    assert rows == [0, 1, 2, 3]
    table.select({"W1": 3, "W2": 1, "W3": 2})  # W1's newer version keeps W1's place
    kept = [works[3], works[1], works[2]]
    assert len(table) == 3 and table.ids == ["W1", "W2", "W3"]
    assert table.column("titles") == [w.title for w in kept]
    assert table.column("dois") == [w.doi for w in kept]
    assert table.column("labels") == [w.label for w in kept]
    for name in FLAGS:
        assert table.flag(name).tolist() == [getattr(w, name) for w in kept]
    assert table.null_authors().tolist() == [w.null_author_ids for w in kept]
    papers, numbers = table.entries("references")
    assert papers.tolist() == [0, 2] and numbers.tolist() == [3, 1]
    for name in ("authors", "concepts"):
        assert table.lengths(name).tolist() == [len(getattr(w, name)) for w in kept]
        # as assemble_graph numbered them from the strings: first appearance in paper order
        keys = [key for w in kept for key in getattr(w, name)]
        index, uniques = pd.factorize(pd.Series(keys, dtype=object))
        papers = np.repeat(np.arange(3), [len(getattr(w, name)) for w in kept])
        edges, ids = table.factorize(name)
        assert ids == list(uniques)
        assert edges.tolist() == np.stack([papers, index]).T.tolist()


def test_an_empty_selection_has_no_entries():
    table = WorkTable()
    table.select({})
    edges, ids = table.factorize("authors")
    assert edges.shape == (0, 2) and ids == [] and len(table) == 0
