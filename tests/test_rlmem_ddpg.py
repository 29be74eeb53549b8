"""rlmem's DDPG: soft updates, target isolation, loss independence, the one-step TD target, TD3's flags,
the critic warm-up and the trust region."""

import pytest
import torch
from rlmem_fixtures import random_batch, batch, make_ddpg, reward, tiny_task

from rlmem.ddpg import DDPG, DDPGConfig
from rlmem.memory import ActionLayout, write
from rlmem.model import RLMemModel
from rlmem.networks import Actor, PostStateCritic
from rlmem.options import RLMemOptions
from rlmem.polyak import polyak_update


def test_polyak_against_hand_written():
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.clone() for p in target.parameters()]
    polyak_update(online.parameters(), target.parameters(), tau=0.1)
    for p, b, t in zip(online.parameters(), before, target.parameters()):
        assert torch.allclose(t, 0.1 * p + 0.9 * b)
    with pytest.raises(ValueError, match="tau"):
        polyak_update(online.parameters(), target.parameters(), tau=0.0)


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


def test_the_actor_waits_for_the_critic_and_a_trust_region_anchors_it():
    task, data, *_ = tiny_task()
    model = RLMemModel(RLMemOptions(critic_warmup=3, trust_region=2.0), data.spec, seed=0)
    actor = [p.clone() for p in model.net["actor"].parameters()]
    critic = [p.clone() for p in model.ddpg.critic.parameters()]
    for i in range(3):
        out = model.ddpg.update(random_batch(model, seed=i), model.reward)
        assert "actor_loss" not in out
    assert all(torch.equal(a, b) for a, b in zip(actor, model.net["actor"].parameters()))  # the actor waited
    assert not all(torch.equal(a, b) for a, b in zip(critic, model.ddpg.critic.parameters()))  # the critic did not
    assert not all(torch.equal(a, b) for a, b in zip(critic, model.ddpg.critic_target.parameters()))  # targets moved
    batch = random_batch(model, seed=9)
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
    out = model.ddpg.update(random_batch(model, seed=4), model.reward)
    assert "actor_loss" in out  # the fourth update moves the actor
