"""S4D (Gu, Gupta, Goel & Ré, NeurIPS 2022, "On the Parameterization and Initialization of Diagonal State
Space Models"): per channel, a diagonal complex state space ``x' = A x + B u, y = C x + D u`` discretised by
zero-order hold with a learnt step ``dt``, S4D-Lin initialisation (``A_n = -1/2 + i pi n``), ``B = 1``, and
``y = 2 Re(C x)``, as in the paper's minimal ``s4d.py``. After it, GELU and a gated linear output, as there.

Being time-invariant, a segment of S4D is a causal convolution of the input with the kernel
``K_j = 2 Re(sum_n C_n exp(dt A_n)^j)``, plus the decayed contribution of the state the segment starts from;
``kernel="conv"`` (the default) computes it by FFT as the paper does, and the state it hands to the next
segment in closed form, so segments still join exactly and no ``[B, T, hidden, N/2]`` state tensor is ever
formed (on a CPU 4-12 times faster per update than the scan, the more the larger ``state``).
``kernel="scan"`` runs the same recurrence on the shared scan, step state by step state; the two agree to
float rounding (tested).
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


KERNELS = ("conv", "scan")


@dataclass
class S4DOptions(ScanOptions):
    # N (N/2 complex conjugate pairs per channel, as the paper counts). The paper's 64 is in the search
    # space; 16 is the default because on the scan every channel carries its own N/2 states, so a step
    # costs hidden * N/2 complex multiply-adds (4x the time at 64; the paper's convolution has no such factor)
    state: int = 16
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    kernel: str = "conv"  # how a segment is computed: "conv" (FFT, as the paper) or "scan" (the shared scan)

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**ScanOptions.SEARCH_SPACE, "state": ("choice", [16, 64])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("state",), positive=("dt_min", "dt_max"))
        if self.state % 2 or self.dt_min > self.dt_max:
            raise ValueError(f"state must be even ({self.state}) and dt_min <= dt_max ({self.dt_min}, {self.dt_max})")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {self.kernel!r}")


class S4DMixer(nn.Module):
    state_size = 1  # tensors in the carried state

    def __init__(self, hidden: int, state: int, dt_min: float, dt_max: float, chunk: int, kernel: str = "conv"):
        super().__init__()
        self.kernel = kernel
        n = state // 2
        self.log_dt = nn.Parameter(torch.rand(hidden) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.log_a_real = nn.Parameter(torch.full((hidden, n), math.log(0.5)))
        self.a_imag = nn.Parameter(math.pi * torch.arange(n, dtype=torch.float32).repeat(hidden, 1))
        self.c = nn.Parameter(torch.view_as_real(torch.randn(hidden, n, dtype=torch.cfloat)))
        self.d = nn.Parameter(torch.randn(hidden))
        self.out = GLUOut(hidden)
        self.chunk = chunk

    def discrete(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``dt A``, the per-step decay ``exp(dt A)`` and the output weights ``C (exp(dt A) - 1) / A`` (B = 1)."""
        a = -torch.exp(self.log_a_real) + 1j * self.a_imag
        dta = a * torch.exp(self.log_dt).unsqueeze(-1)
        decay = torch.exp(dta)
        return dta, decay, torch.view_as_complex(self.c) * (decay - 1) / a

    def forward(self, u: torch.Tensor, state):
        dta, decay, c = self.discrete()
        if self.kernel == "conv":
            y, last = self.convolved(u, None if state is None else state[0], dta, c)
        else:
            b = u.unsqueeze(-1).to(decay.dtype).expand(*u.shape, decay.shape[-1])
            h0 = zeros_state(state, lambda: torch.zeros(u.shape[0], *decay.shape, dtype=decay.dtype, device=u.device))
            h = linear_scan(decay.expand(u.shape[0], 1, *decay.shape), b, h0, self.chunk)
            y, last = 2 * torch.einsum("bthn,hn->bth", h, c).real, h[:, -1]
        return self.out(y + u * self.d), (last,)

    @staticmethod
    def convolved(u: torch.Tensor, h0: torch.Tensor | None, dta: torch.Tensor, c: torch.Tensor):
        """``2 Re(C h_t)`` for every step of ``u`` ``[B, T, H]`` and the last state ``h_{T-1}``, from
        ``h_t = decay^(t+1) h0 + sum_k decay^(t-k) u_k``: the sum is a causal convolution with the kernel
        ``K_j = 2 Re(sum_n c_n decay_n^j)`` (FFT of twice the length, so it does not wrap around)."""
        T = u.shape[1]
        powers = torch.exp(dta.unsqueeze(-1) * torch.arange(T + 1, device=u.device))  # [H, n, T + 1]: decay^j
        kernel = 2 * torch.einsum("hn,hnj->hj", c, powers[..., :T]).real
        size = 2 * T
        x = u.transpose(1, 2)  # [B, H, T]
        y = torch.fft.irfft(torch.fft.rfft(x, n=size) * torch.fft.rfft(kernel, n=size), n=size)[..., :T]
        # the last state: sum_k decay^(T-1-k) u_k (+ decay^T h0), one matrix product per channel
        last = torch.einsum("bht,hnt->bhn", x.to(powers.dtype), powers[..., :T].flip(-1))
        if h0 is not None:
            y = y + 2 * torch.einsum("bhn,hn,hnt->bht", h0, c, powers[..., 1:]).real
            last = last + h0 * powers[..., T]
        return y.transpose(1, 2), last


class S4DModel(ScanModel):
    description = "S4D (Gu et al. 2022): diagonal complex state spaces, S4D-Lin init, FFT convolution per segment (or the chunked scan)"
    Options = S4DOptions

    def mixer(self):
        o = self.options
        return S4DMixer(o.hidden, o.state, o.dt_min, o.dt_max, o.scan_chunk, o.kernel)
