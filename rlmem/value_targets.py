"""What the critic learns towards, apart from the loss that fits it (as TorchRL keeps value estimators apart
from losses): the TD target on a replayed window, one step as in the paper, n steps with ``n_step``, the
later rewards only with ``value="future"``, and, for value-gradient learning (``critic_grad``), the gradient
of that target with respect to the window's first action.

``value="future"``: the critic leaves out the step's own reward, which is a known, differentiable function
of the post-state, and learns only what comes after it, W(z_t) <- (1 - done) (r_{t+1} + gamma W'(z_{t+1})),
while the actor maximises r_t(z_t) + gamma W(z_t); the critic no longer carries the large, mostly
action-independent level of the immediate reward.

``critic_grad``: value-gradient learning (Fairbank & Alonso, "Value-gradient learning", IJCNN 2012; the dual
heuristic programming of adaptive critics). DDPG's actor follows dV/da, not V, yet TD fits only V's level,
and a critic can fit the level well with a useless gradient. This adds, at this weight, the squared
distance between the critic's dV/da_t and the gradient of its own n-step target, taken through the known
writes and reader with the current policy writing the later steps and the target critic's gradient at the
bootstrap, divided by that target's mean squared norm (scale-free). Still no gradient spans more than the
window.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import torch

from rlmem.networks import frozen
from rlmem.windows import RewardFn

if TYPE_CHECKING:
    from rlmem.ddpg import DDPG


def td_target(ddpg: DDPG, b: dict[str, torch.Tensor], reward_fn: RewardFn) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's target on a window (``rlmem.windows.as_window``), with the memories after each stored write
    ``[B, W, N, d]``, both without gradient. On a window of W steps the target is the n-step one, n = the steps
    of the window the sequence still has: sum_k gamma^k r_{t+k} + gamma^n V'(z_{t+n}) (no bootstrap once the
    sequence has ended); one step is the paper's TD target. With ``value="future"`` (one step only), the next
    reward and the next value: (1 - done) (r_{t+1} + gamma W'(z_{t+1}))."""
    c = ddpg.config
    width = b["action"].shape[1]
    if c.value == "future" and width > 1:
        raise ValueError('value="future" is one-step only (n_step=1)')
    rows = torch.arange(b["action"].shape[0], device=b["action"].device)
    togo = b.get("steps_to_go")
    with torch.no_grad():
        post = ddpg.after_write(b["memory"], b["action"])  # [B, W, N, d]
        steps = b["step_valid"].to(post.dtype)
        discount = c.gamma ** torch.arange(width, device=post.device, dtype=post.dtype)
        flat = lambda t: t.reshape(-1, *t.shape[2:])  # noqa: E731 - reward functions see [n, ...]
        rewards = reward_fn(flat(b["x"][:, :width]), flat(post), flat(b["target"][:, :width])).reshape(steps.shape)
        ret = (rewards * steps * discount).sum(1)
        n = b["step_valid"].sum(1).clamp(min=1)  # the bootstrap is the state after the last stored step
        last, x_next = post[rows, n - 1], b["x"][rows, n]
        goes_on = b["valid"][rows, n].to(post.dtype)
        next_action = ddpg.actor_target(x_next, last)
        if c.target_noise > 0:
            noise = c.target_noise * torch.randn(next_action.shape, generator=ddpg.generator).to(next_action.device)
            next_action = ddpg.layout.project(next_action + noise.clamp(-c.target_noise_clip, c.target_noise_clip))
        next_post = ddpg.after_write(last, next_action)
        x_boot = ddpg.critic_input(x_next, None if togo is None else togo[rows, n])
        next_value = torch.stack([t(x_boot, next_post) for t in ddpg.critic_targets]).min(0).values
        if c.value == "future":
            next_reward = reward_fn(x_next, next_post, b["target"][rows, n])
            td_target = goes_on * (next_reward + c.gamma * next_value)
        else:
            td_target = ret + c.gamma ** n.to(post.dtype) * goes_on * next_value
    return post, td_target


def target_action_gradient(ddpg: DDPG, b: dict[str, torch.Tensor], reward_fn: RewardFn) -> torch.Tensor:
    """d/da_0 of the window's n-step target with the first write's action as the variable: the rewards of
    the stored steps, the current policy writing steps 1 .. n-1 in closed loop, then gamma^n times the
    target critics' value (their minimum) after the target actor's write, where the sequence goes on.
    ``[B, A]``; no parameter gets a gradient."""
    c = ddpg.config
    togo, steps, x = b.get("steps_to_go"), b["step_valid"], b["x"].detach()
    action = b["action"][:, 0].detach().clone().requires_grad_(True)
    at = lambda field, k: None if field is None else field[:, k]  # noqa: E731
    with torch.enable_grad(), contextlib.ExitStack() as stack:
        for module in (ddpg.actor, ddpg.actor_target, *ddpg.critic_targets):
            stack.enter_context(frozen(module))
        post, total = ddpg.after_write(b["memory"][:, 0], action), 0.0
        for k in range(steps.shape[1]):
            if k > 0:
                post = ddpg.after_write(post, ddpg.actor(x[:, k], post))
            here = steps[:, k].to(post.dtype)
            total = total + c.gamma**k * here * reward_fn(x[:, k], post, b["target"][:, k])
            ends = steps[:, k] & ~(steps[:, k + 1] if k + 1 < steps.shape[1] else torch.zeros_like(steps[:, k]))
            boot = (ends & b["valid"][:, k + 1]).to(post.dtype)  # the last stored step, and the sequence goes on
            if boot.any():
                x_next = ddpg.critic_input(x[:, k + 1], at(togo, k + 1))
                after = ddpg.after_write(post, ddpg.actor_target(x[:, k + 1], post))
                value = torch.stack([t(x_next, after) for t in ddpg.critic_targets]).min(0).values
                total = total + c.gamma ** (k + 1) * boot * value
        (grad,) = torch.autograd.grad(total.sum(), action)
    return grad


def value_gradient_loss(ddpg: DDPG, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> torch.Tensor:
    """The ``critic_grad`` term: mean over the batch (and over the critics) of |dV/da_0 - target|^2, divided
    by the target's mean squared norm; its gradient reaches the critics' parameters only."""
    b = ddpg.critic_window(batch)
    target = target_action_gradient(ddpg, b, reward_fn)
    togo = b.get("steps_to_go")
    x = ddpg.critic_input(b["x"][:, 0].detach(), None if togo is None else togo[:, 0])
    action = b["action"][:, 0].detach().clone().requires_grad_(True)
    post = ddpg.after_write(b["memory"][:, 0].detach(), action)
    scale = (target**2).sum(-1).mean().clamp(min=1e-12)
    loss = 0.0
    for critic in ddpg.critics:
        (grad,) = torch.autograd.grad(critic(x, post).sum(), action, create_graph=True)
        loss = loss + ((grad - target) ** 2).sum(-1).mean() / scale
    return loss
