"""Users' own sequences from one HDF5 file (layout in docs/tasks.md, "Your own data").

    /<sequence_id>/features/<modality>   float [T, d_m]   (all modalities of a sequence share T)
    /<sequence_id>/targets               float [T, k]
    attrs["target_names"]                k names
    attrs["splits"]  (optional)          JSON {"folds": [{"train": [...], "val": [...], "test": [...]}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmark.api import Episode, Task, TaskData, TaskDataError, TaskMetadata, TaskSpec, TrainBudget, file_sha256
from tasks import regression_metrics
from tasks.files import open_h5
from tasks.splits import folds_from_json, folds_sha256, make_folds


@dataclass
class GenericOptions:
    n_folds: int = 5  # used when the file has no "splits" attribute
    val_fraction: float = 0.2
    split_seed: int = 0
    aggregation: str = "pooled"


class GenericTask(Task):
    metadata = TaskMetadata(
        name="generic",
        version="1.0",
        kind="affect_regression",
        description="your own sequences in the generic HDF5 layout; regression metrics per target",
        main_score="mse",
        higher_is_better=regression_metrics.HIGHER_IS_BETTER,
        leaderboard_metrics=("mse", "mae", "pearson", "ccc"),
        protocol={"metrics": list(regression_metrics.METRICS), "aggregation": "pooled", "selection": "val.mse"},
        data="one HDF5 file given by --data-root (layout: docs/tasks.md, 'Your own data')",
    )
    Options = GenericOptions
    default_budget = TrainBudget(max_updates=4000, eval_every=50, patience=10, min_updates=300)
    target_names: list[str] | None = None

    def protocol(self) -> dict:
        return {**self.metadata.protocol, "aggregation": self.options.aggregation}

    def load(self) -> TaskData:
        if self.options.aggregation not in regression_metrics.AGGREGATIONS:
            raise ValueError(
                f"aggregation must be one of {regression_metrics.AGGREGATIONS}, got {self.options.aggregation!r}"
            )
        path = self._path()
        with open_h5(path) as h5:
            target_names = self._target_names(h5, path)
            episodes = {}
            modalities: dict[str, int] | None = None
            first_id = None
            for sid in sorted(h5.keys()):
                ep = _read_sequence(h5[sid], sid, path, len(target_names))
                dims = {m: f.shape[1] for m, f in ep.features.items()}
                if modalities is None:
                    modalities, first_id = dims, sid
                elif dims != modalities:
                    raise TaskDataError(
                        f"{path}: sequence {sid!r} has modalities {dims}, but {first_id!r} has {modalities}; "
                        "every sequence needs the same modalities with the same widths"
                    )
                episodes[sid] = ep
            if not episodes:
                raise TaskDataError(f"{path}: the file holds no sequence groups")
            splits_attr = h5.attrs.get("splits")
            if splits_attr is not None:
                try:
                    spec = json.loads(_as_str(splits_attr))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise TaskDataError(f"{path}: attribute 'splits' is not valid JSON ({exc})") from exc
                folds = folds_from_json(spec, list(episodes), f"{path} attribute 'splits'")
                split_source = "file attribute 'splits'"
            else:
                try:
                    folds = self.folds_or_none(lambda: make_folds(
                        list(episodes), self.options.n_folds, self.options.val_fraction, self.options.split_seed))
                except ValueError as exc:
                    raise TaskDataError(f"{path}: {exc}") from exc
                split_source = f"{self.options.n_folds} deterministic folds (split_seed={self.options.split_seed})"
        spec = TaskSpec(tuple(modalities.items()), tuple(target_names), self.metadata.kind)
        self.target_names = list(target_names)
        return TaskData(
            episodes, folds, spec, {Path(path).name: file_sha256(path)}, folds_sha256(folds),
            info={"split_source": split_source, "path": str(path)},
        )

    def _path(self) -> Path:
        if self.data_root is None:
            raise TaskDataError("task 'generic' needs --data-root FILE.h5 (the HDF5 file with your sequences)")
        path = Path(self.data_root).expanduser()
        if path.is_dir():
            raise TaskDataError(f"{path}: is a directory; task 'generic' reads one HDF5 file given by --data-root")
        if not path.is_file():
            raise TaskDataError(f"{path}: no such file (task 'generic' reads one HDF5 file given by --data-root)")
        return path

    @staticmethod
    def _target_names(h5, path: Path) -> list[str]:
        if "target_names" not in h5.attrs:
            raise TaskDataError(f"{path}: missing root attribute 'target_names' (one name per target column)")
        raw = h5.attrs["target_names"]
        names = [_as_str(n) for n in np.atleast_1d(raw)]
        if not names or len(set(names)) != len(names):
            raise TaskDataError(f"{path}: attribute 'target_names' must be a non-empty list of distinct names")
        return names

    def scores_are_sequence_means(self) -> bool:
        return self.options.aggregation == "per_sequence"

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        if self.target_names is None:
            raise RuntimeError("GenericTask.evaluate needs load() first (the target names come from the file)")
        return regression_metrics.regression_scores(predictions, episodes, self.target_names, self.options.aggregation)


def _as_str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_sequence(group, sid: str, path: Path, k: int) -> Episode:
    import h5py

    where = f"{path}: sequence {sid!r}"
    if not isinstance(group, h5py.Group):
        raise TaskDataError(f"{where} is a dataset, expected a group with 'features' and 'targets'")
    if "features" not in group or not isinstance(group["features"], h5py.Group):
        raise TaskDataError(f"{where} has no group 'features' (expected /{sid}/features/<modality>)")
    if "targets" not in group:
        raise TaskDataError(f"{where} has no dataset 'targets' (expected /{sid}/targets of shape [T, {k}])")
    if len(group["features"]) == 0:
        raise TaskDataError(f"{where}: group 'features' holds no modality")
    targets = np.asarray(group["targets"], dtype=np.float64)
    if targets.ndim != 2:
        raise TaskDataError(f"{where}: 'targets' has rank {targets.ndim} (shape {targets.shape}), expected [T, {k}]")
    if targets.shape[1] != k:
        raise TaskDataError(f"{where}: 'targets' has {targets.shape[1]} columns but 'target_names' names {k}")
    T = targets.shape[0]
    if T == 0:
        raise TaskDataError(f"{where} is empty (0 steps)")
    if not np.all(np.isfinite(targets)):
        raise TaskDataError(f"{where}: 'targets' contains NaN or inf")
    features = {}
    for m in sorted(group["features"].keys()):
        f = np.asarray(group["features"][m], dtype=np.float32)  # converted as read: no float64 copy of long data
        if f.ndim != 2:
            raise TaskDataError(f"{where}: features/{m} has rank {f.ndim} (shape {f.shape}), expected [T, d]")
        if f.shape[0] != T:
            raise TaskDataError(f"{where}: features/{m} has {f.shape[0]} steps but 'targets' has {T} (ragged T)")
        if not np.all(np.isfinite(f)):
            raise TaskDataError(f"{where}: features/{m} contains NaN or inf")
        features[m] = f
    return Episode(sid, features, targets.astype(np.float32), {})
