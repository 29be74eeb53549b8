"""DDPG for the memory write policy, with a post-state (after-write) value function.

A transition is (x_t, M_{t-1}, a_t, y_t, x_{t+1}, done). The write is deterministic and known, so the
critic values the state after the write, z_t = (x_t, M_t = write(M_{t-1}, a_t)), and

    V(z_t)  <-  r_t + gamma * (1 - done) * V'(x_{t+1}, write(M_t, mu'(x_{t+1}, M_t)))
    actor:  maximise V(x_t, write(M_{t-1}, mu(x_t, M_{t-1})))

with r_t = -MAE of the prediction read from M_t. The reward is recomputed from the stored target when a
transition is sampled, so it always reflects the current reader. Every gradient here spans one memory
step: the stored memories are leaves.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from rlmem.memory import ActionLayout, write
from rlmem.polyak import make_target, polyak_update

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DDPGConfig:
    gamma: float = 0.99
    tau: float = 0.005
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    grad_clip: float = 1.0


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Let gradients flow *through* a module without reaching its parameters."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


class DDPG:
    def __init__(self, actor: nn.Module, critic: nn.Module, layout: ActionLayout, config: DDPGConfig):
        if not 0.0 <= config.gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {config.gamma}")
        self.actor, self.critic, self.layout, self.config = actor, critic, layout, config
        self.actor_target = make_target(actor)
        self.critic_target = make_target(critic)
        self.actor_optimizer = torch.optim.Adam(actor.parameters(), lr=config.actor_lr)
        self.critic_optimizer = torch.optim.Adam(critic.parameters(), lr=config.critic_lr)
        self.updates = 0

    def after_write(self, memory: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return write(memory, self.layout.split(action))

    def critic_loss(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> tuple[torch.Tensor, torch.Tensor]:
        """MSE between V(z_t) and its one-step TD target; returns (loss, TD errors)."""
        with torch.no_grad():
            post = self.after_write(batch["memory"], batch["action"])
            reward = reward_fn(batch["x"], post, batch["target"])
            next_action = self.actor_target(batch["x_next"], post)
            next_value = self.critic_target(batch["x_next"], self.after_write(post, next_action))
            td_target = reward + self.config.gamma * (1.0 - batch["done"]) * next_value
        value = self.critic(batch["x"], post)
        td_error = td_target - value
        return (td_error**2).mean(), td_error.detach()

    def actor_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        action = self.actor(batch["x"], batch["memory"])
        with frozen(self.critic):
            value = self.critic(batch["x"], self.after_write(batch["memory"], action))
        return -value.mean()

    def update(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> dict[str, float]:
        """One critic step, one actor step, then soft updates of both targets."""
        clip = self.config.grad_clip
        critic_loss, td_error = self.critic_loss(batch, reward_fn)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_(self.critic.parameters(), clip)
        self.critic_optimizer.step()

        actor_loss = self.actor_loss(batch)
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_(self.actor.parameters(), clip)
        self.actor_optimizer.step()

        polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.config.tau)
        polyak_update(self.actor.parameters(), self.actor_target.parameters(), self.config.tau)
        self.updates += 1
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(),
                "td_error": td_error.abs().mean().item()}
