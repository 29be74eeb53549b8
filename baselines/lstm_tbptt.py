"""LSTM trained by truncated BPTT: gradients flow back at most ``truncation`` steps; the hidden state
is carried (detached) from one chunk to the next, so the model still sees the whole past. Each chunk is
one optimizer update, and the budget counts it as one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator

import torch

from baselines.lstm import LSTMModel, LSTMOptions
from benchmark.api import check_options


@dataclass
class TBPTTOptions(LSTMOptions):
    truncation: int = 32  # steps per backward pass

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**LSTMOptions.SEARCH_SPACE, "truncation": ("choice", [16, 32, 64])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("truncation",))


class TBPTTLSTMModel(LSTMModel):
    description = "LSTM trained by truncated BPTT (truncation steps), hidden state carried across chunks"
    Options = TBPTTOptions

    def batch_updates(self, x, y, mask, optimizer) -> Iterator[float]:
        """One optimizer update per chunk of ``truncation`` steps, each counted against the budget."""
        state, rows = None, slice(None)
        for start in range(0, x.shape[1], self.options.truncation):
            chunk = slice(start, start + self.options.truncation)
            if not mask[rows, chunk].any():
                break
            live = mask[rows, start] > 0
            if not live.all():  # rows whose sequence has ended leave the batch (padding is a suffix)
                rows = torch.nonzero(mask[:, start] > 0).squeeze(1)
                state = None if state is None else tuple(s[:, live] for s in state)
            out, state = self.net.lstm(x[rows, chunk], state)
            loss = self.masked_mse(self.net.head(out), y[rows, chunk], mask[rows, chunk])
            self.optimizer_step(loss, optimizer)
            state = tuple(s.detach() for s in state)
            yield loss.item()

    def updates_per_epoch(self, train) -> int:
        chunks = -(-max(e.length for e in train) // self.options.truncation)
        return super().updates_per_epoch(train) * chunks
