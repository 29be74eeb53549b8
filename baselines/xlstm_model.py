"""xLSTM (Beck et al., NeurIPS 2024) through the ``xlstm`` package (the optional extra ``.[xlstm]``): its
xLSTM-7B block stack (mLSTM layers with exponential gating and matrix memory, each with a gated
feed-forward), between rlbench's input projection and head, on the package's native PyTorch kernels
(chunkwise in training), which run on CPU as on GPU. Causal, so padding after a sequence never reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from baselines.sequence_regressor import SequenceRegressor, SequenceRegressorOptions
from benchmark.api import check_options


@dataclass
class XLSTMOptions(SequenceRegressorOptions):
    heads: int = 4
    layers: int = 1  # one block of the stack is an mLSTM layer and a feed-forward: ~4x an LSTM layer's weights
    chunk: int = 64  # the kernel's chunk (steps computed in parallel)

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**SequenceRegressorOptions.SEARCH_SPACE, "layers": ("choice", [1, 2])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("heads", "layers", "chunk"))
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")


class XLSTMNet(nn.Module):
    def __init__(self, input_dim: int, n_targets: int, o: XLSTMOptions):
        super().__init__()
        try:
            from xlstm.xlstm_large.model import xLSTMLargeBlockStack, xLSTMLargeConfig
        except ImportError as exc:
            raise ImportError("model 'xlstm' needs the xlstm package: pip install -e \".[xlstm]\"") from exc
        config = xLSTMLargeConfig(
            embedding_dim=o.hidden, num_heads=o.heads, num_blocks=o.layers, vocab_size=1,
            chunkwise_kernel="chunkwise--native_autograd", sequence_kernel="native_sequence__native",
            step_kernel="native", mode="train", chunk_size=o.chunk, return_last_states=True,
            autocast_kernel_dtype="float32", inference_state_dtype="float32")
        self.encoder = nn.Linear(input_dim, o.hidden)
        self.blocks = xLSTMLargeBlockStack(config)
        self.head = nn.Linear(o.hidden, n_targets)

    def forward(self, x):
        # the kernel takes whole chunks; padding after the last step cannot reach it (causal). (The package's
        # own padding mode fails in 2.0.6 when the states are not returned, and refuses when they are.)
        steps, chunk = x.shape[1], self.blocks.config.chunk_size
        u = nn.functional.pad(self.encoder(x), (0, 0, 0, -steps % chunk))
        return self.head(self.blocks(u)[0][:, :steps])


class XLSTMModel(SequenceRegressor):
    description = "xLSTM (Beck et al. 2024): mLSTM blocks of the xlstm package, native kernels (extra .[xlstm])"
    Options = XLSTMOptions

    def build_network(self, input_dim, n_targets):
        return XLSTMNet(input_dim, n_targets, self.options)
