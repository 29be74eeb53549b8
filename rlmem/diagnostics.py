"""Does the critic point the actor the right way? The critic-gradient diagnostic.

DDPG moves the write policy along the critic's action gradient dV/da. Whether that helps depends on how
well it matches the gradient of what the writes actually earn. That gradient is known exactly here: the
write and the reader are known functions, so the K-step return from a state can be differentiated through
the closed-loop rollout (each later write is the policy's answer to the memory the earlier ones left).
On held-out sequences, at steps spread over each sequence, this module compares the two:

- ``critic_cos``: mean cosine between dV/da and dG_K/da over every sampled step;
- ``critic_cos_top``: the same over the steps whose true gradient is largest (the top tenth): the steps
  that matter, a cue being written, say;
- ``critic_cos_later`` and ``critic_cos_later_top``: the same for the part of the return after the step's own
  reward. That reward is a known function of the write, and a critic that adds it exactly
  (``value=future``) gets a high cosine from it alone wherever it dominates; the later part is what the
  critic must learn, so both gradients have the step's own reward gradient taken out;
- ``value_return_corr``: the correlation, across sequences at the same step, between the critic's value and
  the return the greedy policy realised (within-time: the trend with the time to go is taken out).

How high could ``critic_cos`` be? dV/da is a function of the critic's inputs only (the segment, the memory,
the write, the steps to go), while dG_K/da also depends on what comes later: the next inputs and, through
each reward's |prediction - target|, on which side of its target every later prediction falls. The part
no function of the inputs can predict sets a ceiling. ``gradient_predictability`` estimates it: a ridge
regression from those inputs to dG_K/da, fitted on some sequences and scored on others with the same
cosines (``ceiling_cos``, ``ceiling_cos_top``). A linear fit only bounds the ceiling from below; a
non-linear regressor (an MLP) did no better where we tried it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from rlmem.networks import frozen

KEYS = ("critic_cos", "critic_cos_top", "critic_cos_later", "critic_cos_later_top", "value_return_corr")  # what it reports


def k_step_return_gradient(actor, layout, reward_fn, xs: torch.Tensor, before: torch.Tensor, action: torch.Tensor,
                           targets: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """d/da of sum_k gamma^k r_{t+k} over the K steps in ``xs [B, K, h]`` (with their ``targets`` and
    ``mask``), starting from the memory ``before [B, N, d]`` with ``action [B, A]`` at the first step and the
    policy's own writes after it. Returns ``[B, A]``; no parameter gets a gradient."""
    action = action.detach().clone().requires_grad_(True)
    with torch.enable_grad(), frozen(actor):
        memory = layout.apply(before, action)
        ret = reward_fn(xs[:, 0], memory, targets[:, 0]) * mask[:, 0]
        for k in range(1, xs.shape[1]):
            memory = layout.apply(memory, actor(xs[:, k], memory))
            ret = ret + gamma**k * reward_fn(xs[:, k], memory, targets[:, k]) * mask[:, k]
        (grad,) = torch.autograd.grad(ret.sum(), action)
    return grad


def value_gradient(value_fn: Callable[[torch.Tensor], torch.Tensor], action: torch.Tensor) -> torch.Tensor:
    """d/da of ``value_fn(a)`` (summed over the batch: each row's gradient is its own)."""
    action = action.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(value_fn(action).sum(), action)
    return grad


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine; 0 where either row is 0."""
    num = (a * b).sum(-1)
    den = a.norm(dim=-1) * b.norm(dim=-1)
    return torch.where(den > 0, num / den.clamp(min=1e-30), torch.zeros_like(num))


@torch.no_grad()
def critic_gradient_check(model, episodes: Sequence, horizon: int = 20, samples: int = 8,
                          top: float = 0.1) -> dict[str, float]:
    """The three figures above for an ``RLMemModel`` on ``episodes`` (greedy policy)."""
    ddpg, actor, layout = model.ddpg, model.net["actor"], model.layout
    gamma = ddpg.config.gamma
    seg = model.segments(list(episodes))
    xs = model.net["encoder"](seg.features, seg.mask)
    n_batch, n_seg = seg.mask.shape
    memory = model.initial_memory(n_batch)
    before, actions, posts = [], [], []
    for s in range(n_seg):
        before.append(memory)
        actions.append(actor(xs[:, s], memory))
        memory = layout.apply(memory, actions[-1])
        posts.append(memory)
    before, actions, posts = torch.stack(before, 1), torch.stack(actions, 1), torch.stack(posts, 1)
    mask = seg.mask.float()
    rewards = model.reward(xs, posts, seg.targets) * mask
    returns = torch.zeros_like(rewards)
    running = torch.zeros(n_batch, device=rewards.device)
    for s in range(n_seg - 1, -1, -1):
        running = rewards[:, s] + gamma * running
        returns[:, s] = running
    lengths = seg.mask.sum(1)
    togo = (lengths[:, None] - torch.arange(n_seg, device=lengths.device)[None] - 1).clamp(min=0).float()
    last = n_seg - horizon
    if last < 0:
        return {}
    times = sorted(set(np.linspace(0, last, num=min(samples, last + 1)).round().astype(int).tolist()))
    cosines, norms, later, later_norms, corrs = [], [], [], [], []
    for t in times:
        ok = seg.mask[:, t + horizon - 1]
        if not ok.any():
            continue
        g_true = k_step_return_gradient(actor, layout, model.reward, xs[:, t: t + horizon], before[:, t],
                                        actions[:, t], seg.targets[:, t: t + horizon], mask[:, t: t + horizon], gamma)
        g_critic = value_gradient(lambda a: ddpg.action_value(xs[:, t], before[:, t], a, seg.targets[:, t],
                                                              togo[:, t], model.reward), actions[:, t])
        g_own = k_step_return_gradient(actor, layout, model.reward, xs[:, t: t + 1], before[:, t], actions[:, t],
                                       seg.targets[:, t: t + 1], mask[:, t: t + 1], gamma)
        cosines.append(cosine(g_true, g_critic)[ok])
        norms.append(g_true.norm(dim=-1)[ok])
        later.append(cosine(g_true - g_own, g_critic - g_own)[ok])
        later_norms.append((g_true - g_own).norm(dim=-1)[ok])
        values = ddpg.action_value(xs[:, t], before[:, t], actions[:, t], seg.targets[:, t], togo[:, t], model.reward)
        v, r = values[ok].cpu().numpy(), returns[:, t][ok].cpu().numpy()
        if len(v) >= 3 and v.std() > 0 and r.std() > 0:
            corrs.append(float(np.corrcoef(v, r)[0, 1]))
    if not cosines:
        return {}
    cos, norm = torch.cat(cosines), torch.cat(norms)
    cos_later, norm_later = torch.cat(later), torch.cat(later_norms)
    largest, largest_later = top_share(norm, top), top_share(norm_later, top)
    return {"critic_cos": float(cos.mean()), "critic_cos_top": float(cos[largest].mean()),
            "critic_cos_later": float(cos_later.mean()), "critic_cos_later_top": float(cos_later[largest_later].mean()),
            "value_return_corr": float(np.mean(corrs)) if corrs else 0.0}


def top_share(norm: torch.Tensor, top: float) -> torch.Tensor:
    """Indices of the ``top`` share of rows with the largest true-gradient norm (at least one)."""
    return torch.topk(norm, max(1, int(round(top * len(norm))))).indices


@torch.no_grad()
def sampled_gradients(model, episodes: Sequence, horizon: int, times: int,
                      span: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Along the greedy policy's rollout of ``episodes`` (their first ``span`` segments: the cost stays
    bounded on million-step sequences), at up to ``times`` steps spread over them: the critic's inputs
    (x_t, the memory before the write, the write, the steps to go as a share of the longest sequence) and
    the true gradient dG_K/da of the ``horizon``-step return, one row per (sequence, step) whose window is real."""
    actor, layout = model.net["actor"], model.layout
    seg = model.segments(list(episodes), 0, span)
    xs = model.net["encoder"](seg.features, seg.mask)
    n_batch, n_seg = seg.mask.shape
    last = n_seg - horizon
    if last < 0:
        return torch.empty(0), torch.empty(0)
    wanted = set(np.linspace(0, last, num=min(times, last + 1)).round().astype(int).tolist())
    total = torch.tensor([-(-e.length // model.options.segment_length) for e in episodes], dtype=torch.float32,
                         device=xs.device)
    mask = seg.mask.float()
    memory = model.initial_memory(n_batch)
    inputs, grads = [], []
    for t in range(last + 1):
        action = actor(xs[:, t], memory)
        if t in wanted:
            ok = seg.mask[:, t + horizon - 1]
            g = k_step_return_gradient(actor, layout, model.reward, xs[:, t: t + horizon], memory, action,
                                       seg.targets[:, t: t + horizon], mask[:, t: t + horizon], model.ddpg.config.gamma)
            togo = ((total - t - 1) / total.max()).clamp(min=0)[:, None]
            inputs.append(torch.cat([xs[:, t], memory.flatten(1), action, togo], 1)[ok])
            grads.append(g[ok])
        memory = layout.apply(memory, action)
    return torch.cat(inputs), torch.cat(grads)


def ridge_predictions(fit_inputs: torch.Tensor, fit_grads: torch.Tensor, inputs: torch.Tensor,
                      ridge: float = 10.0) -> torch.Tensor:
    """A ridge regression from inputs to gradients (inputs standardised by ``fit_inputs``' statistics),
    fitted on ``fit_*`` and applied to ``inputs``."""
    mean, std = fit_inputs.mean(0), fit_inputs.std(0).clamp(min=1e-6)

    def design(z: torch.Tensor) -> torch.Tensor:
        z = ((z - mean) / std).double()
        return torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)

    a = design(fit_inputs)
    weights = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype), a.T @ fit_grads.double())
    return (design(inputs) @ weights).to(fit_grads.dtype)


def predictability(fit_inputs: torch.Tensor, fit_grads: torch.Tensor, inputs: torch.Tensor, grads: torch.Tensor,
                   ridge: float = 10.0, top: float = 0.1) -> dict[str, float]:
    """Held-out cosines (all rows; the ``top`` share by true-gradient norm) of ``ridge_predictions``."""
    cos = cosine(ridge_predictions(fit_inputs, fit_grads, inputs, ridge), grads)
    return {"ceiling_cos": float(cos.mean()), "ceiling_cos_top": float(cos[top_share(grads.norm(dim=-1), top)].mean())}


def gradient_predictability(model, fit_episodes: Sequence, episodes: Sequence, horizon: int = 20,
                            times: int = 32) -> dict[str, float]:
    """``ceiling_cos`` and ``ceiling_cos_top`` for an ``RLMemModel``'s greedy policy: the regression is fitted on
    ``fit_episodes`` and scored on ``episodes``."""
    fit_inputs, fit_grads = sampled_gradients(model, fit_episodes, horizon, times)
    inputs, grads = sampled_gradients(model, episodes, horizon, times)
    if not len(fit_inputs) or not len(inputs):
        return {}
    return predictability(fit_inputs, fit_grads, inputs, grads)
