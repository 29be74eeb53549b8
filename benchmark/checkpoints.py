"""Deprecated: a model's resumable state moved to ``benchmark.api`` (``TrainingState``, ``ReshuffledPasses``),
the checkpoint file to ``benchmark.harness.checkpoints``; this path re-exports both for one release."""

import warnings

from benchmark.api.resumable import (Resumable, ReshuffledPasses, TrainingState, active, checkpointing,  # noqa: F401
                                     random_states, set_random_states)
from benchmark.harness.checkpoints import CHECKPOINT_EVERY_S, SUFFIX, CellCheckpoint, checkpoint_path  # noqa: F401

warnings.warn("benchmark.checkpoints is deprecated: import from benchmark.api (the harness's checkpoint file: "
              "benchmark.harness.checkpoints)", DeprecationWarning, stacklevel=2)
