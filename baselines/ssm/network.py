"""What the four scan models share: one residual stack around a recurrent mixer, run over the sequence in
segments with the state carried, and the training loop of every sequence baseline.

Every model here is ``encoder -> layers x (x + dropout(mixer(norm(x)))) -> norm -> head``, pre-norm, so
the comparison is between mixers (S4D, LRU, the selective scan, minGRU), not block designs. A mixer maps
``[B, T, H]`` and its state (a tuple of tensors, None at the start) to ``[B, T, H]`` and the state after
the last step. The stack runs ``segment_steps`` steps at a time, carrying every layer's state: while
training on a sequence longer than a segment, each segment is recomputed in the backward pass instead of
kept (``torch.utils.checkpoint``), so what training holds grows with the number of segments' states, not
with the steps, and the gradient is the full-BPTT one. All mixers are causal, so the padding after a sequence never reaches its steps.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from baselines.sequence_regressor import SequenceRegressor, SequenceRegressorOptions
from benchmark.api import check_options


@dataclass
class ScanOptions(SequenceRegressorOptions):
    layers: int = 2
    dropout: float = 0.0
    segment_steps: int = 1024  # steps per recomputed segment (bounds training memory, not the result)
    scan_chunk: int = 16  # steps per block of the parallel scan (speed only)

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**SequenceRegressorOptions.SEARCH_SPACE,
                                                "layers": ("choice", [1, 2, 3]),
                                                "dropout": ("uniform", 0.0, 0.3)}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("layers", "segment_steps", "scan_chunk"))
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class GLUOut(nn.Module):
    """The output projection S4D and the LRU put after their recurrence: GELU, then a gated linear unit."""

    def __init__(self, hidden: int):
        super().__init__()
        self.linear = nn.Linear(hidden, 2 * hidden)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.glu(self.linear(nn.functional.gelu(y)), dim=-1)


class ScanNet(nn.Module):
    def __init__(self, input_dim: int, n_targets: int, hidden: int, mixers: list[nn.Module], dropout: float,
                 segment_steps: int):
        super().__init__()
        self.encoder = nn.Linear(input_dim, hidden)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in mixers)
        self.mixers = nn.ModuleList(mixers)
        self.final_norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, n_targets)
        self.dropout = nn.Dropout(dropout)
        self.segment_steps = segment_steps

    def segment(self, x: torch.Tensor, states: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        u = self.encoder(x)
        after = []
        for norm, mixer, state in zip(self.norms, self.mixers, states):
            y, state = mixer(norm(u), state)
            u = u + self.dropout(y)
            after.append(own(state))
        return self.head(self.final_norm(u)), after

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states: list[Any] = [None] * len(self.mixers)
        if x.shape[1] <= self.segment_steps:
            return self.segment(x, states)[0]
        recompute = torch.is_grad_enabled() and self.training
        outputs = []
        for start in range(0, x.shape[1], self.segment_steps):
            piece = x[:, start: start + self.segment_steps]
            if recompute:
                out, states = self.recomputed(piece, states)
            else:
                out, states = self.segment(piece, states)
            outputs.append(out)
        return torch.cat(outputs, 1)

    def recomputed(self, piece: torch.Tensor, states: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """``segment`` under reentrant checkpointing, which keeps only its inputs (the non-reentrant kind
        peaked at twice the memory: 1.2 against 0.56 GiB for an s4d epoch of 8 x 65,536 steps). It passes
        gradients through tensor arguments only, so the states go flat (``state_size`` tensors per mixer), and a tensor that
        requires grad (an anchor) makes the output require it in the first segment too, whose inputs do not."""
        sizes = [m.state_size for m in self.mixers]

        def run(x, _anchor, *flat):
            it = iter(flat)
            given = [tuple(next(it) for _ in range(n)) for n in sizes] if flat else [None] * len(sizes)
            out, after = self.segment(x, given)
            release_freed_memory()
            return (out, *(t for state in after for t in state))

        flat = [t for state in states if state is not None for t in state]
        out, *after = checkpoint(run, piece, torch.zeros((), requires_grad=True, device=piece.device), *flat,
                                use_reentrant=True)
        it = iter(after)
        return out, [tuple(next(it) for _ in range(n)) for n in sizes]


class ScanModel(SequenceRegressor):
    """A scan model is its options and one ``mixer(hidden)`` per layer."""

    Options = ScanOptions

    def mixer(self) -> nn.Module:
        raise NotImplementedError

    def build_network(self, input_dim, n_targets):
        o = self.options
        return ScanNet(input_dim, n_targets, o.hidden, [self.mixer() for _ in range(o.layers)], o.dropout,
                       o.segment_steps)


@functools.lru_cache(maxsize=1)
def _libc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None


def release_freed_memory() -> None:
    """Hand the memory of a segment's freed temporaries back to the system. glibc keeps tensors of a few
    MiB on its heap and, with every segment's tensors freed in a slightly different order, the heap
    fragments: at a million steps the process held 18 GB for what needs 2. Trimming after each segment
    (the long-sequence path only) keeps it bounded."""
    trim = _libc_trim()
    if trim is not None:
        trim(0)


def own(state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """A state in storage of its own: a mixer's last state is a view into its whole segment's states, and
    carried as it is, it would keep every segment's states alive."""
    return tuple(t.clone() for t in state)


def zeros_state(state: tuple[torch.Tensor, ...] | None, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """A one-tensor mixer's carried state, or a fresh zero one at the start of a sequence."""
    return make() if state is None else state[0]
