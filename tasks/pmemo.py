"""``pmemo``: PMEmo2019 dynamic music emotion (2 Hz valence and arousal in [0, 1]).

    <root>/annotations/dynamic_annotations.csv   musicId, frameTime, Arousal(mean), Valence(mean)
    <root>/features/dynamic_features.csv         musicId, frameTime, then the feature columns (openSMILE)

``--data-root`` may name that folder or a folder holding it as ``pmemo/``. Annotations and features are
joined on (musicId, frameTime); annotated frames without features are dropped and counted. The first
15 s of each song carry no annotation in the release, so the sequences start at 15.5 s.

Splits: ``split=kfold`` (default) makes song-level disjoint folds, each song tested once;
``split=official`` holds out the 77 test songs of the dataset's own dynamic baseline (songs shuffled with
``random_state=3``, first 10 %; the list as that notebook prints it), one fold, validation carved from the
rest, so numbers compare with the baseline's published RMSEs.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmark.api import Episode, Fold, Task, TaskData, TaskDataError, TaskMetadata, TaskSpec, TrainBudget, file_sha256
from tasks import regression_metrics
from tasks.splits import fixed_test_fold, folds_sha256, make_folds

SPLITS = ("kfold", "official")
# HuiZhangDB/PMEmo dynamic_MER.ipynb @ 65e5f78, output of the cell that draws the test songs
OFFICIAL_TEST_SONGS = (
    63, 490, 34, 743, 104, 177, 79, 894, 14, 668, 683, 151, 504, 516, 355, 98, 97, 579, 892, 837, 152, 169, 388,
    391, 561, 850, 985, 958, 572, 514, 625, 791, 517, 507, 501, 1000, 803, 457, 403, 670, 51, 798, 59, 531, 466,
    503, 794, 568, 279, 103, 350, 917, 428, 417, 393, 571, 354, 283, 906, 149, 56, 128, 742, 993, 94, 754, 199,
    57, 576, 463, 284, 126, 488, 253, 227, 730, 861,
)

ANNOTATION_COLUMNS = ("musicId", "frameTime", "Arousal(mean)", "Valence(mean)")


@dataclass
class PMEmoOptions:
    split: str = "kfold"  # or "official" (the dataset's own 10 % test songs)
    n_folds: int = 5  # song-level folds (split=kfold): no song in two parts
    val_fraction: float = 0.2
    split_seed: int = 0


def _rows(path: Path, required: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise TaskDataError(f"{path}: missing")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise TaskDataError(f"{path}: missing column(s) {', '.join(missing)} (header: {', '.join(header[:6])}...)")
        return header, [row for row in reader if row]


def _key(song: str, time: str, path: Path, line: int) -> tuple[str, float]:
    try:
        return str(int(float(song))), round(float(time) * 2) / 2
    except ValueError:
        raise TaskDataError(f"{path}:{line}: musicId and frameTime must be numbers, got {song!r}, {time!r}") from None


def read_annotations(path: Path) -> dict[str, dict[float, tuple[float, float]]]:
    header, rows = _rows(path, ANNOTATION_COLUMNS)
    col = {c: header.index(c) for c in ANNOTATION_COLUMNS}
    songs: dict[str, dict[float, tuple[float, float]]] = defaultdict(dict)
    for n, row in enumerate(rows, start=2):
        song, t = _key(row[col["musicId"]], row[col["frameTime"]], path, n)
        try:
            v, a = float(row[col["Valence(mean)"]]), float(row[col["Arousal(mean)"]])
        except (ValueError, IndexError):
            raise TaskDataError(f"{path}:{n}: valence/arousal must be numbers") from None
        if not (np.isfinite(v) and np.isfinite(a)):
            raise TaskDataError(f"{path}:{n}: song {song}: NaN or inf rating")
        songs[song][t] = (v, a)
    if not songs:
        raise TaskDataError(f"{path}: no annotations")
    return songs


def read_features(path: Path) -> tuple[list[str], dict[str, dict[float, np.ndarray]]]:
    header, rows = _rows(path, ("musicId", "frameTime"))
    i_song, i_time = header.index("musicId"), header.index("frameTime")
    cols = [i for i in range(len(header)) if i not in (i_song, i_time)]
    if not cols:
        raise TaskDataError(f"{path}: no feature columns besides musicId and frameTime")
    songs: dict[str, dict[float, np.ndarray]] = defaultdict(dict)
    for n, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise TaskDataError(f"{path}:{n}: {len(row)} fields, the header has {len(header)}")
        song, t = _key(row[i_song], row[i_time], path, n)
        try:
            x = np.array([float(row[i]) for i in cols])
        except ValueError:
            raise TaskDataError(f"{path}:{n}: song {song}: a feature value is not a number") from None
        if not np.all(np.isfinite(x)):
            raise TaskDataError(f"{path}:{n}: song {song}: NaN or inf feature")
        songs[song][t] = x
    return [header[i] for i in cols], songs


class PMEmo(Task):
    metadata = TaskMetadata(
        name="pmemo",
        version="1.0",
        kind="affect_regression",
        description="PMEmo2019 dynamic: 2 Hz valence/arousal in [0, 1] of song choruses, openSMILE features",
        main_score="rmse",
        higher_is_better={**regression_metrics.HIGHER_IS_BETTER, "rmse_per_song": False,
                          "rmse_per_song/valence": False, "rmse_per_song/arousal": False},
        leaderboard_metrics=("rmse", "rmse_per_song", "rmse/valence", "rmse_per_song/valence", "rmse/arousal",
                             "rmse_per_song/arousal", "pearson/valence", "pearson/arousal"),
        protocol={
            "metrics": "RMSE across segments (pooled, main) and across songs (mean of per-song RMSE), Pearson r, "
                       "as the official PMEmo dynamic baseline (dynamic_MER.ipynb) reports RMSE both ways",
            "splits": "song-level disjoint folds; split=official: the dataset's own 77 held-out test songs",
            "selection": "val.rmse",
        },
        citation="Zhang et al., The PMEmo Dataset for Music Emotion Recognition, ICMR 2018",
        data="PMEmo2019's annotations/ and features/ CSVs, shared through the Google Drive links in the "
             "HuiZhangDB/PMEmo README with no published checksum (docs/data.md)",
    )
    Options = PMEmoOptions
    default_budget = TrainBudget(max_updates=4000, eval_every=50, patience=10, min_updates=300)

    def root(self) -> Path:
        return self.locate("pmemo", "annotations/dynamic_annotations.csv")

    def protocol(self) -> dict:
        return {**self.metadata.protocol, "split": self.options.split}

    def load(self) -> TaskData:
        if self.options.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.options.split!r}")
        root = self.root()
        ann_path, feat_path = root / "annotations" / "dynamic_annotations.csv", root / "features" / "dynamic_features.csv"
        annotations = read_annotations(ann_path)
        names, features = read_features(feat_path)
        episodes, dropped = {}, {}
        for song in sorted(annotations, key=int):
            if song not in features:
                raise TaskDataError(f"{feat_path}: no features for song {song} (annotated in {ann_path.name})")
            times = sorted(t for t in annotations[song] if t in features[song])
            if not times:
                raise TaskDataError(f"{feat_path}: song {song}: no feature frame matches an annotated frameTime")
            if len(times) < len(annotations[song]):
                dropped[song] = len(annotations[song]) - len(times)
            x = np.stack([features[song][t] for t in times]).astype(np.float32)
            y = np.array([annotations[song][t] for t in times], dtype=np.float32)
            episodes[song] = Episode(song, {"audio": x}, y, {"frame_time": np.array(times)})
        info: dict = {"annotated_frames_without_features": dropped}
        if self.scoring_only:
            folds = []
        elif self.options.split == "official":
            folds, info["official_test_songs_missing"] = self._official_fold(list(episodes), ann_path)
        else:
            folds = make_folds(list(episodes), self.options.n_folds, self.options.val_fraction, self.options.split_seed)
        spec = TaskSpec((("audio", len(names)),), ("valence", "arousal"), self.metadata.kind)
        return TaskData(episodes, folds, spec,
                        {"dynamic_annotations.csv": file_sha256(ann_path), "dynamic_features.csv": file_sha256(feat_path)},
                        folds_sha256(folds), info=info)

    def _official_fold(self, songs: list[str], ann_path: Path) -> tuple[list[Fold], list[int]]:
        official = {str(s) for s in OFFICIAL_TEST_SONGS}
        test = [s for s in songs if s in official]
        missing = sorted(int(s) for s in official - set(songs))
        if not test:
            raise TaskDataError(f"{ann_path}: none of the 77 official PMEmo test songs is annotated here; "
                                "use --set split=kfold")
        rest = [s for s in songs if s not in official]
        rng = np.random.default_rng(self.options.split_seed)
        return [fixed_test_fold(0, rest, test, self.options.val_fraction, rng)], missing

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        targets = ("valence", "arousal")
        scores = regression_metrics.regression_scores(predictions, episodes, targets, "pooled")
        per_song = regression_metrics.regression_scores(predictions, episodes, targets, "per_sequence")
        scores["rmse_per_song"] = per_song["rmse"]
        for t in targets:
            scores[f"rmse_per_song/{t}"] = per_song[f"rmse/{t}"]
        return scores
