"""Replayed windows: what the critic's targets and the actor's objectives read, W consecutive steps of one
sequence (a one-step transition is the window of width 1), and the reward function that scores a step."""

from __future__ import annotations

from typing import Callable

import torch

# (x, memory after the write, target) -> the step's reward, minus the MAE of the prediction read from it
RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def as_window(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The losses read windows of W steps (``TrajectoryReplay.sample``): ``x``, ``target``, ``valid`` and
    ``steps_to_go`` ``[B, W + 1, ...]``, ``memory``, ``action`` and ``step_valid`` ``[B, W, ...]``. A one-step
    transition (``x``, ``memory``, ``action``, ``target``, ``x_next``, ``target_next``, ``done``) is the
    window of width 1."""
    if "x_next" not in batch:
        return batch
    n = batch["x"].shape[0]
    window = {
        "x": torch.stack([batch["x"], batch["x_next"]], 1),
        "memory": batch["memory"].unsqueeze(1),
        "action": batch["action"].unsqueeze(1),
        "target": torch.stack([batch["target"], batch.get("target_next", torch.zeros_like(batch["target"]))], 1),
        "valid": torch.stack([torch.ones(n, dtype=torch.bool, device=batch["x"].device), batch["done"] < 0.5], 1),
        "step_valid": torch.ones((n, 1), dtype=torch.bool, device=batch["x"].device),
    }
    if "steps_to_go" in batch:
        window["steps_to_go"] = torch.stack([batch["steps_to_go"], batch["steps_to_go_next"]], 1)
    return window


def trim_window(window: dict[str, torch.Tensor], width: int) -> dict[str, torch.Tensor]:
    """The first ``width`` steps of a window (states keep the one after the last step)."""
    steps = window["action"].shape[1]
    if width >= steps:
        return window
    return {key: value[:, :width + (1 if value.shape[1] == steps + 1 else 0)] for key, value in window.items()}
