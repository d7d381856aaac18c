"""One recommendation table over several runs (seeds) scored on the same split:
``python scripts/recommend_table.py RUN_DIR [RUN_DIR ...]`` prints ``mean ± std`` per cell
of each run's ``recommend_eval.json`` (``python -m heco_pyg.evaluate task=recommend``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from heco_pyg.evaluation.tables import recommendation_markdown


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run dirs with recommend_eval.json")
    args = parser.parse_args(argv)
    summaries = []
    for run in args.runs:
        path = run / "recommend_eval.json"
        if not path.is_file():
            parser.error(
                f"{path}: missing; python -m heco_pyg.evaluate run_dir={run} task=recommend"
            )
        summaries.append(json.loads(path.read_text()))
    if len({json.dumps(s["split"], sort_keys=True) for s in summaries}) > 1:
        parser.error("the runs were scored on different splits (evaluate seed=...): not one table")
    table = recommendation_markdown(summaries)
    print(table)
    return table


if __name__ == "__main__":
    main()
