"""LSTM over each whole sequence, trained by full backpropagation through time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from baselines.sequence_regressor import SequenceRegressor, SequenceRegressorOptions
from benchmark.interfaces import check_options


@dataclass
class LSTMOptions(SequenceRegressorOptions):
    layers: int = 1

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**SequenceRegressorOptions.SEARCH_SPACE, "layers": ("choice", [1, 2])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("layers",))


class LSTMNet(nn.Module):
    def __init__(self, input_dim: int, hidden: int, layers: int, n_targets: int):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, n_targets)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.head(h)


class LSTMModel(SequenceRegressor):
    description = "LSTM over each whole sequence, trained by full BPTT"
    Options = LSTMOptions

    def build_network(self, input_dim, n_targets):
        return LSTMNet(input_dim, self.options.hidden, self.options.layers, n_targets)
