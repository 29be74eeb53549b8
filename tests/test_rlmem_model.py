"""rlmem and memnet-bptt as models: one-step gradients, learning, determinism, segments, the BPTT
warm-up probe, re-encoded replay, steps to go, encoder credit."""

import numpy as np
import pytest
import torch
from rlmem_fixtures import fit, tiny_task

from benchmark.api import NullLog, Selector, TrainBudget
from rlmem.model import MemNetBPTTModel, RLMemModel
from rlmem.options import MemoryNetOptions, RLMemOptions


@pytest.mark.slow
def test_no_gradient_spans_more_than_one_memory_step():
    task, data, train, val, _ = tiny_task()
    model = RLMemModel(RLMemOptions(chunk=8, warmup=10, rl_batch_size=8, replay_ratio=4), data.spec, seed=0)
    original = model.net["reader"].forward
    checked = []

    def spy(x, memory):
        if memory.dim() == 4:  # a chunk of memories [B, C, N, d] read for the supervised loss
            if not memory.requires_grad:
                checked.append("detached")
            else:  # only the first write of a sequence may reach the learnable initial memory
                first, later = (torch.autograd.grad(part.sum(), model.memory_init, allow_unused=True,
                                                    retain_graph=True)[0] for part in (memory[:, :1], memory[:, 1:]))
                assert first is not None and first.abs().sum() > 0
                assert later is None or later.abs().sum() == 0
                checked.append("first chunk")
        return original(x, memory)

    model.net["reader"].forward = spy
    fit(model, task, train, val, epochs=1)
    assert "detached" in checked and "first chunk" in checked


@pytest.mark.slow
def test_replayed_memories_are_leaves():
    task, data, train, val, _ = tiny_task()
    model = RLMemModel(RLMemOptions(warmup=10, rl_batch_size=8), data.spec, seed=0)
    model.scaler.fit(train)
    captured = {}
    original = model.ddpg.update

    def spy(b, reward_fn):
        captured.update(b)
        return original(b, reward_fn)

    model.ddpg.update = spy
    fit(model, task, train, val, epochs=1)
    assert captured and captured["memory"].grad_fn is None and not captured["memory"].requires_grad


@pytest.mark.parametrize("cls, options", [(RLMemModel, RLMemOptions(warmup=100, rl_batch_size=32, batch_size=8)),
                                          (MemNetBPTTModel, MemoryNetOptions(batch_size=8))])
@pytest.mark.slow
def test_trained_memory_net_beats_its_untrained_self(cls, options):
    task, data, train, val, test = tiny_task(lag=4, n=40, length=100)
    model = cls(options, data.spec, seed=0)
    model.scaler.fit(train)
    untrained = task.evaluate(model.predict(test), test)["mse"]
    info = fit(model, task, train, val, epochs=6)
    trained = task.evaluate(model.predict(test), test)["mse"]
    assert trained < 0.7 * untrained, (untrained, trained)
    if cls is RLMemModel:
        assert info.diagnostics["ddpg_updates"] > 0 and info.diagnostics["td_error"] is not None
        assert 0 <= info.diagnostics["action_saturation"] <= 1


@pytest.mark.slow
def test_same_seed_same_scores():
    task, data, train, val, test = tiny_task()

    def once(seed):
        model = RLMemModel(RLMemOptions(warmup=50, rl_batch_size=16), data.spec, seed=seed)
        fit(model, task, train, val, epochs=2)
        return task.evaluate(model.predict(test), test)["mse"]

    assert once(0) == once(0)
    assert once(0) != once(1)


def test_segments_and_modalities():
    task, data, train, val, test = tiny_task()
    model = RLMemModel(RLMemOptions(segment_length=7, modalities="audio,face"), data.spec, seed=0)
    model.scaler.fit(train)
    seg = model.segments(test[:2])
    assert seg.features.shape[1:3] == (9, 7) and seg.features.shape[3] == 24  # 60 steps -> 9 segments of 7
    preds = model.predict(test[:2])
    assert preds[test[0].id].shape == (60, 2)
    with pytest.raises(ValueError, match="unknown \\['smell'\\]"):
        RLMemModel(RLMemOptions(modalities="audio,smell"), data.spec, seed=0)


@pytest.mark.slow
def test_memory_trace_on_request(tmp_path):
    from benchmark.harness.execution import execute
    from benchmark.harness.plan import RunRequest

    (o,) = execute(RunRequest(["synth-affect"], ["rlmem"], results=tmp_path, overrides=[
        "n_sequences=12", "length=30", "lag=5", "epochs=1", "record_memory=true", "warmup=10", "rl_batch_size=8"]))
    import json

    rec = json.loads(o.path.read_text())
    trace = rec["diagnostics"]["memory_trace"]
    assert np.array(trace["read_weights"]).shape == (30, 10) and np.array(trace["slot_mean"]).shape == (30, 10)
    assert rec["diagnostics"]["td_error"] is not None


@pytest.mark.slow
def test_bptt_warmup_probe_is_not_stopped_before_rl_has_run():
    # the probe asks what RL does with a handed policy: early stopping in the BPTT phase must not end it
    task, data, train, val, test = tiny_task()
    model = RLMemModel(RLMemOptions(warmup=50, rl_batch_size=16, bptt_warmup=0.5, batch_size=4, diag_horizon=0),
                       data.spec, seed=0)
    sel = Selector(lambda p: {"mse": 1.0}, "mse", False, patience=1)  # never improves: would stop at once
    info = model.fit(train, val, TrainBudget(max_updates=16, eval_every=2, patience=1, min_updates=0), sel, NullLog())
    assert info.diagnostics["bptt_warmup_updates"] == 8
    # warm-up, then selection starts afresh: the first RL checkpoint (10) is the best, one patience window on
    assert info.best_update == 10 and info.updates_run == 12 and info.stopped_by == "early-stop"
    assert model.ddpg.updates > 0
    # a minimum above the probe's own floor is kept: the run goes on to it
    model = RLMemModel(RLMemOptions(warmup=50, rl_batch_size=16, bptt_warmup=0.5, batch_size=4, diag_horizon=0),
                       data.spec, seed=0)
    sel = Selector(lambda p: {"mse": 1.0}, "mse", False, patience=1)
    info = model.fit(train, val, TrainBudget(max_updates=16, eval_every=2, patience=1, min_updates=16), sel, NullLog())
    assert info.updates_run == 16


@pytest.mark.slow
def test_bptt_warmup_trains_the_policy_end_to_end_then_hands_it_to_ddpg():
    task, data, train, val, test = tiny_task()
    model = RLMemModel(RLMemOptions(warmup=50, rl_batch_size=16, bptt_warmup=0.5, actor_lr=0.0, batch_size=4),
                       data.spec, seed=0)
    actor_before = [p.clone() for p in model.net["actor"].parameters()]
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=10)
    seen = []
    original = model.bptt_update

    def spy(*args):
        seen.append(model.ddpg.updates)  # no RL while the warm-up lasts
        return original(*args)

    model.bptt_update = spy
    info = model.fit(train, val, TrainBudget(max_updates=8, eval_every=4, patience=10), sel, NullLog())
    assert len(seen) == 4 and set(seen) == {0} and info.diagnostics["bptt_warmup_updates"] == 4
    actor = list(model.net["actor"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(actor, actor_before))  # BPTT moved the policy
    for p, t in zip(actor, model.ddpg.actor_target.parameters()):  # and the target starts from it
        assert torch.equal(p, t)  # (actor_lr=0 keeps both where the warm-up left them)
    with pytest.raises(ValueError, match="bptt_warmup must be a share"):
        RLMemModel(RLMemOptions(bptt_warmup=1.0), data.spec, seed=0)


@pytest.mark.slow
def test_freeze_encoder_holds_the_encoder_from_the_hand_over_on():
    task, data, train, val, test = tiny_task()
    opts = dict(warmup=50, rl_batch_size=16, bptt_warmup=0.5, batch_size=4, diag_horizon=0)
    snapshots = {}
    for freeze in (False, True):
        model = RLMemModel(RLMemOptions(**opts, freeze_encoder=freeze), data.spec, seed=0)
        seen = []  # the encoder at the start of each RL batch (the first: just after the hand-over)
        original = model._batch_updates

        def spy(*args, model=model, original=original, seen=seen):
            seen.append([p.detach().clone() for p in model.net["encoder"].parameters()])
            return original(*args)

        model._batch_updates = spy
        sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=10)
        model.fit(train, val, TrainBudget(max_updates=12, eval_every=4, patience=10), sel, NullLog())
        assert len(seen) >= 2
        snapshots[freeze] = [torch.equal(a, b) for a, b in zip(seen[-1], seen[0])]
        assert all(p.requires_grad for p in model.net["encoder"].parameters())  # the fitted model trains on
    assert all(snapshots[True])  # frozen: exactly as the warm-up left it
    assert not all(snapshots[False])  # without the option the encoder keeps learning after the hand-over
    with pytest.raises(ValueError, match="freeze_encoder acts at the hand-over"):
        RLMemOptions(freeze_encoder=True)


@pytest.mark.slow
def test_reencoded_replay_gives_the_current_encoders_x():
    """With reencode, the replay keeps raw segments: a sampled state is the encoder's output *now*, not
    when the transition was stored (a stale x fails this)."""
    task, data, train, val, _ = tiny_task()
    model = RLMemModel(RLMemOptions(reencode=True, warmup=10**9, rl_batch_size=16, batch_size=4), data.spec, seed=0)
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=5)
    model.fit(train, val, TrainBudget(epochs=1), sel, NullLog())
    replay = model.last_replay
    assert "features" in replay.storage and "x" not in replay.storage
    state = replay.generator.get_state()
    raw = replay.sample(16, 1)  # windows of one step and the state after it
    encoder = model.net["encoder"]
    with torch.no_grad():
        replay.generator.set_state(state)
        before = model.sample(replay)["x"]
        for p in encoder.parameters():
            p.add_(0.3)  # the encoder moves on
        replay.generator.set_state(state)
        after = model.sample(replay)
        expected = encoder(raw["features"])
    assert after["x"].shape == (16, 2, 64) and torch.allclose(after["x"], expected, atol=1e-6)
    assert not torch.allclose(after["x"], before, atol=1e-3)


@pytest.mark.slow
def test_steps_to_go_are_stored_and_seen_by_the_critic():
    task, data, train, val, _ = tiny_task()
    model = RLMemModel(RLMemOptions(critic_time=True, warmup=10**9, batch_size=4, chunk=7), data.spec, seed=0)
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=5)
    model.fit(train, val, TrainBudget(epochs=1), sel, NullLog())
    replay = model.last_replay
    items = replay.counts > 0
    togo, valid = replay.storage["steps_to_go"][items], replay.storage["valid"][items]
    assert togo[:, 0].max() == 59  # 60 segments per sequence: 59 to go after the first
    both = valid[:, 1:] & valid[:, :-1]  # consecutive steps of a chunk, the state after it included
    assert torch.all(togo[:, 1:][both] == togo[:, :-1][both] - 1)
    last = valid[:, :-1] & ~valid[:, 1:]  # a sequence's last step has nothing to go
    assert torch.all(togo[:, :-1][last] == 0)
    critic = model.ddpg.critic
    assert critic.net[0].in_features == 64 + 2 + 10 * 32  # x, gamma^togo, togo/1000, the memory


@pytest.mark.parametrize("credit", [True, False])
def test_encoder_credit_sends_the_actor_objective_and_only_it_into_the_encoder(credit):
    task, data, train, val, _ = tiny_task()
    model = RLMemModel(RLMemOptions(svg_k=3, svg_bootstrap=False, reencode=True, encoder_credit=credit, warmup=50,
                                    rl_batch_size=16, batch_size=4, chunk=16, diag_horizon=0), data.spec, seed=0)
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=5)
    model.fit(train, val, TrainBudget(max_updates=4, eval_every=4, min_updates=0), sel, NullLog())
    encoder = model.net["encoder"]

    def encoder_grad(loss_of) -> float:
        encoder.zero_grad(set_to_none=True)
        loss_of(model.sample(model.last_replay)).backward()
        return sum(float(p.grad.abs().sum()) for p in encoder.parameters() if p.grad is not None)

    assert encoder_grad(lambda b: model.ddpg.critic_loss(b, model.reward)[0]) == 0.0  # never from the critic
    from_actor = encoder_grad(lambda b: model.ddpg.actor_loss(b, model.reward))
    assert (from_actor > 0) == credit
    with pytest.raises(ValueError, match="encoder_credit"):
        RLMemOptions(encoder_credit=True, svg_k=3)


@pytest.mark.slow
@pytest.mark.parametrize("bootstrap", [True, False])
def test_n_step_and_svg_train_end_to_end(bootstrap):
    task, data, train, val, _ = tiny_task()
    model = RLMemModel(RLMemOptions(n_step=4, svg_k=3, svg_bootstrap=bootstrap, burn_in=2, reencode=True,
                                    critic_time=True, warmup=50, rl_batch_size=16, batch_size=4, chunk=16,
                                    diag_horizon=8), data.spec, seed=0)
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=5)
    info = model.fit(train, val, TrainBudget(epochs=2), sel, NullLog())
    assert info.diagnostics["ddpg_updates"] > 0 and np.isfinite(info.history[-1]["val_mse"])
    with pytest.raises(ValueError, match="value=future is one-step only"):
        RLMemOptions(value="future", n_step=3)
