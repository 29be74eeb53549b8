"""``tvsum-clips``: real TVSum at its native 2-second clip granularity (the UMT release layout).

    <root>/tvsum_anno.json                      {ytid: {"anno": [[20 ratings 1-5] per clip], ...}}
    <root>/video_features/<ytid>_rgb.npy        [n_clips, 1024]  I3D RGB
    <root>/video_features/<ytid>_opt.npy        [n_clips, 1024]  I3D optical flow
    <root>/audio_features/<ytid>.npy            [n_clips, 2048]  PANN audio (one video has one extra row)

``--data-root`` may name that folder or a folder holding it as ``tvsum/``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmark.episodes import Episode, TaskData, TaskSpec
from benchmark.interfaces import Task, TaskDataError, TaskMetadata, TrainBudget
from tasks import vsumm
from tasks.splits import folds_sha256, make_folds

MODALITIES = (("rgb", 1024), ("flow", 1024), ("audio", 2048))


@dataclass
class TVSumClipsOptions:
    shot_clips: float = 3.0  # mean KTS shot length in clips (6 s); sets the number of change points
    budget: float = 0.15
    n_folds: int = 5
    val_fraction: float = 0.2
    split_seed: int = 0


def kts_shots(features: np.ndarray, mean_length: float) -> np.ndarray:
    """Kernel temporal segmentation with ruptures' kernel change-point detection (linear kernel on
    L2-normalised features, exact dynamic programming); inclusive [start, end] rows covering 0..n-1."""
    import ruptures

    n = len(features)
    n_bkps = max(0, min(n - 1, round(n / mean_length) - 1))
    if n_bkps == 0:
        return np.array([[0, n - 1]])
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    ends = ruptures.KernelCPD(kernel="linear", min_size=1).fit(x).predict(n_bkps=n_bkps)
    starts = [0, *ends[:-1]]
    return np.array([[s, e - 1] for s, e in zip(starts, ends)])


class TVSumClips(Task):
    metadata = TaskMetadata(
        name="tvsum-clips",
        version="1.0",
        kind="summarization",
        description="TVSum, 50 videos at 2-s clip level; I3D rgb/flow + PANN audio; 20 annotators",
        main_score="kendall",
        higher_is_better={"fscore": True, "kendall": True, "spearman": True},
        leaderboard_metrics=("kendall", "spearman", "fscore"),
        protocol={
            "granularity": "2-second clips (the annotation unit), not 2-fps frames as in the eccv16 h5",
            "targets": "mean of the 20 annotators' 1-5 ratings, rescaled to [0, 1]",
            "shots": "KTS by ruptures.KernelCPD(linear kernel, L2-normalised I3D RGB), n/shot_clips shots",
            "user_summaries": "each annotator's ratings -> shot means -> exact 0/1 knapsack at the budget, "
                              "on the shared KTS shots (Zhang et al.'s re-decoding convention)",
            "budget": 0.15,
            "fscore_reduction": "mean over annotators (TVSum convention)",
            "rank_correlation": "Otani et al. 2019: Kendall tau-b and Spearman rho of the raw clip scores "
                                "against each annotator, mean over annotators, then videos",
            "main_score": "kendall: F-score barely separates random from human on TVSum (Otani et al.)",
            "splits": "5 disjoint folds (each video tested once), validation carved from training",
            "selection": "val.kendall",
        },
        citation="Song et al., TVSum, CVPR 2015; Otani et al., Rethinking the Evaluation of Video Summaries, CVPR 2019",
        data="the TVSum clip-level release (UMT layout; `rlbench data download tvsum-clips`, README 'Data')",
    )
    Options = TVSumClipsOptions
    default_budget = TrainBudget(max_updates=4000, eval_every=50, patience=10, min_updates=300)

    def protocol(self) -> dict:
        return {**self.metadata.protocol, "budget": self.options.budget, "shot_clips": self.options.shot_clips}

    def root(self) -> Path:
        return self.locate("tvsum", "tvsum_anno.json")

    def load(self) -> TaskData:
        o = self.options
        if o.shot_clips < 1 or not 0 < o.budget < 1:
            raise ValueError(f"shot_clips must be >= 1 and budget in (0, 1), got {o.shot_clips}, {o.budget}")
        root = self.root()
        anno_path = root / "tvsum_anno.json"
        try:
            anno = json.loads(anno_path.read_text())
        except json.JSONDecodeError as exc:
            raise TaskDataError(f"{anno_path}: not valid JSON ({exc})") from exc
        digest = hashlib.sha256()
        episodes, trimmed = {}, {}
        for vid in sorted(anno):
            entry = anno[vid]
            if not isinstance(entry, dict) or "anno" not in entry:
                raise TaskDataError(f"{anno_path}: video {vid!r} has no 'anno' ratings")
            ratings = np.asarray(entry["anno"], dtype=np.float64)
            if ratings.ndim != 2 or ratings.shape[0] == 0 or ratings.shape[1] < 2:
                raise TaskDataError(f"{anno_path}: video {vid!r} 'anno' has shape {ratings.shape}, expected (n_clips, annotators >= 2)")
            if not np.all(np.isfinite(ratings)):
                raise TaskDataError(f"{anno_path}: video {vid!r} 'anno' contains NaN or inf")
            n = ratings.shape[0]
            features = {}
            for name, path in (("rgb", root / "video_features" / f"{vid}_rgb.npy"),
                               ("flow", root / "video_features" / f"{vid}_opt.npy"),
                               ("audio", root / "audio_features" / f"{vid}.npy")):
                if not path.is_file():
                    raise TaskDataError(f"{path}: missing ({name} features of video {vid!r})")
                raw = path.read_bytes()
                digest.update(hashlib.sha256(raw).digest())
                x = np.load(io.BytesIO(raw))  # read once: hashed above, parsed here
                width = dict(MODALITIES)[name]
                if x.ndim != 2 or x.shape[1] != width:
                    raise TaskDataError(f"{path}: shape {x.shape}, expected (n_clips, {width})")
                if x.shape[0] == n + 1 and name == "audio":  # a known quirk of the release: drop the extra row
                    x = x[:n]
                    trimmed[vid] = 1
                if x.shape[0] != n:
                    raise TaskDataError(f"{path}: {x.shape[0]} rows but video {vid!r} has {n} annotated clips")
                if not np.all(np.isfinite(x)):
                    raise TaskDataError(f"{path}: contains NaN or inf")
                features[name] = x.astype(np.float32)
            user_scores = ratings.T  # [annotators, n_clips]
            cps = kts_shots(features["rgb"].astype(np.float64), o.shot_clips)
            user_summaries = np.stack([vsumm.keyshot_summary(u, cps, n, o.budget) for u in user_scores])
            target = ((user_scores.mean(axis=0) - 1.0) / 4.0)[:, None]
            episodes[vid] = Episode(vid, features, target.astype(np.float32), {
                "user_scores": user_scores, "user_summaries": user_summaries, "change_points": cps,
                "n_frames": n, "picks": np.arange(n), "domain": entry.get("domain"),
            })
        if not episodes:
            raise TaskDataError(f"{anno_path}: no videos")
        folds = make_folds(list(episodes), o.n_folds, o.val_fraction, o.split_seed)
        spec = TaskSpec(MODALITIES, ("importance",), self.metadata.kind)
        return TaskData(
            episodes, folds, spec,
            {"tvsum_anno.json": hashlib.sha256(anno_path.read_bytes()).hexdigest(), "features": digest.hexdigest()},
            folds_sha256(folds), info={"audio_rows_trimmed": trimmed, "root": str(root)},
        )

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        return vsumm.evaluate_videos(predictions, episodes, self.options.budget, "mean")

    def evaluate_humans(self, episodes: Sequence[Episode]) -> dict[str, float]:
        return vsumm.evaluate_humans(episodes, "mean")
