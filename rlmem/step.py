"""The per-step work of the memory network as single functions, run eagerly or replayed as CUDA graphs.

A memory step is a handful of small kernels (the actor's three layers, the squashing, the exploration
noise and its projection, the write). Launched one by one they cost far more than they compute: on a GPU
the eager step is launch-bound and no faster than the CPU. So each step is one function of its inputs,
and on CUDA ``StepRunner`` captures it once per input shape as a CUDA graph and replays it (the modules'
parameters are updated in place by their optimisers, so the graph always sees the current ones). On the
CPU, or with capture turned off, the same function runs eagerly; both give the same numbers.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from rlmem.memory import ActionLayout


def exploration_step(actor: nn.Module, layout: ActionLayout, x: torch.Tensor, memory: torch.Tensor,
                     noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One exploring write: the policy's action plus noise, projected back into the action space, and the
    memory after that write. ``x [B, h]``, ``memory [B, N, d]``, ``noise [B, A]`` -> ``(action, memory')``.
    The same numbers as ``layout.project(actor(x, memory) + noise)`` then ``layout.apply``, in fewer kernels."""
    action, parts = layout.noisy(actor.raw(x, memory), noise)
    return action, layout.write(memory, parts)


def greedy_step(actor: nn.Module, layout: ActionLayout, x: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor]:
    """The noise-free write used for prediction: ``(memory',)``."""
    return (layout.apply(memory, actor(x, memory)),)


class StepRunner:
    """Calls ``fn(*inputs) -> tuple of tensors`` eagerly, or, on CUDA with ``capture``, replays it as a CUDA
    graph captured on the first call with each input shape. The returned tensors of a replay are the
    graph's own output buffers: the next call overwrites them, so a caller that keeps them copies them."""

    def __init__(self, fn: Callable[..., tuple[torch.Tensor, ...]], capture: bool = True):
        self.fn = fn
        self.capture = capture
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]] = {}

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not (self.capture and inputs[0].is_cuda):
            return self.fn(*inputs)
        key = tuple((t.shape, t.dtype) for t in inputs)
        if key not in self.graphs:
            self.graphs[key] = self._capture(inputs)
        graph, static_in, static_out = self.graphs[key]
        for buffer, value in zip(static_in, inputs):
            buffer.copy_(value)
        graph.replay()
        return static_out

    def _capture(self, inputs: tuple[torch.Tensor, ...]):
        static_in = tuple(t.clone() for t in inputs)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream, as CUDA graph capture requires
            for _ in range(3):
                self.fn(*static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.fn(*static_in)
        return graph, static_in, static_out
