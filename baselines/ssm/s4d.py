"""S4D (Gu, Gupta, Goel & Ré, NeurIPS 2022, "On the Parameterization and Initialization of Diagonal State
Space Models"): per channel, a diagonal complex state space ``x' = A x + B u, y = C x + D u`` discretised by
zero-order hold with a learnt step ``dt``, S4D-Lin initialisation (``A_n = -1/2 + i pi n``), ``B = 1``, and
``y = 2 Re(C x)``, as in the paper's minimal ``s4d.py``; run as a recurrence on the shared scan instead of
as a convolution, so it is causal in segments and the state carries across them. After it, GELU and a
gated linear output, as there.
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
class S4DOptions(ScanOptions):
    # N (N/2 complex conjugate pairs per channel, as the paper counts). The paper's 64 is in the search
    # space; 16 is the default because on the scan every channel carries its own N/2 states, so a step
    # costs hidden * N/2 complex multiply-adds (4x the time at 64; the paper's convolution has no such factor)
    state: int = 16
    dt_min: float = 1e-3
    dt_max: float = 1e-1

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**ScanOptions.SEARCH_SPACE, "state": ("choice", [16, 64])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("state",), positive=("dt_min", "dt_max"))
        if self.state % 2 or self.dt_min > self.dt_max:
            raise ValueError(f"state must be even ({self.state}) and dt_min <= dt_max ({self.dt_min}, {self.dt_max})")


class S4DMixer(nn.Module):
    state_size = 1  # tensors in the carried state

    def __init__(self, hidden: int, state: int, dt_min: float, dt_max: float, chunk: int):
        super().__init__()
        n = state // 2
        self.log_dt = nn.Parameter(torch.rand(hidden) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.log_a_real = nn.Parameter(torch.full((hidden, n), math.log(0.5)))
        self.a_imag = nn.Parameter(math.pi * torch.arange(n, dtype=torch.float32).repeat(hidden, 1))
        self.c = nn.Parameter(torch.view_as_real(torch.randn(hidden, n, dtype=torch.cfloat)))
        self.d = nn.Parameter(torch.randn(hidden))
        self.out = GLUOut(hidden)
        self.chunk = chunk

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-step decay ``exp(dt A)`` and the output weights ``C (exp(dt A) - 1) / A`` (B = 1)."""
        a = -torch.exp(self.log_a_real) + 1j * self.a_imag
        dta = a * torch.exp(self.log_dt).unsqueeze(-1)
        decay = torch.exp(dta)
        return decay, torch.view_as_complex(self.c) * (decay - 1) / a

    def forward(self, u: torch.Tensor, state):
        decay, c = self.discrete()
        b = u.unsqueeze(-1).to(decay.dtype).expand(*u.shape, decay.shape[-1])
        h0 = zeros_state(state, lambda: torch.zeros(u.shape[0], *decay.shape, dtype=decay.dtype, device=u.device))
        h = linear_scan(decay.expand(u.shape[0], 1, *decay.shape), b, h0, self.chunk)
        y = 2 * torch.einsum("bthn,hn->bth", h, c).real + u * self.d
        return self.out(y), (h[:, -1],)


class S4DModel(ScanModel):
    description = "S4D (Gu et al. 2022): diagonal complex state spaces, S4D-Lin init, on the chunked scan"
    Options = S4DOptions

    def mixer(self):
        o = self.options
        return S4DMixer(o.hidden, o.state, o.dt_min, o.dt_max, o.scan_chunk)
