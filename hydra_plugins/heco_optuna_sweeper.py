"""An Optuna (>= 4) sweeper for Hydra: ``python -m heco_pyg.train hparams_search=optuna``.

Hydra's own plugin (hydra-optuna-sweeper 1.3, its last release) needs optuna < 3; this
one asks an Optuna study for ``n_trials`` trials, ``n_jobs`` at a time, launches them with
Hydra's launcher and tells the study each job's return value (the ``optimized_metric``).
The search space is Hydra's sweep syntax, from ``hydra.sweeper.params`` and the command
line: ``interval(a, b)`` (``tag(log, interval(a, b))`` on a log scale; integers give an
integer range), ``choice(...)`` and ``range(...)`` (categorical); a plain value is fixed
for every trial. A failed or non-finite trial is told as failed. The study's best trial
goes to ``optimization_results.yaml`` in the sweep folder.

Hydra finds plugins in the ``hydra_plugins`` namespace and imports each of its modules at
start-up, so this module imports only Hydra; optuna is imported when a sweep starts.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def distribution(override: Override) -> Any:
    """The Optuna distribution of one sweep override."""
    import optuna.distributions as d

    value = override.value()
    if isinstance(value, IntervalSweep) and value.start is not None and value.end is not None:
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return d.IntDistribution(value.start, value.end, log=log_scale)
        return d.FloatDistribution(value.start, value.end, log=log_scale)
    choices: list[Any]
    if isinstance(value, RangeSweep):
        choices = list(override.sweep_iterator())
        return d.CategoricalDistribution(choices)
    if isinstance(value, ChoiceSweep):
        choices = list(override.sweep_iterator(transformer=str))
        return d.CategoricalDistribution(choices)
    raise ValueError(f"hydra.sweeper.params: {override.input_line} is not a sweep")


def search_space(overrides: list[Override]) -> tuple[dict[str, Any], list[str]]:
    """``({key: distribution}, fixed overrides)`` from parsed overrides."""
    space, fixed = {}, []
    for override in overrides:
        if override.is_sweep_override():
            space[override.get_key_element()] = distribution(override)
        else:
            fixed.append(f"{override.get_key_element()}={override.get_value_element_as_str()}")
    return space, fixed


class OptunaSweeper(Sweeper):
    """Optuna's ask-and-tell loop over Hydra jobs (module docstring)."""

    def __init__(
        self,
        sampler: Any = None,
        direction: str = "minimize",
        study_name: str | None = None,
        storage: str | None = None,
        n_trials: int = 20,
        n_jobs: int = 1,
        params: dict[str, str] | None = None,
    ) -> None:
        self.sampler, self.direction = sampler, direction
        self.study_name, self.storage = study_name, storage
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.params = dict(params or {})
        self.hydra_context = self.config = self.launcher = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[Any]:
        import optuna

        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        lines = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space, fixed = search_space(parser.parse_overrides(lines))
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        sampler = self.sampler  # Hydra instantiates it with the sweeper; a config otherwise
        sampler = instantiate(sampler) if isinstance(sampler, dict | DictConfig) else sampler
        study = optuna.create_study(study_name=self.study_name, storage=self.storage,
                                    sampler=sampler,
                                    direction=optuna.study.StudyDirection[self.direction.upper()],
                                    load_if_exists=True)  # fmt: skip
        returns: list[Any] = []
        while len(returns) < self.n_trials:
            size = min(self.n_jobs, self.n_trials - len(returns))
            trials = [study.ask(space) for _ in range(size)]
            batch = [[*fixed, *(f"{k}={v}" for k, v in t.params.items())] for t in trials]
            self.validate_batch_is_legal(batch)
            results = self.launcher.launch(batch, initial_job_idx=len(returns))
            for trial, result in zip(trials, results, strict=True):
                value = result.return_value if result.status == JobStatus.COMPLETED else None
                if value is None or not math.isfinite(float(value)):
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, float(value))
            returns.extend(results)
        best = study.best_trial  # raises when every trial failed
        summary = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        OmegaConf.save(OmegaConf.create(summary), sweep_dir / "optimization_results.yaml")
        log.info("Optuna: best %s = %s with %s", self.direction, best.value, best.params)
        return returns
