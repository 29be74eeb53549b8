"""Skipping the padding of a batch of unequal-length sequences: the one torch-side contract that models
share (baselines and rlmem both import it), so each model computes only the real steps the same way."""

from __future__ import annotations

from typing import Callable

import torch


def has_padding(mask: torch.Tensor) -> bool:
    """Whether a batch holds sequences of unequal length. Batches without padding take the plain path, so
    equal-length data gives the same numbers as before the padding-skipping paths existed."""
    return not bool(mask.all())


def on_valid_steps(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``fn`` (a per-step map ``[n, ...] -> [n, k]``) applied to the steps of ``x [B, T, ...]`` under
    ``mask [B, T]`` only, zeros elsewhere: ``[B, T, k]``."""
    if not has_padding(mask):
        return fn(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    valid = mask > 0
    rows = fn(x[valid])
    out = rows.new_zeros(*x.shape[:2], rows.shape[-1])
    out[valid] = rows
    return out
