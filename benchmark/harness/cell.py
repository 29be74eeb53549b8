"""Running one cell: seed, fit (selected on validation), score with the task's protocol, and the record.

Any exception becomes a failed record, never a lost sweep.
"""

from __future__ import annotations

import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.api import Episode, FitInfo, Model, Selector, TrainingLog
from benchmark.api.resumable import checkpointing
from benchmark.harness.checkpoints import CHECKPOINT_EVERY_S, CellCheckpoint
from benchmark.harness.plan import Pair
from benchmark.harness.provenance import code_state, provenance
from benchmark.harness.record import (SCHEMA_VERSION, ErrorInfo, ModelInfo, Provenance, Record, Selection, TaskInfo,
                                      Timing)
from benchmark.harness.registry import model_registry
from benchmark.harness.seeding import seed_everything
from benchmark.harness.test_resamples import draw_seed, resampled_scores

SELECTION_RULE = ("best validation main score every eval_every updates; early stop after `patience` evaluations "
                  "without improvement, not before min_updates")
NO_TRAINING_RULE = "no iterative training (reference or closed-form model)"


def run_cell(pair: Pair, seed: int, fold_index: int, log: TrainingLog, trace: bool = False,
             checkpoint: Path | None = None, checkpoint_every: float = CHECKPOINT_EVERY_S) -> Record:
    """Train and score one cell. With ``checkpoint`` (a file), a model that can resume saves its training
    state there every ``checkpoint_every`` seconds, and goes on from it when the cell runs again."""
    meta, data = pair.task.metadata, pair.data
    fold = data.folds[fold_index]
    started = provenance(getattr(pair.resolved.model_options, "device", "cpu"))
    t0 = time.perf_counter()
    train_s = eval_s = earlier = 0.0
    outcome: dict[str, Any] = {}
    n_parameters = None
    try:
        seed_everything(seed)
        model = pair.model_cls(pair.resolved.model_options, data.spec, seed)
        train, val = data.episodes_of(fold.train), data.episodes_of(fold.val)
        test = [] if pair.tuning else data.episodes_of(fold.test)
        leaky = pair.resolved.budget.selection == "leaky-test-max"
        judged = test if leaky else val
        selector = Selector(lambda preds: pair.task.evaluate(preds, judged), meta.main_score,
                            meta.is_higher_better(meta.main_score), pair.resolved.budget.patience)
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
            started["resumed_from_update"] = saver.resumed_from
            earlier = saver.elapsed_before
            train_s += earlier
        t1 = time.perf_counter()
        scores = {"val": model.scorer(pair.task, val)(val)}
        if not pair.tuning:  # a tuning trial never looks at the test split
            score_test = model.scorer(pair.task, test)
            scores["test"] = score_test(test)
            outcome["test_resamples"] = resampled_scores(
                score_test, test, meta.main_score, draw_seed(data.split_sha256, fold_index),
                pair.task.scores_are_sequence_means())
        if trace and not pair.tuning:
            outcome["trace"] = prediction_trace(model, test[0])
        if getattr(pair.resolved.model_options, "record_memory", False) and hasattr(model, "trace") and test:
            info.diagnostics["memory_trace"] = {"sequence": test[0].id, **model.trace(test[0])}
        eval_s = time.perf_counter() - t1
        outcome.update(status="completed", scores=scores, history=info.history, diagnostics=info.diagnostics,
                       main_score=scores["test"][meta.main_score] if "test" in scores else None,
                       selection=selection(selector, info, leaky))
        n_parameters = int(model.n_parameters())
    except Exception as exc:  # noqa: BLE001 - the record carries the error, the sweep goes on
        outcome = {"status": "failed", "error": error_info(exc, data.episodes_of(fold.train))}
    timing = Timing(train_s=round(train_s, 3), eval_s=round(eval_s, 3),
                    total_s=round(time.perf_counter() - t0 + earlier, 3), peak_rss_mb=round(peak_rss_mb(), 1),
                    peak_rss_scope="process high-water mark when the cell ended")
    task = TaskInfo(name=meta.name, version=meta.version, kind=meta.kind, protocol=pair.task.protocol(),
                    main_score=meta.main_score,
                    higher_is_better={m: meta.is_higher_better(m) for m in meta.leaderboard_metrics},
                    leaderboard_metrics=list(meta.leaderboard_metrics), fold=fold_index, n_folds=len(data.folds),
                    sizes={"train": len(fold.train), "val": len(fold.val), "test": len(fold.test)},
                    data_sha256=data.data_sha256, split_sha256=data.split_sha256, data_info=data.info,
                    overrides=pair.resolved.applied["task"])
    model_info = ModelInfo(name=pair.model_name, variant=pair.variant, reference=bool(pair.model_cls.reference),
                           source=model_registry().entry(pair.model_name).source, n_parameters=n_parameters,
                           overrides=pair.model_overrides, tuned=pair.tuned)
    return Record(
        schema_version=SCHEMA_VERSION, status=outcome["status"], error=outcome.get("error"), task=task,
        model=model_info, purpose="tuning" if pair.tuning else "run", seed=seed, config=pair.config,
        config_hash=pair.config_hash, selection=outcome.get("selection"), scores=outcome.get("scores"),
        main_score=outcome.get("main_score"), history=outcome.get("history", []),
        diagnostics=outcome.get("diagnostics", {}), timing=timing,
        provenance=Provenance(**started, absent=Provenance.OMITTED - set(started)),
        trace=outcome.get("trace"), test_resamples=outcome.get("test_resamples"),
        absent=Record.OMITTED - set(outcome))


def selection(selector: Selector, info: FitInfo, leaky: bool) -> Selection:
    """Which checkpoint ``fit`` kept, and the verdict on whether training had finished."""
    return Selection(
        criterion=selector.criterion, leaky=leaky, higher_is_better=selector.higher_is_better,
        update=info.best_update, updates_run=info.updates_run, updates_per_epoch=info.updates_per_epoch,
        epoch=None if info.best_update is None else round(info.best_update / info.updates_per_epoch, 3),
        stopped_by=info.stopped_by, convergence=info.convergence, val_score=selector.best_score,
        rule=SELECTION_RULE if info.updates_run else NO_TRAINING_RULE)


def error_info(exc: Exception, train: list[Episode]) -> ErrorInfo:
    message = str(exc)
    if out_of_memory(exc):
        steps = max(e.length for e in train)
        message = f"out of memory at {steps} steps (the longest training sequence): {type(exc).__name__}: {exc}"
    return ErrorInfo(type=type(exc).__name__, message=message, traceback=traceback.format_exc(),
                     out_of_memory=out_of_memory(exc))


def out_of_memory(exc: BaseException) -> bool:
    """A GPU or CPU allocation that failed (torch's OutOfMemoryError, a MemoryError, or the CPU allocator's
    RuntimeError); the cell fails with a message that says so, and the sweep goes on."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "CUDNN_STATUS_ALLOC_FAILED" in text)


def prediction_trace(model: Model, episode: Episode) -> dict[str, Any] | None:
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


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024
