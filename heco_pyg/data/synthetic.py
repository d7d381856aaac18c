"""An offline, OpenAlex-shaped paper/author/concept graph with planted research fields.

Each paper belongs to a *field* (its label) and, inside it, to a *subtopic*. Authors
and specific concepts (levels 2-5) have a home subtopic and are drawn mostly from the
paper's own; level-1 concepts follow the field; a handful of generic level-0 concepts
sit on most papers (they make an unpruned PCP nearly complete, as in OpenAlex).
Popularity within a group is Zipf-like, so degrees are heavy-tailed. Paper features
carry only a weak field signal (text is a noisy view), so the graph must be used to
recover the fields. Citations (``data.citation_index``, outside the edge stores) stay
mostly inside a subtopic; they are for evaluation only.

Write the graph in the notebook's artifacts format::

    python -m heco_pyg.data.synthetic --artifacts DIR --num-papers 5000 ...
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from heco_pyg.core.errors import DataError
from heco_pyg.data.graph import build_graph


def _zipf_weights(rng: np.random.Generator, size: int, exponent: float = 1.1) -> np.ndarray:
    return rng.permutation(1.0 / np.arange(1, size + 1) ** exponent)


def _draw_members(
    rng: np.random.Generator, member_group: np.ndarray, weight: np.ndarray, draw_group: np.ndarray
) -> np.ndarray:
    """For each draw, a member of the draw's group, chosen with probability ~ weight."""
    order = np.argsort(member_group, kind="stable")
    group_sorted, cumulative = member_group[order], np.cumsum(weight[order])
    # Groups are few small ints: look their bounds up once, not once per draw.
    bounds = np.searchsorted(group_sorted, np.arange(int(draw_group.max(initial=0)) + 2))
    first, last = bounds[draw_group], bounds[draw_group + 1]
    if (first == last).any():
        raise DataError(
            "the synthetic graph is too small for its groups (a field or subtopic got no "
            "authors or concepts): raise data.num_authors / data.num_concepts or lower "
            "data.num_fields"
        )
    low = np.where(first > 0, cumulative[first - 1], 0.0)
    point = low + rng.random(len(draw_group)) * (cumulative[last - 1] - low)
    return order[np.minimum(np.searchsorted(cumulative, point, side="right"), last - 1)]


def _edges_by_group(
    rng, paper_group, member_group, weight, mean_per_paper, own_probability, num_groups
):  # fmt: skip
    """Paper -> member edges: Poisson counts, own group with ``own_probability``."""
    count = rng.poisson(mean_per_paper, len(paper_group)) + 1
    paper = np.repeat(np.arange(len(paper_group)), count)
    own = rng.random(len(paper)) < own_probability
    group = np.where(own, paper_group[paper], rng.integers(0, num_groups, len(paper)))
    return np.stack([paper, _draw_members(rng, member_group, weight, group)], axis=1)


def _unique_pairs(pairs: np.ndarray, num_columns: int) -> np.ndarray:
    """``np.unique(pairs, axis=0)`` for non-negative pairs with ``pairs[:, 1] < num_columns``,
    by a 1-D unique on the int64 keys ``row * num_columns + column`` (the same sorted
    rows, without the structured-view sort that is slow and large at 10^8 rows)."""
    keys = pairs[:, 0].astype(np.int64) * num_columns + pairs[:, 1]
    keys.sort()  # a sort, not np.unique: numpy 2's hash-based unique is ~10x slower here
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    return np.stack(np.divmod(keys, num_columns), axis=1)


def _paper_features(
    rng: np.random.Generator, centre: np.ndarray, field: np.ndarray, signal: float,
    chunk_rows: int = 1 << 18,
) -> np.ndarray:  # fmt: skip
    """``signal * centre[field] + N(0, 1)`` as float32, drawn in row chunks: the same
    numbers as one float64 draw (the generator's stream is row-major), without its
    three float64 ``[num_papers, dim]`` temporaries."""
    x = np.empty((len(field), centre.shape[1]), dtype=np.float32)
    for start in range(0, len(field), chunk_rows):
        rows = field[start : start + chunk_rows]
        x[start : start + len(rows)] = signal * centre[rows] + rng.normal(
            size=(len(rows), centre.shape[1])
        )
    return x


def generate_synthetic(
    num_papers: int = 3000,
    num_authors: int = 6000,
    num_concepts: int = 1200,
    num_fields: int = 5,
    subtopics_per_field: int = 4,
    authors_per_paper: float = 3.0,
    concepts_per_paper: float = 10.0,
    generic_concepts_per_paper: float = 2.0,
    feature_dim: int = 64,
    concept_feature_dim: int = 32,
    feature_signal: float = 0.2,
    own_subtopic_probability: float = 0.75,
    citations_per_paper: float = 5.0,
    seed: int = 0,
) -> HeteroData:
    """Generates the graph (no meta-paths yet); sizes and mixing are the arguments."""
    rng = np.random.default_rng(seed)
    num_subtopics = num_fields * subtopics_per_field
    field = rng.integers(0, num_fields, num_papers)
    subtopic = field * subtopics_per_field + rng.integers(0, subtopics_per_field, num_papers)

    # Authors: a home subtopic each, Zipf popularity.
    author_subtopic = np.arange(num_authors) % num_subtopics
    pa = _edges_by_group(
        rng, subtopic, author_subtopic, _zipf_weights(rng, num_authors),
        authors_per_paper - 1, own_subtopic_probability + 0.1, num_subtopics,
    )  # fmt: skip

    # Concepts: ~19 generic level-0, 10 % level-1 (by field), the rest levels 2-5 (by subtopic).
    num_generic = min(19, max(1, num_concepts // 50))
    num_level1 = max(num_fields, num_concepts // 10)
    num_specific = num_concepts - num_generic - num_level1
    if num_specific < num_subtopics:
        raise ValueError(f"num_concepts={num_concepts} is too small for {num_subtopics} subtopics")
    level = np.concatenate([
        np.zeros(num_generic, dtype=np.int64),
        np.ones(num_level1, dtype=np.int64),
        rng.integers(2, 6, num_specific),
    ])  # fmt: skip
    level1_field = np.arange(num_level1) % num_fields
    specific_subtopic = np.arange(num_specific) % num_subtopics
    generic = _edges_by_group(
        rng, np.zeros(num_papers, dtype=np.int64), np.zeros(num_generic, dtype=np.int64),
        _zipf_weights(rng, num_generic, 1.5), generic_concepts_per_paper - 1, 1.0, 1,
    )  # fmt: skip
    broad = _edges_by_group(
        rng, field, level1_field, _zipf_weights(rng, num_level1),
        max(concepts_per_paper * 0.3 - 1, 0), 0.6, num_fields,
    )  # fmt: skip
    specific = _edges_by_group(
        rng, subtopic, specific_subtopic, _zipf_weights(rng, num_specific),
        max(concepts_per_paper * 0.7 - 1, 0), own_subtopic_probability, num_subtopics,
    )  # fmt: skip
    broad[:, 1] += num_generic
    specific[:, 1] += num_generic + num_level1
    # Unique pairs now, and the draws dropped: at 10^7 papers each is gigabytes.
    pa = _unique_pairs(pa, num_authors)
    pc = _unique_pairs(np.concatenate([generic, broad, specific]), num_concepts)
    del generic, broad, specific

    # Features: a weak field signal in the paper text, names of concepts by group.
    # Centres of norm 8 whatever the dimension, so feature_signal sets the same separability.
    field_centre = rng.normal(size=(num_fields, feature_dim)) * 8 / np.sqrt(feature_dim)
    paper_x = _paper_features(rng, field_centre, field, feature_signal)
    group_of_concept = np.concatenate([
        rng.integers(0, num_subtopics, num_generic),
        level1_field * subtopics_per_field,
        specific_subtopic,
    ])  # fmt: skip
    concept_centre = rng.normal(size=(num_subtopics, concept_feature_dim))
    concept_x = concept_centre[group_of_concept] + rng.normal(
        scale=0.5, size=(num_concepts, concept_feature_dim)
    )

    # Citations: mostly inside the subtopic, for evaluation only.
    cites = _edges_by_group(
        rng, subtopic, subtopic, np.ones(num_papers), citations_per_paper - 1, 0.8, num_subtopics
    )
    cites = _unique_pairs(cites[cites[:, 0] != cites[:, 1]], num_papers)

    data = build_graph(
        target="paper",
        num_nodes={"paper": num_papers, "author": num_authors, "concept": num_concepts},
        schema_edges={"author": pa, "concept": pc},
        features={"paper": paper_x, "author": None, "concept": concept_x},
        source="synthetic",
        labels=field,
        node_ids=[f"S{i}" for i in range(num_papers)],
    )
    data["concept"].level = torch.from_numpy(level)
    data.citation_index = torch.from_numpy(cites.T.copy())
    return data
