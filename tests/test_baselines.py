"""Transformer and truncated-BPTT LSTM: causality, windows, truncation, learning."""

import pytest
import torch

from baselines.lstm_tbptt import TBPTTLSTMModel, TBPTTOptions
from baselines.transformer import CausalTransformer, TransformerModel, TransformerOptions, causal_mask
from benchmark.interfaces import NullLog, TrainBudget
from benchmark.selection import Selector
from tasks.synthetic import SynthAffect, SynthAffectOptions


def test_causal_mask_with_and_without_window():
    full = causal_mask(4, 0)
    assert torch.isinf(full[0, 1]) and full[3, 0] == 0
    windowed = causal_mask(4, 2)
    assert windowed[3, 2] == 0 and windowed[3, 3] == 0 and torch.isinf(windowed[3, 1])


@pytest.mark.parametrize("window", [0, 3])
def test_transformer_never_sees_the_future_nor_beyond_its_window(window):
    torch.manual_seed(0)
    net = CausalTransformer(5, TransformerOptions(hidden=16, heads=2, dropout=0.0, window=window), 1).eval()
    x = torch.randn(1, 12, 5)
    base = net(x)
    later = x.clone()
    later[:, 8:] += 5.0
    assert torch.allclose(net(later)[:, :8], base[:, :8], atol=1e-5)  # the future cannot change the past
    if window:
        earlier = x.clone()
        earlier[:, :4] += 5.0  # 2 layers x (3 - 1) steps back: step 3 reaches at most step 7
        assert torch.allclose(net(earlier)[:, 8:], base[:, 8:], atol=1e-5)
        assert not torch.allclose(net(earlier)[:, 7], base[:, 7], atol=1e-5)
        assert not torch.allclose(net(earlier)[:, 4], base[:, 4], atol=1e-5)


def test_tbptt_updates_once_per_chunk_with_real_steps():
    spec_task = SynthAffect(SynthAffectOptions(n_sequences=6, length=50, lag=3))
    data = spec_task.load()
    model = TBPTTLSTMModel(TBPTTOptions(truncation=16), data.spec, seed=0)
    eps = list(data.episodes.values())
    model.scaler.fit(eps)
    x, y, mask = model._batch(eps)
    steps = []

    class CountingAdam(torch.optim.Adam):
        def step(self, closure=None):
            steps.append(1)
            return super().step(closure)

    losses = list(model.batch_updates(x, y, mask, CountingAdam(model.net.parameters())))
    assert len(steps) == len(losses) == 4  # 50 steps in chunks of 16, each one update of the budget
    assert model.updates_per_epoch(eps) == 4


def test_bad_options():
    data = SynthAffect(SynthAffectOptions(n_sequences=6, length=20, lag=3)).load()
    with pytest.raises(ValueError, match="truncation must be >= 1"):
        TBPTTLSTMModel(TBPTTOptions(truncation=0), data.spec, seed=0)
    with pytest.raises(ValueError, match="divisible by heads"):
        TransformerModel(TransformerOptions(hidden=30, heads=4), data.spec, seed=0)


@pytest.mark.parametrize("cls, options", [(TBPTTLSTMModel, TBPTTOptions(truncation=8)),
                                          (TransformerModel, TransformerOptions(dropout=0.0))])
def test_trained_baseline_beats_its_untrained_self(cls, options):
    task = SynthAffect(SynthAffectOptions(n_sequences=40, length=120, lag=3))
    data = task.load()
    f = data.folds[0]
    train, val, test = (data.episodes_of(f.part(p)) for p in ("train", "val", "test"))
    model = cls(options, data.spec, seed=0)
    model.scaler.fit(train)
    untrained = task.evaluate(model.predict(test), test)["mse"]
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, 8)
    model.fit(train, val, TrainBudget(epochs=8, patience=8), sel, NullLog())
    assert task.evaluate(model.predict(test), test)["mse"] < 0.7 * untrained
