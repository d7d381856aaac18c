# ruff: noqa: E501  (a table: one line per key reads best)
"""Every config key the commands read: its type, allowed range and a one-line description.

One table serves three purposes: :func:`heco_pyg.config.validate.validate_config` checks a
composed config against it before any work, ``--help`` prints it, and a misspelt key gets
its nearest name from it ("did you mean ``trainer.max_epochs``?").

Why a table and not Hydra structured configs: the YAML files stay the one place for the
defaults (experiments stay deltas over them), OmegaConf's structured configs check types
but not ranges (their ``__post_init__`` is not run on merge), and their docstrings do not
reach ``--help``. A key a group's YAML adds must be added here too; a test checks that.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One key: ``kind`` is int, float, bool, str, dict or list; ``low``/``high`` bound a
    number (``low_open``: strictly above ``low``); ``choices`` lists the allowed strings;
    ``null`` allows None; ``words`` are strings allowed besides a number (``auto``)."""

    kind: type
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    null: bool = False
    words: tuple[str, ...] = ()

    def allowed(self) -> str:
        """The allowed values in words: ``int >= 1``, ``float in (0, 10]``, ``adam|adamw``."""
        if self.choices:
            text = "|".join(self.choices)
        elif self.low is not None and self.high is not None:
            text = f"{self.kind.__name__} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            text = f"{self.kind.__name__} {'>' if self.low_open else '>='} {self.low:g}"
        else:
            text = self.kind.__name__
        text = " or ".join([text, *self.words])
        return f"{text} or null" if self.null else text


MAX_SEED = 2**32 - 1  # numpy's seeds stop there


def _s(kind, help, low=None, high=None, low_open=False, choices=(), null=False, words=()
       ) -> Setting:  # fmt: skip
    return Setting(kind, help, low, high, low_open, tuple(choices), null, tuple(words))


GROUPS = {
    "data": "the graph: synthetic (default, offline), openalex, citeulike, or a HeCo benchmark (acm, dblp, aminer, freebase)",
    "model": "the encoder: heco (the paper) or heco_mean (neighbour means, faster)",
    "loss": "HeCo's cross-view contrastive loss",
    "trainer": "the training loop: default, ddp (torchrun), official (the HeCo release's loop)",
    "logger": "experiment tracking: wandb (offline by default) or none",
    "protocol": "the evaluation at the end of training: default, heco (the paper's 50 probes)",
    "paths": "where data and outputs go",
    "experiment": "a recipe: deltas over the defaults (python -m heco_pyg.train --info lists them)",
    "hparams_search": "a sweeper config: optuna",
    "task": "evaluate's task: protocol (the paper's probes) or recommend (held-out citations)",
    "hydra": "Hydra's own settings (run folder, logging)",
}

PREPARATION = {
    "max_concept_df": _s(
        float, "PCP uses only concepts on at most this fraction of the papers", 0, 1, low_open=True
    ),
    "min_concept_level": _s(int, "concepts below this level are left out of PCP", 0, null=True),
    "metapaths": _s(
        dict,
        "{NAME: neighbour type} meta-paths, e.g. {PUP: user, PTP: tag} (default {PAP: author, PCP: concept})",
    ),
    "max_df": _s(
        dict,
        "{neighbour type: fraction}: its nodes on more of the papers are left out of its meta-path, e.g. {tag: 0.05}",
    ),
    "metapath_topk": _s(
        int, "meta-path neighbours kept per paper (the strongest by path count)", 1
    ),
    "max_hub_degree": _s(
        int,
        "neighbours (authors, concepts, users, tags) on more papers are left out of their meta-paths (auto: a cap chosen from the degrees, none on small graphs; null: no cap)",
        1,
        null=True,
        words=("auto",),
    ),
    "workdir": _s(
        str,
        "folder for the out-of-core meta-path edges (memory-mapped .npy), kept; null: in memory, or a temporary folder from 20,000 papers",
        null=True,
    ),
    "pos_num": _s(int, "positives per paper, itself included", 1),
    "sample_sizes": _s(
        dict, "schema-view neighbours sampled per type, e.g. {author: 6, concept: 8} (each >= 1)"
    ),
}

DATA_COMMON = {
    "_target_": _s(str, "the loader (heco_pyg.data.*)"),
    "name": _s(str, "the dataset's name (run names, wandb tags)"),
    "seed": _s(int, "the data's random seed", 0, MAX_SEED),
    "preparation": _s(dict, "meta-path pruning, positives and samples (data.preparation.*)"),
}

DATA = {
    "load_synthetic": {
        "num_papers": _s(int, "papers in the generated graph", 2),
        "num_authors": _s(int, "authors", 1),
        "num_concepts": _s(int, "concepts", 1),
        "num_fields": _s(int, "planted fields (the labels)", 1),
    },
    "load_openalex": {
        "source": _s(str, "where works come from", choices=("api", "works", "artifacts", "sample")),
        "path": _s(str, "source=works|artifacts: the file or folder to read", null=True),
        "query": _s(dict, "source=api: filter, search, sort, select, max_works"),
        "mailto": _s(str, "the polite pool's e-mail (or env OPENALEX_MAILTO)", null=True),
        "api_key_file": _s(
            str, "a file holding the OpenAlex key (else env OPENALEX_API_KEY)", null=True
        ),
        "api_url": _s(str, "the API root (null = https://api.openalex.org)", null=True),
        "api_timeout": _s(float, "seconds per socket operation", 0, 600, low_open=True),
        "api_deadline": _s(float, "seconds one API page may take in all", 0, low_open=True),
        "api_retries": _s(int, "retries per API page (connect/read errors, 429, 5xx)", 0, 20),
        "api_backoff": _s(float, "retry backoff factor in seconds (doubling, jittered)", 0, 60),
        "concepts": _s(
            str, "the C node type", choices=("concepts", "topics", "subfields", "keywords")
        ),
        "min_concept_score": _s(float, "drop concept entries scored below this", 0, 1),
        "label": _s(
            str, "evaluation labels from primary_topic", choices=("field", "subfield", "none")
        ),
        "text_features": _s(str, "paper text features", choices=("tfidf", "minilm")),
        "text_dim": _s(int, "text feature dimensions", 1, 4096),
        "read_workers": _s(
            int,
            "processes reading snapshot parts at once: auto = the CPUs other jobs leave free",
            1,
            words=("auto",),
        ),  # fmt: skip
        "reader": _s(
            str,
            "JSON Lines parts: columnar (DuckDB) or validating; auto = columnar if installed",
            choices=("auto", "columnar", "validating"),
        ),
        "text_fit_size": _s(
            int, "tfidf: fitted on the first this many papers' texts, the rest streamed", 2
        ),
        "concept_features": _s(str, "concept features", choices=("text", "learnable")),
        "on_bad_record": _s(
            str,
            "a malformed record stops the run, or is skipped and counted",
            choices=("raise", "skip"),
        ),
        "data_dir": _s(str, "the page and graph cache root (${paths.data_dir})", null=True),
        "max_line_bytes": _s(int, "a longer JSON line is a bad record", 1),
        "max_part_bytes": _s(int, "a file decompressing to more stops there (bad record)", 1),
    },
    "load_citeulike": {
        "path": _s(
            str,
            "the CiteULike release folder (users.dat, tag-item.dat or item-tag.dat, ...)",
            null=True,
        ),
        "text_dim": _s(int, "paper features: TF-IDF + SVD dimensions", 1, 4096),
        "description_tags": _s(int, "each paper's most used tags shown by recommend", 0),
        "data_dir": _s(str, "the graph cache root (${paths.data_dir})", null=True),
    },
    "load_heco_benchmark": {
        "root": _s(str, "the dataset folder (${paths.data_dir}/heco/<name>)"),
        "url": _s(
            str,
            "where missing files are downloaded from (the release commit); null = never",
            null=True,
        ),
        "download_timeout": _s(float, "seconds per downloaded file", 0, 3600, low_open=True),
        "cache_dir": _s(
            str, "converted object neighbour files (${paths.data_dir}/processed)", null=True
        ),
        "target": _s(str, "the embedded node type"),
        "labels": _s(str, "the label file"),
        "neighbours": _s(dict, "{type: {file, sample_size}}: the schema view"),
        "metapaths": _s(dict, "{NAME: file.npz}: the meta-path view"),
        "features": _s(dict, "{type: file}; identity = featureless"),
        "row_normalise": _s(bool, "divide feature rows by their sum, as the official code"),
        "positives": _s(str, "the stored positives file (null = rebuild)", null=True),
        "rebuild_positives": _s(bool, "rebuild positives even when stored"),
        "add_self_positives": _s(bool, "make every anchor its own positive"),
        "pos_num": _s(int, "positives per node when rebuilding", 1),
        "splits": _s(list, "label rates with train_/val_/test_<rate>.npy files"),
    },
}

TRAINER = {
    "_target_": _s(str, "the trainer class"),
    "optimizer": _s(str, "the optimiser", choices=("adamw", "adam")),
    "lr": _s(float, "learning rate", 0, 10, low_open=True),
    "weight_decay": _s(float, "weight decay", 0, 1),
    "max_epochs": _s(int, "upper bound on epochs", 1),
    "patience": _s(int, "stop after this many epochs without a loss improvement", 1),
    "min_delta": _s(
        float, "an improvement is a fall of the loss by this fraction of the best", 0, 1
    ),
    "smoothing": _s(int, "early stopping watches the mean loss of this many epochs", 1),
    "min_epochs": _s(int, "never stop before this epoch", 0),
    "ema_decay": _s(
        float,
        "checkpoint and embed an EMA of the weights (null = the raw weights)",
        0,
        1,
        low_open=True,
        null=True,
    ),  # fmt: skip
    "batch_size": _s(int, "null = full batch; else papers per mini-batch step", 2, null=True),
    "batch_positives": _s(
        int, "mini-batches: up to k positives of each seed paper join its batch", 0
    ),
    "gradient_clip": _s(float, "gradient norm clip (null = none)", 0, low_open=True, null=True),
    "device": _s(str, "where to train", choices=("auto", "cpu", "cuda")),
    "threads": _s(
        int,
        "torch intra-op threads: auto = the CPUs other jobs leave free (null = torch's default)",
        1,
        null=True,
        words=("auto",),
    ),  # fmt: skip
    "progress": _s(bool, "show a progress bar"),
    "progress_every": _s(float, "no terminal: a progress log line every N seconds (0: none)", 0),
    "checkpoint_every": _s(
        int, "save the training state every N epochs (0: only on a stop and at the end)", 0
    ),
    "resume": _s(bool, "continue the interrupted run in hydra.run.dir from its training state"),
    "distributed": _s(bool, "data-parallel under torchrun (trainer=ddp)"),
    "backend": _s(str, "torch.distributed backend", choices=("auto", "nccl", "gloo")),
}

MODEL = {
    "_target_": _s(str, "the model class (heco_pyg.nn.HeCo or HeCoMean)"),
    "hidden_channels": _s(int, "embedding width", 1, 65536),
    "feature_dropout": _s(float, "dropout on the projected features", 0, 1),
    "attention_dropout": _s(float, "dropout on the attention weights", 0, 1),
    "dense_metapath_density": _s(
        float,
        "meta-paths at least this dense use a dense product (null = always sparse)",
        0,
        1,
        null=True,
    ),
    "metapath_sample_size": _s(
        int, "mini-batches: meta-path neighbours sampled per paper (null = all)", 1, null=True
    ),
    "sparse_embeddings": _s(bool, "featureless types: sparse gradients (SparseAdam)"),
    "factorised_metapaths": _s(dict, "{META_PATH: type}: apply M = A A^T as two thin products"),
}

LOSS = {
    "_target_": _s(str, "the loss class"),
    "tau": _s(float, "temperature of the cosine similarities", 0, 100, low_open=True),
    "lam": _s(float, "weight of the meta-path direction: L = lam L_mp + (1 - lam) L_sc", 0, 1),
}

LOGGER = {
    "_target_": _s(str, "the tracker class"),
    "mode": _s(
        str, "wandb mode (offline: wandb sync later)", choices=("offline", "online", "disabled")
    ),
    "project": _s(str, "wandb project"),
    "name": _s(str, "run name (null = wandb's)", null=True),
    "group": _s(str, "run group (a sweep's runs share one)", null=True),
    "tags": _s(list, "run tags"),
    "log_artifacts": _s(bool, "upload the embeddings and checkpoint as a wandb artifact"),
    "quiet": _s(bool, "no wandb console summary at the end (the run prints its own)"),
}

PROTOCOL = {
    "per_class": _s(
        int, "labelled (and as many validation) papers per class; fewer where a class has fewer", 1
    ),
    "repeats": _s(int, "seeded splits", 1),
    "steps": _s(int, "probe training steps", 1),
    "lr": _s(float, "probe learning rate", 0, 10, low_open=True),
    "weight_decay": _s(float, "probe weight decay", 0, 1),
    "clustering_runs": _s(int, "K-means restarts", 1),
    "normalize": _s(bool, "the paper's protocol on unit-length rows (official: raw rows)"),
}

# Top-level keys of each command's config.
COMMANDS = {
    "train": {
        "task_name": _s(str, "names the output folder"),
        "seed": _s(int, "the run's seed", 0, MAX_SEED),
        "epoch_logging": _s(dict, "histogram_every, diagnostics_every (epochs)"),
        "optimized_metric": _s(
            str, "the metric returned to sweepers (fused/micro_f1, loss, ...)", null=True
        ),
        "overwrite": _s(bool, "train into a folder that holds a run (its outputs moved aside)"),
    },
    "prepare": {
        "task_name": _s(str, "names the output folder"),
        "seed": _s(int, "the data's seed", 0, MAX_SEED),
        "stats_file": _s(str, "where graph_stats.json goes (null = the run folder)", null=True),
    },
    "evaluate": {
        "task_name": _s(str, "names the output folder"),
        "run_dir": _s(str, "the training run to evaluate"),
        "seed": _s(int, "the evaluation's seed (task=recommend: the query split)", 0, MAX_SEED),
        "recommend": _s(
            dict, "task=recommend: k, batch_size, threads, cite_queries, num_cited, num_uncited"
        ),
    },
    "recommend": {
        "task_name": _s(str, "names the output folder"),
        "run_dir": _s(str, "the training run whose embeddings to search"),
        "query": _s(object, "an OpenAlex id, a DOI, or a list of them", null=True),
        "row": _s(object, "an embedding row (or a list of rows) to query by", null=True),
        "query_file": _s(str, "a file of queries, one per line", null=True),
        "record": _s(str, "a JSON/JSON Lines file of unseen works (cold start)", null=True),
        "k": _s(int, "results per query", 1),
        "view": _s(str, "the embedding view", choices=("schema", "semantic", "fused")),
        "scorer": _s(
            str,
            "in-graph queries: the view's cosine or a TF-IDF fusion",
            choices=("embedding", "fusion", "fusion+embedding", "fusion+sgc"),
        ),
        "index": _s(str, "exact search or a faiss index", choices=("exact", "faiss")),
        "nlist": _s(int, "faiss inverted lists (null = automatic)", 1, null=True),
        "nprobe": _s(int, "faiss lists scanned per query", 1),
        "format": _s(str, "output format", choices=("table", "json")),
        "metadata": _s(str, "CSV with paper_id[,title][,doi]", null=True),
        "batch_size": _s(int, "queries per batch", 1),
        "threads": _s(int, "torch threads", 1, null=True),
        "seed": _s(int, "cold-start neighbour sampling seed", 0, MAX_SEED),
        "force_cold_start": _s(bool, "record= of a paper in the graph: encode it from the record"),
    },
}

# The groups checked key by key (unknown keys refused), per command.
STRICT = {"trainer": TRAINER, "model": MODEL, "loss": LOSS, "logger": LOGGER, "protocol": PROTOCOL}


def data_settings(target: str | None) -> dict[str, Setting]:
    """The ``data`` keys of a loader (its ``_target_``'s last name); all loaders' keys
    when it is unknown."""
    name = (target or "").rsplit(".", 1)[-1]
    specific = DATA.get(name) or {k: v for d in DATA.values() for k, v in d.items()}
    return DATA_COMMON | specific


def all_keys(command: str) -> dict[str, Setting]:
    """``{dotted key: setting}`` of every key ``command`` reads."""
    keys = {f"{group}.{k}": v for group, table in STRICT.items() for k, v in table.items()}
    keys |= {f"data.{k}": v for k, v in data_settings(None).items()}
    keys |= {f"data.preparation.{k}": v for k, v in PREPARATION.items()}
    keys |= dict(COMMANDS.get(command, {}))
    return keys
