"""Target networks: frozen copies, moved towards the online networks by soft (Polyak) updates."""

from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn


def make_target(online: nn.Module) -> nn.Module:
    """A frozen copy that no optimiser and no loss can move except ``polyak_update``."""
    target = copy.deepcopy(online)
    target.requires_grad_(False)
    target.eval()
    return target


@torch.no_grad()
def polyak_update(params: Iterable[torch.Tensor], target_params: Iterable[torch.Tensor], tau: float) -> None:
    """theta' <- tau * theta + (1 - tau) * theta'  (tau is the weight of the online network)."""
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    params, target_params = list(params), list(target_params)
    if len(params) != len(target_params):
        raise ValueError(f"{len(params)} online parameters but {len(target_params)} target parameters")
    torch._foreach_lerp_(target_params, params, tau)  # tp + tau * (p - tp), one fused call
