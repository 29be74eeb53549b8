"""DSNet, anchor-free (Zhu et al., IEEE TIP 2021, "DSNet: A Flexible Detect-to-Summarize Network for Video
Summarization"), written from the paper and checked against its code.

Summarization as temporal detection: an attention encoder over the whole video, then per step a
classification head (is this step inside a key segment?), a location head (how far the segment reaches
to the left and right) and a centerness head (how central the step is in it). Trained with a focal loss
on the classes, a -log IoU loss on the locations and binary cross-entropy on the centerness, the last two
on the positive steps only. At inference each step proposes the segment its offsets span, scored
class x centerness (normalised by the video's maximum); 1-D non-maximum suppression keeps the best
non-overlapping proposals, and each step's importance is the best score of a kept proposal covering it,
which the task's protocol then turns into a summary.

The positive steps: DSNet marks the frames of the keyshot summary that the knapsack builds from the
ground-truth importance over the dataset's shots. rlbench models never read a task's shots, so here the
positives are the steps whose ground-truth importance is in the video's top ``positive_fraction`` (15 %,
the summary budget), with ties at the threshold included; runs of positives are the key segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.summarizers import PAPER_WIDTH, PerVideo, Summarizer, SummarizerOptions, projection
from benchmark.api import check_options

EPS = 1e-8


@dataclass
class DSNetAFOptions(SummarizerOptions):
    width: int = PAPER_WIDTH  # the attention's width (the papers' 1,024 GoogLeNet features)
    hidden: int = 128  # DSNet's num_hidden: the heads' shared layer
    heads: int = 8
    batch_size: int = 1
    grad_clip: float = 0.0
    lambda_loc: float = 1.0
    lambda_ctr: float = 1.0
    nms_threshold: float = 0.5
    positive_fraction: float = 0.15

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**SummarizerOptions.SEARCH_SPACE,
                                                "hidden": ("choice", [64, 128, 256])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("width", "heads"), non_negative=("lambda_loc", "lambda_ctr"))
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must divide by heads ({self.heads})")
        if not 0 < self.nms_threshold <= 1 or not 0 < self.positive_fraction < 1:
            raise ValueError("nms_threshold must be in (0, 1] and positive_fraction in (0, 1), got "
                             f"{self.nms_threshold!r} and {self.positive_fraction!r}")


class DSNetAttention(nn.Module):
    """DSNet's multi-head attention: scaled dot products, dropout on the weights, an output projection
    followed by dropout."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(width, width, bias=False) for _ in range(3))
        self.out = nn.Linear(width, width, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        t, d = x.shape
        q, k, v = (f(x).view(t, self.heads, -1).transpose(0, 1) for f in (self.query, self.key, self.value))
        weights = self.drop(torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d // self.heads), dim=-1))
        return self.drop(self.out((weights @ v).transpose(0, 1).reshape(t, d)))


class DSNetAF(PerVideo):
    """Per video ``[T, D]`` -> ``[T, 4]``: class probability, left and right offsets (positive), centerness."""

    n_out = 4

    def __init__(self, input_dim: int, o: DSNetAFOptions):
        super().__init__()
        self.inp = projection(input_dim, o.width)
        self.attention = DSNetAttention(o.width, o.heads, o.dropout)
        self.norm = nn.LayerNorm(o.width)
        self.shared = nn.Sequential(nn.Linear(o.width, o.hidden), nn.ReLU(), nn.Dropout(o.dropout),
                                    nn.LayerNorm(o.hidden))
        self.cls, self.loc, self.ctr = nn.Linear(o.hidden, 1), nn.Linear(o.hidden, 2), nn.Linear(o.hidden, 1)

    def video(self, x):
        x = self.inp(x)
        h = self.shared(self.norm(self.attention(x) + x))
        return torch.cat([torch.sigmoid(self.cls(h)), torch.exp(self.loc(h)), torch.sigmoid(self.ctr(h))], dim=1)


def key_segments(importance: np.ndarray, fraction: float) -> np.ndarray:
    """The positive steps: ground-truth importance in the video's top ``fraction`` (ties included)."""
    k = max(1, int(math.ceil(fraction * len(importance))))
    threshold = np.sort(importance)[::-1][k - 1]
    return importance >= threshold


def runs(positive: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of positive steps."""
    edges = np.diff(np.concatenate([[0], positive.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def location_labels(positive: np.ndarray) -> np.ndarray:
    """``[T, 2]``: for a positive step, its distance to the first and to the last step of its segment."""
    out = np.zeros((len(positive), 2), dtype=np.float32)
    for lo, hi in runs(positive):
        at = np.arange(lo, hi)
        out[lo:hi, 0], out[lo:hi, 1] = at - lo, hi - 1 - at
    return out


def centerness_labels(positive: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = np.zeros(len(positive), dtype=np.float32)
    left, right = offsets[positive, 0], offsets[positive, 1]
    out[positive] = np.minimum(left, right) / (np.maximum(left, right) + EPS)
    return out


def offset_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of the segments two ``[n, 2]`` (left, right) offsets span around the same step, each
    ``[step - left, step + right]`` inclusive (so a one-step segment has length 1, not 0)."""
    inter = torch.minimum(a[:, 0], b[:, 0]) + torch.minimum(a[:, 1], b[:, 1]) + 1
    union = torch.maximum(a[:, 0], b[:, 0]) + torch.maximum(a[:, 1], b[:, 1]) + 1
    return inter / union


def focal_loss(p: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """DSNet's two-class focal loss, summed over steps and divided by the positives (its alpha weights
    cancel between the two classes, so none is left)."""
    p = p.clamp(EPS, 1 - EPS)
    loss = torch.where(y > 0, -(1 - p) ** gamma * torch.log(p), -p ** gamma * torch.log(1 - p))
    return loss.sum() / y.sum().clamp(min=1)


def segment_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one ``[lo, hi)`` segment ``a`` with each row of ``b``."""
    inter = np.clip(np.minimum(a[1], b[:, 1]) - np.maximum(a[0], b[:, 0]), 0, None)
    union = (a[1] - a[0]) + (b[:, 1] - b[:, 0]) - inter
    return inter / np.maximum(union, EPS)


def nms(scores: np.ndarray, segments: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """1-D non-maximum suppression: best first, dropping proposals whose IoU with a kept one exceeds
    ``threshold``."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        best, order = order[0], order[1:]
        keep.append(best)
        order = order[segment_iou(segments[best], segments[order]) <= threshold]
    return scores[keep], segments[keep]


def step_importance(heads: np.ndarray, threshold: float) -> np.ndarray:
    """A video's ``[T, 4]`` head outputs -> per-step importance: the best kept proposal covering each step."""
    t = len(heads)
    scores = heads[:, 0] * heads[:, 3]
    scores = scores / (scores.max() + EPS)
    at = np.arange(t)
    segments = np.stack([at - heads[:, 1], at + heads[:, 2] + 1], axis=1)
    segments = np.clip(np.round(segments), 0, t).astype(np.int64)
    scores, segments = nms(scores, segments, threshold)
    out = np.zeros(t)
    for s, (lo, hi) in zip(scores, segments):
        out[lo:hi] = np.maximum(out[lo:hi], s)
    return out


class DSNetAFModel(Summarizer):
    description = "DSNet anchor-free (Zhu et al. 2021): attention encoder, detect-to-summarize heads, NMS"
    Options = DSNetAFOptions
    network = DSNetAF

    def train_batch(self, x, y, mask, optimizer) -> float:
        out = self.net(x, mask)
        o = self.options
        losses = []
        for b, n in enumerate(mask.sum(1).long().tolist()):
            positive = key_segments(y[b, :n, 0].cpu().numpy(), o.positive_fraction)
            offsets = location_labels(positive)
            pos = torch.from_numpy(positive).to(x.device)
            loc_label = torch.from_numpy(offsets).to(x.device)
            ctr_label = torch.from_numpy(centerness_labels(positive, offsets)).to(x.device)
            heads = out[b, :n]
            loss = focal_loss(heads[:, 0], pos.to(heads.dtype))
            loss = loss + o.lambda_loc * -torch.log(offset_iou(heads[pos, 1:3], loc_label[pos]) + EPS).mean()
            loss = loss + o.lambda_ctr * F.binary_cross_entropy(heads[pos, 3], ctr_label[pos])
            losses.append(loss)
        loss = torch.stack(losses).mean()
        self.optimizer_step(loss, optimizer)
        return loss.item()

    def forward(self, x, mask):
        """Per-step importance from the heads, after NMS (what the task's protocol scores)."""
        heads = self.net(x, mask).detach().cpu().numpy()
        lengths = mask.sum(1).long().tolist()
        out = np.zeros((x.shape[0], x.shape[1], 1))
        for b, n in enumerate(lengths):
            if n:
                out[b, :n, 0] = step_importance(heads[b, :n], self.options.nms_threshold)
        return torch.from_numpy(out)
