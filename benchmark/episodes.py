"""Deprecated: the episode types moved to ``benchmark.api`` (this path re-exports them for one release)."""

import warnings

from benchmark.api import (Episode, FeatureScaler, Fold, Predictions, TaskData, TaskSpec, file_sha256,  # noqa: F401
                           pad_batch, select_modalities)

warnings.warn("benchmark.episodes is deprecated: import from benchmark.api", DeprecationWarning, stacklevel=2)
