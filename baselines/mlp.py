"""Per-step MLP: sees one segment at a time, so it measures what needs no temporal context."""

from __future__ import annotations

from torch import nn

from baselines.sequence_regressor import SequenceRegressor
from benchmark.api.padding import on_valid_steps


class MLPModel(SequenceRegressor):
    description = "per-step MLP, no temporal context (context-free floor)"

    def build_network(self, input_dim, n_targets):
        h = self.options.hidden
        return nn.Sequential(nn.Linear(input_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, n_targets))

    def forward(self, x, mask):
        return on_valid_steps(self.net, x, mask)
