"""The training loop every trained model shares: budget, evaluations, early stopping, selection, checkpoints."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from benchmark.api.budget import TrainBudget
from benchmark.api.model import FitInfo, TrainingLog
from benchmark.api.resumable import Resumable, active
from benchmark.api.selection import Selector, verdict


def run_updates(
    budget: TrainBudget,
    updates_per_epoch: int,
    selector: Selector,
    log: TrainingLog,
    updates: Iterator[Mapping[str, float]],
    predict_val: Callable[[], Mapping[str, Any]],
    snapshot: Callable[[], Any],
    extra_eval: Callable[[], Mapping[str, float]] | None = None,
    resumable: Resumable | None = None,
) -> tuple[FitInfo, Any]:
    """The loop every trained model shares. ``updates`` performs one optimizer update per ``next()`` and
    returns its statistics; every ``eval_every`` updates the validation main score is taken, the best
    snapshot kept and one history row logged (the statistics averaged since the last row, except counters
    named ``total_*``, which keep their latest value); training stops
    after ``patience`` evaluations without improvement (never before ``min_updates``) or at the cap.
    ``extra_eval`` adds a model's own figures to each evaluation's row (rlmem's critic diagnostic).
    With ``resumable`` (the state ``updates`` depends on) and a checkpoint opened by the harness, the loop
    goes on from the cell's last checkpoint and saves one at an evaluation when it is due.
    Returns the fit info and the snapshot of the selected checkpoint (None if none was)."""
    plan = budget.plan(updates_per_epoch)
    info, best = FitInfo(updates_per_epoch=plan.updates_per_epoch, stopped_by="cap"), None
    pending: dict[str, list[float]] = {}
    checkpoint = active() if resumable is not None else None
    start = 1
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        resumable.load_state_dict(saved["model"])
        selector.load_state_dict(saved["selector"])
        info.history, best, start = list(saved["history"]), saved["best"], int(saved["update"]) + 1
        log.on_eval(start - 1, plan.max_updates, info.history[-1])
    for update in range(start, plan.max_updates + 1):
        for key, value in next(updates).items():
            pending.setdefault(key, []).append(float(value))
        info.updates_run = update
        if update % plan.eval_every and update != plan.max_updates:
            continue
        row = {"update": update, "epoch": round(update / plan.updates_per_epoch, 3),
               **{key: v[-1] if key.startswith("total_") else sum(v) / len(v) for key, v in pending.items()}}
        pending.clear()
        if selector.observe(update, predict_val()):
            best = snapshot()
        row[selector.history_key] = selector.history[-1][1]
        if extra_eval is not None:
            row.update(extra_eval())
        info.history.append(row)
        log.on_eval(update, plan.max_updates, row)
        if update >= plan.min_updates and selector.should_stop:
            info.stopped_by = "early-stop"
            break
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(update, {"model": resumable.state_dict(), "selector": selector.state_dict(),
                                     "history": info.history, "best": best})
    info.best_update = selector.best_step
    info.convergence = verdict(info.best_update, info.updates_run, info.stopped_by)
    return info, best
