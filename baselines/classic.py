"""Classic per-step regressors from scikit-learn: ``ridge`` and ``svr`` on standardised features.

They are the models of the PMEmo dataset's own dynamic baseline notebook (standardised openSMILE
features, one regressor per step, no temporal context), so measured classic rows can stand beside the
reported ones, and a reader sees what a per-step model without memory reaches on any regression task.
Both fit in closed form (no updates, no checkpoint to select); a kernel SVR is quadratic in the number of
training steps, so it fits on a seeded random subset of at most ``max_train_steps`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from benchmark.api import Episode, FeatureScaler, FitInfo, Model, check_options, select_modalities


@dataclass
class RidgeOptions:
    alpha: float = 1.0
    modalities: str = "all"
    max_train_steps: int = 500_000  # a seeded random subset beyond this (memory, not accuracy, is the limit)

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {"alpha": ("log-uniform", 1e-3, 1e3)}

    def __post_init__(self) -> None:
        check_options(self, at_least_1=("max_train_steps",), non_negative=("alpha",))


@dataclass
class SVROptions:
    C: float = 1.0
    epsilon: float = 0.1
    kernel: str = "rbf"  # rbf | linear
    modalities: str = "all"
    max_train_steps: int = 4_000  # kernel SVR is O(n^2) in memory and time: fit on a seeded subset

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {"C": ("log-uniform", 1e-2, 1e2),
                                                "epsilon": ("log-uniform", 1e-3, 0.3)}

    def __post_init__(self) -> None:
        check_options(self, at_least_1=("max_train_steps",), positive=("C",), non_negative=("epsilon",),
                      choices={"kernel": ("rbf", "linear")})


class PerStepRegressor(Model):
    """Standardise the concatenated modalities of each step, fit one scikit-learn regressor per target."""

    def __init__(self, options: Any, spec, seed: int):
        super().__init__(options, spec, seed)
        self.scaler = FeatureScaler([m for m, _ in select_modalities(spec, options.modalities)])
        self.regressors: list[Any] = []

    def build(self) -> Any:
        raise NotImplementedError

    def _steps(self, episodes: Sequence[Episode]) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([self._features(e) for e in episodes])
        y = np.concatenate([e.targets for e in episodes]).astype(np.float64)
        return x, y

    def _features(self, episode: Episode) -> np.ndarray:
        x = np.concatenate([episode.features[m] for m in self.scaler.modalities], axis=1).astype(np.float64)
        return (x - self.scaler.mean) / self.scaler.std

    def fit(self, train, val, budget, selector, log) -> FitInfo:
        self.scaler.fit(train)
        x, y = self._steps(train)
        if len(x) > self.options.max_train_steps:
            keep = np.random.default_rng(self.seed).choice(len(x), self.options.max_train_steps, replace=False)
            x, y = x[np.sort(keep)], y[np.sort(keep)]
        self.regressors = [self.build().fit(x, y[:, j]) for j in range(y.shape[1])]
        return FitInfo(diagnostics={"train_steps_used": int(len(x))})

    def predict(self, episodes: Sequence[Episode]) -> dict[str, np.ndarray]:
        out = {}
        for e in episodes:
            x = self._features(e)
            out[e.id] = np.stack([r.predict(x) for r in self.regressors], axis=1)
        return out


class RidgeModel(PerStepRegressor):
    description = "ridge regression per step on standardised features (scikit-learn; no temporal context)"
    Options = RidgeOptions

    def build(self):
        from sklearn.linear_model import Ridge

        return Ridge(alpha=self.options.alpha)

    def n_parameters(self) -> int:
        return sum(r.coef_.size + 1 for r in self.regressors)


class SVRModel(PerStepRegressor):
    description = "support vector regression per step (rbf kernel) on standardised features (scikit-learn)"
    Options = SVROptions

    def build(self):
        from sklearn.svm import SVR

        o = self.options
        return SVR(kernel=o.kernel, C=o.C, epsilon=o.epsilon, gamma="scale")

    def n_parameters(self) -> int:
        return sum(r.support_vectors_.size + r.dual_coef_.size + 1 for r in self.regressors)
