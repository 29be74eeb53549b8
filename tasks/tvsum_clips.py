"""``tvsum-clips``: real TVSum at its native 2-second clip granularity (the UMT release layout).

    <root>/tvsum_anno.json                      {ytid: {"anno": [[20 ratings 1-5] per clip], ...}}
    <root>/video_features/<ytid>_rgb.npy        [n_clips, 1024]  I3D RGB
    <root>/video_features/<ytid>_opt.npy        [n_clips, 1024]  I3D optical flow
    <root>/audio_features/<ytid>.npy            [n_clips, 2048]  PANN audio (one video has one extra row)
    <root>/ydata-tvsum50-anno.tsv               (rank=frames only) the TVSum release's frame-level scores

``--data-root`` may name that folder or a folder holding it as ``tvsum/``.

The annotators' reference summaries pass each annotator's shot means through the knapsack with ties
broken in a seeded random order of the shots (per video and annotator). A knapsack that keeps the earlier
of two tied shots, as every prediction's does, would otherwise share the annotators' tie-breaking
whenever a prediction ties shots too: a constant prediction ties all of them and gained F 0.06 that way.

``rank=frames`` correlates at the frame level, as Otani et al. and the eccv16 ``tvsum`` task do: each
clip's score is held over its frames (frame f belongs to clip floor(f / fps / 2); the frames after the
last full clip keep its score) and compared with each annotator's frame scores from the TSV. Records then
carry both levels: ``kendall``/``spearman`` at frames, ``kendall/clips``/``spearman/clips`` at clips.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmark.api import Episode, Task, TaskData, TaskDataError, TaskMetadata, TaskSpec, TrainBudget
from tasks import vsumm
from tasks.splits import folds_sha256, make_folds

MODALITIES = (("rgb", 1024), ("flow", 1024), ("audio", 2048))
RANKS = ("clips", "frames")
FRAME_ANNOTATIONS = "ydata-tvsum50-anno.tsv"


@dataclass
class TVSumClipsOptions:
    shot_clips: float = 3.0  # mean KTS shot length in clips (6 s); sets the number of change points
    budget: float = 0.15
    n_folds: int = 5
    val_fraction: float = 0.2
    split_seed: int = 0
    rank: str = "clips"  # tau/rho at the clip level, or "frames" (both levels; needs the frame-level TSV)


def reference_summary(user_scores: np.ndarray, cps: np.ndarray, n: int, budget: float, key: str) -> np.ndarray:
    """An annotator's keyshot summary with ties broken in a seeded random shot order (``key`` seeds it):
    the knapsack keeps the earlier of two tied shots, so running it on the shots in a random order, then
    mapping back, breaks ties at random without changing any optimum."""
    order = np.random.default_rng(zlib.crc32(key.encode())).permutation(len(cps))
    values = np.array([float(user_scores[s: e + 1].mean()) for s, e in cps])
    lengths = cps[:, 1] - cps[:, 0] + 1
    summary = np.zeros(n, dtype=bool)
    for i in vsumm.knapsack(values[order], lengths[order], int(math.floor(n * budget))):
        s, e = cps[order[i]]
        summary[s: e + 1] = True
    return summary


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
        leaderboard_metrics=("kendall", "spearman", "fscore", "kendall/clips", "spearman/clips"),
        protocol={
            "granularity": "2-second clips (the annotation unit), not 2-fps frames as in the eccv16 h5",
            "targets": "mean of the 20 annotators' 1-5 ratings, rescaled to [0, 1]",
            "shots": "KTS by ruptures.KernelCPD(linear kernel, L2-normalised I3D RGB), n/shot_clips shots",
            "user_summaries": "each annotator's ratings -> shot means -> exact 0/1 knapsack at the budget, "
                              "on the shared KTS shots (Zhang et al.'s re-decoding convention), ties broken "
                              "in a seeded random shot order per video and annotator",
            "budget": 0.15,
            "fscore_reduction": "mean over annotators (TVSum convention)",
            "rank_correlation": "Otani et al. 2019: Kendall tau-b and Spearman rho of the raw clip scores "
                                "against each annotator, mean over annotators, then videos",
            "main_score": "kendall: F-score barely separates random from human on TVSum (Otani et al.)",
            "splits": "5 disjoint folds (each video tested once), validation carved from training",
            "selection": "val.kendall",
        },
        citation="Song et al., TVSum, CVPR 2015; Otani et al., Rethinking the Evaluation of Video Summaries, CVPR 2019",
        data="the TVSum clip-level release (UMT layout; `rlbench data download tvsum-clips`, docs/data.md)",
    )
    Options = TVSumClipsOptions
    default_budget = TrainBudget(max_updates=4000, eval_every=50, patience=10, min_updates=300)

    def protocol(self) -> dict:
        o = self.options
        return {**self.metadata.protocol, "budget": o.budget, "shot_clips": o.shot_clips, "rank": o.rank}

    def root(self) -> Path:
        return self.locate("tvsum", "tvsum_anno.json")

    def load(self) -> TaskData:
        o = self.options
        if o.shot_clips < 1 or not 0 < o.budget < 1:
            raise ValueError(f"shot_clips must be >= 1 and budget in (0, 1), got {o.shot_clips}, {o.budget}")
        if o.rank not in RANKS:
            raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {o.rank!r}")
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
            user_summaries = np.stack([reference_summary(u, cps, n, o.budget, f"{vid}/{a}")
                                       for a, u in enumerate(user_scores)])
            target = ((user_scores.mean(axis=0) - 1.0) / 4.0)[:, None]
            episodes[vid] = Episode(vid, features, target.astype(np.float32), {
                "user_scores": user_scores, "user_summaries": user_summaries, "change_points": cps,
                "n_frames": n, "picks": np.arange(n), "domain": entry.get("domain"), "fps": entry.get("fps"),
                "frames_in_anno": entry.get("frames"),
            })
        if not episodes:
            raise TaskDataError(f"{anno_path}: no videos")
        hashes = {"tvsum_anno.json": hashlib.sha256(anno_path.read_bytes()).hexdigest(), "features": digest.hexdigest()}
        info = {"audio_rows_trimmed": trimmed, "root": str(root)}
        if o.rank == "frames":
            hashes[FRAME_ANNOTATIONS], info["frame_count_differences"] = self._attach_frames(root, episodes)
        folds = self.folds_or_none(lambda: make_folds(list(episodes), o.n_folds, o.val_fraction, o.split_seed))
        spec = TaskSpec(MODALITIES, ("importance",), self.metadata.kind)
        return TaskData(episodes, folds, spec, hashes, folds_sha256(folds), info=info)

    def _attach_frames(self, root: Path, episodes: dict[str, Episode]) -> tuple[str, dict[str, str]]:
        """Each video's annotator frame scores from the TSV and the clip each frame belongs to."""
        from tasks.eccv16 import read_tvsum_annotations

        path = root / FRAME_ANNOTATIONS
        if not path.is_file():
            raise TaskDataError(f"{path}: missing; rank=frames needs the TVSum release's frame-level annotations "
                                "(ydata-tvsum50-v1_1/data/) beside tvsum_anno.json, or --set rank=clips")
        by_video = dict(read_tvsum_annotations(path))
        missing = sorted(set(episodes) - set(by_video))
        if missing:
            raise TaskDataError(f"{path}: no frame annotations for {len(missing)} video(s), first {missing[0]!r}")
        differences = {}  # the TSV's frame count where tvsum_anno.json says another
        for vid, ep in episodes.items():
            frames = by_video[vid]
            fps = ep.meta.get("fps")
            if not fps or float(fps) <= 0:
                raise TaskDataError(f"{root / 'tvsum_anno.json'}: video {vid!r} has no positive 'fps'; rank=frames "
                                    "needs it to place clips on frames")
            n_frames = frames.shape[1]
            clip = np.minimum((np.arange(n_frames) / float(fps) / 2).astype(np.int64), ep.length - 1)
            if clip[-1] < ep.length - 1:
                raise TaskDataError(f"{path}: video {vid!r} has {n_frames} frames at {fps} fps, fewer than its "
                                    f"{ep.length} clips of 2 s")
            ep.meta["frame_clip"], ep.meta["user_frame_scores"] = clip, frames
            if str(ep.meta.get("frames_in_anno", n_frames)) != str(n_frames):
                differences[vid] = f"{n_frames} annotated frames; tvsum_anno.json says {ep.meta['frames_in_anno']}"
        return hashlib.sha256(path.read_bytes()).hexdigest(), differences

    def scores_are_sequence_means(self) -> bool:
        return True  # every score is averaged over videos

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        scores = vsumm.evaluate_videos(predictions, episodes, self.options.budget, "mean")
        if self.options.rank != "frames":
            return scores
        from tasks.predictions import aligned_predictions

        preds = aligned_predictions(predictions, episodes)
        frame_level = np.mean([vsumm.rank_correlations(preds[ep.id][ep.meta["frame_clip"], 0], ep.meta["user_frame_scores"])
                               for ep in episodes], axis=0)
        return self._both_levels(scores, frame_level)

    def evaluate_humans(self, episodes: Sequence[Episode]) -> dict[str, float]:
        scores = vsumm.evaluate_humans(episodes, "mean")
        if self.options.rank != "frames":
            return scores
        rows = [vsumm.human_agreement(ep.meta["user_frame_scores"], ep.meta["user_summaries"], "mean") for ep in episodes]
        return self._both_levels(scores, (np.mean([r["kendall"] for r in rows]), np.mean([r["spearman"] for r in rows])))

    @staticmethod
    def _both_levels(clip_level: dict[str, float], frame_level) -> dict[str, float]:
        tau, rho = frame_level
        return {"kendall": float(tau), "spearman": float(rho), "fscore": clip_level["fscore"],
                "kendall/clips": clip_level["kendall"], "spearman/clips": clip_level["spearman"]}
