"""Transformer and truncated-BPTT LSTM: causality, windows, truncation, learning."""

import copy

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence

from baselines.lstm import LSTMModel, LSTMOptions
from baselines.lstm_tbptt import TBPTTLSTMModel, TBPTTOptions
from baselines.transformer import CausalTransformer, TransformerModel, TransformerOptions, causal_mask
from baselines.mlp import MLPModel
from benchmark.api import Episode
from benchmark.api import NullLog, TrainBudget
from benchmark.api import Selector
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


def _unequal_batch(model_cls, options, lengths=(37, 50, 12, 29)):
    """A batch of sequences of unequal length (most of it padding past the short ones)."""
    data = SynthAffect(SynthAffectOptions(n_sequences=len(lengths), length=max(lengths), lag=3)).load()
    eps = [Episode(e.id, {m: f[:n] for m, f in e.features.items()}, e.targets[:n])
           for e, n in zip(data.episodes.values(), lengths)]
    model = model_cls(options, data.spec, seed=0)
    model.scaler.fit(eps)
    return model, eps, model._batch(eps)


@pytest.mark.parametrize("cls, options", [(LSTMModel, LSTMOptions(hidden=16)), (MLPModel, None),
                                          (TransformerModel, TransformerOptions(hidden=16, dropout=0.0))])
def test_skipping_padding_gives_the_padded_batch_predictions_and_gradients(cls, options):
    model, _, (x, y, mask) = _unequal_batch(cls, options or cls.Options())
    model.net.eval()
    seen = []
    first = model.net.lstm if cls is LSTMModel else model.net[0] if cls is MLPModel else model.net.inp
    first.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    grads = []
    for forward in (lambda: model.net(x), lambda: model.forward(x, mask)):  # every step, then padding skipped
        model.net.zero_grad()
        pred = forward()
        model.masked_mse(pred, y, mask).backward()
        grads.append([p.grad.clone() for p in model.net.parameters()])
        valid = pred[mask > 0]
        grads[-1].append(valid.detach())
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    padded, skipped = seen
    assert padded.shape[:2] == x.shape[:2]
    n_valid = int(mask.sum())
    if cls is LSTMModel:
        assert isinstance(skipped, PackedSequence) and skipped.data.shape[0] == n_valid
    else:
        assert skipped.shape[0] == n_valid  # only the real steps reach the wide input layer


def test_tbptt_drops_ended_sequences_without_changing_its_updates():
    options = TBPTTOptions(hidden=16, truncation=8)
    model, eps, (x, y, mask) = _unequal_batch(TBPTTLSTMModel, options)
    reference = copy.deepcopy(model.net)
    rows = []
    model.net.lstm.register_forward_pre_hook(lambda mod, args: rows.append(args[0].shape[0]))
    got = list(model.batch_updates(x, y, mask, torch.optim.SGD(model.net.parameters(), lr=0.1)))
    optimizer, state, want = torch.optim.SGD(reference.parameters(), lr=0.1), None, []
    for start in range(0, x.shape[1], 8):  # the plain loop: every row in every chunk
        chunk = slice(start, start + 8)
        out, state = reference.lstm(x[:, chunk], state)
        loss = model.masked_mse(reference.head(out), y[:, chunk], mask[:, chunk])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), options.grad_clip)
        optimizer.step()
        state = tuple(s.detach() for s in state)
        want.append(loss.item())
    assert got == pytest.approx(want, rel=1e-5)
    assert rows == [4, 4, 3, 3, 2, 1, 1]  # lengths 37, 50, 12, 29 in chunks of 8
    for a, b in zip(model.net.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
