"""One linear recurrence for every scan model: ``h_t = a_t * h_{t-1} + b_t`` (elementwise, real or complex).

The forward pass is a blocked scan: the steps are cut into chunks of ``chunk``; every chunk is scanned at
once, each step's cumulative decay and input from a zero start; the states entering the chunks come from
the same scan applied to the chunk totals, recursively, so the state carries from chunk to chunk and the
depth is ``chunk x log_chunk(T)``. Within a chunk there are two ways, the same numbers to rounding: the
steps one after another (``sequential``: one fused multiply-add per step over every chunk at once, so the
data is touched once) or a Hillis-Steele doubling scan (``doubling``: ``log2(chunk)`` passes, each over the
whole chunk with a temporary). A CPU is bound by the memory traffic, so it takes the sequential way (2-3
times faster at Mamba's shapes); a GPU, where depth costs kernel launches, the log-depth one. Nothing of
the scan's levels is kept for the backward pass: the gradient of a linear recurrence is the same
recurrence run backwards in time, ``g_t = dL/dh_t + conj(a_{t+1}) g_{t+1}``, so ``backward`` scans again
and keeps only ``a``, ``h_0`` and the output ``h`` (exact gradients, memory of the output's size). ``a``
may be constant in time (a time dimension of 1: S4D, LRU), in which case its powers stand in for the
cumulative products. Mamba's recurrence, whose decay and input are ``[B, T, width, state]`` products
of smaller tensors, has its own entry, ``selective_scan``: on a CPU it fuses those products into the scan,
block by block, so that they are never formed for the whole sequence.
"""

from __future__ import annotations

import torch

CHUNK = 16  # steps per block: more is fewer levels of recursion, and more steps (or passes) within each
METHODS = ("sequential", "doubling")
CACHE_BYTES = 2 << 20  # what the selective scan's block of [B, steps, E, N] tensors may take: about a core's L2


def _method(method: str | None, b: torch.Tensor) -> str:
    if method is None:
        return "doubling" if b.is_cuda else "sequential"
    if method not in METHODS:
        raise ValueError(f"unknown scan method {method!r}: one of {', '.join(METHODS)}")
    return method


def _blocks(t: torch.Tensor, n: int, chunk: int, at: int, fill: float) -> torch.Tensor:
    """A fresh ``[B, n, chunk, ...]`` copy of ``t`` from step ``at`` on (``fill`` elsewhere), for the scan to
    work in place."""
    steps = t.shape[1]
    out = t.new_empty((t.shape[0], n * chunk, *t.shape[2:]))
    out[:, at:at + steps] = t
    out[:, :at] = fill
    out[:, at + steps:] = fill
    return out.view(t.shape[0], n, chunk, *t.shape[2:])


def _block_scan(a: torch.Tensor, b: torch.Tensor, method: str, reverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan along dim 2 of ``[B, n, C, ...]`` blocks, in place (from each block's last step back
    where ``reverse``): the cumulative decay ``A`` and the state ``H`` each step would have from a zero
    start. ``a`` has a block dimension of 1 where it is constant; its batch dimension may be 1 (shared by
    the batch)."""
    C = b.shape[2]
    constant = a.shape[1] == 1 and a.shape[2] == 1
    if constant:  # a^d is the decay over d steps
        powers = a.expand(*a.shape[:2], C, *a.shape[3:]).cumprod(2)
    if method == "sequential":
        for k in (range(C - 2, -1, -1) if reverse else range(1, C)):
            prev = k + 1 if reverse else k - 1
            b[:, :, k].addcmul_(a[:, :, 0] if constant else a[:, :, k], b[:, :, prev])
            if not constant:
                a[:, :, k].mul_(a[:, :, prev])
    else:
        d = 1
        while d < C:  # each product is made before b (or a) is written
            here, there = (slice(None, -d), slice(d, None)) if reverse else (slice(d, None), slice(None, -d))
            if constant:
                b[:, :, here] += powers[:, :, d - 1: d] * b[:, :, there]
            else:
                b[:, :, here] += a[:, :, here] * b[:, :, there]
                a[:, :, here] = a[:, :, here] * a[:, :, there]
            d *= 2
    if constant:
        return (powers.flip(2) if reverse else powers), b
    return a, b


def scan_values(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, chunk: int = CHUNK, method: str | None = None,
                reverse: bool = False, shift: int = 0) -> torch.Tensor:
    """``h`` ``[B, T, ...]`` with ``h_t = a_t h_{t-1} + b_t`` from ``h_0``, without autograd (the forward and
    the backward pass of ``linear_scan`` both run it). ``reverse``: ``h_t = a_{t+shift} h_{t+1} + b_t``
    with ``h_0`` the state after the last step (``shift`` 1 is the backward pass's recurrence; the last
    step's decay is then 1). ``method``: ``sequential`` or ``doubling`` within a block (None: ``doubling``
    on CUDA, else ``sequential``)."""
    method = _method(method, b)
    T = b.shape[1]
    constant = a.shape[1] == 1
    n = -(-T // chunk)
    at = n * chunk - T if reverse else 0  # padding where the scan ends, so it never reaches the steps
    a_blocks = a.unsqueeze(1) if constant else _blocks(a[:, shift:], n, chunk, at, 1.0)
    A, H = _block_scan(a_blocks, _blocks(b, n, chunk, at, 0.0), method, reverse)
    if n == 1:
        starts = h0.unsqueeze(1).unsqueeze(1)
    else:  # the state entering each block: the same scan over the blocks' totals
        edge = 0 if reverse else -1
        ends = scan_values(A[:, :1, edge] if constant else A[:, :, edge], H[:, :, edge], h0, chunk, method, reverse)
        first = h0.unsqueeze(1)
        starts = (torch.cat([ends[:, 1:], first], 1) if reverse else torch.cat([first, ends[:, :-1]], 1)).unsqueeze(2)
    H.addcmul_(A, starts)
    return H.view(b.shape[0], n * chunk, *b.shape[2:])[:, at:at + T]


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0, chunk, method):
        h = scan_values(a, b, h0, chunk, method)
        ctx.save_for_backward(a, h0, h)
        ctx.chunk, ctx.method = chunk, method
        return h

    @staticmethod
    def backward(ctx, grad_h):
        a, h0, h = ctx.saved_tensors
        # g_t = dL/dh_t + conj(a_{t+1}) g_{t+1}: the same scan backwards in time (constant a: the same decay)
        g = scan_values(a.conj(), grad_h, torch.zeros_like(h0), ctx.chunk, ctx.method, reverse=True,
                        shift=0 if a.shape[1] == 1 else 1)
        grad_a = None
        if ctx.needs_input_grad[0]:  # g_t * conj(h_{t-1}), h_{-1} = h_0
            grad_a = torch.empty_like(g)
            torch.mul(g[:, 1:], h[:, :-1].conj(), out=grad_a[:, 1:])
            torch.mul(g[:, 0], h0.conj(), out=grad_a[:, 0])
            grad_a = grad_a.sum_to_size(a.shape)
        grad_h0 = (g[:, 0] * a[:, 0].conj()).sum_to_size(h0.shape) if ctx.needs_input_grad[2] else None
        return grad_a, g, grad_h0, None, None


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, chunk: int = CHUNK,
                method: str | None = None) -> torch.Tensor:
    """States ``[B, T, ...]`` of ``h_t = a_t * h_{t-1} + b_t``, from ``h0`` (zeros if None).

    ``b`` is ``[B, T, ...]``; ``a`` the same shape, or ``[B or 1, 1, ...]`` for a decay constant in time;
    both real or both complex. Gradients flow to ``a``, ``b`` and ``h0``. ``method``: see ``scan_values``."""
    if a.dim() != b.dim() or a.shape[1] not in (1, b.shape[1]):
        raise ValueError(f"a {tuple(a.shape)} must be [B, T, ...] like b {tuple(b.shape)} or constant in time ([B, 1, ...])")
    method = _method(method, b)
    if h0 is None:
        h0 = torch.zeros((b.shape[0], *b.shape[2:]), dtype=b.dtype, device=b.device)
    b = b.expand(b.shape[0], b.shape[1], *torch.broadcast_shapes(a.shape[2:], b.shape[2:]))
    h0 = h0.expand(b.shape[0], *b.shape[2:])
    return _LinearScan.apply(a, b, h0, chunk, method)


def _selective_block(dt, a, u, b, h, s, e):
    """Steps ``s:e`` of the selective recurrence from the state ``h``: the decay ``exp(dt a)`` and the
    states ``[B, e - s, E, N]``."""
    decay = torch.exp(dt[:, s:e, :, None] * a)
    hs = u[:, s:e, :, None] * b[:, s:e, None, :]
    hs[:, 0].addcmul_(decay[:, 0], h)
    for k in range(1, e - s):
        hs[:, k].addcmul_(decay[:, k], hs[:, k - 1])
    return decay, hs


class _SelectiveScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dt, a, u, b, c, h0, block):
        T = dt.shape[1]
        y = dt.new_empty(dt.shape)
        starts = dt.new_empty((dt.shape[0], -(-T // block), *h0.shape[1:]))
        h = h0
        for i in range(starts.shape[1]):
            s, e = i * block, min(i * block + block, T)
            starts[:, i] = h
            _, hs = _selective_block(dt, a, u, b, h, s, e)
            y[:, s:e] = (hs * c[:, s:e, None, :]).sum(-1)  # a multiply and a sum: bmm's matrix-vector products are slower
            h = hs[:, -1]
        ctx.save_for_backward(dt, a, u, b, c, starts)
        ctx.block = block
        return y, h.clone()

    @staticmethod
    def backward(ctx, grad_y, grad_last):
        dt, a, u, b, c, starts = ctx.saved_tensors
        T, block = dt.shape[1], ctx.block
        grad_dt, grad_u, grad_b, grad_c = (torch.empty_like(t) for t in (dt, u, b, c))
        grad_a = torch.zeros_like(a)
        carried = grad_last  # dL/dh at the end of the block being done, from the steps after it
        for i in reversed(range(starts.shape[1])):
            s, e = i * block, min(i * block + block, T)
            decay, hs = _selective_block(dt, a, u, b, starts[:, i], s, e)  # recomputed: nothing [B, T, E, N] is kept
            gy = grad_y[:, s:e]
            grad_c[:, s:e] = torch.matmul(gy[:, :, None, :], hs).squeeze(2)
            g = gy[:, :, :, None] * c[:, s:e, None, :]
            g[:, -1] += carried
            for k in range(e - s - 2, -1, -1):  # g_t = dL/dh_t + a_{t+1} g_{t+1}
                g[:, k].addcmul_(decay[:, k + 1], g[:, k + 1])
            carried = decay[:, 0] * g[:, 0]
            grad_u[:, s:e] = (g * b[:, s:e, None, :]).sum(-1)
            grad_b[:, s:e] = torch.matmul(u[:, s:e, None, :], g).squeeze(2)
            # dL/d(dt a) = g_t h_{t-1} exp(dt a): one buffer, made from the states shifted by a step
            grad_exponent = torch.cat([starts[:, i, None], hs[:, :-1]], 1).mul_(g).mul_(decay)
            grad_dt[:, s:e] = (grad_exponent * a).sum(-1)
            grad_a += (grad_exponent * dt[:, s:e, :, None]).sum((0, 1))
        return grad_dt, grad_a, grad_u, grad_b, grad_c, carried, None


def selective_scan(dt: torch.Tensor, a: torch.Tensor, u: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                   h0: torch.Tensor, chunk: int = CHUNK, method: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mamba's selective recurrence, ``h_t = exp(dt_t a) h_{t-1} + u_t b_t`` read out as ``y_t = h_t c_t``:
    ``y`` ``[B, T, E]`` and the last state ``[B, E, N]``, from ``dt`` and ``u`` ``[B, T, E]``, ``a``
    ``[E, N]``, ``b`` and ``c`` ``[B, T, N]`` and ``h0`` ``[B, E, N]``.

    ``doubling`` (CUDA's default) is ``linear_scan`` on the discretised ``[B, T, E, N]`` tensors.
    ``sequential`` (the CPU's) fuses discretisation, recurrence and read-out block by block, each block
    of steps sized to ``CACHE_BYTES`` so that its ``[B, steps, E, N]`` tensors stay in cache, and keeps
    only the state entering each block for the backward pass, which recomputes the block and runs the
    recurrence backwards through it: the same numbers to rounding, 2-4 times faster at Mamba's training
    shapes, where the unfused tensors are tens of megabytes. ``chunk`` is the doubling scan's."""
    if _method(method, u) == "doubling":
        h = linear_scan(torch.exp(dt.unsqueeze(-1) * a), u.unsqueeze(-1) * b.unsqueeze(2), h0, chunk, "doubling")
        return torch.einsum("bten,btn->bte", h, c), h[:, -1]
    step_bytes = h0.numel() * h0.element_size()
    return _SelectiveScan.apply(dt, a, u, b, c, h0, max(1, CACHE_BYTES // step_bytes))
