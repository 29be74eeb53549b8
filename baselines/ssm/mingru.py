"""minGRU (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, 2024, "Were RNNs All We Needed?"): a GRU whose gate
and candidate depend on the input only, ``z_t = sigmoid(W_z u_t)``, ``h_t = (1 - z_t) h_{t-1} + z_t W_h u_t``,
so the recurrence is linear and runs on the shared scan. After it, the same gated linear output as S4D's
(the paper's stacks put a projection after each layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from baselines.ssm.network import GLUOut, ScanModel, ScanOptions, zeros_state
from baselines.ssm.scan import linear_scan


@dataclass
class MinGRUOptions(ScanOptions):
    pass


class MinGRUMixer(nn.Module):
    state_size = 1  # tensors in the carried state

    def __init__(self, hidden: int, chunk: int):
        super().__init__()
        self.gates = nn.Linear(hidden, 2 * hidden)
        self.out = GLUOut(hidden)
        self.chunk = chunk

    def forward(self, u: torch.Tensor, state):
        z, candidate = self.gates(u).chunk(2, dim=-1)
        z = torch.sigmoid(z)
        h0 = zeros_state(state, lambda: torch.zeros(u.shape[0], u.shape[-1], dtype=u.dtype, device=u.device))
        h = linear_scan(1 - z, z * candidate, h0, self.chunk)
        return self.out(h), (h[:, -1],)


class MinGRUModel(ScanModel):
    description = "minGRU (Feng et al. 2024): input-only gates, a linear recurrence on the chunked scan"
    Options = MinGRUOptions

    def mixer(self):
        return MinGRUMixer(self.options.hidden, self.options.scan_chunk)
