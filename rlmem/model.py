"""``rlmem`` (memory writes learnt by DDPG) and its ablation twin ``memnet-bptt`` (writes learnt by BPTT).

Both share one architecture: a fusion encoder turns each segment into x_t, a policy writes into the
memory bank, and a reader predicts the segment's targets from x_t and the memory after the write.
They differ only in how the write policy learns:

- ``rlmem``: many sequences advance in lockstep; each step's write is the policy's action plus
  exploration noise; transitions go to a replay buffer and DDPG updates the policy and a post-state
  critic by one-step TD. The encoder and reader learn from each segment's supervised loss with the
  memory detached, in chunks of ``chunk`` segments, so no gradient spans more than one memory step and
  training memory does not grow with sequence length.
- ``memnet-bptt``: the same modules trained end to end by backpropagation through the whole sequence.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from benchmark.api import (Episode, FeatureScaler, FitInfo, Model, ReshuffledPasses, Selector, TrainBudget, TrainingLog,
                           TrainingState, run_updates, select_modalities, torch_device)
from rlmem.ddpg import DDPG
from rlmem.diagnostics import KEYS as DIAGNOSTIC_KEYS, critic_gradient_check, gradient_predictability
from rlmem.memory import ActionLayout
from rlmem.networks import CRITICS, Actor, FusionEncoder, Reader, frozen
from rlmem.noise import make_noise
from rlmem.options import MemoryNetOptions, RLMemOptions
from rlmem.polyak import polyak_update
from rlmem.replay import TrajectoryReplay
from rlmem.step import StepRunner, exploration_step, greedy_step

EVAL_WINDOW = 2_048  # segments encoded, written and read at a time when predicting: long sequences stream


@dataclass
class Segments:
    features: torch.Tensor  # [B, S, L, D]
    targets: torch.Tensor  # [B, S, k], mean over the real steps of each segment
    mask: torch.Tensor  # [B, S], True where the segment has a real step
    lengths: list[int]  # steps per episode


class MemoryNetwork(Model):
    """The shared architecture; subclasses implement ``fit``."""

    Options = MemoryNetOptions

    def __init__(self, options: MemoryNetOptions, spec, seed: int):
        super().__init__(options, spec, seed)
        chosen = select_modalities(spec, options.modalities)
        self.scaler = FeatureScaler([m for m, _ in chosen])
        self.scaler_width = sum(d for _, d in chosen)
        self.layout = ActionLayout(options.slots, options.width, options.retain)
        self.device = torch_device(options.device)
        torch.manual_seed(seed)
        o = options
        self.net = nn.ModuleDict({
            "encoder": FusionEncoder(sum(d for _, d in chosen), o.hidden),
            "actor": Actor(o.hidden, self.layout, o.hidden, o.retain_bias),
            "reader": Reader(o.hidden, o.width, o.hidden, spec.n_targets),
        })
        bound = 1.0 / math.sqrt(o.slots + o.width)
        init = torch.empty(o.slots, o.width).uniform_(-bound, bound)  # drawn on the CPU: the same on any device
        self.net.to(self.device)
        self.memory_init = nn.Parameter(init.to(self.device))
        actor = self.net["actor"]
        self.greedy = StepRunner(lambda x, memory: greedy_step(actor, self.layout, x, memory), o.cuda_graphs)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters()) + self.memory_init.numel()

    def initial_memory(self, batch: int) -> torch.Tensor:
        return self.memory_init.unsqueeze(0).expand(batch, -1, -1)

    def n_segments(self, episodes: Sequence[Episode]) -> int:
        return -(-max(e.length for e in episodes) // self.options.segment_length)

    def segments(self, episodes: Sequence[Episode], start: int = 0, stop: int | None = None) -> Segments:
        """The batch's segments ``[start, stop)`` (all by default) on the model's device: a window of a long
        sequence is built from the episodes directly, never from a copy of the whole batch."""
        length = self.options.segment_length
        stop = self.n_segments(episodes) if stop is None else min(stop, self.n_segments(episodes))
        x, y, mask = self.scaler.batch(episodes, start * length, stop * length)
        b, t, d = x.shape
        s = t // length
        x = x.reshape(b, s, length, d)
        m = mask.reshape(b, s, length)
        y = y.reshape(b, s, length, -1)
        counts = m.sum(-1, keepdims=True)
        y_seg = (y * m[..., None]).sum(2) / np.maximum(counts, 1)
        to = self.device
        return Segments(torch.from_numpy(x).to(to), torch.from_numpy(y_seg.astype(np.float32)).to(to),
                        torch.from_numpy(m.any(-1)).to(to), [e.length for e in episodes])

    def _unsegment(self, seg_preds: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
        per_step = np.repeat(seg_preds, self.options.segment_length, axis=1)
        return [per_step[i, :n] for i, n in enumerate(lengths)]

    @torch.no_grad()
    def rollout(self, episodes: Sequence[Episode], trace: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Greedy (noise-free) pass over a batch of episodes, ``EVAL_WINDOW`` segments at a time with the
        memory carried across windows: predictions ``[B, S, k]`` and, on request, what the memory did."""
        self.net.eval()
        enc, reader = self.net["encoder"], self.net["reader"]
        memory = self.initial_memory(len(episodes))
        preds, weights, slot_means = [], [], []
        for start in range(0, self.n_segments(episodes), EVAL_WINDOW):
            seg = self.segments(episodes, start, start + EVAL_WINDOW)
            xs = enc(seg.features, seg.mask)
            memories, memory = self.write_all(xs, memory, self.greedy)
            preds.append(reader(xs, memories).cpu().numpy())
            if trace:
                weights.append(reader.weights(xs, memories).cpu().numpy())
                slot_means.append(memories.mean(-1).cpu().numpy())
        info = {"read_weights": np.concatenate(weights, 1), "slot_mean": np.concatenate(slot_means, 1)} if trace else {}
        return np.concatenate(preds, 1), info

    def write_all(self, xs: torch.Tensor, memory: torch.Tensor | None = None,
                  step: Callable | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory after each step's greedy write, ``[B, S, N, d]``, and the last one. Only the writes are
        sequential, so the reader runs once over all steps afterwards. Without ``step`` the writes keep
        their graph (BPTT); with one (the greedy ``StepRunner``) they run without."""
        memory = self.initial_memory(xs.shape[0]) if memory is None else memory
        memories = []
        for s in range(xs.shape[1]):
            if step is None:
                memory = self.layout.apply(memory, self.net["actor"](xs[:, s], memory))
            else:
                (memory,) = step(xs[:, s], memory)
                memory = memory.clone()  # a replayed graph reuses its output buffer
            memories.append(memory)
        return torch.stack(memories, 1), memory

    def predict(self, episodes: Sequence[Episode]) -> dict[str, np.ndarray]:
        out = {}
        for start in range(0, len(episodes), self.options.batch_size):
            chunk = list(episodes[start: start + self.options.batch_size])
            preds, _ = self.rollout(chunk)
            for ep, p in zip(chunk, self._unsegment(preds.astype(np.float64), [e.length for e in chunk])):
                out[ep.id] = p
        return out

    def trace(self, episode: Episode) -> dict[str, Any]:
        """Read weights and per-slot mean activation along one sequence (for the memory figures)."""
        preds, info = self.rollout([episode], trace=True)
        targets = self.segments([episode]).targets.cpu().numpy()
        info = {**info, "predictions": preds, "targets": targets}
        return {k: np.round(v[0], 4).tolist() for k, v in info.items()} | {
            "segment_length": self.options.segment_length}

    def _state(self) -> dict[str, Any]:
        return {"net": copy.deepcopy(self.net.state_dict()), "memory_init": self.memory_init.detach().clone()}

    def _load(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        with torch.no_grad():
            self.memory_init.copy_(state["memory_init"])

    def _supervised_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        per_segment = ((pred - target) ** 2).mean(-1)
        return (per_segment * mask).sum() / mask.sum().clamp(min=1)

    def bptt_update(self, episodes: Sequence[Episode], optimizer, params) -> dict[str, float]:
        """One end-to-end update, the write policy included, through each whole sequence of the batch."""
        o = self.options
        self.net.train()
        seg = self.segments(episodes)
        xs = self.net["encoder"](seg.features, seg.mask)
        loss = self._supervised_loss(self.net["reader"](xs, self.write_all(xs)[0]), seg.targets, seg.mask)
        optimizer.zero_grad()
        loss.backward()
        if o.grad_clip > 0:
            nn.utils.clip_grad_norm_(params, o.grad_clip)
        optimizer.step()
        return {"train_loss": loss.item()}


class MemNetBPTTModel(MemoryNetwork):
    description = "memory network, same architecture as rlmem, writes learnt by full BPTT"

    def updates_per_epoch(self, train: Sequence[Episode]) -> int:
        return -(-len(train) // self.options.batch_size)

    def fit(self, train, val, budget: TrainBudget, selector: Selector, log: TrainingLog) -> FitInfo:
        self.scaler.fit(train)
        generator = torch.Generator().manual_seed(self.seed)
        params = [*self.net.parameters(), self.memory_init]
        optimizer = torch.optim.Adam(params, lr=self.options.lr)
        passes = ReshuffledPasses(train, self.options.batch_size, generator)
        updates = (self.bptt_update(batch, optimizer, params) for batch in passes)
        resumable = TrainingState(net=self.net, memory_init=self.memory_init, optimizer=optimizer, passes=passes)
        info, best = run_updates(budget, self.updates_per_epoch(train), selector, log, updates,
                                 lambda: self.predict(val), self._state, resumable=resumable)
        if best is not None:
            self._load(best)
        return info


class RLMemModel(MemoryNetwork):
    description = "RL-based memory network: DDPG write policy, post-state critic, one-step TD (ACM MM 2022)"
    Options = RLMemOptions

    def __init__(self, options: RLMemOptions, spec, seed: int):
        super().__init__(options, spec, seed)
        critics = []
        for i in range(options.n_critics):
            name = "critic" if i == 0 else f"critic{i + 1}"
            x_dim = options.hidden + (2 if options.critic_time else 0)  # + gamma^togo, togo / 1000
            self.net[name] = CRITICS[options.critic](x_dim, options.slots, options.width,
                                                     options.hidden).to(self.device)
            critics.append(self.net[name])
        self.ddpg = DDPG(self.net["actor"], critics, self.layout, options.ddpg_config(),
                         generator=torch.Generator().manual_seed(seed + 3))
        actor = self.net["actor"]
        self.explore = StepRunner(lambda x, memory, noise: exploration_step(actor, self.layout, x, memory, noise),
                                  options.cuda_graphs)

    def replay_fields(self) -> dict[str, tuple[int, ...]]:
        """The shape of each per-step field the replay keeps (``valid`` comes with the replay)."""
        o = self.options
        state = {"features": (o.segment_length, self.scaler_width)} if o.reencode else {"x": (o.hidden,)}
        fields = {**state, "memory": (o.slots, o.width), "action": (self.layout.size,),
                  "target": (self.spec.n_targets,)}
        if o.critic_time:
            fields["steps_to_go"] = ()
        return fields

    def reward(self, x: torch.Tensor, memory_after: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Minus the MAE of the prediction read from the memory after the write (differentiable in the
        memory only: the reader learns from the supervised loss, never from the RL losses)."""
        with frozen(self.net["reader"]):
            return -(self.net["reader"](x, memory_after) - target).abs().mean(-1)

    def updates_per_epoch(self, train: Sequence[Episode]) -> int:
        """Supervised updates in one pass: one per chunk of ``chunk`` segments of each batch."""
        o = self.options
        segments = sorted((-(-e.length // o.segment_length) for e in train), reverse=True)
        return sum(-(-segments[i] // o.chunk) for i in range(0, len(segments), o.batch_size))

    def fit(self, train, val, budget: TrainBudget, selector: Selector, log: TrainingLog) -> FitInfo:
        o = self.options
        self.scaler.fit(train)
        order_gen = torch.Generator().manual_seed(self.seed)
        noise = make_noise(o.noise, o.noise_sigma, torch.Generator().manual_seed(self.seed + 1))
        replay = TrajectoryReplay(o.buffer_size, o.chunk, self.replay_fields(),
                                  torch.Generator().manual_seed(self.seed + 2), device=self.device)
        self.last_replay = replay  # kept for inspection (diagnostics, tests) after fit
        supervised = [*self.net["encoder"].parameters(), *self.net["reader"].parameters(), self.memory_init]
        optimizer = torch.optim.Adam(supervised, lr=o.lr)
        per_epoch = self.updates_per_epoch(train)
        self.replay_credit = 0.0  # samples DDPG is owed by the replay ratio
        plan = budget.plan(per_epoch)
        warm = round(o.bptt_warmup * plan.max_updates)
        if warm:  # early stopping during the warm-up would end the probe before RL has run at all
            floor = max(plan.min_updates, warm + plan.patience * plan.eval_every)  # a larger minimum asked for stays
            budget = replace(budget, min_updates=min(plan.max_updates, floor))

        def updates() -> Iterator[dict[str, float]]:
            batches = ReshuffledPasses(train, o.batch_size, order_gen)
            if warm:
                end_to_end = [*supervised, *self.net["actor"].parameters()]
                warmup_optimizer = torch.optim.Adam(end_to_end, lr=o.lr)
                for _ in range(warm):
                    yield self.bptt_update(next(batches), warmup_optimizer, end_to_end)
                # RL starts from the warmed-up policy, targets included
                polyak_update(self.net["actor"].parameters(), self.ddpg.actor_target.parameters(), 1.0)
                if o.freeze_encoder:  # no gradient reaches it any more; Adam skips parameters without one
                    self.net["encoder"].requires_grad_(False)
                # the probe asks what RL makes of the policy: it is judged by checkpoints RL has trained
                selector.restart()
            for batch in batches:
                yield from self._batch_updates(batch, noise, replay, optimizer, supervised)

        diagnose = (lambda: critic_gradient_check(self, val[:8], o.diag_horizon)) if o.diag_horizon else None
        try:
            info, best = run_updates(budget, per_epoch, selector, log, updates(), lambda: self.predict(val),
                                     self._state, diagnose)
        finally:  # the freeze is part of the probe's training, not of the fitted model
            self.net["encoder"].requires_grad_(True)
        # beside the critic's last figures, for the same policy: how much of the true gradient its inputs
        # could predict at all (rlmem.diagnostics: the ceiling of its cosine)
        ceiling = gradient_predictability(self, train[:64], val[:32], o.diag_horizon) if o.diag_horizon else {}
        if best is not None:
            self._load(best)
        last = info.history[-1] if info.history else {}
        info.diagnostics = {
            "td_error": last.get("td_error"),
            "action_saturation": last.get("saturation"),
            **{key: last[key] for key in DIAGNOSTIC_KEYS if key in last},
            **ceiling,
            "ddpg_updates": self.ddpg.updates,
            "supervised_updates": info.updates_run,
            "bptt_warmup_updates": min(warm, info.updates_run),
            "replay_size": len(replay),
            "transitions_stored": replay.added,
        }
        return info

    def _batch_updates(self, episodes: list[Episode], noise, replay: TrajectoryReplay, optimizer,
                       supervised) -> Iterator[dict[str, float]]:
        """Advance a batch of sequences in lockstep, a chunk of ``chunk`` segments at a time: the chunk's
        writes (one fused step each), its transitions stored in one call, the DDPG updates the replay ratio
        owes, then one supervised update of encoder and reader, yielded with the chunk's statistics."""
        o = self.options
        enc, reader = self.net["encoder"], self.net["reader"]
        noise.reset()
        batch, n_seg, size = len(episodes), self.n_segments(episodes), self.layout.size
        memory = self.initial_memory(batch).detach()
        pending = None  # the previous chunk, waiting for the state that follows it (this chunk's first)
        for c0 in range(0, n_seg, o.chunk):
            self.net.train()  # validation between two chunks sets eval mode
            c1 = min(n_seg, c0 + o.chunk)
            seg = self.segments(episodes, c0, c1)
            xs = enc(seg.features, seg.mask)
            xd = xs.detach()
            eps = noise.sample(c1 - c0, (batch, size)).to(self.device)
            start = memory
            actions = torch.empty((batch, c1 - c0, size), device=self.device)
            posts = torch.empty((batch, c1 - c0, o.slots, o.width), device=self.device)
            with torch.no_grad():
                for j in range(c1 - c0):
                    action, memory = self.explore(xd[:, j], memory, eps[j])
                    actions[:, j], posts[:, j] = action, memory
                    memory = posts[:, j]
            before = torch.cat([start.unsqueeze(1), posts[:, :-1]], 1)  # the memory each write started from
            stats: dict[str, list[float]] = {"saturation": [self.layout.saturation(actions[seg.mask])]}
            fields = self._chunk_fields(episodes, seg, xd, before, actions, c0)
            stored = self._store_chunk(replay, pending, fields) if pending is not None else 0
            pending = fields
            if c1 == n_seg:  # the batch's sequences end in this chunk: nothing follows it
                stored += self._store_chunk(replay, pending, None)
            # before the DDPG updates: with encoder_credit their actor losses leave gradients on the encoder,
            # which the supervised step below applies with its own
            optimizer.zero_grad()
            for key, values in self._ddpg_updates(replay, stored).items():
                stats.setdefault(key, []).extend(values)
            # the learnable initial memory gets its one-step gradient through the first write
            post = posts
            if c0 == 0:
                post = torch.cat([self.layout.apply(self.initial_memory(batch), actions[:, 0]).unsqueeze(1),
                                  posts[:, 1:]], dim=1)
            loss = self._supervised_loss(reader(xs, post), seg.targets, seg.mask)
            loss.backward()
            if o.grad_clip > 0:
                nn.utils.clip_grad_norm_(supervised, o.grad_clip)
            optimizer.step()
            yield {"train_loss": loss.item(), "total_ddpg_updates": self.ddpg.updates,
                   **{key: float(np.mean(v)) for key, v in stats.items() if v}}

    def _ddpg_updates(self, replay: TrajectoryReplay, stored: int) -> dict[str, list[float]]:
        """The DDPG updates owed once ``stored`` more transitions came in: ``replay_ratio`` samples per
        stored transition, in updates of ``rl_batch_size`` (none until the replay holds ``warmup``)."""
        o = self.options
        out: dict[str, list[float]] = {}
        if len(replay) < max(o.warmup, o.rl_batch_size):
            return out
        self.replay_credit += stored * o.replay_ratio
        while self.replay_credit >= o.rl_batch_size:
            self.replay_credit -= o.rl_batch_size
            for key, value in self.ddpg.update(self.sample(replay), self.reward).items():
                out.setdefault(key, []).append(value)
        return out

    def _chunk_fields(self, episodes: list[Episode], seg: Segments, xd: torch.Tensor, before: torch.Tensor,
                      actions: torch.Tensor, c0: int) -> dict[str, torch.Tensor]:
        """What each step of a chunk keeps in the replay, ``[B, C, ...]`` per field: the state is the encoded
        ``x`` or, with ``reencode``, the raw segment features (encoded again when sampled)."""
        o = self.options
        fields = {"memory": before, "action": actions, "target": seg.targets, "valid": seg.mask}
        if o.reencode:
            fields["features"] = seg.features
        else:
            fields["x"] = xd
        if o.critic_time:  # segments left after this one, per sequence
            total = torch.tensor([-(-e.length // o.segment_length) for e in episodes], device=self.device)
            step = c0 + torch.arange(seg.mask.shape[1], device=self.device)
            fields["steps_to_go"] = (total[:, None] - step[None] - 1).clamp(min=0).float()
        return fields

    def _store_chunk(self, replay: TrajectoryReplay, chunk: dict[str, torch.Tensor],
                     following: dict[str, torch.Tensor] | None) -> int:
        """Store a chunk (padded to ``chunk`` steps) with the state that follows it (``following``'s first
        step, or nothing at the end of the sequences); returns the transitions stored."""
        size, steps = self.options.chunk, chunk["valid"].shape[1]
        items = {}
        for key, value in chunk.items():
            pad = size - steps + (0 if key in TrajectoryReplay.STEP_FIELDS else 1)
            padded = torch.cat([value, torch.zeros((value.shape[0], pad, *value.shape[2:]), dtype=value.dtype,
                                                   device=value.device)], 1)
            if key not in TrajectoryReplay.STEP_FIELDS and following is not None and steps == size:
                padded[:, size] = following[key][:, 0]  # the state after a full chunk
            items[key] = padded
        return replay.add(**items)

    def sample(self, replay: TrajectoryReplay) -> dict[str, torch.Tensor]:
        """A window batch for DDPG (``rlmem.ddpg.as_window``): enough steps from each sampled one for the
        critic's target (``td_window``) and for the actor's burn-in and K steps; with ``reencode`` its states
        are encoded now, by the current encoder."""
        o = self.options
        batch = replay.sample(o.rl_batch_size, max(o.td_window, o.burn_in + o.svg_k))
        if o.reencode:
            with torch.set_grad_enabled(o.encoder_credit):
                batch["x"] = self.net["encoder"](batch.pop("features"))
        return batch


