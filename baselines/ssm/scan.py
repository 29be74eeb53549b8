"""One linear recurrence for every scan model: ``h_t = a_t * h_{t-1} + b_t`` (elementwise, real or complex).

The forward pass is a blocked parallel scan: the steps are cut into chunks of ``chunk``; within every chunk
(all chunks at once) a Hillis-Steele scan of ``log2(chunk)`` steps gives each step's cumulative decay and
input; the states entering the chunks come from the same scan applied to the chunk totals, recursively, so
the whole is log-depth and carries the state from chunk to chunk. Nothing of the scan's levels is kept for
the backward pass: the gradient of a linear recurrence is the same recurrence run backwards in time,
``g_t = dL/dh_t + conj(a_{t+1}) g_{t+1}``, so ``backward`` scans again and keeps only ``a``, ``h_0`` and the
output ``h`` (exact gradients, memory of the output's size). ``a`` may be constant in time (a time
dimension of 1: S4D, LRU), in which case its powers stand in for the cumulative products.
"""

from __future__ import annotations

import torch

CHUNK = 16  # steps per Hillis-Steele block: log2 of it passes per level, fewer levels of recursion above


def _blocks(t: torch.Tensor, n: int, chunk: int, fill: float) -> torch.Tensor:
    """A fresh ``[B, n, chunk, ...]`` copy of ``t`` (``fill`` past its end), for the scan to work in place."""
    steps = t.shape[1]
    out = t.new_empty((t.shape[0], n * chunk, *t.shape[2:]))
    out[:, :steps] = t
    out[:, steps:] = fill
    return out.view(t.shape[0], n, chunk, *t.shape[2:])


def _block_scan(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan along dim 2 of ``[B, n, C, ...]`` blocks, in place: the cumulative decay ``A`` and the
    state ``H`` each step would have from a zero start. ``a`` has a block dimension of 1 where it is
    constant; its batch dimension may be 1 (shared by the batch)."""
    C = b.shape[2]
    if a.shape[1] == 1 and a.shape[2] == 1:  # constant in time: a^d is the decay over d steps
        A = a.expand(*a.shape[:2], C, *a.shape[3:]).cumprod(2)
        d = 1
        while d < C:
            b[:, :, d:] += A[:, :, d - 1: d] * b[:, :, :-d]  # the product is made before b is written
            d *= 2
        return A, b
    d = 1
    while d < C:
        b[:, :, d:] += a[:, :, d:] * b[:, :, :-d]
        a[:, :, d:] = a[:, :, d:] * a[:, :, :-d]
        d *= 2
    return a, b


def scan_values(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """``h`` ``[B, T, ...]`` with ``h_t = a_t h_{t-1} + b_t`` from ``h_0``, without autograd (the forward and
    the backward pass of ``linear_scan`` both run it)."""
    T = b.shape[1]
    constant = a.shape[1] == 1
    n = -(-T // chunk)
    A, H = _block_scan(a.unsqueeze(1) if constant else _blocks(a, n, chunk, 1.0), _blocks(b, n, chunk, 0.0))
    if n == 1:
        starts = h0.unsqueeze(1).unsqueeze(1)
    else:  # the state entering each block: the same scan over the blocks' totals
        a_tot = A[:, :1, -1] if constant else A[:, :, -1]
        ends = scan_values(a_tot, H[:, :, -1], h0, chunk)
        starts = torch.cat([h0.unsqueeze(1), ends[:, :-1]], 1).unsqueeze(2)
    H += A * starts
    return H.view(b.shape[0], n * chunk, *b.shape[2:])[:, :T]


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0, chunk):
        h = scan_values(a, b, h0, chunk)
        ctx.save_for_backward(a, h0, h)
        ctx.chunk = chunk
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h0, h = ctx.saved_tensors
        if a.shape[1] == 1:  # constant: the same decay backwards; g_T has no future term anyway
            a_next = a.conj()
        else:
            a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], 1).conj()
        g = scan_values(a_next.flip(1), grad_h.flip(1), torch.zeros_like(h0), ctx.chunk).flip(1)
        grad_a = None
        if ctx.needs_input_grad[0]:  # g_t * conj(h_{t-1}), h_{-1} = h_0
            grad_a = torch.empty_like(g)
            torch.mul(g[:, 1:], h[:, :-1].conj(), out=grad_a[:, 1:])
            torch.mul(g[:, 0], h0.conj(), out=grad_a[:, 0])
            grad_a = grad_a.sum_to_size(a.shape)
        grad_h0 = (g[:, 0] * a[:, 0].conj()).sum_to_size(h0.shape) if ctx.needs_input_grad[2] else None
        return grad_a, g, grad_h0, None


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, chunk: int = CHUNK) -> torch.Tensor:
    """States ``[B, T, ...]`` of ``h_t = a_t * h_{t-1} + b_t``, from ``h0`` (zeros if None).

    ``b`` is ``[B, T, ...]``; ``a`` the same shape, or ``[B or 1, 1, ...]`` for a decay constant in time;
    both real or both complex. Gradients flow to ``a``, ``b`` and ``h0``."""
    if a.dim() != b.dim() or a.shape[1] not in (1, b.shape[1]):
        raise ValueError(f"a {tuple(a.shape)} must be [B, T, ...] like b {tuple(b.shape)} or constant in time ([B, 1, ...])")
    if h0 is None:
        h0 = torch.zeros((b.shape[0], *b.shape[2:]), dtype=b.dtype, device=b.device)
    b = b.expand(b.shape[0], b.shape[1], *torch.broadcast_shapes(a.shape[2:], b.shape[2:]))
    h0 = h0.expand(b.shape[0], *b.shape[2:])
    return _LinearScan.apply(a, b, h0, chunk)
