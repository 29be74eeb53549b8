"""The contracts of rlbench: the only part of ``benchmark`` that tasks, baselines, rlmem and plugins import.

A task turns data into episodes and folds and scores predictions with its protocol (``Task``,
``TaskMetadata``); a model is built from options and a ``TaskSpec``, fitted within a ``TrainBudget`` and
selected on validation through the ``Selector`` it is handed, most simply by driving ``run_updates``
(``Model``, ``FitInfo``). Everything here needs numpy only; the torch helper that skips padded steps is
``benchmark.api.padding``, imported by the models that use it.
"""

from benchmark.api.budget import SELECTION_RULES, TrainBudget, UpdatePlan
from benchmark.api.episodes import Episode, Fold, Predictions, TaskData, TaskSpec, file_sha256
from benchmark.api.features import FeatureScaler, pad_batch, select_modalities
from benchmark.api.model import FitInfo, Model, NullLog, TrainingLog
from benchmark.api.options import DEVICE_PATTERN, NoOptions, check_device, check_options, torch_device
from benchmark.api.resumable import Resumable, ReshuffledPasses, TrainingState
from benchmark.api.selection import Selector, verdict
from benchmark.api.task import Task, TaskDataError, TaskMetadata, metric_family
from benchmark.api.training import run_updates

__all__ = [
    "DEVICE_PATTERN", "Episode", "FeatureScaler", "FitInfo", "Fold", "Model", "NoOptions", "NullLog", "Predictions",
    "ReshuffledPasses", "Resumable", "SELECTION_RULES", "Selector", "Task", "TaskData", "TaskDataError",
    "TaskMetadata", "TaskSpec", "TrainBudget", "TrainingLog", "TrainingState", "UpdatePlan", "check_device",
    "check_options", "file_sha256", "metric_family", "pad_batch", "run_updates", "select_modalities",
    "torch_device",
]
