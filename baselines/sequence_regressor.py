"""The supervised training loop shared by sequence baselines: a network maps ``[B, T, D]`` features to
``[B, T, k]`` predictions and is trained on the masked MSE of every step, one batch per optimizer update,
keeping the checkpoint the validation selector calls best.

A new baseline subclasses ``SequenceRegressor`` and writes ``build_network`` (docs/adding-a-model.md
has a GRU).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from benchmark.api import (Episode, FeatureScaler, FitInfo, Model, ReshuffledPasses, Selector, TrainBudget, TrainingLog,
                           TrainingState, check_device, check_options, run_updates, select_modalities, torch_device)
# re-exported: plugins written against 0.1 import them from here
from benchmark.api.padding import has_padding, on_valid_steps  # noqa: F401


@dataclass
class SequenceRegressorOptions:
    hidden: int = 64
    lr: float = 3e-3
    batch_size: int = 16
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    modalities: str = "all"  # or a comma-separated subset, e.g. "audio,face"
    device: str = "auto"  # auto | cpu | cuda[:N] (--device); the harness resolves auto before the record

    # what `rlbench tune` samples (benchmark.studies.tuning reads the specs): kind, then bounds or choices
    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {
        "lr": ("log-uniform", 3e-4, 1e-2),
        "hidden": ("choice", [32, 64, 128]),
        "batch_size": ("choice", [8, 16, 32]),
        "weight_decay": ("choice", [0.0, 1e-5, 1e-4]),
    }

    def __post_init__(self) -> None:
        check_options(self, at_least_1=("hidden", "batch_size"), positive=("lr",),
                      non_negative=("grad_clip", "weight_decay"))
        check_device(self.device)


class SequenceRegressor(Model):
    Options = SequenceRegressorOptions

    def build_network(self, input_dim: int, n_targets: int) -> nn.Module:
        """A module mapping features ``[B, T, input_dim]`` to predictions ``[B, T, n_targets]``."""
        raise NotImplementedError

    def __init__(self, options, spec, seed):
        super().__init__(options, spec, seed)
        chosen = select_modalities(spec, options.modalities)
        self.scaler = FeatureScaler([m for m, _ in chosen])
        self.device = torch_device(options.device)
        torch.manual_seed(seed)
        self.net = self.build_network(sum(d for _, d in chosen), spec.n_targets).to(self.device)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _batch(self, episodes: Sequence[Episode]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(torch.from_numpy(a).to(self.device) for a in self.scaler.batch(episodes))

    @staticmethod
    def masked_mse(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (((pred - y) ** 2).mean(-1) * mask).sum() / mask.sum().clamp(min=1)

    def optimizer_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad()
        loss.backward()
        if self.options.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.options.grad_clip)
        optimizer.step()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predictions ``[B, T, k]`` for a padded batch; only the steps under ``mask`` are read. A model whose
        network can skip padding (packing, valid rows only) overrides this: on videos of unequal length
        padding is most of a batch (TVSum: 16 videos of 49-323 clips are ~60 % padding)."""
        return self.net(x)

    def train_batch(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, optimizer) -> float:
        """One update on a padded batch (full backpropagation through the whole sequence)."""
        loss = self.masked_mse(self.forward(x, mask), y, mask)
        self.optimizer_step(loss, optimizer)
        return loss.item()

    def batch_updates(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, optimizer) -> Iterator[float]:
        """The optimizer updates one batch makes, each yielding its loss (one here; truncated BPTT makes one
        per chunk)."""
        yield self.train_batch(x, y, mask, optimizer)

    def updates_per_epoch(self, train: Sequence[Episode]) -> int:
        return -(-len(train) // self.options.batch_size)

    def fit(self, train, val, budget: TrainBudget, selector: Selector, log: TrainingLog) -> FitInfo:
        self.scaler.fit(train)
        generator = torch.Generator().manual_seed(self.seed)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.options.lr, weight_decay=self.options.weight_decay)
        initial = copy.deepcopy(self.net.state_dict())

        passes = ReshuffledPasses(train, self.options.batch_size, generator)

        def updates() -> Iterator[dict[str, float]]:
            self.net.train()
            for batch in passes:
                for loss in self.batch_updates(*self._batch(batch), optimizer):
                    yield {"train_loss": loss}
                    self.net.train()  # validation in between may have set eval mode

        # between two updates the state is whole only when each batch makes one update (truncated BPTT
        # carries its hidden state from chunk to chunk of a batch): then a cell can resume mid-training
        one_per_batch = type(self).batch_updates is SequenceRegressor.batch_updates
        resumable = TrainingState(net=self.net, optimizer=optimizer, passes=passes) if one_per_batch else None
        info, best = run_updates(budget, self.updates_per_epoch(train), selector, log, updates(),
                                 lambda: self.predict(val), lambda: copy.deepcopy(self.net.state_dict()),
                                 resumable=resumable)
        self.net.load_state_dict(best if best is not None else initial)
        return info

    @torch.no_grad()
    def predict(self, episodes: Sequence[Episode]) -> dict[str, np.ndarray]:
        self.net.eval()
        out = {}
        step = max(self.options.batch_size, 32)
        for start in range(0, len(episodes), step):
            chunk = list(episodes[start: start + step])
            x, _, mask = self._batch(chunk)
            pred = self.forward(x, mask).cpu().numpy().astype(np.float64)
            for i, ep in enumerate(chunk):
                out[ep.id] = pred[i, : ep.length]
        return out
