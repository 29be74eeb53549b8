"""DDPG for the memory write policy, with a post-state (after-write) value function (TD3's fixes as flags).

A transition is (x_t, M_{t-1}, a_t, y_t, x_{t+1}, done). The write is deterministic and known, so the
critic values the state after the write, z_t = (x_t, M_t = write(M_{t-1}, a_t)), and

    V(z_t)  <-  r_t + gamma * (1 - done) * V'(x_{t+1}, write(M_t, mu'(x_{t+1}, M_t)))
    actor:  maximise V(x_t, write(M_{t-1}, mu(x_t, M_{t-1})))

with r_t = -MAE of the prediction read from M_t. The reward is recomputed from the stored target when a
transition is sampled, so it always reflects the current reader. Every gradient here spans one memory
step: the stored memories are leaves.

With ``value="future"`` the critic leaves out the step's own reward, which is a known, differentiable
function of the post-state, and learns only what comes after it:

    W(z_t)  <-  (1 - done) * (r_{t+1} + gamma * W'(z_{t+1}))
    actor:  maximise r_t(z_t) + gamma * W(z_t)    (the reader frozen; the gradient still spans one step)

so the critic no longer has to carry the large, mostly action-independent level of the immediate reward.

Further choices, each off by default (then this is the paper's DDPG):

- ``critic_time``: the critics also see how far the sequence still runs (``steps_to_go`` in the batch), as
  gamma^togo and togo / 1000. The discounted return depends mostly on that: without it most of the TD
  target's variance comes from something outside the critic's input.
- ``critic_warmup``: that many critic updates before the actor (and its target) first moves, so the actor
  does not follow an untrained critic's gradient.
- ``trust_region``: the actor loss adds this weight times the squared distance between the actor's action
  and the target actor's on the same state, an anchor that keeps each step small.
- ``burn_in``: the actor's objective starts that many steps into the replayed window, from the memory the
  current actor writes over those steps (no gradient) instead of the stored one, which an older policy
  wrote (R2D2's burn-in, Kapturowski et al., ICLR 2019), averaged over the windows whose sequence outlasts
  the burn-in. The critic's targets keep their own window.
- ``critic_grad``: value-gradient learning (Fairbank & Alonso, "Value-gradient learning", IJCNN 2012; the
  dual heuristic programming of adaptive critics). DDPG's actor follows dV/da, not V, yet TD fits only V's
  level, and a critic can fit the level well with a useless gradient. This adds, at this weight, the
  squared distance between the critic's dV/da_t and the gradient of its own n-step target, taken through
  the known writes and reader with the current policy writing the later steps and the target critic's
  gradient at the bootstrap, divided by that target's mean squared norm (scale-free). Still no gradient
  spans more than the window.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from rlmem.memory import ActionLayout
from rlmem.polyak import make_target, polyak_update

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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


def as_window(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The losses read windows of W steps (``TrajectoryReplay.sample``): ``x``, ``target``, ``valid`` and
    ``steps_to_go`` ``[B, W + 1, ...]``, ``memory``, ``action`` and ``step_valid`` ``[B, W, ...]``. A one-step
    transition (``x``, ``memory``, ``action``, ``target``, ``x_next``, ``target_next``, ``done``) is the
    window of width 1."""
    if "x_next" not in batch:
        return batch
    n = batch["x"].shape[0]
    window = {
        "x": torch.stack([batch["x"], batch["x_next"]], 1),
        "memory": batch["memory"].unsqueeze(1),
        "action": batch["action"].unsqueeze(1),
        "target": torch.stack([batch["target"], batch.get("target_next", torch.zeros_like(batch["target"]))], 1),
        "valid": torch.stack([torch.ones(n, dtype=torch.bool, device=batch["x"].device), batch["done"] < 0.5], 1),
        "step_valid": torch.ones((n, 1), dtype=torch.bool, device=batch["x"].device),
    }
    if "steps_to_go" in batch:
        window["steps_to_go"] = torch.stack([batch["steps_to_go"], batch["steps_to_go_next"]], 1)
    return window


def trim_window(window: dict[str, torch.Tensor], width: int) -> dict[str, torch.Tensor]:
    """The first ``width`` steps of a window (states keep the one after the last step)."""
    steps = window["action"].shape[1]
    if width >= steps:
        return window
    return {key: value[:, :width + (1 if value.shape[1] == steps + 1 else 0)] for key, value in window.items()}


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
        """MSE between V(z_t) and its TD target (``update`` adds the ``critic_grad`` term); returns (loss, TD
        errors). On a window of W steps (see ``as_window``) the target is the n-step one, n = the steps of the
        window the sequence still has: sum_k gamma^k r_{t+k} + gamma^n V'(z_{t+n}) (no bootstrap once the
        sequence has ended)."""
        c = self.config
        b = self.critic_window(batch)
        width = b["action"].shape[1]
        if c.value == "future" and width > 1:
            raise ValueError('value="future" is one-step only (n_step=1)')
        rows = torch.arange(b["action"].shape[0], device=b["action"].device)
        togo = b.get("steps_to_go")
        with torch.no_grad():
            post = self.after_write(b["memory"], b["action"])  # [B, W, N, d]
            steps = b["step_valid"].to(post.dtype)
            discount = c.gamma ** torch.arange(width, device=post.device, dtype=post.dtype)
            flat = lambda t: t.reshape(-1, *t.shape[2:])  # noqa: E731 - reward functions see [n, ...]
            rewards = reward_fn(flat(b["x"][:, :width]), flat(post), flat(b["target"][:, :width])).reshape(steps.shape)
            ret = (rewards * steps * discount).sum(1)
            n = b["step_valid"].sum(1).clamp(min=1)  # the bootstrap is the state after the last stored step
            last, x_next = post[rows, n - 1], b["x"][rows, n]
            goes_on = b["valid"][rows, n].to(post.dtype)
            next_action = self.actor_target(x_next, last)
            if c.target_noise > 0:
                noise = c.target_noise * torch.randn(next_action.shape, generator=self.generator).to(next_action.device)
                next_action = self.layout.project(next_action + noise.clamp(-c.target_noise_clip, c.target_noise_clip))
            next_post = self.after_write(last, next_action)
            x_boot = self.critic_input(x_next, None if togo is None else togo[rows, n])
            next_value = torch.stack([t(x_boot, next_post) for t in self.critic_targets]).min(0).values
            if c.value == "future":
                next_reward = reward_fn(x_next, next_post, b["target"][rows, n])
                td_target = goes_on * (next_reward + c.gamma * next_value)
            else:
                td_target = ret + c.gamma ** n.to(post.dtype) * goes_on * next_value
        # detached: states encoded with gradient (for the actor's objective) must not train the encoder here
        x = self.critic_input(b["x"][:, 0].detach(), None if togo is None else togo[:, 0])
        errors = [td_target - critic(x, post[:, 0]) for critic in self.critics]
        loss = sum((e**2).mean() for e in errors)
        return loss, errors[0].detach()

    def target_action_gradient(self, b: dict[str, torch.Tensor], reward_fn: RewardFn) -> torch.Tensor:
        """d/da_0 of the window's n-step target with the first write's action as the variable: the rewards of
        the stored steps, the current policy writing steps 1 .. n-1 in closed loop, then gamma^n times the
        target critics' value (their minimum) after the target actor's write, where the sequence goes on.
        ``[B, A]``; no parameter gets a gradient."""
        c = self.config
        togo, steps, x = b.get("steps_to_go"), b["step_valid"], b["x"].detach()
        action = b["action"][:, 0].detach().clone().requires_grad_(True)
        at = lambda field, k: None if field is None else field[:, k]  # noqa: E731
        with torch.enable_grad(), contextlib.ExitStack() as stack:
            for module in (self.actor, self.actor_target, *self.critic_targets):
                stack.enter_context(frozen(module))
            post, total = self.after_write(b["memory"][:, 0], action), 0.0
            for k in range(steps.shape[1]):
                if k > 0:
                    post = self.after_write(post, self.actor(x[:, k], post))
                here = steps[:, k].to(post.dtype)
                total = total + c.gamma**k * here * reward_fn(x[:, k], post, b["target"][:, k])
                ends = steps[:, k] & ~(steps[:, k + 1] if k + 1 < steps.shape[1] else torch.zeros_like(steps[:, k]))
                boot = (ends & b["valid"][:, k + 1]).to(post.dtype)  # the last stored step, and the sequence goes on
                if boot.any():
                    x_next = self.critic_input(x[:, k + 1], at(togo, k + 1))
                    after = self.after_write(post, self.actor_target(x[:, k + 1], post))
                    value = torch.stack([t(x_next, after) for t in self.critic_targets]).min(0).values
                    total = total + c.gamma ** (k + 1) * boot * value
            (grad,) = torch.autograd.grad(total.sum(), action)
        return grad

    def value_gradient_loss(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> torch.Tensor:
        """The ``critic_grad`` term: mean over the batch (and over the critics) of |dV/da_0 - target|^2, divided
        by the target's mean squared norm; its gradient reaches the critics' parameters only."""
        b = self.critic_window(batch)
        target = self.target_action_gradient(b, reward_fn)
        togo = b.get("steps_to_go")
        x = self.critic_input(b["x"][:, 0].detach(), None if togo is None else togo[:, 0])
        action = b["action"][:, 0].detach().clone().requires_grad_(True)
        post = self.after_write(b["memory"][:, 0].detach(), action)
        scale = (target**2).sum(-1).mean().clamp(min=1e-12)
        loss = 0.0
        for critic in self.critics:
            (grad,) = torch.autograd.grad(critic(x, post).sum(), action, create_graph=True)
            loss = loss + ((grad - target) ** 2).sum(-1).mean() / scale
        return loss

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
        """Minus ``action_value`` of the actor's write (plus the trust region's anchor). With ``svg_k`` = K > 1
        on a window, minus the K-step objective instead: the policy writes K steps in closed loop through
        the known write and the frozen reader, earning their rewards, and the critic values the state
        after the last (SVG(K)), or, without ``svg_bootstrap``, the K-th write earns its reward and no critic
        enters (truncated backpropagation through the known write and reader, on replayed windows); the
        sequence's end stops it early. With ``burn_in`` = B it starts at the window's step B, from the memory
        the current actor writes over steps 0 .. B-1 (no gradient) instead of the stored one."""
        b = as_window(batch)
        togo = b.get("steps_to_go")
        memory, alive = b["memory"][:, 0], torch.ones_like(b["x"][:, 0, 0])
        start = min(self.config.burn_in, b["action"].shape[1] - 1)
        with torch.no_grad():
            for k in range(start):  # rewrite the stored memory with the current actor; a sequence may end here
                memory = self.after_write(memory, self.actor(b["x"][:, k], memory))
                alive = alive * b["step_valid"][:, k + 1].to(alive.dtype)
        live = alive  # rows whose sequence outlasts the burn-in: only they have an objective to average
        x, target = b["x"][:, start], b["target"][:, start]
        at = lambda field, k: None if field is None else field[:, start + k]  # noqa: E731 - step k of the objective
        action = self.actor(x, memory)
        k_steps = min(self.config.svg_k, b["action"].shape[1] - start)
        if k_steps <= 1:
            value = alive * self.action_value(x, memory, action, target, at(togo, 0), reward_fn)
        else:
            if reward_fn is None or self.config.value != "post-state":
                raise ValueError("svg_k > 1 needs the reward function and value='post-state'")
            value, post = 0.0, self.after_write(memory, action)
            for k in range(k_steps):
                if k > 0:
                    post = self.after_write(post, self.actor(at(b["x"], k), post))
                last = k == k_steps - 1
                if last and self.config.svg_bootstrap:
                    with frozen(self.critic):
                        v = self.critic(self.critic_input(at(b["x"], k), at(togo, k)), post)
                    value = value + self.config.gamma**k * alive * v
                else:
                    value = value + self.config.gamma**k * alive * reward_fn(at(b["x"], k), post, at(b["target"], k))
                    if not last:
                        alive = alive * b["step_valid"][:, start + k + 1].to(alive.dtype)
        # a mean over the live rows: one over the batch would shrink the step by the share that died in the
        # burn-in (without burn-in every row is live and this is the plain mean)
        mean = (lambda t: (live * t).sum() / live.sum().clamp(min=1)) if start else (lambda t: t.mean())  # noqa: E731
        loss = -mean(value)
        if self.config.trust_region > 0:
            with torch.no_grad():
                anchor = self.actor_target(x, memory)
            loss = loss + self.config.trust_region * mean(((action - anchor) ** 2).sum(-1))
        return loss

    def update(self, batch: dict[str, torch.Tensor], reward_fn: RewardFn) -> dict[str, float]:
        """One critic step; every `policy_delay`-th call also the soft updates and, once the critic has
        warmed up, one actor step."""
        clip = self.config.grad_clip
        critic_loss, td_error = self.critic_loss(batch, reward_fn)
        logged = {}
        if self.config.critic_grad > 0:  # logged on its own: near 1, dV/da explains none of its targets
            gradient_loss = self.value_gradient_loss(batch, reward_fn)
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
