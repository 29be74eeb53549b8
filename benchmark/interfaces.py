"""Deprecated: the contracts moved to ``benchmark.api`` (this path re-exports them for one release)."""

import warnings

from benchmark.api import (SELECTION_RULES, DEVICE_PATTERN, FitInfo, Model, NoOptions, NullLog, Task,  # noqa: F401
                           TaskDataError, TaskMetadata, TrainBudget, TrainingLog, UpdatePlan, check_device,
                           check_options, metric_family, run_updates, torch_device)

warnings.warn("benchmark.interfaces is deprecated: import from benchmark.api", DeprecationWarning, stacklevel=2)
