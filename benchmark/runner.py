"""The harness: expand (task x model x seed x fold) into cells, train and score each, write its record.

Everything that can be checked before training (names, options, data) is checked first, so a typo
fails in a second. Once cells run, a failing cell is recorded as failed and the others go on.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import tempfile
import time
import traceback

import numpy as np
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmark import config as cfg
from benchmark.builtins import MODELS, TASKS
from benchmark.checkpoints import CHECKPOINT_EVERY_S, CellCheckpoint, checkpoint_path, checkpointing
from benchmark.episodes import TaskData
from benchmark.interfaces import Model, Task, TrainingLog
from benchmark.provenance import code_state, provenance
from benchmark.records import SCHEMA_VERSION, RecordError, load_record, record_path, write_record
from benchmark.registry import Registry, RegistryError
from benchmark.seeding import seed_everything
from benchmark.selection import Selector

_REGISTRIES: dict[str, Registry] = {}


def model_registry() -> Registry:
    if "models" not in _REGISTRIES:
        _REGISTRIES["models"] = Registry("model", "rlbench.models", MODELS)
    return _REGISTRIES["models"]


def task_registry() -> Registry:
    if "tasks" not in _REGISTRIES:
        _REGISTRIES["tasks"] = Registry("task", "rlbench.tasks", TASKS)
    return _REGISTRIES["tasks"]


def register_plugin_module(module: Any, source: str) -> list[str]:
    """A ``--plugin`` module registers what it lists in ``RLBENCH_MODELS`` / ``RLBENCH_TASKS``."""
    added = []
    for attr, registry in (("RLBENCH_MODELS", model_registry()), ("RLBENCH_TASKS", task_registry())):
        for name, obj in dict(getattr(module, attr, {})).items():
            registry.register(name, obj, source)
            added.append(name)
    if not added:
        raise RegistryError(f"{source} defines neither RLBENCH_MODELS nor RLBENCH_TASKS (a dict name -> class)")
    return added


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
    # (task, model) -> a tuned preset (benchmark.tuning.load_presets): its parameters replace the model's
    # defaults, and records and tables say the model was tuned
    tuned: Mapping[tuple[str, str], dict] | None = None
    tuning: bool = False  # a tuning trial: validation only, the test split is never scored
    device: str | None = None  # cpu | cuda[:N] | auto, for every model with a `device` option (--device)
    # seconds between a cell's checkpoints (beside its record; 0: none), so an interrupted cell resumes
    checkpoint_every: float = CHECKPOINT_EVERY_S


@dataclass
class CellOutcome:
    task: str
    model: str
    seed: int
    fold: int
    status: str  # completed | failed | skipped
    path: Path
    main_metric: str
    val_score: float | None = None
    test_score: float | None = None
    seconds: float = 0.0
    error: str | None = None
    label: str = ""  # the model with the overrides that set this cell apart (a sweep's grid values)
    request: int = 0  # which of the sweep's requests made the cell

    @classmethod
    def from_record(cls, task: str, model: str, seed: int, fold: int, path: Path, main: str,
                    record: dict[str, Any], skipped: bool = False) -> "CellOutcome":
        """What a run reports of one cell; a skipped cell took no time in this run."""
        from benchmark.leaderboard import record_label

        scores = record.get("scores") or {}
        return cls(task, model, seed, fold, "skipped" if skipped else record["status"], path, main,
                   (scores.get("val") or {}).get(main), record.get("main_score"),
                   0.0 if skipped else (record.get("timing") or {}).get("total_s", 0.0),
                   (record.get("error") or {}).get("message"), record_label(record))


class Reporter:
    """What the runner tells its caller; the CLI draws progress bars from it, tests stay silent. ``cell`` is
    the record path of the cell an event is about: a sweep trains several cells at once."""

    def plan(self, total: int) -> None: ...
    def start_cell(self, label: str, cell: Path | None = None) -> None: ...
    def on_eval(self, update: int, total: int, metrics: Mapping[str, float], cell: Path | None = None) -> None: ...
    def end_cell(self, outcome: CellOutcome) -> None: ...


@dataclass
class CellLog:
    """One cell's training log (what a model's ``fit`` reports to): its evaluations go to the reporter
    under the cell's record path."""

    reporter: Reporter
    cell: Path

    def on_eval(self, update: int, total: int, metrics: Mapping[str, float]) -> None:
        self.reporter.on_eval(update, total, metrics, cell=self.cell)


@dataclass
class _Pair:
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


def _model_class(name: str) -> type:
    obj = model_registry().get(name)
    if not (isinstance(obj, type) and issubclass(obj, Model)):
        raise RegistryError(f"model {name!r} resolves to {obj!r}, which is not a benchmark.interfaces.Model subclass")
    return obj


def _task_class(name: str) -> type:
    obj = task_registry().get(name)
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise RegistryError(f"task {name!r} resolves to {obj!r}, which is not a benchmark.interfaces.Task subclass")
    return obj


def resolve_pair(request: RunRequest, task_name: str, model_name: str,
                 other_model_keys: set[str] | frozenset[str] = frozenset()) -> cfg.ResolvedConfig:
    """Options and budget of one (task, model) under the request's overrides, without loading any data."""
    task_cls, model_cls = _task_class(task_name), _model_class(model_name)
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


def prepare(request: RunRequest, loaded: dict | None = None) -> list[_Pair]:
    """Resolve names, options, data and folds for every (task, model) pair; raise before any training.
    ``loaded`` (a dict the caller keeps) shares loaded task data between calls with the same task options,
    e.g. across the values of a sweep grid over model options."""
    if not request.tasks or not request.models:
        raise RunError("name at least one --task and one --model")
    if not request.seeds:
        raise RunError("no seeds to run")
    task_classes = {t: _task_class(t) for t in dict.fromkeys(request.tasks)}
    model_classes = {m: _model_class(m) for m in dict.fromkeys(request.models)}
    model_keys = {m: set(cfg.option_fields(c.Options)) for m, c in model_classes.items()}
    all_model_keys = set().union(*model_keys.values())
    pairs = []
    for task_name, task_cls in task_classes.items():
        task = data = None
        for model_name, model_cls in model_classes.items():
            resolved = resolve_pair(request, task_name, model_name, all_model_keys - model_keys[model_name])
            if task is None:
                key = (task_name, repr(resolved.task_options), str(request.data_root))
                if loaded is not None and key in loaded:
                    task, data = loaded[key]
                else:
                    task = task_cls(resolved.task_options, request.data_root)
                    try:
                        data = task.load()
                    except ValueError as exc:
                        raise RunError(f"task {task_name!r}: {exc}") from exc
                    if loaded is not None:
                        loaded[key] = (task, data)
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
            pair = _Pair(
                task_name, task, data, model_name, model_cls, resolved, config, cfg.config_hash(config),
                ",".join(p for p in ("tuned" if tuned else "", label) if p) or None, tuned, request.tuning,
            )
            pair.cells = [(s, f) for s in request.seeds for f in folds]
            pairs.append(pair)
    return pairs


def ensure_writable(results: Path) -> None:
    """Refuse a results folder that cannot take records before anything trains."""
    results = Path(results)
    if results.exists() and not results.is_dir():
        raise RunError(f"{results}: is a file, not a folder for records; choose another --results")
    try:
        results.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=results, prefix=".rlbench-write-check-"):
            pass
    except OSError as exc:
        raise RunError(f"{results}: cannot write records there ({exc.strerror or exc}); "
                       "choose another --results") from None


def save_record(path: Path, record: dict[str, Any]) -> None:
    """Write a finished cell's record (a completed one ends its checkpoint). If that fails (a full disk, a
    folder made read-only meanwhile), the record is written to the temporary folder instead and the run
    stops with one line saying where."""
    try:
        write_record(path, record)
        if record.get("status") == "completed":
            checkpoint_path(path).unlink(missing_ok=True)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "rlbench-unsaved" / Path(*Path(path).parts[-6:])
        try:
            write_record(fallback, record)
        except OSError:
            raise RunError(f"{path}: cannot write the record ({exc.strerror or exc}), nor a copy in "
                           f"{fallback.parent}; the cell must run again") from None
        raise RunError(f"{path}: cannot write the record ({exc.strerror or exc}); it was saved to {fallback} "
                       "(copy it into place, or free the space and rerun to resume)") from None


def run(request: RunRequest, reporter: Reporter | None = None) -> list[CellOutcome]:
    reporter = reporter or Reporter()
    ensure_writable(request.results)
    pairs = prepare(request)
    reporter.plan(sum(len(p.cells) for p in pairs))
    outcomes = []
    for pair in pairs:
        for seed, fold in pair.cells:
            path = cell_path(request.results, pair, seed, fold)
            main = pair.task.metadata.main_score
            record = resumed_record(path, pair) if request.resume else None
            skipped = record is not None
            if not skipped:
                reporter.start_cell(cell_label(pair, seed, fold), cell=path)
                record = run_cell(pair, seed, fold, CellLog(reporter, path), request.trace,
                                  checkpoint_path(path), request.checkpoint_every)
                save_record(path, record)
            outcome = CellOutcome.from_record(pair.task_name, pair.model_name, seed, fold, path, main, record, skipped)
            outcomes.append(outcome)
            reporter.end_cell(outcome)
    return outcomes


def cell_label(pair: _Pair, seed: int, fold: int) -> str:
    """How progress names a cell: task and model with what sets them apart (a grid's values, a preset)."""
    task_overrides = pair.resolved.overrides_label(["task"])
    task = f"{pair.task_name} [{task_overrides}]" if task_overrides else pair.task_name
    model = f"{pair.model_name} [{pair.variant}]" if pair.variant else pair.model_name
    return f"{task} · {model} · seed {seed} · fold {fold}"


def cell_path(results: Path, pair: _Pair, seed: int, fold: int) -> Path:
    """Where a cell's record goes; tuning trials live apart, under ``<results>/tuning``, so that no table
    ever counts them."""
    root = Path(results) / "tuning" if pair.tuning else Path(results)
    return record_path(root, pair.task_name, pair.model_name, pair.variant, pair.config_hash, seed, fold)


def _finished(path: Path, pair: _Pair) -> dict[str, Any] | None:
    """The record at ``path`` if it is a completed one with the same config and the same data, else None."""
    if not path.exists():
        return None
    try:
        rec = load_record(path)
    except RecordError:
        return None
    done = (
        rec.get("status") == "completed"
        and rec.get("config_hash") == pair.config_hash
        and rec["task"].get("data_sha256") == pair.data.data_sha256
        and rec["task"].get("split_sha256") == pair.data.split_sha256
    )
    return rec if done else None


def resumed_record(path: Path, pair: _Pair) -> dict[str, Any] | None:
    """The finished record of this cell, if there is one: at ``path``, or else a record of the same model,
    config hash, seed and fold under another variant's folder (an ablation variant equal to the tuned preset,
    a grid value equal to the default), which is copied to ``path`` with this cell's labels and the path it
    came from, so that no identical configuration trains twice."""
    record = _finished(path, pair)
    if record is not None:
        return record
    task_dir, hash_dir = path.parents[3], path.parents[1].name
    for twin in sorted(task_dir.glob(f"*/{hash_dir}/{path.parent.name}/{path.name}")):
        record = None if twin == path else _finished(twin, pair)
        if record is None or record["model"].get("name") != pair.model_name:
            continue
        record["model"] = {**record["model"], "variant": pair.variant, "overrides": _model_overrides(pair),
                           "tuned": pair.tuned}
        # a copy of a copy names the record that was trained
        source = record["provenance"].get("reused_from") or twin.relative_to(task_dir.parent).as_posix()
        record["provenance"] = {**record["provenance"], "reused_from": source}
        save_record(path, record)
        return record
    return None


def _model_overrides(pair: _Pair) -> dict[str, Any]:
    """The options a record lists under its model (a reference model, a floor or ceiling, has no training)."""
    return {**pair.resolved.applied["model"], **({} if pair.model_cls.reference else pair.resolved.applied["train"])}


def run_cell(pair: _Pair, seed: int, fold_index: int, log: TrainingLog, trace: bool = False,
             checkpoint: Path | None = None, checkpoint_every: float = CHECKPOINT_EVERY_S) -> dict[str, Any]:
    """Train and score one cell; any exception becomes a failed record, never a lost sweep. With
    ``checkpoint`` (a file), a model that can resume saves its training state there every
    ``checkpoint_every`` seconds, and goes on from it when the cell runs again."""
    meta = pair.task.metadata
    data = pair.data
    fold = data.folds[fold_index]
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "status": "running",
        "error": None,
        "task": {
            "name": meta.name,
            "version": meta.version,
            "kind": meta.kind,
            "protocol": pair.task.protocol(),
            "main_score": meta.main_score,
            "higher_is_better": {m: meta.is_higher_better(m) for m in meta.leaderboard_metrics},
            "leaderboard_metrics": list(meta.leaderboard_metrics),
            "fold": fold_index,
            "n_folds": len(data.folds),
            "sizes": {"train": len(fold.train), "val": len(fold.val), "test": len(fold.test)},
            "data_sha256": data.data_sha256,
            "split_sha256": data.split_sha256,
            "data_info": data.info,
            "overrides": pair.resolved.applied["task"],
        },
        "model": {
            "name": pair.model_name,
            "variant": pair.variant,
            "reference": bool(pair.model_cls.reference),
            "source": model_registry().entry(pair.model_name).source,
            "n_parameters": None,
            "overrides": _model_overrides(pair),
            "tuned": pair.tuned,
        },
        "purpose": "tuning" if pair.tuning else "run",
        "seed": seed,
        "config": pair.config,
        "config_hash": pair.config_hash,
        "selection": None,
        "scores": None,
        "main_score": None,
        "history": [],
        "diagnostics": {},
        "timing": {},
        "provenance": provenance(getattr(pair.resolved.model_options, "device", "cpu")),
    }
    t0 = time.perf_counter()
    train_s = eval_s = earlier = 0.0
    try:
        seed_everything(seed)
        model = pair.model_cls(pair.resolved.model_options, data.spec, seed)
        train, val = data.episodes_of(fold.train), data.episodes_of(fold.val)
        test = [] if pair.tuning else data.episodes_of(fold.test)
        leaky = pair.resolved.budget.selection == "leaky-test-max"
        judged = test if leaky else val
        selector = Selector(
            lambda preds: pair.task.evaluate(preds, judged),
            meta.main_score, meta.is_higher_better(meta.main_score), pair.resolved.budget.patience,
        )
        if leaky:
            selector.criterion_split = "test"
        saver = None if checkpoint is None else CellCheckpoint(checkpoint, {
            "config_hash": pair.config_hash, "seed": seed, "fold": fold_index, "data_sha256": data.data_sha256,
            "split_sha256": data.split_sha256, **code_state()}, checkpoint_every)
        with checkpointing(saver):
            info = model.fit(train, judged, pair.resolved.budget, selector, log)
        train_s = time.perf_counter() - t0
        if saver is not None and saver.resumed_from is not None:
            # the record of an interrupted cell counts the training time of every run that led to it
            record["provenance"]["resumed_from_update"] = saver.resumed_from
            earlier = saver.elapsed_before
            train_s += earlier
        t1 = time.perf_counter()
        scores = {"val": model.evaluate(pair.task, val)}
        if not pair.tuning:  # a tuning trial never looks at the test split
            scores["test"] = model.evaluate(pair.task, test)
        if trace and not pair.tuning:
            record["trace"] = _prediction_trace(model, test[0])
        if getattr(pair.resolved.model_options, "record_memory", False) and hasattr(model, "trace") and test:
            info.diagnostics["memory_trace"] = {"sequence": test[0].id, **model.trace(test[0])}
        eval_s = time.perf_counter() - t1
        record.update(
            status="completed",
            scores=scores,
            main_score=scores["test"][meta.main_score] if "test" in scores else None,
            history=info.history,
            diagnostics=info.diagnostics,
            selection={
                "criterion": selector.criterion,
                "leaky": leaky,
                "higher_is_better": selector.higher_is_better,
                "update": info.best_update,
                "updates_run": info.updates_run,
                "updates_per_epoch": info.updates_per_epoch,
                "epoch": None if info.best_update is None else round(info.best_update / info.updates_per_epoch, 3),
                "stopped_by": info.stopped_by,
                "convergence": info.convergence,
                "val_score": selector.best_score,
                "rule": "best validation main score every eval_every updates; early stop after `patience` "
                        "evaluations without improvement, not before min_updates"
                if info.updates_run else "no iterative training (reference or closed-form model)",
            },
        )
        record["model"]["n_parameters"] = int(model.n_parameters())
    except Exception as exc:  # noqa: BLE001 - the record carries the error, the sweep goes on
        message = str(exc)
        if out_of_memory(exc):
            steps = max(e.length for e in data.episodes_of(fold.train))
            message = f"out of memory at {steps} steps (the longest training sequence): {type(exc).__name__}: {exc}"
        record.update(
            status="failed",
            error={"type": type(exc).__name__, "message": message, "traceback": traceback.format_exc(),
                   "out_of_memory": out_of_memory(exc)},
        )
    record["timing"] = {
        "train_s": round(train_s, 3),
        "eval_s": round(eval_s, 3),
        "total_s": round(time.perf_counter() - t0 + earlier, 3),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_rss_scope": "process high-water mark when the cell ended",
    }
    return record


def out_of_memory(exc: BaseException) -> bool:
    """A GPU or CPU allocation that failed (torch's OutOfMemoryError, a MemoryError, or the CPU allocator's
    RuntimeError); the cell fails with a message that says so, and the sweep goes on."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "CUDNN_STATUS_ALLOC_FAILED" in text)


def _prediction_trace(model: Model, episode) -> dict[str, Any] | None:
    """Predictions and targets along one test sequence (and its annotators' scores, where it has them).
    Kept outside the config: asking for a trace never changes which cell a record belongs to."""
    try:
        preds = model.predict([episode])[episode.id]
    except ValueError:  # reference rows without per-step predictions (human agreement)
        return None
    out = {"sequence": episode.id, "predictions": np.round(np.asarray(preds, dtype=float), 4).tolist(),
           "targets": np.round(episode.targets.astype(float), 4).tolist()}
    if "user_scores" in episode.meta:
        out["user_scores"] = np.asarray(episode.meta["user_scores"], dtype=float).tolist()
    return out


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024
