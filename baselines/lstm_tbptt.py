"""LSTM trained by truncated BPTT: gradients flow back at most ``truncation`` steps; the hidden state
is carried (detached) from one chunk to the next, so the model still sees the whole past."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.lstm import LSTMModel, LSTMOptions


@dataclass
class TBPTTOptions(LSTMOptions):
    truncation: int = 32  # steps per backward pass


class TBPTTLSTMModel(LSTMModel):
    description = "LSTM trained by truncated BPTT (truncation steps), hidden state carried across chunks"
    Options = TBPTTOptions

    def __init__(self, options, spec, seed):
        if options.truncation < 1:
            raise ValueError(f"truncation must be >= 1, got {options.truncation}")
        super().__init__(options, spec, seed)

    def train_batch(self, x, y, mask, optimizer) -> float:
        state, total, weight = None, 0.0, 0
        for start in range(0, x.shape[1], self.options.truncation):
            chunk = slice(start, start + self.options.truncation)
            if not mask[:, chunk].any():
                break
            out, state = self.net.lstm(x[:, chunk], state)
            loss = self.masked_mse(self.net.head(out), y[:, chunk], mask[:, chunk])
            self.optimizer_step(loss, optimizer)
            state = tuple(s.detach() for s in state)
            n = int(mask[:, chunk].sum())
            total, weight = total + loss.item() * n, weight + n
        return total / max(weight, 1)
