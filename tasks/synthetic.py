"""Synthetic long-dependency tasks: the embedded default, generated deterministically from a seed.

Both tasks hide a discrete state that is visible in the features at one step only and matters for
many steps afterwards, so a model scores well only if it remembers across that distance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from benchmark.api import Episode, Task, TaskData, TaskMetadata, TaskSpec, TrainBudget
from tasks import regression_metrics, vsumm
from tasks.splits import folds_sha256, make_folds

AFFECT_MODALITIES = ("audio", "music", "scene", "pose", "face")


def _fingerprint(options: object) -> dict[str, str]:
    """Synthetic data is a pure function of the generator options; their hash stands for the data."""
    canonical = json.dumps({"generator": type(options).__qualname__, **asdict(options)}, sort_keys=True)
    return {"generator": hashlib.sha256(canonical.encode()).hexdigest()}


def _check_positive(options: object, names: Sequence[str]) -> None:
    for name in names:
        if getattr(options, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(options, name)}")


@dataclass
class SynthAffectOptions:
    # sized so that every baseline converges within the default budget on 2 CPU cores (v2.0; v1.0 had 400
    # sequences of 1,000 segments at lag 200, where one Transformer update took 9 s); fewer sequences
    # than this and the LSTM memorises the training part long before it finds the cue
    n_sequences: int = 600
    length: int = 250  # segments per sequence
    lag: int = 50  # a cue's state holds for at least `lag` segments (gaps drawn in [lag, 2 lag])
    noise: float = 0.05  # std of the target noise
    feature_noise: float = 1.0  # std of the feature noise (the mood signal has unit scale)
    cue_strength: float = 3.0
    n_states: int = 4
    shift: float = 0.45  # size of the valence/arousal shift a story state adds
    audio_dim: int = 16
    music_dim: int = 8
    scene_dim: int = 16
    pose_dim: int = 8
    face_dim: int = 8
    data_seed: int = 0
    n_folds: int = 1
    val_fraction: float = 0.2
    aggregation: str = "pooled"


class SynthAffect(Task):
    """Valence and arousal in [-1, 1] = a local mood (visible in audio, music and face every segment)
    + a story shift set by a cue (visible in scene and pose at the cue segment only)."""

    metadata = TaskMetadata(
        name="synth-affect",
        version="2.0",
        kind="affect_regression",
        description="synthetic continuous valence/arousal; a sparse cue shifts the targets for >= lag segments",
        main_score="mse",
        higher_is_better=regression_metrics.HIGHER_IS_BETTER,
        leaderboard_metrics=("mse", "mse/valence", "mse/arousal", "pearson/valence", "pearson/arousal", "ccc"),
        protocol={"metrics": list(regression_metrics.METRICS), "aggregation": "pooled", "selection": "val.mse"},
    )
    Options = SynthAffectOptions
    # long dependencies are learnt after a plateau: the LSTM at lag 50 sat at the MLP's level for ~1,000
    # updates before it found the cue, so patience spans 1,000 updates and nothing stops before 1,500
    default_budget = TrainBudget(max_updates=8000, eval_every=50, patience=20, min_updates=1500)

    def protocol(self) -> dict:
        return {**self.metadata.protocol, "aggregation": self.options.aggregation}

    def load(self) -> TaskData:
        o: SynthAffectOptions = self.options
        _check_positive(o, ("n_sequences", "length", "lag", "n_states", *(f"{m}_dim" for m in AFFECT_MODALITIES)))
        if o.aggregation not in regression_metrics.AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {regression_metrics.AGGREGATIONS}, got {o.aggregation!r}")
        rng = np.random.default_rng(o.data_seed)
        dims = {m: getattr(o, f"{m}_dim") for m in AFFECT_MODALITIES}
        # The "world" (how mood and cues show in the features) is shared by all sequences.
        mood_maps = {m: rng.normal(size=(2, dims[m])) / np.sqrt(2) for m in ("audio", "music", "face")}
        cue_patterns = {m: _unit_rows(rng, o.n_states, dims[m]) for m in ("scene", "pose")}
        angles = 2 * np.pi * (np.arange(o.n_states) + 0.5) / o.n_states
        shifts = o.shift * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (n_states, 2)

        episodes = {}
        for i in range(o.n_sequences):
            T = o.length
            mood = _ar1(rng, T, 2, rho=0.95)
            state = np.full(T, -1, dtype=np.int16)
            cues = []
            t = int(rng.integers(0, max(1, o.lag // 2)))
            while t < T:
                s = int(rng.integers(o.n_states))
                state[t:] = s
                cues.append((t, s))
                t += int(rng.integers(o.lag, 2 * o.lag + 1))
            features = {}
            for m in AFFECT_MODALITIES:  # one modality at a time, stored float32: a million steps stay small
                x = o.feature_noise * rng.normal(size=(T, dims[m]))
                if m in mood_maps:
                    x += mood @ mood_maps[m]
                for t, s in (cues if m in cue_patterns else ()):
                    x[t] += o.cue_strength * cue_patterns[m][s]
                features[m] = x.astype(np.float32)
            shift = np.where(state[:, None] >= 0, shifts[np.maximum(state, 0)], 0.0)
            oracle = np.clip(0.5 * np.tanh(mood) + shift, -1.0, 1.0)
            targets = np.clip(oracle + o.noise * rng.normal(size=oracle.shape), -1.0, 1.0)
            eid = f"seq{i:04d}"
            episodes[eid] = Episode(
                eid,
                features,
                targets.astype(np.float32),
                {"oracle": oracle, "state": state, "cues": cues, "mood": mood, "shifts": shifts},
            )
        folds = self.folds_or_none(lambda: make_folds(list(episodes), o.n_folds, o.val_fraction, seed=o.data_seed))
        spec = TaskSpec(tuple((m, dims[m]) for m in AFFECT_MODALITIES), ("valence", "arousal"), self.metadata.kind)
        return TaskData(episodes, folds, spec, _fingerprint(o), folds_sha256(folds))

    def scores_are_sequence_means(self) -> bool:
        return self.options.aggregation == "per_sequence"

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        return regression_metrics.regression_scores(
            predictions, episodes, ("valence", "arousal"), self.options.aggregation
        )


@dataclass
class SynthSummaryOptions:
    n_sequences: int = 200
    length: int = 400  # steps (frames) per video
    n_themes: int = 4
    n_annotators: int = 10
    intro_length: int = 10  # the theme is shown during the first `intro_length` steps only
    min_shot: int = 5
    max_shot: int = 25
    annotator_noise: float = 0.25
    feature_noise: float = 1.0
    scene_dim: int = 16
    audio_dim: int = 8
    intro_dim: int = 8
    budget: float = 0.15
    data_seed: int = 0
    n_folds: int = 1
    val_fraction: float = 0.2


class SynthSummary(Task):
    """Importance = whether a shot's content matches the theme shown in the intro (long before) +
    local interest; annotators rate it 1-5 with noise and pick their own 15 % keyshot summaries."""

    metadata = TaskMetadata(
        name="synth-summary",
        version="1.0",
        kind="summarization",
        description="synthetic keyshot summarization; importance depends on a theme shown only in the intro",
        main_score="fscore",
        higher_is_better={"fscore": True, "kendall": True, "spearman": True},
        leaderboard_metrics=("fscore", "kendall", "spearman"),
        protocol={
            "summary": "hold step scores over picks; shot score = mean; exact 0/1 knapsack",
            "budget": 0.15,
            "fscore_reduction": "mean",
            "rank_correlation": "Otani et al. 2019: tau-b and rho per annotator, mean over annotators, then videos",
            "selection": "val.fscore",
        },
    )
    Options = SynthSummaryOptions
    # long dependencies are learnt after a plateau: the LSTM at lag 50 sat at the MLP's level for ~1,000
    # updates before it found the cue, so patience spans 1,000 updates and nothing stops before 1,500
    default_budget = TrainBudget(max_updates=8000, eval_every=50, patience=20, min_updates=1500)

    def protocol(self) -> dict:
        return {**self.metadata.protocol, "budget": self.options.budget}

    def load(self) -> TaskData:
        o: SynthSummaryOptions = self.options
        _check_positive(o, ("n_sequences", "length", "n_themes", "n_annotators", "intro_length", "min_shot",
                            "scene_dim", "audio_dim", "intro_dim"))
        if o.max_shot < o.min_shot:
            raise ValueError(f"max_shot ({o.max_shot}) must be >= min_shot ({o.min_shot})")
        if not 0 < o.budget < 1:
            raise ValueError(f"budget must be in (0, 1), got {o.budget}")
        rng = np.random.default_rng(o.data_seed)
        content_patterns = _unit_rows(rng, o.n_themes, o.scene_dim)
        theme_patterns = _unit_rows(rng, o.n_themes, o.intro_dim)
        interest_map = rng.normal(size=(1, o.audio_dim))

        episodes = {}
        for i in range(o.n_sequences):
            T = o.length
            cps = _shots(rng, T, o.min_shot, o.max_shot, first=o.intro_length)
            theme = int(rng.integers(o.n_themes))
            shot_content = rng.integers(o.n_themes, size=len(cps))
            content = np.repeat(shot_content, cps[:, 1] - cps[:, 0] + 1)
            interest = _ar1(rng, T, 1, rho=0.9)[:, 0]
            importance = 0.7 * (content == theme) + 0.3 / (1 + np.exp(-2 * interest))
            importance[: o.intro_length] = 0.3  # the intro itself is not what viewers keep
            features = {
                "scene": 2.0 * content_patterns[content] + o.feature_noise * rng.normal(size=(T, o.scene_dim)),
                "audio": interest[:, None] @ interest_map + o.feature_noise * rng.normal(size=(T, o.audio_dim)),
                "intro": o.feature_noise * 0.3 * rng.normal(size=(T, o.intro_dim)),
            }
            features["intro"][: o.intro_length] += 2.0 * theme_patterns[theme]
            bias = o.annotator_noise * rng.normal(size=(o.n_annotators, len(cps)))
            raw = importance[None] + np.repeat(bias, cps[:, 1] - cps[:, 0] + 1, axis=1)
            raw += o.annotator_noise * rng.normal(size=raw.shape)
            user_scores = np.clip(np.round(1 + 4 * raw), 1, 5)  # TVSum-style 1-5 ratings
            user_summaries = np.stack(
                [vsumm.keyshot_summary(u, cps, T, o.budget) for u in user_scores]
            )
            gtscore = ((user_scores.mean(axis=0) - 1) / 4)[:, None]
            eid = f"video{i:04d}"
            episodes[eid] = Episode(
                eid,
                {m: f.astype(np.float32) for m, f in features.items()},
                gtscore.astype(np.float32),
                {
                    "oracle": importance[:, None],
                    "theme": theme,
                    "change_points": cps,
                    "n_frames": T,
                    "picks": np.arange(T),
                    "user_scores": user_scores,
                    "user_summaries": user_summaries,
                },
            )
        folds = self.folds_or_none(lambda: make_folds(list(episodes), o.n_folds, o.val_fraction, seed=o.data_seed))
        spec = TaskSpec(
            (("scene", o.scene_dim), ("audio", o.audio_dim), ("intro", o.intro_dim)), ("importance",), self.metadata.kind
        )
        return TaskData(episodes, folds, spec, _fingerprint(o), folds_sha256(folds))

    def scores_are_sequence_means(self) -> bool:
        return True  # every score is averaged over videos

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        return vsumm.evaluate_videos(predictions, episodes, self.options.budget, "mean")

    def evaluate_humans(self, episodes: Sequence[Episode]) -> dict[str, float]:
        return vsumm.evaluate_humans(episodes, "mean")


def _unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    rows = rng.normal(size=(n, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _ar1(rng: np.random.Generator, T: int, d: int, rho: float) -> np.ndarray:
    """A stationary AR(1) process with unit variance: out[t] = rho out[t-1] + eps[t], as one filter call
    (a million steps in milliseconds; the same floating-point operations as the step-by-step loop)."""
    from scipy.signal import lfilter

    eps = rng.normal(size=(T, d)) * np.sqrt(1 - rho**2)
    out = np.empty((T, d))
    out[0] = rng.normal(size=d)
    if T > 1:
        out[1:] = lfilter([1.0], [1.0, -rho], eps[1:], axis=0, zi=(rho * out[0])[None, :])[0]
    return out


def _shots(rng: np.random.Generator, T: int, lo: int, hi: int, first: int) -> np.ndarray:
    """Inclusive [start, end] rows covering 0..T-1; the first shot is the intro."""
    bounds = [0, min(first, T)]
    while bounds[-1] < T:
        bounds.append(min(T, bounds[-1] + int(rng.integers(lo, hi + 1))))
    starts, ends = np.array(bounds[:-1]), np.array(bounds[1:]) - 1
    return np.stack([starts, ends], axis=1)
