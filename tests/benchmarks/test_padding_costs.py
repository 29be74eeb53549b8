"""One training update on a TVSum-shaped batch (16 videos of 49-323 clips, 4,096 features: ~60 % of the
padded batch is padding) with every padded step computed, against the same update with padding skipped
(packing for the LSTM, valid steps only for the MLP and the Transformer's input projection). Ratios from
one process; the README quotes them."""

from __future__ import annotations

import time

import numpy as np
import pytest

from baselines.lstm import LSTMModel, LSTMOptions
from baselines.mlp import MLPModel
from baselines.sequence_regressor import SequenceRegressorOptions
from baselines.transformer import TransformerModel, TransformerOptions
from benchmark.api import Episode, TaskSpec

# clip counts of 16 TVSum videos drawn at random (seeded) from the release
LENGTHS = (323, 222, 202, 161, 138, 134, 130, 116, 99, 83, 78, 77, 76, 69, 52, 49)
MODELS = {"lstm": (LSTMModel, LSTMOptions(hidden=128)), "mlp": (MLPModel, SequenceRegressorOptions(hidden=128)),
          "transformer": (TransformerModel, TransformerOptions(hidden=64, dropout=0.0))}


def update_seconds(model, x, y, mask, skip: bool, rounds: int = 3) -> float:
    forward = (lambda: model.forward(x, mask)) if skip else (lambda: model.net(x))
    times = []
    for _ in range(rounds):
        model.net.zero_grad()
        start = time.perf_counter()
        model.masked_mse(forward(), y, mask).backward()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("name", list(MODELS))
def test_update_time_with_padding_skipped(benchmark, name):
    rng = np.random.default_rng(0)
    spec = TaskSpec((("rgb", 1024), ("flow", 1024), ("audio", 2048)), ("importance",), "summarization")
    eps = [Episode(f"v{i}", {m: rng.standard_normal((n, d), dtype=np.float32) for m, d in spec.modalities},
                   rng.random((n, 1), dtype=np.float32)) for i, n in enumerate(LENGTHS)]
    cls, options = MODELS[name]
    model = cls(options, spec, seed=0)
    model.scaler.fit(eps)
    x, y, mask = model._batch(eps)
    figures = {}

    def measure():
        figures["padded_s"] = update_seconds(model, x, y, mask, skip=False)
        figures["skipped_s"] = update_seconds(model, x, y, mask, skip=True)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    figures["speedup"] = figures["padded_s"] / figures["skipped_s"]
    benchmark.extra_info.update(figures)
    print(f"\n{name}: padded {figures['padded_s']:.3f} s, skipped {figures['skipped_s']:.3f} s, "
          f"x{figures['speedup']:.2f} (padding {1 - sum(LENGTHS) / (len(LENGTHS) * max(LENGTHS)):.0%})")
    assert figures["speedup"] > 1.0, name
