"""The supervised training loop shared by sequence baselines: a network maps ``[B, T, D]`` features to
``[B, T, k]`` predictions and is trained on the masked MSE of every step, one epoch at a time,
keeping the epoch the validation selector calls best.

A new baseline subclasses ``SequenceRegressor`` and writes ``build_network`` (see README, "Add a
baseline").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from benchmark.episodes import Episode, FeatureScaler, select_modalities
from benchmark.interfaces import FitInfo, Model, TrainBudget, TrainingLog
from benchmark.selection import Selector


@dataclass
class SequenceRegressorOptions:
    hidden: int = 64
    lr: float = 3e-3
    batch_size: int = 16
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    modalities: str = "all"  # or a comma-separated subset, e.g. "audio,face"


class SequenceRegressor(Model):
    Options = SequenceRegressorOptions

    def build_network(self, input_dim: int, n_targets: int) -> nn.Module:
        """A module mapping features ``[B, T, input_dim]`` to predictions ``[B, T, n_targets]``."""
        raise NotImplementedError

    def __init__(self, options, spec, seed):
        super().__init__(options, spec, seed)
        if options.batch_size < 1 or options.hidden < 1 or options.lr <= 0:
            raise ValueError(f"{type(self).__name__}: batch_size and hidden must be >= 1 and lr > 0")
        chosen = select_modalities(spec, options.modalities)
        self.scaler = FeatureScaler([m for m, _ in chosen])
        torch.manual_seed(seed)
        self.net = self.build_network(sum(d for _, d in chosen), spec.n_targets)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _batch(self, episodes: Sequence[Episode]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(torch.from_numpy(a) for a in self.scaler.batch(episodes))

    @staticmethod
    def masked_mse(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (((pred - y) ** 2).mean(-1) * mask).sum() / mask.sum().clamp(min=1)

    def optimizer_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        loss.backward()
        if self.options.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.options.grad_clip)
        optimizer.step()

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, optimizer) -> float:
        """One update on a padded batch (full backpropagation through the whole sequence)."""
        loss = self.masked_mse(self.net(x), y, mask)
        self.optimizer_step(loss, optimizer)
        return loss.item()

    def fit(self, train, val, budget: TrainBudget, selector: Selector, log: TrainingLog) -> FitInfo:
        o = self.options
        self.scaler.fit(train)
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=o.lr, weight_decay=o.weight_decay)
        best_state = copy.deepcopy(self.net.state_dict())
        info = FitInfo()
        for epoch in range(1, budget.epochs + 1):
            self.net.train()
            order = torch.randperm(len(train), generator=generator).tolist()
            losses = []
            for start in range(0, len(order), o.batch_size):
                x, y, mask = self._batch([train[i] for i in order[start: start + o.batch_size]])
                losses.append(self.train_batch(x, y, mask, optimizer))
            if selector.observe(epoch, self.predict(val)):
                best_state = copy.deepcopy(self.net.state_dict())
            row = {"epoch": epoch, "train_loss": float(np.mean(losses)), selector.history_key: selector.history[-1][1]}
            info.history.append(row)
            log.on_epoch(epoch, budget.epochs, row)
            info.epochs_run = epoch
            if selector.should_stop:
                break
        self.net.load_state_dict(best_state)
        info.best_epoch = selector.best_epoch
        return info

    @torch.no_grad()
    def predict(self, episodes: Sequence[Episode]) -> dict[str, np.ndarray]:
        self.net.eval()
        out = {}
        step = max(self.options.batch_size, 32)
        for start in range(0, len(episodes), step):
            chunk = list(episodes[start: start + step])
            x, _, _ = self._batch(chunk)
            pred = self.net(x).numpy().astype(np.float64)
            for i, ep in enumerate(chunk):
                out[ep.id] = pred[i, : ep.length]
        return out
