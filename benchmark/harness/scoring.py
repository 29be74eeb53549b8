"""``rlbench score``: predictions made outside rlbench, scored with a task's own protocol."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Sequence

from benchmark.api import NoOptions, TaskDataError, TrainBudget
from benchmark.harness import config as cfg
from benchmark.harness.registry import task_class


def load_predictions(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TaskDataError(f"{path}: cannot read predictions ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise TaskDataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not data:
        raise TaskDataError(f"{path}: expected a JSON object mapping each sequence id to its per-step scores")
    return data


def score_file(task_name: str, path: Path, overrides: Sequence[str], data_root: Path | None,
               allow_partial: bool = False) -> tuple[dict, int, int]:
    """Score the sequences named in ``path`` with every metric of the task; returns (scores, n scored, n in
    the task). Predictions must cover every sequence of the task unless ``allow_partial``."""
    task_cls = task_class(task_name)
    resolved = cfg.resolve(cfg.parse_overrides(overrides), task_cls.Options, NoOptions, TrainBudget(),
                           task_name=task_name, model_name="(score)", scopes=("task",))
    if resolved.order != "original":
        raise cfg.ConfigError(f"--set order={resolved.order}: a predictions file is scored in the original order "
                              "of its sequences; the order control applies to training runs (rlbench run)")
    task = task_cls(resolved.task_options, data_root)
    task.scoring_only = True  # scoring needs the episodes and the protocol, not a split
    data = task.load()
    predictions = load_predictions(path)
    unknown = [k for k in predictions if k not in data.episodes]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(data.episodes), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TaskDataError(f"{path}: {len(unknown)} unknown sequence id(s) for task {task_name!r}, "
                            f"first {unknown[0]!r}{hint}")
    missing = sorted(set(data.episodes) - set(predictions))
    if missing and not allow_partial:
        raise TaskDataError(f"{path}: predictions for {len(predictions)} of the task's {len(data.episodes)} "
                            f"sequences (first missing: {missing[0]!r}); pass --allow-partial to score only these")
    episodes = [data.episodes[k] for k in sorted(predictions)]
    try:
        scores = task.evaluate({k: predictions[k] for k in predictions}, episodes)
    except ValueError as exc:
        raise TaskDataError(f"{path}: {exc}") from exc
    return scores, len(episodes), len(data.episodes)
