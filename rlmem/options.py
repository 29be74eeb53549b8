"""The options of ``rlmem`` and ``memnet-bptt``: every hyper-parameter the paper gives or leaves open (with the
reason for each default in docs/rlmem.md), checked when built, and the search space ``rlbench tune`` draws
from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from benchmark.api import check_device, check_options
from rlmem.ddpg import VALUE_MODES, DDPGConfig, check_config
from rlmem.memory import RETAIN_MODES
from rlmem.networks import CRITICS
from rlmem.noise import NOISES


@dataclass
class MemoryNetOptions:
    slots: int = 10  # N, memory slots
    width: int = 32  # d, slot width
    hidden: int = 64  # encoder state x_t and hidden layers
    segment_length: int = 1  # steps fused into one segment (1 = one memory step per step)
    modalities: str = "all"  # or a comma-separated subset, e.g. "audio,face"
    lr: float = 3e-3  # encoder and reader (and, for memnet-bptt, the write policy)
    batch_size: int = 16  # sequences per update (rlmem: advanced in lockstep), as for every sequence baseline
    grad_clip: float = 1.0
    retain_bias: float = 3.0  # initial retain gate sigmoid(3) = 0.95: memory persists by default
    retain: str = "scale"  # how retain enters the write: "scale" (decays old memory) or "gate" (skips the write)
    record_memory: bool = False  # store read weights and slot means along the first test sequence
    device: str = "auto"  # auto | cpu | cuda[:N] (--device); the harness resolves auto before the record
    cuda_graphs: bool = True  # on CUDA, replay each memory step as a captured CUDA graph (False: eager)

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {
        "lr": ("log-uniform", 3e-4, 1e-2),
        "slots": ("choice", [5, 10, 20]),
        "width": ("choice", [16, 32, 64]),
        "hidden": ("choice", [32, 64, 128]),
        "batch_size": ("choice", [16, 32, 64]),
    }

    def __post_init__(self) -> None:
        check_options(self, at_least_1=("slots", "width", "hidden", "segment_length", "batch_size"),
                      positive=("lr",), non_negative=("grad_clip",), choices={"retain": RETAIN_MODES})
        check_device(self.device)


@dataclass
class RLMemOptions(MemoryNetOptions):
    gamma: float = 0.99
    tau: float = 0.005
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    noise: str = "gaussian"  # or "ou"
    noise_sigma: float = 0.05
    buffer_size: int = 50_000  # transitions
    rl_batch_size: int = 512
    # transitions sampled by DDPG per transition stored: one DDPG update of rl_batch_size samples each
    # time that many transitions have come in, whatever the batch of sequences in lockstep
    replay_ratio: float = 1.0
    warmup: int = 2_000  # transitions stored before the first DDPG update
    chunk: int = 64  # segments per supervised update of encoder and reader
    # TD3's fixes (off = the paper's DDPG): twin critics with min, delayed actor, target smoothing
    n_critics: int = 1
    policy_delay: int = 1
    target_noise: float = 0.0
    value: str = "post-state"  # critic target: "post-state" (the paper's V(s')) or "future" (see rlmem.ddpg)
    critic: str = "mlp"  # "mlp" on (x_t, flattened M_t), or "slots": permutation-invariant over slots
    # share of the update cap trained end to end by BPTT before RL takes over (a diagnostic: can RL keep a
    # good policy?); 0 = RL from the start. Early stopping waits until RL has had `patience` evaluations,
    # and the checkpoint is selected among those after the hand-over.
    bptt_warmup: float = 0.0
    # with bptt_warmup: the encoder stops training at the hand-over, so the actor's inputs hold still and a
    # probe measures what RL does to the policy, not the drift of the features it reads
    freeze_encoder: bool = False
    # well-posed critic targets and an anchored actor (issue of the design study; all off = the paper):
    reencode: bool = False  # replay keeps raw segments, encoded by the current encoder when sampled
    critic_time: bool = False  # critics also see the steps to go
    critic_warmup: int = 0  # critic updates before the actor's first
    trust_region: float = 0.0  # actor loss + this x |mu(s) - mu'(s)|^2 (anchored to the target actor)
    n_step: int = 1  # critic targets: n-step returns, bootstrapped n steps on (1: the paper's one-step TD)
    # value-gradient learning: the critic's dV/da is also fitted, at this weight, to the gradient of its own
    # n-step target through the known writes and reader (what the actor follows is dV/da, not V)
    critic_grad: float = 0.0
    svg_k: int = 1  # actor: K-step closed-loop objective through the known write and reader, then V (SVG(K))
    svg_bootstrap: bool = True  # False: the K-step objective is the K rewards alone, no critic value at the end
    # the actor's objective starts this many replayed steps in, from the memory the current actor writes over
    # them rather than the stored one an older policy wrote (R2D2's burn-in); the critic's targets are unchanged
    burn_in: int = 0
    # the actor's K-step objective also trains the encoder (with reencode: the sampled states are encoded with
    # gradient), as end-to-end BPTT does, so x_t learns to carry what later writes and reads need; without it
    # the encoder learns only from each step's own prediction
    encoder_credit: bool = False
    # at each validation, the critic-gradient diagnostic (rlmem.diagnostics) over this many steps on up to 8
    # validation sequences; 0 turns it off
    diag_horizon: int = 20

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {
        **MemoryNetOptions.SEARCH_SPACE,
        "actor_lr": ("log-uniform", 1e-5, 1e-3),
        "critic_lr": ("log-uniform", 1e-4, 3e-3),
        "noise_sigma": ("choice", [0.02, 0.05, 0.1, 0.2]),
        "gamma": ("choice", [0.9, 0.95, 0.99]),
        "tau": ("choice", [0.001, 0.005, 0.02]),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("buffer_size", "rl_batch_size", "chunk", "policy_delay", "n_step", "svg_k"),
                      non_negative=("actor_lr", "critic_lr", "noise_sigma", "warmup", "target_noise", "replay_ratio",
                                    "critic_warmup", "trust_region", "diag_horizon", "burn_in"),
                      choices={"noise": NOISES, "n_critics": (1, 2), "value": VALUE_MODES, "critic": tuple(CRITICS)})
        check_config(self.ddpg_config())
        if not 0 <= self.bptt_warmup < 1:
            raise ValueError(f"bptt_warmup must be a share of the budget in [0, 1), got {self.bptt_warmup!r}")
        if self.freeze_encoder and not self.bptt_warmup:
            raise ValueError("freeze_encoder acts at the hand-over of a BPTT warm-up: set bptt_warmup > 0 too")
        if self.encoder_credit and not (self.reencode and self.svg_k >= 2):
            raise ValueError("encoder_credit trains the encoder through the K-step objective on re-encoded replay: "
                             "set reencode=true and svg_k >= 2")

    @property
    def td_window(self) -> int:
        """Steps of a replayed window the critic's n-step target spans (with ``svg_k`` > 1 the window the actor
        needs, as it was before ``burn_in``; the burn-in steps do not lengthen it)."""
        return max(self.n_step, self.svg_k)

    def ddpg_config(self) -> DDPGConfig:
        return DDPGConfig(self.gamma, self.tau, self.actor_lr, self.critic_lr, self.grad_clip, self.policy_delay,
                          self.target_noise, value=self.value, critic_time=self.critic_time,
                          critic_warmup=self.critic_warmup, trust_region=self.trust_region, svg_k=self.svg_k,
                          svg_bootstrap=self.svg_bootstrap, burn_in=self.burn_in, td_window=self.td_window,
                          critic_grad=self.critic_grad)
