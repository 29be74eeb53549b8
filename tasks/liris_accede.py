"""``liris-accede``: the continuous part of LIRIS-ACCEDE (30 full movies, per-second induced V/A).

    <root>/continuous-annotations/<Movie>_Valence.txt   tab-separated "Time Mean Std", one row per second
    <root>/continuous-annotations/<Movie>_Arousal.txt   values in [-1, 1]
    <root>/features/<Movie>/<modality>.npy              [seconds, d]: row t describes second t
    <root>/features/<Movie>/<modality>.npz              or per segment: "features" [S, d] and
                                                        "start" [S] (first second of each segment)

``--data-root`` may name that folder or a folder holding it as ``liris_accede/``. The features are
the user's (LIRIS-ACCEDE ships none per second); the paper's five modalities are audio, music, scene,
pose and face, and any other names work the same way. Valence and arousal files of a movie can differ
in length (by up to 7 rows in the release): they are aligned on ``Time`` and the dropped seconds are
recorded.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmark.api import Episode, Task, TaskData, TaskDataError, TaskMetadata, TaskSpec, TrainBudget
from tasks import regression_metrics
from tasks.splits import fixed_test_fold, folds_sha256, make_folds

PAPER_MODALITIES = ("audio", "music", "scene", "pose", "face")


@dataclass
class LirisOptions:
    features: str = "all"  # modalities to load: "all" found (the same set for every movie), or a comma list
    n_folds: int = 5  # movie-level folds: a movie is never split across parts
    val_fraction: float = 0.2
    split_seed: int = 0
    aggregation: str = "pooled"


def read_annotation(path: Path) -> dict[int, float]:
    """{second: mean rating} from a ``Time Mean Std`` file, or an error naming the file and the line."""
    if not path.is_file():
        raise TaskDataError(f"{path}: missing")
    lines = path.read_text().splitlines()
    if not lines or lines[0].split()[:2] != ["Time", "Mean"]:
        raise TaskDataError(f"{path}: expected a header 'Time Mean Std'")
    out = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split()
        try:
            t, v = int(float(parts[0])), float(parts[1])
        except (IndexError, ValueError):
            raise TaskDataError(f"{path}:{n}: expected 'Time Mean Std', got {line!r}") from None
        if not np.isfinite(v):
            raise TaskDataError(f"{path}:{n}: rating is NaN or inf")
        out[t] = v
    if not out:
        raise TaskDataError(f"{path}: no ratings")
    return out


def read_movie_annotations(folder: Path, movie: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Valence and arousal aligned on Time: (seconds [T], targets [T, 2], seconds dropped)."""
    val = read_annotation(folder / f"{movie}_Valence.txt")
    aro = read_annotation(folder / f"{movie}_Arousal.txt")
    common = sorted(set(val) & set(aro))
    if not common:
        raise TaskDataError(f"{folder}: {movie}: valence and arousal share no second")
    dropped = len(set(val) ^ set(aro))
    targets = np.array([[val[t], aro[t]] for t in common])
    return np.array(common), targets, dropped


def list_movies(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise TaskDataError(f"{folder}: missing (expected the continuous-annotations folder)")
    movies = sorted(p.name[: -len("_Valence.txt")] for p in folder.glob("*_Valence.txt"))
    if not movies:
        raise TaskDataError(f"{folder}: no <Movie>_Valence.txt files")
    return movies


def read_modality(path: Path, seconds: np.ndarray, movie: str, modality: str, raw: bytes | None = None) -> np.ndarray:
    """Per-second rows for the annotated ``seconds`` from a per-second .npy or a per-segment .npz
    (``raw``: the file's bytes when the caller has read them already, to hash them)."""
    where = f"{path} (movie {movie!r}, modality {modality!r})"
    source = io.BytesIO(raw) if raw is not None else path
    if path.suffix == ".npz":
        with np.load(source) as z:
            if "features" not in z or "start" not in z:
                raise TaskDataError(f"{where}: a per-segment file needs arrays 'features' and 'start'")
            feats, start = np.asarray(z["features"], dtype=np.float64), np.asarray(z["start"], dtype=np.float64)
        if feats.ndim != 2 or start.shape != (feats.shape[0],) or np.any(np.diff(start) < 0):
            raise TaskDataError(f"{where}: 'features' must be [S, d] and 'start' [S] non-decreasing")
        if start[0] > seconds[0]:
            raise TaskDataError(f"{where}: segments start at second {start[0]:g}, after the first annotated second {seconds[0]}")
        x = feats[np.searchsorted(start, seconds, side="right") - 1]
    else:
        x = np.load(source).astype(np.float64)
        if x.ndim != 2:
            raise TaskDataError(f"{where}: shape {x.shape}, expected [seconds, d]")
        if x.shape[0] <= seconds[-1]:
            raise TaskDataError(f"{where}: {x.shape[0]} rows do not cover the annotated seconds 0..{seconds[-1]}")
        x = x[seconds]
    if not np.all(np.isfinite(x)):
        raise TaskDataError(f"{where}: contains NaN or inf")
    return x.astype(np.float32)


class LirisAccede(Task):
    metadata = TaskMetadata(
        name="liris-accede",
        version="1.0",
        kind="affect_regression",
        description="LIRIS-ACCEDE continuous: 30 movies, per-second induced valence/arousal in [-1, 1]",
        main_score="mse",
        higher_is_better=regression_metrics.HIGHER_IS_BETTER,
        leaderboard_metrics=("mse", "mse/valence", "pearson/valence", "mse/arousal", "pearson/arousal", "ccc"),
        protocol={
            "metrics": "MSE and Pearson r per dimension (as MediaEval reports them), plus CCC",
            "aggregation": "pooled",
            "alignment": "valence and arousal aligned on Time; seconds in only one file are dropped",
            "splits": "movie-level disjoint folds (a movie is never split across parts)",
            "selection": "val.mse",
        },
        citation="Baveye et al., Deep Learning vs. Kernel Methods: Performance for Emotion Prediction in Videos, ACII 2015",
        data="LIRIS-ACCEDE-continuous-annotations.zip, which needs a signed license agreement: request it at "
             "liris-accede.ec-lyon.fr, unpack it into the data root and add your features/<Movie>/<modality>.npy "
             "(docs/data.md)",
    )
    Options = LirisOptions
    default_budget = TrainBudget(max_updates=4000, eval_every=50, patience=10, min_updates=300)

    def protocol(self) -> dict:
        return {**self.metadata.protocol, "aggregation": self.options.aggregation}

    def root(self) -> Path:
        return self.locate("liris_accede", "continuous-annotations")

    def load(self) -> TaskData:
        o = self.options
        if o.aggregation not in regression_metrics.AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {regression_metrics.AGGREGATIONS}, got {o.aggregation!r}")
        root = self.root()
        annotations = self.annotation_files(root)
        movies = sorted(annotations)
        digest = hashlib.sha256()
        episodes, dropped, modalities = {}, {}, None
        for movie in movies:
            seconds, targets, n_dropped = self.read_targets(annotations[movie], movie)
            if n_dropped:
                dropped[movie] = n_dropped
            feat_dir = root / "features" / movie
            found = {p.stem: p for p in sorted(feat_dir.glob("*.np[yz]"))} if feat_dir.is_dir() else {}
            wanted = sorted(found) if o.features.strip() == "all" else [m.strip() for m in o.features.split(",")]
            if modalities is None:
                if not wanted:
                    raise TaskDataError(f"{feat_dir}: no features for movie {movie!r} (expected <modality>.npy files; "
                                        f"the paper's modalities are {', '.join(PAPER_MODALITIES)})")
                modalities = wanted
            missing = [m for m in modalities if m not in found]
            if missing:
                raise TaskDataError(f"{feat_dir}: movie {movie!r} has no features for modality {missing[0]!r} "
                                    f"(every movie needs {', '.join(modalities)})")
            features = {}
            for m in modalities:  # each file read once: hashed, then parsed
                raw = found[m].read_bytes()
                digest.update(hashlib.sha256(raw).digest())
                features[m] = read_modality(found[m], seconds, movie, m, raw)
            for path in annotations[movie]:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            episodes[movie] = Episode(movie, features, targets.astype(np.float32), {"seconds": seconds})
        dims = {m: episodes[movies[0]].features[m].shape[1] for m in modalities}
        for movie, ep in episodes.items():
            for m in modalities:
                if ep.features[m].shape[1] != dims[m]:
                    raise TaskDataError(f"{root / 'features' / movie}: modality {m!r} has width "
                                        f"{ep.features[m].shape[1]}, but {movies[0]!r} has {dims[m]}")
        folds = self.folds_or_none(lambda: self.folds(movies))
        spec = TaskSpec(tuple(dims.items()), ("valence", "arousal"), self.metadata.kind)
        return TaskData(episodes, folds, spec, {"annotations+features": digest.hexdigest()}, folds_sha256(folds),
                        info={"seconds_dropped_in_alignment": dropped})

    def annotation_files(self, root: Path) -> dict[str, tuple[Path, ...]]:
        folder = root / "continuous-annotations"
        return {m: (folder / f"{m}_Valence.txt", folder / f"{m}_Arousal.txt") for m in list_movies(folder)}

    def read_targets(self, files: tuple[Path, ...], movie: str) -> tuple[np.ndarray, np.ndarray, int]:
        return read_movie_annotations(files[0].parent, movie)

    def folds(self, movies: list[str]) -> list:
        o = self.options
        return make_folds(movies, o.n_folds, o.val_fraction, o.split_seed)

    def scores_are_sequence_means(self) -> bool:
        return self.options.aggregation == "per_sequence"

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        return regression_metrics.regression_scores(predictions, episodes, ("valence", "arousal"),
                                                    self.options.aggregation)


MEDIAEVAL18_FIRST_TEST = 54  # DevSet movies 0-53, TestSet movies 54-65


def read_mediaeval18(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``MEDIAEVAL18_XX_Valence-Arousal.txt``: a header line, then ``time valence arousal`` per second."""
    seconds, targets = [], []
    for n, line in enumerate(path.read_text().splitlines()[1:], start=2):
        if not line.strip():
            continue
        parts = line.split()
        try:
            t, v, a = int(float(parts[0])), float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise TaskDataError(f"{path}:{n}: expected 'time valence arousal', got {line!r}") from None
        if not (np.isfinite(v) and np.isfinite(a)):
            raise TaskDataError(f"{path}:{n}: NaN or inf rating")
        seconds.append(t)
        targets.append((v, a))
    if not seconds:
        raise TaskDataError(f"{path}: no ratings")
    order = np.argsort(seconds)
    return np.asarray(seconds)[order], np.asarray(targets)[order]


class MediaEval18(LirisAccede):
    """The MediaEval 2018 Emotional Impact of Movies layout with its official development/test split."""

    metadata = TaskMetadata(
        name="mediaeval18",
        version="1.0",
        kind="affect_regression",
        description="MediaEval 2018 Emotional Impact of Movies: per-second valence/arousal, official dev/test split",
        main_score="mse",
        higher_is_better=regression_metrics.HIGHER_IS_BETTER,
        leaderboard_metrics=("mse", "mse/valence", "pearson/valence", "mse/arousal", "pearson/arousal", "ccc"),
        protocol={
            "metrics": "MSE and Pearson r per dimension (the MediaEval 2018 leaderboard's), plus CCC",
            "aggregation": "pooled",
            "splits": "official: test = TestSet movies 54-65; validation carved from the DevSet movies 0-53",
            "selection": "val.mse",
        },
        citation="Dellandrea et al., The MediaEval 2018 Emotional Impact of Movies Task, MediaEval 2018",
        data="the MediaEval 2018 MEDIAEVAL18-*-Valence-Arousal/annotation/ files, which come with the LIRIS-ACCEDE "
             "license agreement (request it at liris-accede.ec-lyon.fr), + your features (docs/data.md)",
    )

    def root(self) -> Path:
        return self.locate("mediaeval18", "MEDIAEVAL18-*-Valence-Arousal")

    def annotation_files(self, root: Path) -> dict[str, tuple[Path, ...]]:
        files = sorted(root.glob("MEDIAEVAL18-*-Valence-Arousal/annotation/MEDIAEVAL18_*_Valence-Arousal.txt"))
        if not files:
            raise TaskDataError(f"{root}: no MEDIAEVAL18-*-Valence-Arousal/annotation/MEDIAEVAL18_XX_Valence-Arousal.txt")
        return {f.name[: -len("_Valence-Arousal.txt")]: (f,) for f in files}

    def read_targets(self, files: tuple[Path, ...], movie: str) -> tuple[np.ndarray, np.ndarray, int]:
        seconds, targets = read_mediaeval18(files[0])
        return seconds, targets, 0

    def folds(self, movies: list[str]) -> list:
        test = [m for m in movies if int(m.rsplit("_", 1)[1]) >= MEDIAEVAL18_FIRST_TEST]
        dev = [m for m in movies if m not in test]
        if not test or len(dev) < 2:
            raise TaskDataError(f"mediaeval18 needs DevSet movies (00-53) and TestSet movies (54-65); found "
                                f"{len(dev)} and {len(test)}")
        return [fixed_test_fold(0, dev, test, self.options.val_fraction, np.random.default_rng(self.options.split_seed))]
