"""DDPG for the memory write policy, with a post-state (after-write) value function (TD3's fixes as flags).

A transition is (x_t, M_{t-1}, a_t, y_t, x_{t+1}, done). The write is deterministic and known, so the
critic values the state after the write, z_t = (x_t, M_t = write(M_{t-1}, a_t)), and

    V(z_t)  <-  r_t + gamma * (1 - done) * V'(x_{t+1}, write(M_t, mu'(x_{t+1}, M_t)))
    actor:  maximise V(x_t, write(M_{t-1}, mu(x_t, M_{t-1})))

with r_t = -MAE of the prediction read from M_t. The reward is recomputed from the stored target when a
transition is sampled, so it always reflects the current reader. Every gradient here spans one memory
step: the stored memories are leaves.

The choices the paper leaves open are flags, each off by default (then this is the paper's DDPG): TD3's
fixes (``policy_delay``, ``target_noise``, twin critics); what the critic learns towards (n-step and
"future" targets, value-gradient learning: ``rlmem.value_targets``); what the actor learns from (SVG(K),
burn-in, a trust region: ``rlmem.actor_objectives``); ``critic_time``: the critics also see how far the
sequence still runs (``steps_to_go`` in the batch), as gamma^togo and togo / 1000, since the discounted
return depends mostly on that; ``critic_warmup``: that many critic updates before the actor (and its
target) first moves, so the actor does not follow an untrained critic's gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from rlmem import actor_objectives, value_targets
from rlmem.memory import ActionLayout
from rlmem.networks import frozen
from rlmem.polyak import make_target, polyak_update
from rlmem.windows import RewardFn, as_window, trim_window


@dataclass
class DDPGConfig:
    gamma: float = 0.99
    tau: float = 0.005
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    grad_clip: float = 1.0
    # TD3's three fixes, off by default (then this is plain DDPG, as in stable-baselines3):
    policy_delay: int = 1  # actor and target updates once every `policy_delay` critic updates
    target_noise: float = 0.0  # std of the smoothing noise on the target actor's action
    target_noise_clip: float = 0.5
    value: str = "post-state"  # or "future": the critic learns only the reward after this step
    critic_time: bool = False  # critics see the steps to go (batch["steps_to_go"], batch["steps_to_go_next"])
    critic_warmup: int = 0  # critic updates before the actor's first
    trust_region: float = 0.0  # weight of |mu(s) - mu'(s)|^2 in the actor loss
    svg_k: int = 1  # steps of the actor's closed-loop objective on a window (1: DDPG's dV/da)
    # with svg_k > 1: the critic values the state after the K-th write (SVG(K)); False: the K-th step earns
    # its reward instead and the objective is the K rewards alone (the critic still trains, for the diagnostic)
    svg_bootstrap: bool = True
    burn_in: int = 0  # replayed steps the current actor rewrites (no gradient) before its objective starts
    td_window: int = 0  # steps of a window the critic's n-step target uses (0: all of them)
    critic_grad: float = 0.0  # weight of the value-gradient term in the critic's loss (0: TD alone)

VALUE_MODES = ("post-state", "future")


def check_config(config: DDPGConfig) -> None:
    """Refuse a configuration the updates cannot run (rlmem's options are checked here too, so both layers
    say the same)."""
    if not 0.0 <= config.gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {config.gamma!r}")
    if not 0.0 < config.tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {config.tau!r}")
    if config.policy_delay < 1 or config.target_noise < 0:
        raise ValueError("policy_delay must be >= 1 and target_noise >= 0")
    if config.value not in VALUE_MODES:
        raise ValueError(f"value must be one of {', '.join(VALUE_MODES)}, got {config.value!r}")
    if min(config.critic_warmup, config.trust_region, config.burn_in, config.td_window, config.critic_grad) < 0 \
            or config.svg_k < 1:
        raise ValueError("critic_warmup, trust_region, burn_in, td_window and critic_grad must be >= 0, svg_k >= 1")
    if config.value == "future" and max(config.svg_k, config.td_window) > 1:
        raise ValueError("value=future is one-step only: n_step and svg_k must stay 1")
    if config.value == "future" and config.critic_grad > 0:
        raise ValueError("critic_grad fits the post-state value's gradient: it needs value=post-state")
    if not config.svg_bootstrap and config.svg_k < 2:
        raise ValueError("svg_bootstrap=false drops the critic from a K-step objective: set svg_k >= 2")


class DDPG:
    def __init__(self, actor: nn.Module, critics: Sequence[nn.Module], layout: ActionLayout, config: DDPGConfig,
                 generator: torch.Generator | None = None):
        check_config(config)
        critics = list(critics)
        self.actor, self.critic, self.critics, self.layout, self.config = actor, critics[0], critics, layout, config
        self.actor_target = make_target(actor)
        self.critic_targets = [make_target(c) for c in critics]
        self.critic_target = self.critic_targets[0]
        self.actor_optimizer = torch.optim.Adam(actor.parameters(), lr=config.actor_lr)
        self.critic_optimizer = torch.optim.Adam([p for c in critics for p in c.parameters()], lr=config.critic_lr)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.updates = 0

    def after_write(self, memory: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.layout.apply(memory, action)

    def critic_window(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The part of a sampled batch the critic's targets span (``td_window`` steps, or all of them)."""
        b = as_window(batch)
        return trim_window(b, self.config.td_window) if self.config.td_window else b

    def critic_input(self, x: torch.Tensor, steps_to_go: torch.Tensor | None) -> torch.Tensor:
        """x, with ``critic_time`` also gamma^togo and togo / 1000 (what the discounted return depends on)."""
        if not self.config.critic_time:
            return x
        if steps_to_go is None:
            raise ValueError("critic_time needs 'steps_to_go' in the batch")
        togo = steps_to_go.to(x.dtype).unsqueeze(-1)
        return torch.cat([x, self.config.gamma ** togo, (togo / 1000.0).clamp(max=1.0)], dim=-1)

    def critic_loss(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> tuple[torch.Tensor, torch.Tensor]:
        """MSE between V(z_t) and its TD target (``rlmem.value_targets.td_target``; ``update`` adds the
        ``critic_grad`` term); returns (loss, TD errors)."""
        b = self.critic_window(batch)
        post, td_target = value_targets.td_target(self, b, reward_fn)
        togo = b.get("steps_to_go")
        # detached: states encoded with gradient (for the actor's objective) must not train the encoder here
        x = self.critic_input(b["x"][:, 0].detach(), None if togo is None else togo[:, 0])
        errors = [td_target - critic(x, post[:, 0]) for critic in self.critics]
        loss = sum((e**2).mean() for e in errors)
        return loss, errors[0].detach()

    def action_value(self, x: torch.Tensor, memory: torch.Tensor, action: torch.Tensor, target: torch.Tensor,
                     steps_to_go: torch.Tensor | None, reward_fn: RewardFn | None) -> torch.Tensor:
        """What the actor maximises for ``action`` taken on (x, memory): the critic's value of the state
        after the write (plus, for ``value="future"``, the step's reward: ``reward_fn`` must then be
        differentiable in the memory and keep its own parameters frozen). The critic's parameters get no
        gradient; the action does."""
        post = self.after_write(memory, action)
        with frozen(self.critic):
            value = self.critic(self.critic_input(x, steps_to_go), post)
        if self.config.value == "future":
            if reward_fn is None:
                raise ValueError('value="future" needs the reward function in the actor loss')
            value = reward_fn(x, post, target) + self.config.gamma * value
        return value

    def actor_loss(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn | None = None) -> torch.Tensor:
        """Minus ``action_value`` of the actor's write, DDPG's objective; with ``svg_k``, ``burn_in`` or
        ``trust_region``, the objective of ``rlmem.actor_objectives``."""
        b = as_window(batch)
        if actor_objectives.extended(self.config):
            return actor_objectives.closed_loop_actor_loss(self, b, reward_fn)
        togo = b.get("steps_to_go")
        x, memory = b["x"][:, 0], b["memory"][:, 0]
        value = self.action_value(x, memory, self.actor(x, memory), b["target"][:, 0],
                                  None if togo is None else togo[:, 0], reward_fn)
        return -value.mean()

    def update(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> dict[str, float]:
        """One critic step; every `policy_delay`-th call also the soft updates and, once the critic has
        warmed up, one actor step."""
        clip = self.config.grad_clip
        critic_loss, td_error = self.critic_loss(batch, reward_fn)
        logged = {}
        if self.config.critic_grad > 0:  # logged on its own: near 1, dV/da explains none of its targets
            gradient_loss = value_targets.value_gradient_loss(self, batch, reward_fn)
            critic_loss = critic_loss + self.config.critic_grad * gradient_loss
            logged["critic_grad_loss"] = gradient_loss.item()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        if clip > 0:
            for critic in self.critics:
                nn.utils.clip_grad_norm_(critic.parameters(), clip)
        self.critic_optimizer.step()
        self.updates += 1
        out = {"critic_loss": critic_loss.item(), "td_error": td_error.abs().mean().item(), **logged}
        if self.updates % self.config.policy_delay:
            return out
        if self.updates > self.config.critic_warmup:
            actor_loss = self.actor_loss(batch, reward_fn)
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            if clip > 0:
                nn.utils.clip_grad_norm_(self.actor.parameters(), clip)
            self.actor_optimizer.step()
            polyak_update(self.actor.parameters(), self.actor_target.parameters(), self.config.tau)
            out["actor_loss"] = actor_loss.item()
        for critic, target in zip(self.critics, self.critic_targets):
            polyak_update(critic.parameters(), target.parameters(), self.config.tau)
        return out
