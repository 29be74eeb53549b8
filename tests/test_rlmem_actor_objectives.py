"""What rlmem's actor learns from beyond dV/da: SVG(K) and the burn-in."""

import pytest
import torch
from rlmem_fixtures import actor_and_window, burn_in_window, reward

from rlmem.ddpg import DDPG, DDPGConfig
from rlmem.memory import write
from rlmem.options import RLMemOptions


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
