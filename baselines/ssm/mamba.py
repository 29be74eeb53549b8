"""A selective state-space block in the manner of Mamba (Gu & Dao, 2023), in pure PyTorch on the shared scan.

As the paper's block: an input projection to two branches of ``expand * hidden``; on one, a causal
depthwise convolution (width ``conv``) and SiLU, then the selective SSM, whose step ``dt``, input matrix
``B`` and output matrix ``C`` are functions of the step's input (``dt`` through a low-rank projection and
softplus, its bias initialised so that ``dt`` starts log-uniform in [dt_min, dt_max]); ``A`` is real and
diagonal with the S4D-Real initialisation ``A_n = -(n + 1)``, discretised as ``exp(dt A)`` and ``dt B``; a
skip ``D``; the other branch gates the result through SiLU before the output projection. The carried state
is the SSM's and the convolution's last ``conv - 1`` inputs, so segments join exactly. The CUDA kernel of
``mamba-ssm`` is not used: this is the same computation, on every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from baselines.ssm.network import ScanModel, ScanOptions
from baselines.ssm.scan import selective_scan
from benchmark.api import check_options


@dataclass
class MambaOptions(ScanOptions):
    hidden: int = 48  # with expand 2, two layers come to about the LSTM's parameter count at hidden 64
    state: int = 16
    expand: int = 2
    conv: int = 4
    dt_min: float = 1e-3
    dt_max: float = 1e-1

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**ScanOptions.SEARCH_SPACE, "hidden": ("choice", [32, 48, 96])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("state", "expand", "conv"), positive=("dt_min", "dt_max"))
        if self.dt_min > self.dt_max:
            raise ValueError(f"dt_min ({self.dt_min}) must be <= dt_max ({self.dt_max})")


class SelectiveMixer(nn.Module):
    state_size = 2  # the SSM's state and the convolution's last inputs

    def __init__(self, hidden: int, o: MambaOptions):
        super().__init__()
        inner, self.n, self.chunk = o.expand * hidden, o.state, o.scan_chunk
        self.rank = math.ceil(hidden / 16)
        self.in_proj = nn.Linear(hidden, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, o.conv, groups=inner)
        self.x_proj = nn.Linear(inner, self.rank + 2 * o.state, bias=False)
        self.dt_proj = nn.Linear(self.rank, inner)
        dt = torch.exp(torch.rand(inner) * (math.log(o.dt_max) - math.log(o.dt_min)) + math.log(o.dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)
        self.a_log = nn.Parameter(torch.log(torch.arange(1, o.state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.d = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, u: torch.Tensor, state):
        x, z = self.in_proj(u).chunk(2, dim=-1)
        batch, inner = u.shape[0], x.shape[-1]
        if state is None:
            state = (torch.zeros(batch, inner, self.n, dtype=u.dtype, device=u.device),
                     torch.zeros(batch, inner, self.conv.kernel_size[0] - 1, dtype=u.dtype, device=u.device))
        h0, tail = state
        padded = torch.cat([tail, x.transpose(1, 2)], 2)  # the previous segment's last inputs, then this one's
        x = F.silu(self.conv(padded).transpose(1, 2))
        dt, b, c = self.x_proj(x).split([self.rank, self.n, self.n], dim=-1)
        dt = F.softplus(self.dt_proj(dt))
        y, last = selective_scan(dt, -torch.exp(self.a_log), dt * x, b, c, h0, self.chunk)
        tail = padded[:, :, padded.shape[2] - tail.shape[2]:]
        return self.out_proj((y + x * self.d) * F.silu(z)), (last, tail)


class MambaModel(ScanModel):
    description = "selective state-space block after Mamba (Gu & Dao 2023), pure PyTorch on the chunked scan"
    Options = MambaOptions

    def mixer(self):
        return SelectiveMixer(self.options.hidden, self.options)
