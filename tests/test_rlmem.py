"""rlmem: exact memory values, soft updates, target isolation, loss independence, one-step gradients,
determinism, and learning."""

import numpy as np
import pytest
import torch

from benchmark.interfaces import NullLog, TrainBudget
from benchmark.selection import Selector
from rlmem.ddpg import DDPG, DDPGConfig
from rlmem.memory import ActionLayout, WriteAction, address, read, write
from rlmem.model import MemNetBPTTModel, MemoryNetOptions, RLMemModel, RLMemOptions
from rlmem.networks import Actor, FusionEncoder, PostStateCritic
from rlmem.noise import GaussianNoise, OrnsteinUhlenbeckNoise
from rlmem.polyak import polyak_update
from rlmem.replay import TrajectoryReplay
from tasks.synthetic import SynthAffect, SynthAffectOptions


def test_write_exact_values():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # B=1, N=2, d=2
    action = WriteAction(
        erase=torch.tensor([[1.0, 0.0]]),
        add=torch.tensor([[0.5, -1.0]]),
        write=torch.tensor([[0.25, 0.75]]),
        retain=torch.tensor([[1.0, 0.5]]),
    )
    # slot 0: retain 1 -> [1, 2]; erase (1 - 0.25*[1, 0]) -> [0.75, 2]; add 0.25*[0.5, -1] -> [0.875, 1.75]
    # slot 1: retain .5 -> [1.5, 2]; erase (1 - 0.75*[1, 0]) -> [0.375, 2]; add 0.75*[0.5, -1] -> [0.75, 1.25]
    expected = torch.tensor([[[0.875, 1.75], [0.75, 1.25]]])
    assert torch.allclose(write(memory, action), expected)
    assert torch.equal(memory, torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]))  # pure: input untouched


def test_read_and_address_exact_values():
    memory = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    assert torch.allclose(read(memory, torch.tensor([[0.25, 0.75]])), torch.tensor([[0.25, 1.5]]))
    w = address(memory, torch.tensor([[1.0, 0.0]]), sharpness=2.0)  # cosines 1 and 0
    e2 = float(np.exp(2.0))
    assert torch.allclose(w, torch.tensor([[e2 / (e2 + 1), 1 / (e2 + 1)]]))


def test_action_layout_squash_and_project():
    layout = ActionLayout(slots=3, width=2)
    a = layout.squash(torch.randn(5, layout.size) * 10)
    parts = layout.split(a)
    assert torch.allclose(parts.write.sum(-1), torch.ones(5))
    noisy = a + torch.randn(5, layout.size)
    p = layout.split(layout.project(noisy))
    assert (p.erase >= 0).all() and (p.erase <= 1).all() and (p.add.abs() <= 1).all()
    assert (p.write >= 0).all() and torch.allclose(p.write.sum(-1), torch.ones(5))
    zero = layout.project(torch.cat([torch.zeros(1, 4), -torch.ones(1, 3), torch.zeros(1, 3)], -1))
    assert torch.allclose(layout.split(zero).write, torch.full((1, 3), 1 / 3))  # all clipped: uniform


def test_polyak_against_hand_written():
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in target.parameters()]
    polyak_update(online.parameters(), target.parameters(), tau=0.1)
    for p, b, t in zip(online.parameters(), before, target.parameters()):
        assert torch.allclose(t, 0.1 * p + 0.9 * b)
    with pytest.raises(ValueError, match="tau"):
        polyak_update(online.parameters(), target.parameters(), tau=0.0)


def make_ddpg(tau=0.01):
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor, critic = Actor(5, layout, 16, 3.0), PostStateCritic(5, 4, 3, 16)
    return DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, tau=tau)), layout


def batch(layout, n=8):
    g = torch.Generator().manual_seed(1)
    return {
        "x": torch.randn(n, 5, generator=g), "memory": torch.randn(n, 4, 3, generator=g),
        "action": layout.squash(torch.randn(n, layout.size, generator=g)), "target": torch.randn(n, 2, generator=g),
        "x_next": torch.randn(n, 5, generator=g), "done": torch.zeros(n),
    }


def reward(x, m, y):
    return -m.abs().mean((1, 2))


def test_actor_loss_leaves_critic_gradients_untouched_and_vice_versa():
    ddpg, layout = make_ddpg()
    b = batch(layout)
    ddpg.actor_loss(b).backward()
    assert all(p.grad is None for p in ddpg.critic.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ddpg.actor.parameters())
    assert all(p.requires_grad for p in ddpg.critic.parameters())  # unfrozen again afterwards
    ddpg.actor.zero_grad(set_to_none=True)
    loss, _ = ddpg.critic_loss(b, reward)
    loss.backward()
    assert all(p.grad is None for p in ddpg.actor.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ddpg.critic.parameters())


def test_targets_move_only_by_soft_update():
    ddpg, layout = make_ddpg(tau=0.01)
    targets = {n: [p.clone() for p in m.parameters()] for n, m in (("a", ddpg.actor_target), ("c", ddpg.critic_target))}
    # an online step alone does not touch the targets
    loss, _ = ddpg.critic_loss(batch(layout), reward)
    ddpg.critic_optimizer.zero_grad()
    loss.backward()
    ddpg.critic_optimizer.step()
    for before, p in zip(targets["c"], ddpg.critic_target.parameters()):
        assert torch.equal(before, p)
    assert all(not p.requires_grad for p in ddpg.critic_target.parameters())
    # a full update moves them by exactly tau towards the online networks
    targets["c"] = [p.clone() for p in ddpg.critic_target.parameters()]
    ddpg.update(batch(layout), reward)
    for name, online, target in (("a", ddpg.actor, ddpg.actor_target), ("c", ddpg.critic, ddpg.critic_target)):
        for before, p, t in zip(targets[name], online.parameters(), target.parameters()):
            assert torch.allclose(t, 0.99 * before + 0.01 * p, atol=1e-7)
        assert any(not torch.equal(b, t) for b, t in zip(targets[name], target.parameters()))


def test_critic_target_is_the_one_step_td_target():
    ddpg, layout = make_ddpg()
    b = batch(layout, n=4)
    b["done"] = torch.tensor([0.0, 1.0, 0.0, 1.0])
    _, td = ddpg.critic_loss(b, reward)
    with torch.no_grad():
        post = write(b["memory"], layout.split(b["action"]))
        nxt = write(post, layout.split(ddpg.actor_target(b["x_next"], post)))
        expected = reward(None, post, None) + 0.9 * (1 - b["done"]) * ddpg.critic_target(b["x_next"], nxt)
        assert torch.allclose(td, expected - ddpg.critic(b["x"], post), atol=1e-6)


def test_noise_and_replay_are_seeded_and_reset():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(GaussianNoise(0.05, g1)((4, 2)), GaussianNoise(0.05, g2)((4, 2)))
    assert 0.03 < GaussianNoise(0.05, torch.Generator().manual_seed(0))((10000,)).std() < 0.07
    ou = OrnsteinUhlenbeckNoise(0.2, torch.Generator().manual_seed(0))
    ou((3,))
    ou.reset()
    assert ou.state is None
    # a ring of 3 one-step chunks: the oldest chunks are overwritten, and the same seed draws the same windows
    buf = TrajectoryReplay(3, 1, {"x": (), "memory": (), "action": (), "target": ()}, torch.Generator().manual_seed(0))

    def chunks(values):
        v = torch.tensor(values, dtype=torch.float32)[:, None].repeat(1, 2)
        return dict(x=v, target=v, memory=v[:, :1], action=v[:, :1], valid=torch.ones(len(values), 2, dtype=torch.bool))

    assert buf.add(**chunks([0, 1])) == 2 and len(buf) == 2
    assert buf.add(**chunks([2, 3, 4])) == 3 and len(buf) == 3 and buf.added == 5
    assert sorted(buf.storage["x"][:, 0].tolist()) == [2, 3, 4]
    s1 = buf.sample(16, 1)
    buf.generator.manual_seed(0)
    assert torch.equal(s1["x"], buf.sample(16, 1)["x"]) and set(s1["x"][:, 0].tolist()) <= {2.0, 3.0, 4.0}


def tiny_task(lag=4, n=24, length=60):
    task = SynthAffect(SynthAffectOptions(n_sequences=n, length=length, lag=lag))
    data = task.load()
    f = data.folds[0]
    return task, data, data.episodes_of(f.train), data.episodes_of(f.val), data.episodes_of(f.test)


def fit(model, task, train, val, epochs=2):
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=epochs)
    return model.fit(train, val, TrainBudget(epochs=epochs, patience=epochs), sel, NullLog())


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


def test_fusion_encoder_encodes_real_segments_only():
    torch.manual_seed(0)
    enc = FusionEncoder(3, 5)
    segments = torch.randn(2, 4, 6, 3)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    out = enc(segments, mask)
    alone = enc.lstm(segments[1, :2])[1][0][-1]  # the short sequence's two segments, encoded on their own
    torch.testing.assert_close(out[1, :2], alone)
    assert out[1, 2:].abs().max() == 0  # padded segments stay zero; they never reach the LSTM
    torch.testing.assert_close(enc(segments, torch.ones(2, 4, dtype=torch.bool)), enc(segments))
    assert enc(segments, torch.zeros(2, 4, dtype=torch.bool)).abs().max() == 0  # a window past every end


def test_memory_trace_on_request(tmp_path):
    from benchmark.runner import RunRequest, run

    (o,) = run(RunRequest(["synth-affect"], ["rlmem"], results=tmp_path, overrides=[
        "n_sequences=12", "length=30", "lag=5", "epochs=1", "record_memory=true", "warmup=10", "rl_batch_size=8"]))
    import json

    rec = json.loads(o.path.read_text())
    trace = rec["diagnostics"]["memory_trace"]
    assert np.array(trace["read_weights"]).shape == (30, 10) and np.array(trace["slot_mean"]).shape == (30, 10)
    assert rec["diagnostics"]["td_error"] is not None


def test_td3_flags_twin_min_and_policy_delay():
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor = Actor(5, layout, 16, 3.0)
    critics = [PostStateCritic(5, 4, 3, 16), PostStateCritic(5, 4, 3, 16)]
    ddpg = DDPG(actor, critics, layout, DDPGConfig(gamma=0.9, policy_delay=2))
    b = batch(layout, n=6)
    _, td = ddpg.critic_loss(b, reward)
    with torch.no_grad():
        post = write(b["memory"], layout.split(b["action"]))
        nxt = write(post, layout.split(ddpg.actor_target(b["x_next"], post)))
        v_next = torch.minimum(ddpg.critic_targets[0](b["x_next"], nxt), ddpg.critic_targets[1](b["x_next"], nxt))
        assert torch.allclose(td, reward(None, post, None) + 0.9 * v_next - critics[0](b["x"], post), atol=1e-6)
    before = [p.clone() for p in actor.parameters()]
    out = ddpg.update(b, reward)  # first critic update: the actor waits
    assert "actor_loss" not in out and all(torch.equal(a, p) for a, p in zip(before, actor.parameters()))
    out = ddpg.update(b, reward)
    assert "actor_loss" in out and not all(torch.equal(a, p) for a, p in zip(before, actor.parameters()))


def test_gated_write_exact_values_and_a_closed_gate_keeps_the_slot():
    from rlmem.memory import gated_write

    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    action = WriteAction(erase=torch.tensor([[1.0, 0.0]]), add=torch.tensor([[0.5, -1.0]]),
                         write=torch.tensor([[0.25, 0.75]]), retain=torch.tensor([[1.0, 0.5]]))
    # slot 0: retain 1 keeps [1, 2] exactly, whatever is written
    # slot 1: written = [3, 4] * (1 - 0.75 [1, 0]) + 0.75 [0.5, -1] = [1.125, 3.25]; 0.5 old + 0.5 written
    expected = torch.tensor([[[1.0, 2.0], [2.0625, 3.625]]])
    assert torch.allclose(gated_write(memory, action), expected)
    flat = torch.cat([action.erase, action.add, action.write, action.retain], -1)
    assert torch.allclose(ActionLayout(2, 2, "gate").apply(memory, flat), expected)
    assert torch.allclose(ActionLayout(2, 2).apply(memory, flat), write(memory, action))
    with pytest.raises(ValueError, match="retain must be one of scale, gate"):
        ActionLayout(2, 2, "forget")


def make_future_ddpg():
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor, critic = Actor(5, layout, 16, 3.0), PostStateCritic(5, 4, 3, 16)
    return DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, value="future")), layout


def test_future_value_critic_target_and_actor_loss():
    from rlmem.ddpg import frozen

    ddpg, layout = make_future_ddpg()
    reader = torch.nn.Linear(3, 2)  # stands for the model's reader: the reward is differentiable in memory

    def reward_fn(x, m, y):
        with frozen(reader):
            return -(reader(m.mean(1)) - y).abs().mean(-1)

    b = batch(layout, n=4)
    b["target_next"] = torch.randn(4, 2, generator=torch.Generator().manual_seed(5))
    b["done"] = torch.tensor([0.0, 1.0, 0.0, 1.0])
    _, td = ddpg.critic_loss(b, reward_fn)
    with torch.no_grad():  # W(z_t) <- (1 - done) (r_{t+1} + gamma W'(z_{t+1}))
        post = write(b["memory"], layout.split(b["action"]))
        nxt = write(post, layout.split(ddpg.actor_target(b["x_next"], post)))
        expected = (1 - b["done"]) * (reward_fn(None, nxt, b["target_next"])
                                      + 0.9 * ddpg.critic_target(b["x_next"], nxt))
        assert torch.allclose(td, expected - ddpg.critic(b["x"], post), atol=1e-6)
    # the actor's objective adds the step's own reward; neither the critic nor the reader learns from it
    with pytest.raises(ValueError, match="needs the reward function"):
        ddpg.actor_loss(b)
    loss = ddpg.actor_loss(b, reward_fn)
    with torch.no_grad():
        action = ddpg.actor(b["x"], b["memory"])
        post = write(b["memory"], layout.split(action))
        assert torch.allclose(loss, -(reward_fn(None, post, b["target"]) + 0.9 * ddpg.critic(b["x"], post)).mean())
    loss.backward()
    assert all(p.grad is None for p in [*ddpg.critic.parameters(), *reader.parameters()])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ddpg.actor.parameters())
    with pytest.raises(ValueError, match="value must be one of"):
        DDPG(ddpg.actor, [ddpg.critic], layout, DDPGConfig(value="q"))


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


def test_slot_critic_ignores_which_slot_holds_what():
    from rlmem.networks import SlotCritic

    torch.manual_seed(0)
    critic = SlotCritic(5, 4, 3, 16)
    x, memory = torch.randn(6, 5), torch.randn(6, 4, 3)
    shuffled = memory[:, torch.tensor([2, 0, 3, 1])]
    assert torch.allclose(critic(x, memory), critic(x, shuffled), atol=1e-6)
    assert not torch.allclose(critic(x, memory), critic(x, memory + 1.0))  # but it does read the contents
    task, data, train, val, test = tiny_task()
    model = RLMemModel(RLMemOptions(critic="slots", warmup=50, rl_batch_size=16), data.spec, seed=0)
    assert isinstance(model.ddpg.critic, SlotCritic)
    fit(model, task, train, val, epochs=1)
    assert model.ddpg.updates > 0
    with pytest.raises(ValueError, match="critic must be one of mlp, slots"):
        RLMemModel(RLMemOptions(critic="gnn"), data.spec, seed=0)


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


def _random_batch(model, n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {**model.replay_fields(), "x_next": (model.options.hidden,), "target_next": (model.spec.n_targets,),
              "done": ()}
    return {k: torch.rand(n, *shape, generator=g) for k, shape in shapes.items()}


def test_the_actor_waits_for_the_critic_and_a_trust_region_anchors_it():
    task, data, *_ = tiny_task()
    model = RLMemModel(RLMemOptions(critic_warmup=3, trust_region=2.0), data.spec, seed=0)
    actor = [p.clone() for p in model.net["actor"].parameters()]
    critic = [p.clone() for p in model.ddpg.critic.parameters()]
    for i in range(3):
        out = model.ddpg.update(_random_batch(model, seed=i), model.reward)
        assert "actor_loss" not in out
    assert all(torch.equal(a, b) for a, b in zip(actor, model.net["actor"].parameters()))  # the actor waited
    assert not all(torch.equal(a, b) for a, b in zip(critic, model.ddpg.critic.parameters()))  # the critic did not
    assert not all(torch.equal(a, b) for a, b in zip(critic, model.ddpg.critic_target.parameters()))  # targets moved
    batch = _random_batch(model, seed=9)
    with torch.no_grad():
        for p in model.net["actor"].parameters():
            p.add_(0.05)  # online and target actors now differ
        action = model.net["actor"](batch["x"], batch["memory"])
        anchor = model.ddpg.actor_target(batch["x"], batch["memory"])
        post = model.layout.apply(batch["memory"], action)
        expected = -model.ddpg.critic(batch["x"], post).mean() + 2.0 * ((action - anchor) ** 2).sum(-1).mean()
    loss = model.ddpg.actor_loss(batch, model.reward)
    assert torch.allclose(loss, expected, atol=1e-6)
    loss.backward()
    assert all(p.grad is None for p in model.ddpg.actor_target.parameters())  # the anchor stays put
    out = model.ddpg.update(_random_batch(model, seed=4), model.reward)
    assert "actor_loss" in out  # the fourth update moves the actor


def test_the_k_step_return_gradient_is_the_one_finite_differences_give():
    """The diagnostic's 'true' gradient on a tiny case, in float64: central differences agree."""
    from rlmem.diagnostics import cosine, k_step_return_gradient

    torch.manual_seed(0)
    layout = ActionLayout(3, 2)
    actor = Actor(4, layout, 8, 1.0).double()
    reader = torch.nn.Linear(4 + 2 * 3, 1).double()

    def reward(x, memory, target):
        return -(reader(torch.cat([x, memory.flatten(1)], -1)) - target).pow(2).mean(-1)

    xs, before = torch.randn(5, 6, 4, dtype=torch.float64), torch.rand(5, 3, 2, dtype=torch.float64)
    targets, mask = torch.randn(5, 6, 1, dtype=torch.float64), torch.ones(5, 6, dtype=torch.float64)
    action = layout.squash(torch.randn(5, layout.size, dtype=torch.float64))
    grad = k_step_return_gradient(actor, layout, reward, xs, before, action, targets, mask, gamma=0.9)

    def ret(a):
        with torch.no_grad():
            memory = layout.apply(before, a)
            total = reward(xs[:, 0], memory, targets[:, 0])
            for k in range(1, 6):
                memory = layout.apply(memory, actor(xs[:, k], memory))
                total = total + 0.9**k * reward(xs[:, k], memory, targets[:, k])
        return total

    eps, numeric = 1e-6, torch.zeros_like(action)
    for j in range(layout.size):
        step = torch.zeros_like(action)
        step[:, j] = eps
        numeric[:, j] = (ret(action + step) - ret(action - step)) / (2 * eps)
    assert torch.allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert torch.allclose(cosine(grad, numeric), torch.ones(5, dtype=torch.float64))
    assert torch.allclose(cosine(grad, -numeric), -torch.ones(5, dtype=torch.float64))
    assert all(p.grad is None for p in [*actor.parameters(), *reader.parameters()])


def test_a_critic_that_knows_only_the_steps_own_reward_scores_zero_on_the_later_part():
    # value=future adds the step's reward exactly: the overall cosine then credits the critic for a part it
    # did not learn; the later cosine must not
    from rlmem.diagnostics import critic_gradient_check

    task, data, train, val, _ = tiny_task(length=40)
    model = RLMemModel(RLMemOptions(), data.spec, seed=0)
    model.scaler.fit(train)

    def own_reward_only(x, memory, action, target, togo, reward_fn):
        return reward_fn(x, model.ddpg.after_write(memory, action), target)

    model.ddpg.action_value = own_reward_only
    out = critic_gradient_check(model, val[:4], horizon=8)
    assert out["critic_cos"] > 0.3  # the own reward carries much of the true gradient
    assert out["critic_cos_later"] == 0.0 and out["critic_cos_later_top"] == 0.0


def test_every_rlmem_record_holds_the_critic_diagnostic(tmp_path):
    from benchmark.runner import RunRequest, run

    (o,) = run(RunRequest(["synth-affect"], ["rlmem"], results=tmp_path, overrides=[
        "n_sequences=12", "length=40", "lag=5", "epochs=2", "warmup=10", "rl_batch_size=8", "diag_horizon=8"]))
    import json

    rec = json.loads(o.path.read_text())
    for row in rec["history"]:
        assert all(-1 <= row[k] <= 1 for k in ("critic_cos", "critic_cos_top", "critic_cos_later",
                                               "critic_cos_later_top", "value_return_corr"))
    assert rec["diagnostics"]["critic_cos"] == rec["history"][-1]["critic_cos"]
    assert all(-1 <= rec["diagnostics"][k] <= 1 for k in ("ceiling_cos", "ceiling_cos_top"))


def test_the_ceiling_is_high_where_inputs_predict_the_gradient_and_zero_where_they_cannot():
    from rlmem.diagnostics import predictability

    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(2000, 6, generator=gen)
    mixing = torch.randn(6, 3, generator=gen)
    noise = torch.randn(2000, 3, generator=gen)
    fit, held = slice(0, 1000), slice(1000, 2000)
    clean = predictability(inputs[fit], (inputs @ mixing)[fit], inputs[held], (inputs @ mixing)[held])
    assert clean["ceiling_cos"] > 0.99 and clean["ceiling_cos_top"] > 0.99
    blind = predictability(inputs[fit], noise[fit], inputs[held], noise[held])  # the gradient ignores the inputs
    assert abs(blind["ceiling_cos"]) < 0.1 and abs(blind["ceiling_cos_top"]) < 0.2
    mixed = inputs @ mixing + 3 * noise  # the inputs determine part of the gradient
    half = predictability(inputs[fit], mixed[fit], inputs[held], mixed[held])
    assert 0.2 < half["ceiling_cos"] < clean["ceiling_cos"]


def test_the_ceiling_of_an_untrained_policy_on_the_task():
    from rlmem.diagnostics import gradient_predictability, sampled_gradients

    task, data, train, val, _ = tiny_task(n=40, length=40)
    model = RLMemModel(RLMemOptions(), data.spec, seed=0)
    model.scaler.fit(train)
    inputs, grads = sampled_gradients(model, val[:4], horizon=8, times=5)
    width = model.options.hidden + model.options.slots * model.options.width + model.layout.size + 1
    assert inputs.shape == (4 * 5, width) and grads.shape == (4 * 5, model.layout.size)
    window, _ = sampled_gradients(model, val[:4], horizon=8, times=50, span=20)  # steps 0..12 of the first 20
    assert window.shape[0] == 4 * 13
    out = gradient_predictability(model, train, val, horizon=8, times=16)
    assert set(out) == {"ceiling_cos", "ceiling_cos_top"} and all(v <= 1 for v in out.values())
    # far from a trained policy the write's gradient is largely a function of what the critic sees
    assert out["ceiling_cos"] > 0.2 and out["ceiling_cos_top"] > 0.3


def test_trajectory_replay_samples_windows_of_consecutive_steps():
    from rlmem.replay import TrajectoryReplay

    replay = TrajectoryReplay(100, 5, {"x": (1,), "memory": (1, 1), "action": (1,), "target": (1,)},
                              torch.Generator().manual_seed(0))
    steps = torch.arange(6, dtype=torch.float32)
    # sequence a: a full chunk followed by more (the state after it, 5, is stored); b: ends after 3 steps
    x = torch.stack([steps, steps + 100]).unsqueeze(-1)
    valid = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    added = replay.add(x=x, target=x, valid=valid, memory=torch.zeros(2, 5, 1, 1), action=x[:, :5])
    assert added == 8 and len(replay) == 8
    w = replay.sample(400, 3)
    start = w["x"][:, 0, 0]
    for k in range(4):
        ok = w["valid"][:, k]
        assert torch.all(w["x"][ok, k, 0] == start[ok] + k)  # consecutive steps of one chunk
    assert torch.all(w["valid"][start >= 100, :][:, 0]) and not w["valid"][start == 102, 1].any()  # b ended
    late = start == 4  # a's last stored step: its window reaches the state after the chunk, then stops
    assert torch.all(w["valid"][late, 1]) and torch.all(w["x"][late, 1, 0] == 5) and not w["valid"][late, 2].any()
    assert not w["step_valid"][late, 1].any()  # that state has no stored write
    assert {int(s) % 100 for s in start.tolist()} == {0, 1, 2, 3, 4}


def test_n_step_targets_match_a_hand_computation():
    ddpg, layout = make_ddpg()
    g = torch.Generator().manual_seed(7)
    n, width = 3, 3
    b = {"x": torch.randn(n, width + 1, 5, generator=g), "memory": torch.randn(n, width, 4, 3, generator=g),
         "action": layout.squash(torch.randn(n, width, layout.size, generator=g)),
         "target": torch.randn(n, width + 1, 2, generator=g)}
    # row 0: three steps, the sequence goes on; row 1: ends after its second step; row 2: the chunk ends after
    # one step, the sequence goes on (bootstrap from the state after the chunk)
    b["valid"] = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]], dtype=torch.bool)
    b["step_valid"] = torch.tensor([[1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    _, td = ddpg.critic_loss(b, reward)
    with torch.no_grad():
        for row, (steps, goes_on) in enumerate(((3, 1.0), (2, 0.0), (1, 1.0))):
            ret = 0.0
            for k in range(steps):
                post = write(b["memory"][row: row + 1, k], layout.split(b["action"][row: row + 1, k]))
                ret = ret + 0.9**k * reward(None, post, None)
            x_next = b["x"][row: row + 1, steps]
            nxt = write(post, layout.split(ddpg.actor_target(x_next, post)))
            target = ret + 0.9**steps * goes_on * ddpg.critic_target(x_next, nxt)
            post0 = write(b["memory"][row: row + 1, 0], layout.split(b["action"][row: row + 1, 0]))
            assert torch.allclose(td[row], (target - ddpg.critic(b["x"][row: row + 1, 0], post0))[0], atol=1e-6)


def actor_and_window(width: int, seed: int):
    """A small actor and critic, and a window of ``width`` steps for 6 sequences, every step valid."""
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor, critic = Actor(5, layout, 16, 3.0), PostStateCritic(5, 4, 3, 16)
    g = torch.Generator().manual_seed(seed)
    b = {"x": torch.randn(6, width + 1, 5, generator=g), "memory": torch.randn(6, width, 4, 3, generator=g),
         "action": layout.squash(torch.randn(6, width, layout.size, generator=g)),
         "target": torch.randn(6, width + 1, 2, generator=g), "valid": torch.ones(6, width + 1, dtype=torch.bool),
         "step_valid": torch.ones(6, width, dtype=torch.bool)}
    return layout, actor, critic, b


def test_svg_k_differentiates_k_closed_loop_writes_then_the_critic():
    layout, actor, critic, b = actor_and_window(2, seed=3)
    b["step_valid"][5, 1] = False
    one = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9))
    two = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, svg_k=2))
    with torch.no_grad():
        a0 = actor(b["x"][:, 0], b["memory"][:, 0])
        m0 = write(b["memory"][:, 0], layout.split(a0))
        assert torch.allclose(one.actor_loss(b, reward), -critic(b["x"][:, 0], m0).mean())  # K = 1: DDPG
        m1 = write(m0, layout.split(actor(b["x"][:, 1], m0)))
        alive = b["step_valid"][:, 1].float()  # the last row's sequence ends after its first step
        expected = -(reward(None, m0, None) + 0.9 * alive * critic(b["x"][:, 1], m1)).mean()
        assert torch.allclose(two.actor_loss(b, reward), expected, atol=1e-6)
        # without the bootstrap the second write earns its reward and the critic plays no part
        rewards_only = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, svg_k=2, svg_bootstrap=False))
        expected = -(reward(None, m0, None) + 0.9 * alive * reward(None, m1, None)).mean()
        assert torch.allclose(rewards_only.actor_loss(b, reward), expected, atol=1e-6)
        for p in critic.parameters():
            p.add_(1.0)
        assert torch.allclose(rewards_only.actor_loss(b, reward), expected, atol=1e-6)
        assert not torch.allclose(two.actor_loss(b, reward), expected, atol=1e-6)
        for p in critic.parameters():
            p.sub_(1.0)
    with pytest.raises(ValueError, match="svg_bootstrap"):
        RLMemOptions(svg_bootstrap=False)
    loss = two.actor_loss(b, reward)
    loss.backward()
    assert all(p.grad is None for p in critic.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())


def burn_in_window():
    layout, actor, critic, b = actor_and_window(4, seed=5)
    b["step_valid"][4, 1:] = False  # row 4's sequence ends during the burn-in; row 5's in the objective
    b["step_valid"][5, 3:] = False
    return layout, actor, critic, b


def test_burn_in_starts_the_actor_objective_from_the_memory_the_current_actor_writes():
    layout, actor, critic, b = burn_in_window()
    burn = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, svg_k=2, svg_bootstrap=False, burn_in=2))
    loss = burn.actor_loss(b, reward)
    loss.backward()
    grads = [p.grad.clone() for p in actor.parameters()]
    actor.zero_grad()
    with torch.no_grad():  # the stored memory of step 2 is replaced by what the actor writes over steps 0 and 1
        m = b["memory"][:, 0]
        for k in range(2):
            m = write(m, layout.split(actor(b["x"][:, k], m)))
    m0 = write(m, layout.split(actor(b["x"][:, 2], m)))
    m1 = write(m0, layout.split(actor(b["x"][:, 3], m0)))
    alive = b["step_valid"][:, 1:3].all(1).float()
    # averaged over the rows that outlast the burn-in: the one that ended in it neither adds nor dilutes
    assert alive.sum() == 5
    objective = reward(None, m0, None) + 0.9 * b["step_valid"][:, 3].float() * reward(None, m1, None)
    expected = -(alive * objective).sum() / 5
    expected.backward()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(grads, actor.parameters()))  # none via burn-in
    with torch.no_grad():  # starting from the stored (stale) memory of step 2 gives another loss
        stale = write(b["memory"][:, 2], layout.split(actor(b["x"][:, 2], b["memory"][:, 2])))
        assert not torch.allclose(reward(None, stale, None), reward(None, m0, None), atol=1e-3)
    with pytest.raises(ValueError, match="burn_in"):
        RLMemOptions(burn_in=-1)


def test_td_window_keeps_the_critic_target_to_its_own_steps():
    from rlmem.ddpg import trim_window

    layout, actor, critic, b = burn_in_window()
    full = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9))
    two = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, td_window=2))
    short = trim_window(b, 2)
    assert short["x"].shape[1] == 3 and short["action"].shape[1] == 2
    assert torch.equal(two.critic_loss(b, reward)[1], full.critic_loss(short, reward)[1])
    assert not torch.allclose(full.critic_loss(b, reward)[1], full.critic_loss(short, reward)[1])


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


def test_value_gradient_target_is_the_closed_loop_n_step_gradient():
    """critic_grad's target on a hand-built window: rewards of two closed-loop writes, then the target critic
    after the target actor's write; a row whose sequence ends after one step has no bootstrap."""
    layout, actor, critic, b = actor_and_window(2, seed=11)
    b["step_valid"][5, 1] = False
    b["valid"][5, 2] = False
    b["valid"][5, 1] = False  # row 5's sequence ends with its first step
    ddpg = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, critic_grad=1.0))
    with torch.no_grad():
        for p in ddpg.critic_target.parameters():
            p.add_(0.1)  # target and online critics differ: the bootstrap must use the target
    got = ddpg.target_action_gradient(b, reward)
    a0 = b["action"][:, 0].clone().requires_grad_(True)
    m0 = write(b["memory"][:, 0], layout.split(a0))
    m1 = write(m0, layout.split(actor(b["x"][:, 1], m0)))
    m2 = write(m1, layout.split(ddpg.actor_target(b["x"][:, 2], m1)))
    two_steps = reward(None, m0, None) + 0.9 * reward(None, m1, None) + 0.81 * ddpg.critic_target(b["x"][:, 2], m2)
    total = torch.where(torch.arange(6) == 5, reward(None, m0, None), two_steps)
    (want,) = torch.autograd.grad(total.sum(), a0)
    assert torch.allclose(got, want, atol=1e-6)
    assert all(p.grad is None for m in (actor, critic, ddpg.critic_target, ddpg.actor_target) for p in m.parameters())
    loss = ddpg.value_gradient_loss(b, reward)
    loss.backward()
    assert critic.net[0].weight.grad.abs().sum() > 0  # (the last bias cannot change a gradient: it gets none)
    assert all(p.grad is None for p in actor.parameters())
    with pytest.raises(ValueError, match="critic_grad"):
        DDPG(actor, [critic], layout, DDPGConfig(critic_grad=-1.0))
    with pytest.raises(ValueError, match="critic_grad"):
        RLMemOptions(critic_grad=1.0, value="future")


def test_value_gradient_learning_turns_the_critics_action_gradient_towards_the_true_one():
    """On one fixed window, 300 critic updates: with critic_grad the critic's dV/da agrees with the gradient of
    its target (cosine > 0.95) and agrees better than TD alone makes it from the same start."""
    from rlmem.diagnostics import cosine

    def fitted(weight):
        layout, actor, critic, b = actor_and_window(3, seed=13)
        config = DDPGConfig(gamma=0.9, critic_grad=weight, critic_lr=3e-3, tau=0.05, critic_warmup=10**6)
        ddpg = DDPG(actor, [critic], layout, config)  # the actor waits throughout: only the critic learns

        def agreement():
            target = ddpg.target_action_gradient(b, reward)
            a0 = b["action"][:, 0].clone().requires_grad_(True)
            (own,) = torch.autograd.grad(critic(b["x"][:, 0], write(b["memory"][:, 0], layout.split(a0))).sum(), a0)
            return float(cosine(own, target).mean())

        before = agreement()
        for _ in range(300):
            logged = ddpg.update(b, reward)
        assert ("critic_grad_loss" in logged) == (weight > 0)
        return before, agreement()

    (start, td_only), (same_start, with_gradient) = fitted(0.0), fitted(1.0)
    assert start == same_start and start < 0.5
    assert with_gradient > 0.95 and with_gradient > td_only + 0.05
