"""VASNet and PGL-SUM: the papers' architectures at their defaults (parameter counts), each video attended
on its own steps, PGL-SUM's positional table, and training that beats the untrained network."""

import math

import numpy as np
import pytest
import torch

from baselines.summarizers import (PGLAttention, PGLSumModel, PGLSumOptions, VASNetModel, VASNetOptions)
from benchmark.api import Episode, NullLog, Selector, TaskSpec, TrainBudget
from tasks.synthetic import SynthAffect, SynthAffectOptions

GOOGLENET = TaskSpec((("googlenet", 1024),), ("importance",), "summarization")


@pytest.mark.parametrize("cls, expected", [
    # attention K, Q, V and output 4 x 1024^2; regressor ka 1024^2 + 1024, kd 1025; two layer norms 2 x 2048
    (VASNetModel, 4 * 1024 ** 2 + 1024 ** 2 + 1024 + 1025 + 2 * 2048),
    # global: 8 heads of 128 (K, Q, V 3 x 1024^2) and output 1024^2; 4 local cells of 4 heads over 256
    # (3 x 1024 x 256 + 256 x 1024 each); linear_1 1024^2 + 1024, linear_2 1025; two layer norms
    (PGLSumModel, 4 * 1024 ** 2 + 4 * (4 * 1024 * 256) + 1024 ** 2 + 1024 + 1025 + 2 * 2048),
])
def test_parameter_counts_are_the_papers_at_their_defaults(cls, expected):
    assert cls(cls.Options(), GOOGLENET, seed=0).n_parameters() == expected
    assert expected in (5_249_025, 9_443_329)  # PGL-SUM's paper: 9.44 M


@pytest.mark.parametrize("cls", [VASNetModel, PGLSumModel])
def test_each_video_of_a_padded_batch_gets_what_it_would_get_alone(cls):
    model = cls(cls.Options(hidden=64, heads=4) if cls is PGLSumModel else cls.Options(hidden=64),
                TaskSpec((("x", 10),), ("importance",), "summarization"), seed=0)
    model.net.eval()
    x, mask = torch.randn(3, 40, 10), torch.ones(3, 40)
    mask[1, 25:] = 0
    mask[2, 9:] = 0
    batch = model.forward(x, mask)
    for b, n in enumerate((40, 25, 9)):
        alone = model.forward(x[b: b + 1, :n], torch.ones(1, n))[0]
        torch.testing.assert_close(batch[b, :n], alone)
    assert (batch[1, 25:] == 0).all() and ((batch[:, :9] > 0) & (batch[:, :9] < 1)).all()  # a sigmoid


def test_pgl_sum_adds_its_sinusoidal_table_to_the_energies():
    cell = PGLAttention(width=4, inner=4, heads=1, positions="absolute", dropout=0.0)
    table = cell.absolute_positions(4, torch.zeros(1))
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0]  # position 0: sin 0, cos 0
    expected = [math.sin(1), math.cos(1), math.sin(1 / 100), math.cos(1 / 100)]  # freq^(2i/d): 1, 100
    assert table[1].tolist() == pytest.approx(expected)
    assert cell.absolute_positions(3, torch.zeros(1))[:, 2].tolist() == [0, 0, 0]  # odd T: last column 0


def test_bad_options_and_tasks_with_several_targets_are_refused():
    with pytest.raises(ValueError, match="segments must be >= 2"):
        PGLSumOptions(segments=1)
    with pytest.raises(ValueError, match="fusion must be"):
        PGLSumOptions(fusion="concat")
    with pytest.raises(ValueError, match="must divide by heads"):
        PGLSumOptions(hidden=100)
    with pytest.raises(ValueError, match="scale must be > 0"):
        VASNetOptions(scale=0)
    spec = SynthAffect(SynthAffectOptions(n_sequences=4, length=20, lag=3)).load().spec
    with pytest.raises(ValueError, match="predicts one importance score per step; this task has 2 targets"):
        VASNetModel(VASNetOptions(hidden=32), spec, seed=0)


def importance_videos(n, seed, width=6):
    """Videos whose importance is a smooth function of each step's features and of the video's mean:
    learnable by attention, far from what an untrained network outputs."""
    rng = np.random.default_rng(seed)
    w = np.random.default_rng(99).normal(size=width)
    out = []
    for i in range(n):
        x = rng.normal(size=(int(rng.integers(20, 40)), width)).astype(np.float32)
        y = 1 / (1 + np.exp(-(x @ w + 2 * x.mean(0) @ w)))
        out.append(Episode(f"v{seed}-{i}", {"x": x}, y[:, None].astype(np.float32)))
    return out


def mse(preds, episodes):
    return float(np.mean(np.concatenate([(preds[e.id] - e.targets) ** 2 for e in episodes])))


@pytest.mark.parametrize("cls, options", [
    (VASNetModel, VASNetOptions(hidden=32, lr=2e-3, batch_size=4)),
    (PGLSumModel, PGLSumOptions(hidden=32, heads=2, local_heads=2, lr=2e-3, batch_size=4)),
])
def test_trained_summarizer_beats_its_untrained_self(cls, options):
    train, val, test = importance_videos(32, 0), importance_videos(8, 1), importance_videos(8, 2)
    model = cls(options, TaskSpec((("x", 6),), ("importance",), "summarization"), seed=0)
    model.scaler.fit(train)
    untrained = mse(model.predict(test), test)
    sel = Selector(lambda p: {"mse": mse(p, val)}, "mse", False, 10)
    model.fit(train, val, TrainBudget(max_updates=120, eval_every=20, patience=10, min_updates=120), sel, NullLog())
    assert mse(model.predict(test), test) < 0.5 * untrained


def test_both_run_from_the_cli_validation_only_and_as_published(tmp_path):
    from conftest import TINY_SUMMARY
    from typer.testing import CliRunner

    from benchmark.cli import app
    base = ["run", "--task", "synth-summary", "--model", "vasnet,pgl-sum", "--results", str(tmp_path)]
    for s in [*TINY_SUMMARY, "hidden=32", "heads=2", "local_heads=2"]:
        base += ["--set", s]
    runner = CliRunner()
    assert runner.invoke(app, base).exit_code == 0
    r = runner.invoke(app, [*base, "--set", "selection=leaky-test-max"])
    assert r.exit_code == 0, r.output
    table = runner.invoke(app, ["table", "--results", str(tmp_path)]).output
    assert table.count("vasnet") >= 2 and table.count("pgl-sum") >= 2 and "LEAKY" in table


def test_dsnet_af_has_the_papers_parameters_and_refuses_bad_options():
    from baselines.dsnet import DSNetAFModel, DSNetAFOptions
    # attention Q, K, V and output 4 x 1024^2; layer norm 2048; shared layer 1024 x 128 + 128 and its norm
    # 256; class 129, location 258, centerness 129
    expected = 4 * 1024 ** 2 + 2048 + (1024 * 128 + 128) + 256 + 129 + 258 + 129
    assert DSNetAFModel(DSNetAFOptions(), GOOGLENET, seed=0).n_parameters() == expected == 4_328_324
    with pytest.raises(ValueError, match="must divide by heads"):
        DSNetAFOptions(width=100)
    with pytest.raises(ValueError, match="nms_threshold must be in"):
        DSNetAFOptions(nms_threshold=0)


def test_dsnet_af_labels_losses_and_nms_on_known_cases():
    from baselines.dsnet import (centerness_labels, focal_loss, key_segments, location_labels, nms, offset_iou,
                                 runs, step_importance)
    positive = np.array([0, 1, 1, 1, 0, 1], dtype=bool)
    assert runs(positive) == [(1, 4), (5, 6)]
    offsets = location_labels(positive)
    assert offsets.tolist() == [[0, 0], [0, 2], [1, 1], [2, 0], [0, 0], [0, 0]]
    assert centerness_labels(positive, offsets).tolist() == pytest.approx([0, 0, 1, 0, 0, 0])
    assert key_segments(np.array([0.1, 0.9, 0.5, 0.9, 0.2, 0.3, 0.0, 0.0, 0.0, 0.0]), 0.15).tolist() == \
        [False, True, False, True, False, False, False, False, False, False]  # top 2 of 10: the tie at 0.9
    # the same segment predicted exactly: IoU 1; [s-1, s+1] against [s, s]: 1 of 3 steps
    assert offset_iou(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 2.0]])).item() == 1
    assert offset_iou(torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.0]])).item() == pytest.approx(1 / 3)
    y = torch.tensor([1.0, 0.0])
    assert focal_loss(torch.tensor([1.0, 0.0]), y).item() < 1e-6
    assert focal_loss(torch.tensor([0.5, 0.5]), y).item() == pytest.approx(2 * 0.25 * math.log(2))
    scores, segments = nms(np.array([0.9, 0.8, 0.3]), np.array([[0, 10], [1, 9], [20, 25]]), 0.5)
    assert scores.tolist() == [0.9, 0.3] and segments.tolist() == [[0, 10], [20, 25]]
    # step 1 proposes [0, 3) at 1.0, step 4 proposes [4, 5) at 0.5: each step gets its covering proposal's
    heads = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0.5, 0, 0, 1], [0, 0, 0, 0]], float)
    assert step_importance(heads, 0.5).tolist() == pytest.approx([1.0, 1.0, 1.0, 0.0, 0.5, 0.0])


def test_trained_dsnet_af_ranks_the_steps_better_than_untrained():
    from scipy.stats import spearmanr

    from baselines.dsnet import DSNetAFModel, DSNetAFOptions

    def rho(preds, episodes):
        return float(np.mean([spearmanr(preds[e.id][:, 0], e.targets[:, 0])[0] for e in episodes]))

    train, val, test = importance_videos(32, 0), importance_videos(8, 1), importance_videos(8, 2)
    model = DSNetAFModel(DSNetAFOptions(width=32, hidden=32, heads=2, lr=2e-3, batch_size=4, dropout=0.1),
                         TaskSpec((("x", 6),), ("importance",), "summarization"), seed=0)
    model.scaler.fit(train)
    untrained = rho(model.predict(test), test)
    sel = Selector(lambda p: {"rho": rho(p, val)}, "rho", True, 10)
    model.fit(train, val, TrainBudget(max_updates=150, eval_every=25, patience=10, min_updates=150), sel, NullLog())
    assert rho(model.predict(test), test) > untrained + 0.15
