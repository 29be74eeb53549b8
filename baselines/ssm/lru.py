"""The linear recurrent unit (Orvieto et al., ICML 2023, "Resurrecting Recurrent Neural Networks for Long
Sequences"): ``x_t = diag(lambda) x_{t-1} + gamma * (B u_t)``, ``y_t = Re(C x_t) + D u_t``, with
``lambda = exp(-exp(nu) + i exp(theta))`` initialised uniformly on a ring ``r_min <= |lambda| <= r_max``
(phases up to ``max_phase``) and the normalisation ``gamma = sqrt(1 - |lambda|^2)``, as in the paper's
appendix code; complex ``B`` and ``C`` with Glorot-like scaling. After it, GELU and a gated linear output
(the paper's block).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from baselines.ssm.network import GLUOut, ScanModel, ScanOptions, zeros_state
from baselines.ssm.scan import linear_scan
from benchmark.api import check_options


@dataclass
class LRUOptions(ScanOptions):
    state: int = 32  # complex state size N per layer
    r_min: float = 0.9  # the ring the eigenvalues start on: the paper's setting for long-range tasks
    r_max: float = 0.999
    max_phase: float = 2 * math.pi

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**ScanOptions.SEARCH_SPACE, "r_min": ("choice", [0.0, 0.5, 0.9])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("state",), positive=("max_phase",))
        if not 0 <= self.r_min < self.r_max < 1:
            raise ValueError(f"need 0 <= r_min < r_max < 1, got r_min={self.r_min!r}, r_max={self.r_max!r}")


class LRUMixer(nn.Module):
    state_size = 1  # tensors in the carried state

    def __init__(self, hidden: int, state: int, r_min: float, r_max: float, max_phase: float, chunk: int):
        super().__init__()
        u1, u2 = torch.rand(state), torch.rand(state)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2)))
        self.theta_log = nn.Parameter(torch.log(max_phase * u2))
        modulus = torch.exp(-torch.exp(self.nu_log.detach()))
        self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - modulus ** 2)))
        self.b = nn.Parameter(torch.view_as_real(torch.randn(state, hidden, dtype=torch.cfloat) / math.sqrt(hidden)))
        self.c = nn.Parameter(torch.view_as_real(torch.randn(hidden, state, dtype=torch.cfloat) / math.sqrt(state)))
        self.d = nn.Parameter(torch.randn(hidden))
        self.out = GLUOut(hidden)
        self.chunk = chunk

    def forward(self, u: torch.Tensor, state):
        lam = torch.exp(-torch.exp(self.nu_log) + 1j * torch.exp(self.theta_log))
        bu = torch.einsum("bth,nh->btn", u.to(lam.dtype), torch.view_as_complex(self.b)) * torch.exp(self.gamma_log)
        h0 = zeros_state(state, lambda: torch.zeros(u.shape[0], lam.shape[0], dtype=lam.dtype, device=u.device))
        h = linear_scan(lam.expand(u.shape[0], 1, -1), bu, h0, self.chunk)
        y = torch.einsum("btn,hn->bth", h, torch.view_as_complex(self.c)).real + u * self.d
        return self.out(y), (h[:, -1],)


class LRUModel(ScanModel):
    description = "LRU (Orvieto et al. 2023): linear recurrent unit, ring-initialised complex diagonal, chunked scan"
    Options = LRUOptions

    def mixer(self):
        o = self.options
        return LRUMixer(o.hidden, o.state, o.r_min, o.r_max, o.max_phase, o.scan_chunk)
