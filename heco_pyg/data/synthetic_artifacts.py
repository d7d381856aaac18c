"""Writes the synthetic graph in the research notebook's artifacts format:
``python -m heco_pyg.data.synthetic_artifacts --artifacts DIR [--num-papers N ...]``
(every keyword of :func:`~heco_pyg.data.synthetic.generate_synthetic` as an option).

A module of its own, which the package does not import: ``python -m`` of a module that
``heco_pyg.data`` imports itself would run it a second time (runpy's RuntimeWarning).
"""

from __future__ import annotations

import argparse
import inspect

from heco_pyg.data.artifacts import write_artifacts
from heco_pyg.data.synthetic import generate_synthetic


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", required=True, help="output folder")
    parser.add_argument(
        "--author-features",
        choices=["none", "onehot"],
        default="none",
        help="write features_authors.npz as [N, 0] (none) or a dense identity",
    )
    for name, parameter in inspect.signature(generate_synthetic).parameters.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(parameter.default),
                            default=parameter.default)  # fmt: skip
    args = vars(parser.parse_args(argv))
    path, author_features = args.pop("artifacts"), args.pop("author_features")
    data = generate_synthetic(**args)
    write_artifacts(data, path, author_one_hot=author_features == "onehot")
    print(f"wrote {data['paper'].num_nodes} papers in the artifacts format to {path}")


if __name__ == "__main__":
    main()
