"""What rlmem's critic learns towards: n-step windows, the future value, value-gradient learning."""

import pytest
import torch
from rlmem_fixtures import actor_and_window, batch, burn_in_window, make_ddpg, make_future_ddpg, reward

from rlmem.ddpg import DDPG, DDPGConfig
from rlmem.memory import write
from rlmem.options import RLMemOptions
from rlmem.value_targets import target_action_gradient, value_gradient_loss


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


def test_td_window_keeps_the_critic_target_to_its_own_steps():
    from rlmem.windows import trim_window

    layout, actor, critic, b = burn_in_window()
    full = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9))
    two = DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, td_window=2))
    short = trim_window(b, 2)
    assert short["x"].shape[1] == 3 and short["action"].shape[1] == 2
    assert torch.equal(two.critic_loss(b, reward)[1], full.critic_loss(short, reward)[1])
    assert not torch.allclose(full.critic_loss(b, reward)[1], full.critic_loss(short, reward)[1])


def test_future_value_critic_target_and_actor_loss():
    from rlmem.networks import frozen

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
    got = target_action_gradient(ddpg, b, reward)
    a0 = b["action"][:, 0].clone().requires_grad_(True)
    m0 = write(b["memory"][:, 0], layout.split(a0))
    m1 = write(m0, layout.split(actor(b["x"][:, 1], m0)))
    m2 = write(m1, layout.split(ddpg.actor_target(b["x"][:, 2], m1)))
    two_steps = reward(None, m0, None) + 0.9 * reward(None, m1, None) + 0.81 * ddpg.critic_target(b["x"][:, 2], m2)
    total = torch.where(torch.arange(6) == 5, reward(None, m0, None), two_steps)
    (want,) = torch.autograd.grad(total.sum(), a0)
    assert torch.allclose(got, want, atol=1e-6)
    assert all(p.grad is None for m in (actor, critic, ddpg.critic_target, ddpg.actor_target) for p in m.parameters())
    loss = value_gradient_loss(ddpg, b, reward)
    loss.backward()
    assert critic.net[0].weight.grad.abs().sum() > 0  # (the last bias cannot change a gradient: it gets none)
    assert all(p.grad is None for p in actor.parameters())
    with pytest.raises(ValueError, match="critic_grad"):
        DDPG(actor, [critic], layout, DDPGConfig(critic_grad=-1.0))
    with pytest.raises(ValueError, match="critic_grad"):
        RLMemOptions(critic_grad=1.0, value="future")


@pytest.mark.slow
def test_value_gradient_learning_turns_the_critics_action_gradient_towards_the_true_one():
    """On one fixed window, 300 critic updates: with critic_grad the critic's dV/da agrees with the gradient of
    its target (cosine > 0.95) and agrees better than TD alone makes it from the same start."""
    from rlmem.diagnostics import cosine

    def fitted(weight):
        layout, actor, critic, b = actor_and_window(3, seed=13)
        config = DDPGConfig(gamma=0.9, critic_grad=weight, critic_lr=3e-3, tau=0.05, critic_warmup=10**6)
        ddpg = DDPG(actor, [critic], layout, config)  # the actor waits throughout: only the critic learns

        def agreement():
            target = target_action_gradient(ddpg, b, reward)
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
