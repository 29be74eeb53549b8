"""LSTM over each whole sequence, trained by full backpropagation through time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from baselines.sequence_regressor import SequenceRegressor, SequenceRegressorOptions
from benchmark.api import check_options
from benchmark.api.padding import has_padding


@dataclass
class LSTMOptions(SequenceRegressorOptions):
    layers: int = 1
    # steps per LSTM call: longer sequences run in chunks with the state carried and the graph kept, so the
    # gradient is still exact full BPTT while no single call exceeds what cuDNN supports (~65k steps)
    chunk_steps: int = 16_384

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**SequenceRegressorOptions.SEARCH_SPACE, "layers": ("choice", [1, 2])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("layers", "chunk_steps"))


class LSTMNet(nn.Module):
    def __init__(self, input_dim: int, hidden: int, layers: int, n_targets: int, chunk_steps: int = 16_384):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, n_targets)
        self.chunk_steps = chunk_steps

    def forward(self, x, lengths: torch.Tensor | None = None):
        """``lengths`` (one per row, all >= 1) packs the batch so no step of padding is computed; outputs past
        a row's length are then zero."""
        if x.shape[1] <= self.chunk_steps:
            if lengths is None:
                return self.head(self.lstm(x)[0])
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            return self.head(pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0])
        outputs, state = [], None
        for start in range(0, x.shape[1], self.chunk_steps):  # state carried, graph kept: exact BPTT
            out, state = self.lstm(x[:, start: start + self.chunk_steps], state)
            outputs.append(self.head(out))
        return torch.cat(outputs, 1)


class LSTMModel(SequenceRegressor):
    description = "LSTM over each whole sequence, trained by full BPTT"
    Options = LSTMOptions

    def build_network(self, input_dim, n_targets):
        o = self.options
        return LSTMNet(input_dim, o.hidden, o.layers, n_targets, o.chunk_steps)

    def forward(self, x, mask):
        lengths = mask.sum(1).long()
        packable = has_padding(mask) and bool((lengths > 0).all())
        return self.net(x, lengths if packable else None)
