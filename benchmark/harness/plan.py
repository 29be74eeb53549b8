"""Planning: a request's (task x model) pairs resolved (names, options, budget, data, folds) into the cells
(seed x fold) that run, with the path of each cell's record.

Everything that can be checked before training is checked here, so a typo fails in a second. A task's data
is loaded once per process (``load_task``), whichever models, grid values or requests ask for it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmark.api import Task, TaskData
from benchmark.harness import config as cfg
from benchmark.harness.checkpoints import CHECKPOINT_EVERY_S
from benchmark.harness.order import ReorderedTask
from benchmark.harness.registry import model_class, task_class
from benchmark.harness.store import CellKey, record_path

DATA_CACHE_SIZE = 4  # task settings whose data a process keeps loaded


class RunError(ValueError):
    """A request that cannot run at all (bad fold index, no seeds, ...)."""


@dataclass
class RunRequest:
    tasks: Sequence[str]
    models: Sequence[str]
    seeds: Sequence[int] = (0,)
    folds: Sequence[int] | None = None  # None = every fold of the task
    overrides: Sequence[str] = ()
    data_root: Path | None = None
    results: Path = Path("runs")
    resume: bool = True
    trace: bool = False  # keep the first test sequence's predictions in each record (for figures)
    # (task, model) -> a tuned preset (benchmark.studies.tuning.load_presets): its parameters replace the
    # model's defaults, and records and tables say the model was tuned
    tuned: Mapping[tuple[str, str], dict] | None = None
    tuning: bool = False  # a tuning trial: validation only, the test split is never scored
    device: str | None = None  # cpu | cuda[:N] | auto, for every model with a `device` option (--device)
    # seconds between a cell's checkpoints (beside its record; 0: none), so an interrupted cell resumes
    checkpoint_every: float = CHECKPOINT_EVERY_S


@dataclass
class Pair:
    """One (task, model) of a request, resolved: what every one of its cells shares."""

    task_name: str
    task: Task
    data: TaskData
    model_name: str
    model_cls: type
    resolved: cfg.ResolvedConfig
    config: dict
    config_hash: str
    variant: str | None
    tuned: dict | None = None
    tuning: bool = False
    cells: list[tuple[int, int]] = field(default_factory=list)

    @property
    def key(self) -> CellKey:
        return CellKey(self.config_hash, self.data.data_sha256, self.data.split_sha256)

    @property
    def model_overrides(self) -> dict[str, Any]:
        """The options a record lists under its model (a reference model, a floor or ceiling, has no training)."""
        applied = self.resolved.applied
        return {**applied["model"], **({} if self.model_cls.reference else applied["train"])}


def resolve_pair(request: RunRequest, task_name: str, model_name: str,
                 other_model_keys: set[str] | frozenset[str] = frozenset()) -> cfg.ResolvedConfig:
    """Options and budget of one (task, model) under the request's overrides, without loading any data."""
    task_cls, model_cls = task_class(task_name), model_class(model_name)
    preset = (request.tuned or {}).get((task_name, model_name))
    defaults = dict(preset["params"]) if preset else {}
    has_device = "device" in cfg.option_fields(model_cls.Options)
    if request.device is not None and has_device:
        defaults["device"] = request.device
    resolved = cfg.resolve(cfg.parse_overrides(request.overrides), task_cls.Options, model_cls.Options,
                           task_cls.default_budget, other_model_keys=other_model_keys,
                           model_name=model_name, task_name=task_name, model_defaults=defaults or None)
    if has_device:  # "auto" becomes the device it means on this machine, so that records name it
        resolved.model_options = dataclasses.replace(resolved.model_options,
                                                     device=resolve_device(resolved.model_options.device))
    return resolved


def resolve_device(requested: str) -> str:
    """``auto`` is CUDA when a GPU is visible, else the CPU; ``cuda`` without one is refused here, before
    anything loads or trains."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RunError(f"--device {requested}: no CUDA device is visible here (torch {torch.__version__}, "
                           f"CUDA build {torch.version.cuda}); use --device cpu or auto")
        index = torch.device(requested).index
        if index is not None and index >= torch.cuda.device_count():
            raise RunError(f"--device {requested}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return requested


_loaded: dict[tuple[str, str, str], tuple[Task, TaskData]] = {}


def load_task(task_name: str, task_cls: type, options: Any, data_root: Path | None,
              order: str = "original") -> tuple[Task, TaskData]:
    """The task and its data for these options, loaded once per process (the last few settings are kept);
    under a temporal-order control (``order``), reordered and scored in the original order."""
    key = (task_name, repr(options), str(data_root), order)
    if key not in _loaded:
        task = task_cls(options, data_root)
        try:
            data = task.load()
        except ValueError as exc:
            raise RunError(f"task {task_name!r}: {exc}") from exc
        if order != "original":
            task = ReorderedTask(task, order)
            data = task.reorder(data)
        while len(_loaded) >= DATA_CACHE_SIZE:
            _loaded.pop(next(iter(_loaded)))
        _loaded[key] = (task, data)
    return _loaded[key]


def prepare(request: RunRequest) -> list[Pair]:
    """Resolve names, options, data and folds for every (task, model) pair; raise before any training."""
    if not request.tasks or not request.models:
        raise RunError("name at least one --task and one --model")
    if not request.seeds:
        raise RunError("no seeds to run")
    task_classes = {t: task_class(t) for t in dict.fromkeys(request.tasks)}
    model_classes = {m: model_class(m) for m in dict.fromkeys(request.models)}
    model_keys = {m: set(cfg.option_fields(c.Options)) for m, c in model_classes.items()}
    all_model_keys = set().union(*model_keys.values())
    pairs = []
    for task_name, task_cls in task_classes.items():
        for model_name, model_cls in model_classes.items():
            resolved = resolve_pair(request, task_name, model_name, all_model_keys - model_keys[model_name])
            task, data = load_task(task_name, task_cls, resolved.task_options, request.data_root, resolved.order)
            config = cfg.config_dict(task.metadata, task.protocol(), resolved, model_name)
            label_scopes = ("model", "train")
            if model_cls.reference:  # references do not train: the budget neither names nor hashes them
                config["train"] = None
                label_scopes = ("model",)
            if request.tuning and resolved.budget.selection != "val":
                raise RunError("tuning selects on validation only; drop --set selection=...")
            tuned = (request.tuned or {}).get((task_name, model_name))
            label = resolved.overrides_label(label_scopes)
            folds = list(range(len(data.folds))) if request.folds is None else list(request.folds)
            bad = [f for f in folds if not 0 <= f < len(data.folds)]
            if bad:
                raise RunError(f"task {task_name!r} has folds 0..{len(data.folds) - 1}; --folds asked for {bad}")
            pair = Pair(
                task_name, task, data, model_name, model_cls, resolved, config, cfg.config_hash(config),
                ",".join(p for p in ("tuned" if tuned else "", label) if p) or None, tuned, request.tuning,
            )
            pair.cells = [(s, f) for s in request.seeds for f in folds]
            pairs.append(pair)
    return pairs


def cell_label(pair: Pair, seed: int, fold: int) -> str:
    """How progress names a cell: task and model with what sets them apart (a grid's values, a preset)."""
    task_overrides = pair.resolved.overrides_label(["task"])
    task = f"{pair.task_name} [{task_overrides}]" if task_overrides else pair.task_name
    model = f"{pair.model_name} [{pair.variant}]" if pair.variant else pair.model_name
    return f"{task} · {model} · seed {seed} · fold {fold}"


def cell_path(results: Path, pair: Pair, seed: int, fold: int) -> Path:
    """Where a cell's record goes; tuning trials live apart, under ``<results>/tuning``, so that no table
    ever counts them."""
    root = Path(results) / "tuning" if pair.tuning else Path(results)
    return record_path(root, pair.task_name, pair.model_name, pair.variant, pair.config_hash, seed, fold)
