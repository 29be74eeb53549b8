"""The scan models: the chunked scan against a step-by-step loop (values and gradients), segments that join
exactly, causality, the parameter counts at the defaults, bad options, and training that beats the
untrained network."""

import pytest
import torch

from baselines.ssm.lru import LRUModel, LRUOptions
from baselines.ssm.mamba import MambaModel, MambaOptions
from baselines.ssm.mingru import MinGRUModel, MinGRUOptions
from baselines.ssm.s4d import S4DModel, S4DOptions
from baselines.ssm import scan
from baselines.ssm.scan import METHODS, linear_scan, scan_values, selective_scan
from benchmark.api import NullLog, Selector, TaskSpec, TrainBudget
from tasks.synthetic import SynthAffect, SynthAffectOptions

MODELS = [S4DModel, LRUModel, MambaModel, MinGRUModel]
SYNTH_AFFECT = TaskSpec((("audio", 16), ("music", 8), ("scene", 16), ("pose", 8), ("face", 8)),
                        ("valence", "arousal"), "affect_regression")


def step_loop(a, b, h0):
    h, out = h0, []
    for t in range(b.shape[1]):
        h = (a[:, 0] if a.shape[1] == 1 else a[:, t]) * h + b[:, t]
        out.append(h)
    return torch.stack(out, 1)


def _scan_case(dtype, steps, constant, batch_of_a=3):
    g = torch.Generator().manual_seed(steps)
    shape = (batch_of_a, 1 if constant else steps, 4)
    a = torch.rand(shape, generator=g, dtype=torch.float64) * 0.9 + 0.05
    if dtype.is_complex:
        a = a * torch.exp(1j * 3 * torch.rand(shape, generator=g, dtype=torch.float64))
    b = torch.randn(3, steps, 4, generator=g, dtype=torch.float64).to(dtype)
    h0 = torch.randn(3, 4, generator=g, dtype=torch.float64).to(dtype)
    return [t.requires_grad_() for t in (a, b, h0)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("constant", [False, True], ids=["varying", "constant"])
@pytest.mark.parametrize("steps", [1, 7, 100])  # one step; under a chunk; several levels of blocks
@pytest.mark.parametrize("method", METHODS)
def test_the_scan_equals_the_step_loop_in_values_and_gradients(dtype, constant, steps, method):
    a, b, h0 = _scan_case(dtype, steps, constant)
    h, reference = linear_scan(a, b, h0, chunk=4, method=method), step_loop(a, b, h0)
    torch.testing.assert_close(h, reference)
    weights = torch.randn(h.shape, dtype=torch.float64)
    grads = torch.autograd.grad((h * weights).real.sum(), (a, b, h0))
    expected = torch.autograd.grad((reference * weights).real.sum(), (a, b, h0))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)


def test_the_scan_takes_a_decay_shared_by_the_batch_and_a_zero_start():
    a, b, _ = _scan_case(torch.float64, 30, constant=False, batch_of_a=1)
    h = linear_scan(a, b, chunk=8)
    torch.testing.assert_close(h, step_loop(a, b, torch.zeros(3, 4, dtype=torch.float64)))
    assert torch.autograd.grad(h.sum(), a)[0].shape == a.shape
    with pytest.raises(ValueError, match="constant in time"):
        linear_scan(a[:, :5], b)
    with pytest.raises(ValueError, match="unknown scan method 'hillis'"):
        linear_scan(a, b, method="hillis")


@pytest.mark.parametrize("method", METHODS)
def test_the_reverse_scan_runs_the_recurrence_backwards_with_the_decay_shifted(method):
    """The backward pass's recurrence, checked on its own: g_t = a_{t+1} g_{t+1} + b_t from g_T = h0."""
    a, b, h0 = (t.detach() for t in _scan_case(torch.complex128, 37, constant=False))
    g, out = h0, [None] * 37
    for t in reversed(range(37)):
        g = (a[:, t + 1] * g if t + 1 < 37 else g) + b[:, t]
        out[t] = g
    got = scan_values(a.clone(), b.clone(), h0, chunk=4, method=method, reverse=True, shift=1)
    torch.testing.assert_close(got, torch.stack(out, 1))


def selective_step_loop(dt, a, u, b, c, h0):
    h, out = h0, []
    for t in range(dt.shape[1]):
        h = torch.exp(dt[:, t, :, None] * a) * h + u[:, t, :, None] * b[:, t, None, :]
        out.append((h * c[:, t, None, :]).sum(-1))
    return torch.stack(out, 1), h


@pytest.mark.parametrize("block_steps", [1, 3, 50])  # a step a block; blocks with a shorter last one; one block
@pytest.mark.parametrize("method", METHODS)
def test_the_selective_scan_equals_the_step_loop_in_values_and_gradients(monkeypatch, block_steps, method):
    g = torch.Generator().manual_seed(block_steps)
    batch, steps, width, state = 2, 10, 3, 4
    dt = torch.rand(batch, steps, width, generator=g, dtype=torch.float64) * 0.5
    a = -torch.rand(width, state, generator=g, dtype=torch.float64) * 2
    u, b, c = (torch.randn(batch, steps, n, generator=g, dtype=torch.float64) for n in (width, state, state))
    h0 = torch.randn(batch, width, state, generator=g, dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (dt, a, u, b, c, h0)]
    monkeypatch.setattr(scan, "CACHE_BYTES", block_steps * h0.numel() * h0.element_size())
    (y, last), (want_y, want_last) = selective_scan(*inputs, chunk=4, method=method), selective_step_loop(*inputs)
    torch.testing.assert_close(y, want_y)
    torch.testing.assert_close(last, want_last)
    wy, wl = torch.randn(y.shape, dtype=torch.float64), torch.randn(last.shape, dtype=torch.float64)
    grads = torch.autograd.grad((y * wy).sum() + (last * wl).sum(), inputs)
    expected = torch.autograd.grad((want_y * wy).sum() + (want_last * wl).sum(), inputs)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)


def _segmented(cls, segment_steps: int):
    return cls(cls.Options(hidden=16, segment_steps=segment_steps), SYNTH_AFFECT, seed=0).net


@pytest.mark.parametrize("cls", MODELS)
def test_segments_join_exactly_in_predictions_and_gradients(cls):
    """Training in recomputed segments with the states carried is the same computation as one pass."""
    x = torch.randn(2, 45, 56)

    def run(segment_steps):
        net = _segmented(cls, segment_steps)
        net.train()
        out = net(x)
        (out ** 2).sum().backward()  # as training does: reentrant recomputation has no autograd.grad
        return out.detach(), [p.grad for p in net.parameters()]

    whole, whole_grads = run(1000)
    pieces, piece_grads = run(10)
    torch.testing.assert_close(pieces, whole, rtol=1e-4, atol=1e-5)
    for got, want in zip(piece_grads, whole_grads):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("cls", MODELS)
def test_segments_join_exactly_in_evaluation(cls):
    """Evaluation runs the segments one after another, without recomputation, the state carried."""
    x = torch.randn(2, 45, 56)
    pieces, whole = _segmented(cls, 10).eval(), _segmented(cls, 1000).eval()
    with torch.no_grad():
        torch.testing.assert_close(pieces(x), whole(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("segment_steps", [1000, 13])  # one segment; segments whose states carry
def test_s4d_as_a_convolution_equals_s4d_on_the_scan_in_predictions_and_gradients(segment_steps):
    x = torch.randn(3, 60, 56, generator=torch.Generator().manual_seed(1))

    def run(kernel):
        model = S4DModel(S4DOptions(hidden=8, state=6, segment_steps=segment_steps, kernel=kernel), SYNTH_AFFECT, seed=0)
        model.net.train()
        out = model.net(x)
        (out ** 2).sum().backward()
        return out.detach(), [p.grad for p in model.net.parameters()]

    conv, conv_grads = run("conv")
    scan, scan_grads = run("scan")
    torch.testing.assert_close(conv, scan, rtol=1e-4, atol=1e-5)
    for got, want in zip(conv_grads, scan_grads):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("cls", MODELS)
def test_no_step_sees_a_later_one(cls):
    model = cls(cls.Options(hidden=16), SYNTH_AFFECT, seed=0)
    model.net.eval()
    x = torch.randn(1, 30, 56)
    later = x.clone()
    later[:, 20:] += 5
    with torch.no_grad():
        a, b = model.net(x), model.net(later)
    torch.testing.assert_close(a[:, :20], b[:, :20])
    assert not torch.allclose(a[:, 20:], b[:, 20:])


# shared by all (input 56, hidden 64, 2 layers, 2 targets): encoder 56*64+64, two pre-norms 2*128, final norm
# 128, head 64*2+2 = 4,162; the gated output after S4D, the LRU and minGRU: 64*128+128 = 8,320
@pytest.mark.parametrize("cls, expected", [
    # per layer: log dt 64, A real and imaginary 2 x 64*8, C 64*8 complex, D 64 (state 16 = 8 pairs)
    (S4DModel, 4162 + 2 * (64 + 2 * 512 + 2 * 512 + 64 + 8320)),
    # per layer: nu, theta, gamma 3 x 32, B 32x64 and C 64x32 complex, D 64
    (LRUModel, 4162 + 2 * (3 * 32 + 2 * 2 * 2048 + 64 + 8320)),
    # hidden 48, inner 96, dt rank 3: in 48*192, conv 96*4+96, x 96*35, dt 3*96+96, A 96*16, D 96, out 96*48;
    # encoder 56*48+48, norms 2*2*48 + 2*48, head 48*2+2
    (MambaModel, 2736 + 192 + 96 + 98 + 2 * (9216 + 480 + 3360 + 384 + 1536 + 96 + 4608)),
    # per layer: gate and candidate 64*128+128
    (MinGRUModel, 4162 + 2 * (8320 + 8320)),
])
def test_parameter_counts_at_the_defaults_are_the_lstms_order(cls, expected):
    assert cls(cls.Options(), SYNTH_AFFECT, seed=0).n_parameters() == expected
    assert expected in (25_154, 37_506, 42_482, 37_442)  # the LSTM's at hidden 64: 31,362


@pytest.mark.parametrize("options, message", [
    (lambda: S4DOptions(state=15), "state must be even"),
    (lambda: S4DOptions(dt_min=0.5, dt_max=0.1), "dt_min <= dt_max"),
    (lambda: S4DOptions(kernel="fft"), "kernel must be one of conv, scan"),
    (lambda: LRUOptions(r_min=0.99, r_max=0.9), "r_min < r_max"),
    (lambda: MambaOptions(expand=0), "expand must be >= 1"),
    (lambda: MinGRUOptions(segment_steps=0), "segment_steps must be >= 1"),
    (lambda: MinGRUOptions(dropout=1.0), "dropout must be in"),
])
def test_bad_options_name_what_is_wrong(options, message):
    with pytest.raises(ValueError, match=message):
        options()


def _beats_its_untrained_self(model) -> None:
    task = SynthAffect(SynthAffectOptions(n_sequences=40, length=120, lag=3))
    data = task.load()
    fold = data.folds[0]
    train, val, test = (data.episodes_of(fold.part(p)) for p in ("train", "val", "test"))
    model.scaler.fit(train)
    untrained = task.evaluate(model.predict(test), test)["mse"]
    selector = Selector(lambda p: task.evaluate(p, val), "mse", False, 8)
    model.fit(train, val, TrainBudget(epochs=8, patience=8), selector, NullLog())
    assert task.evaluate(model.predict(test), test)["mse"] < 0.7 * untrained


@pytest.mark.slow
@pytest.mark.parametrize("cls", MODELS)
def test_each_trains_better_than_its_untrained_self(cls):
    # segments of 64 steps on sequences of 120: training goes through the recomputed, carried path
    _beats_its_untrained_self(cls(cls.Options(hidden=32, segment_steps=64), SYNTH_AFFECT, seed=0))


def test_xlstm_is_causal_and_counts_its_stack():
    pytest.importorskip("xlstm")
    from baselines.xlstm_model import XLSTMModel
    model = XLSTMModel(XLSTMModel.Options(), SYNTH_AFFECT, seed=0)
    # encoder 56*64+64 and head 64*2+2 around one block of the package's stack (mLSTM layer + feed-forward)
    assert model.n_parameters() == 3648 + 130 + 54024
    model.net.eval()
    x = torch.randn(1, 70, 56)  # not a whole number of the kernel's 64-step chunks
    later = x.clone()
    later[:, 50:] += 5
    with torch.no_grad():
        a, b = model.net(x), model.net(later)
    assert a.shape == (1, 70, 2)
    torch.testing.assert_close(a[:, :50], b[:, :50])


def test_xlstm_without_its_package_says_how_to_install_it(monkeypatch):
    import sys

    from baselines.xlstm_model import XLSTMModel
    monkeypatch.setitem(sys.modules, "xlstm.xlstm_large.model", None)
    with pytest.raises(ImportError, match=r"pip install -e \"\.\[xlstm\]\""):
        XLSTMModel(XLSTMModel.Options(), SYNTH_AFFECT, seed=0)


@pytest.mark.slow
def test_xlstm_trains_better_than_its_untrained_self():
    pytest.importorskip("xlstm")
    from baselines.xlstm_model import XLSTMModel
    _beats_its_untrained_self(XLSTMModel(XLSTMModel.Options(hidden=32), SYNTH_AFFECT, seed=0))


def test_the_scan_models_are_listed_and_run_from_the_cli(tmp_path):
    from conftest import TINY_AFFECT, TINY_SUMMARY
    from typer.testing import CliRunner

    from benchmark.cli import app
    runner = CliRunner()
    listing = runner.invoke(app, ["models"])
    assert all(name in listing.output for name in ("s4d", "lru", "mamba", "mingru", "xlstm"))
    results = str(tmp_path / "res")
    sets = [a for s in TINY_AFFECT for a in ("--set", s)]
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "s4d,lru,mamba,mingru", "--results", results,
                            "--set", "segment_steps=16", *sets])
    assert r.exit_code == 0, r.output
    assert r.output.count(": completed") == 4
    summary = [a for s in TINY_SUMMARY for a in ("--set", s)]
    r = runner.invoke(app, ["run", "--task", "synth-summary", "--model", "mingru", "--results", results, *summary])
    assert r.exit_code == 0 and ": completed" in r.output
    bad = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lru", "--set", "r_min=2", *sets])
    assert bad.exit_code != 0 and "r_min < r_max" in bad.output
