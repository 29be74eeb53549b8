"""What the actor learns from beyond DDPG's dV/da, each off by default (then the actor loss is the paper's,
``rlmem.ddpg.DDPG.actor_loss``):

- ``svg_k``: a K-step closed-loop objective on a replayed window: the policy writes K steps through the known
  write and the frozen reader, earning their rewards, and the critic values the state after the last
  (SVG(K), Heess et al., NeurIPS 2015); without ``svg_bootstrap`` the K rewards alone, no critic.
- ``burn_in``: the objective starts that many steps into the replayed window, from the memory the current
  actor writes over those steps (no gradient) instead of the stored one, which an older policy wrote
  (R2D2's burn-in, Kapturowski et al., ICLR 2019), averaged over the windows whose sequence outlasts the
  burn-in. The critic's targets keep their own window.
- ``trust_region``: the loss adds this weight times the squared distance between the actor's action and the
  target actor's on the same state, an anchor that keeps each step small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from rlmem.networks import frozen
from rlmem.windows import RewardFn

if TYPE_CHECKING:
    from rlmem.ddpg import DDPG


def extended(config) -> bool:
    """Whether the actor learns from anything beyond the paper's dV/da."""
    return config.svg_k > 1 or config.burn_in > 0 or config.trust_region > 0


def closed_loop_actor_loss(ddpg: DDPG, b: dict[str, torch.Tensor], reward_fn: RewardFn | None) -> torch.Tensor:
    """The actor's loss on a window ``b`` with the extensions on: minus ``action_value`` of the actor's write,
    plus the trust region's anchor. With ``svg_k`` = K > 1, minus the K-step objective instead: the policy
    writes K steps in closed loop through the known write and the frozen reader, earning their rewards, and
    the critic values the state after the last (SVG(K)), or, without ``svg_bootstrap``, the K-th write
    earns its reward and no critic enters (truncated backpropagation through the known write and reader,
    on replayed windows); the sequence's end stops it early. With ``burn_in`` = B it starts at the window's
    step B, from the memory the current actor writes over steps 0 .. B-1 (no gradient)."""
    togo = b.get("steps_to_go")
    memory, alive = b["memory"][:, 0], torch.ones_like(b["x"][:, 0, 0])
    start = min(ddpg.config.burn_in, b["action"].shape[1] - 1)
    with torch.no_grad():
        for k in range(start):  # rewrite the stored memory with the current actor; a sequence may end here
            memory = ddpg.after_write(memory, ddpg.actor(b["x"][:, k], memory))
            alive = alive * b["step_valid"][:, k + 1].to(alive.dtype)
    live = alive  # rows whose sequence outlasts the burn-in: only they have an objective to average
    x, target = b["x"][:, start], b["target"][:, start]
    at = lambda field, k: None if field is None else field[:, start + k]  # noqa: E731 - step k of the objective
    action = ddpg.actor(x, memory)
    k_steps = min(ddpg.config.svg_k, b["action"].shape[1] - start)
    if k_steps <= 1:
        value = alive * ddpg.action_value(x, memory, action, target, at(togo, 0), reward_fn)
    else:
        if reward_fn is None or ddpg.config.value != "post-state":
            raise ValueError("svg_k > 1 needs the reward function and value='post-state'")
        value, post = 0.0, ddpg.after_write(memory, action)
        for k in range(k_steps):
            if k > 0:
                post = ddpg.after_write(post, ddpg.actor(at(b["x"], k), post))
            last = k == k_steps - 1
            if last and ddpg.config.svg_bootstrap:
                with frozen(ddpg.critic):
                    v = ddpg.critic(ddpg.critic_input(at(b["x"], k), at(togo, k)), post)
                value = value + ddpg.config.gamma**k * alive * v
            else:
                value = value + ddpg.config.gamma**k * alive * reward_fn(at(b["x"], k), post, at(b["target"], k))
                if not last:
                    alive = alive * b["step_valid"][:, start + k + 1].to(alive.dtype)
    # a mean over the live rows: one over the batch would shrink the step by the share that died in the
    # burn-in (without burn-in every row is live and this is the plain mean)
    mean = (lambda t: (live * t).sum() / live.sum().clamp(min=1)) if start else (lambda t: t.mean())  # noqa: E731
    loss = -mean(value)
    if ddpg.config.trust_region > 0:
        with torch.no_grad():
            anchor = ddpg.actor_target(x, memory)
        loss = loss + ddpg.config.trust_region * mean(((action - anchor) ** 2).sum(-1))
    return loss
