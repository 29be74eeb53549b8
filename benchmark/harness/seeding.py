"""One call seeds every generator a cell may use: same seed, same machine, same numbers."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:  # only models that use torch have imported it by now
        import torch

        torch.manual_seed(seed)
        # deterministic kernels where torch has them (warn, not fail, where it has none: on CUDA, some
        # scatter/index_put backward kernels); cuDNN's autotuner would pick kernels by timing
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
