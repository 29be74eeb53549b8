"""``tvsum`` and ``summe`` from the eccv16 HDF5 files that most summarization papers use.

    eccv16_dataset_{tvsum,summe}_google_pool5.h5 / video_N /
        features [n_steps, 1024]  gtscore [n_steps]  picks [n_steps]  n_frames ()
        user_summary [n_users, n_frames]  change_points [n_shots, 2]  n_frame_per_seg [n_shots]

Trained on ``gtscore``, scored against ``user_summary`` with the keyshot protocol. The protocol and the
split are named options, written into every record. Each protocol variant reproduces its reference code
(float32 arithmetic under NumPy 1.x rules; ``tasks.eccv16_protocols`` says how):

- ``protocol=reference`` (default): K. Zhou's pytorch-vsumm-reinforce ``vsum_tools``: shot score = mean
  of the held frame scores, budget floor(0.15 n_frames), weights ``n_frame_per_seg``.
- ``protocol=dsnet``: shot scores quantised to int(1000 * mean), OR-tools' DP knapsack (DSNet, A2Summ).
- ``protocol=pgl-sum``: budget from the last shot's end, int((last_end + 1) * 0.15) (PGL-SUM, CA-SUM,
  CSTA).
- ``split=kfold`` (default): 5 disjoint folds, each video tested once, validation carved from training.
  ``split=dsnet`` / ``split=pgl-sum`` read the published 5 random 80/20 splits (``<name>.yml`` from
  DSNet, ``<name>_splits.json`` from PGL-SUM) placed beside the h5 file; their test sets overlap and
  some videos are never tested; validation is carved from each training part.
- ``rank=otani`` (TVSum default): Kendall tau-b and Spearman rho of the predicted scores, held over the
  frames, against each of the 20 annotators' frame-level scores in ``ydata-tvsum50-anno.tsv`` (the TVSum
  release; put it beside the h5), mean over annotators then videos (Otani et al., CVPR 2019).
  ``rank=ca-sum``: the same at the sampled steps (the annotators' scores at ``picks``, i.e. [::15]),
  as CA-SUM / PGL-SUM / CSTA compute it. The h5's ``video_N`` is the N-th video of the TSV; where their
  frame counts differ by at most two frames the annotations are cut or their last frame repeated to the
  h5's count (the record's ``data_info`` lists each such video), a larger difference is refused. ``rank=csta`` (SumMe only, no importance annotations):
  the binary knapsack summary against the mean of the binary user summaries. ``rank=none``: F-score only
  (SumMe's default).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from benchmark.api import Episode, Fold, Task, TaskData, TaskDataError, TaskMetadata, TaskSpec, TrainBudget, file_sha256
from tasks import eccv16_protocols, vsumm
from tasks.files import open_h5
from tasks.splits import check_folds, fixed_test_fold, folds_sha256, make_folds

PROTOCOLS = eccv16_protocols.VARIANTS
FRAME_SLACK = 2  # frames by which the h5 and the TSV may disagree before a video is refused
SPLITS = ("kfold", "dsnet", "pgl-sum")
RANKS = {"tvsum": ("otani", "ca-sum", "none"), "summe": ("csta", "none")}
TVSUM_ANNOTATIONS = "ydata-tvsum50-anno.tsv"
FIELDS = ("features", "gtscore", "user_summary", "change_points", "n_frame_per_seg", "n_frames", "picks")


@dataclass
class Eccv16Options:
    protocol: str = "reference"
    split: str = "kfold"
    budget: float = 0.15
    val_fraction: float = 0.2
    split_seed: int = 0
    rank: str = "otani"  # rank correlation protocol (see the module docstring)


@dataclass
class SumMeOptions(Eccv16Options):
    rank: str = "none"  # SumMe has no importance annotations; "csta" names the one convention in use


def _metadata(name: str, reduction: str) -> TaskMetadata:
    return TaskMetadata(
        name=name,
        version="1.0",
        kind="summarization",
        description=f"{name.upper() if name == 'summe' else 'TVSum'} from the eccv16 h5 (GoogLeNet pool5 at 2 fps); "
                    f"F-score {reduction} over annotators",
        main_score="fscore",
        higher_is_better={"fscore": True, "kendall": True, "spearman": True},
        leaderboard_metrics=("fscore", "kendall", "spearman"),
        protocol={
            "summary": "hold step scores over picks; shot score = mean over its frames; exact 0/1 knapsack",
            "budget": 0.15,
            "fscore_reduction": reduction,
            "variant": "reference",
            "split": "kfold",
            "selection": "val.fscore",
            "rank": RANKS[name][0],
        },
        citation="Zhang et al., ECCV 2016 (h5 packaging by K. Zhou); protocol: pytorch-vsumm-reinforce vsum_tools",
        data=f"eccv16_dataset_{name}_google_pool5.h5" + (" and ydata-tvsum50-anno.tsv" if name == "tvsum" else "")
             + " (see docs/data.md)",
    )


class Eccv16Task(Task):
    Options = Eccv16Options
    default_budget = TrainBudget(max_updates=4000, eval_every=50, patience=10, min_updates=300)
    reduction = "mean"

    @property
    def h5_name(self) -> str:
        return f"eccv16_dataset_{self.metadata.name}_google_pool5.h5"

    def protocol(self) -> dict:
        o = self.options
        return {**self.metadata.protocol, "variant": o.protocol, "split": o.split, "budget": o.budget, "rank": o.rank}

    def h5_path(self) -> Path:
        if self.data_root is None:
            raise TaskDataError(f"task {self.metadata.name!r} needs --data-root DIR holding {self.h5_name}")
        base = Path(self.data_root).expanduser()
        for candidate in (base, base / self.h5_name, base / self.metadata.name / self.h5_name):
            if candidate.is_file():
                return candidate
        raise TaskDataError(f"{base}: no {self.h5_name} there or in {base / self.metadata.name} "
                            "(see docs/data.md)")

    def load(self) -> TaskData:
        o = self.options
        if o.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {o.protocol!r}")
        if o.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {o.split!r}")
        ranks = RANKS[self.metadata.name]
        if o.rank not in ranks:
            raise ValueError(f"rank must be one of {ranks} for {self.metadata.name}, got {o.rank!r}")
        path = self.h5_path()
        with open_h5(path) as h5:
            episodes = {key: _read_video(h5[key], key, path) for key in sorted(h5.keys(), key=_natural)}
        if not episodes:
            raise TaskDataError(f"{path}: no videos")
        folds, split_source = self._folds(path, list(episodes)) if not self.scoring_only else ([], "none")
        hashes = {path.name: file_sha256(path)}
        if o.rank in ("otani", "ca-sum"):
            anno_path = path.parent / TVSUM_ANNOTATIONS
            if not anno_path.is_file():
                raise TaskDataError(f"{anno_path}: missing; rank={o.rank} needs the TVSum release's frame-level "
                                    "annotations beside the h5 (or --set rank=none for F-score only)")
            aligned = attach_annotations(episodes, read_tvsum_annotations(anno_path), anno_path)
            hashes[anno_path.name] = file_sha256(anno_path)
        else:
            aligned = {}
        if split_source not in ("kfold", "none"):
            hashes[Path(split_source).name] = file_sha256(Path(split_source))
        spec = TaskSpec((("googlenet", 1024),), ("importance",), self.metadata.kind)
        info = {"split_source": split_source, **({"annotation_frames_aligned": aligned} if aligned else {})}
        return TaskData(episodes, folds, spec, hashes, folds_sha256(folds), info=info)

    def _folds(self, h5_path: Path, ids: list[str]) -> tuple[list[Fold], str]:
        o = self.options
        if o.split == "kfold":
            return make_folds(ids, 5, o.val_fraction, o.split_seed), "kfold"
        name = self.metadata.name
        split_path = h5_path.parent / (f"{name}.yml" if o.split == "dsnet" else f"{name}_splits.json")
        if not split_path.is_file():
            raise TaskDataError(f"{split_path}: split={o.split} needs this published split file beside the h5")
        pairs = _read_dsnet_yml(split_path) if o.split == "dsnet" else _read_pgl_json(split_path)
        rng = np.random.default_rng(o.split_seed)
        folds = [fixed_test_fold(k, sorted(train, key=_natural), sorted(test, key=_natural), o.val_fraction, rng)
                 for k, (train, test) in enumerate(pairs)]
        check_folds(folds, ids, str(split_path))
        return folds, str(split_path)

    def scores_are_sequence_means(self) -> bool:
        return True  # every score is averaged over videos

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        from tasks.predictions import aligned_predictions

        preds = aligned_predictions(predictions, episodes)
        o = self.options
        rows = []
        for ep in episodes:
            m, scores = ep.meta, preds[ep.id][:, 0]
            summary = eccv16_protocols.machine_summary(scores, m["picks"], m["n_frames"], m["change_points"],
                                                       m["n_frame_per_seg"], o.budget, o.protocol)
            per_user = [eccv16_protocols.variant_fscore(summary, u, o.protocol) for u in m["user_summaries"]]
            row = {"fscore": float(np.mean(per_user) if self.reduction == "mean" else np.max(per_user))}
            rank = o.rank
            if rank == "csta":
                on_video = np.zeros(m["n_frames"])
                on_video[: min(len(summary), m["n_frames"])] = summary[: m["n_frames"]]
                row["kendall"], row["spearman"] = vsumm.rank_correlations(
                    on_video, m["user_summaries"].mean(0, keepdims=True))
            elif rank != "none":
                if "user_scores" not in m:
                    raise ValueError(f"video {ep.id!r} has no annotator scores for rank={rank}")
                frames = vsumm.frame_scores(scores, m["picks"], m["n_frames"])
                series, users = (frames, m["user_scores"]) if rank == "otani" else (scores, m["user_scores"][:, m["picks"]])
                row["kendall"], row["spearman"] = vsumm.rank_correlations(series, users)
            rows.append(row)
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}

    def evaluate_humans(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """Leave-one-annotator-out agreement (Otani et al.): F-score from the user summaries, and with
        ``rank=otani|ca-sum`` tau and rho from the annotators' scores on the same grid as the models'."""
        rows = []
        for ep in episodes:
            m, users = ep.meta, ep.meta["user_summaries"]
            if self.options.rank in ("otani", "ca-sum"):
                scores = m["user_scores"] if self.options.rank == "otani" else m["user_scores"][:, m["picks"]]
                rows.append(vsumm.human_agreement(scores, users, self.reduction))
            else:
                rows.append({"fscore": vsumm.human_fscore(users, self.reduction)})
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def read_tvsum_annotations(path: Path) -> list[tuple[str, np.ndarray]]:
    """``ydata-tvsum50-anno.tsv``: ``video_id <tab> category <tab> comma-separated frame scores``, one line
    per annotator; returns ``(video_id, scores [n_annotators, n_frames])`` in the file's video order."""
    rows: dict[str, list[np.ndarray]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise TaskDataError(f"{path}: line {number} has {len(parts)} tab-separated fields, expected 3 "
                                "(video_id, category, scores)")
        try:
            scores = np.array([float(v) for v in parts[2].split(",")])
        except ValueError as exc:
            raise TaskDataError(f"{path}: line {number} (video {parts[0]!r}): scores are not numbers ({exc})") from exc
        if not np.all(np.isfinite(scores)):
            raise TaskDataError(f"{path}: line {number} (video {parts[0]!r}): scores contain NaN or inf")
        rows.setdefault(parts[0], []).append(scores)
    out = []
    for vid, users in rows.items():
        if len({len(u) for u in users}) != 1:
            raise TaskDataError(f"{path}: video {vid!r}: annotators give different numbers of frames "
                                f"({sorted({len(u) for u in users})})")
        if len(users) < 2:
            raise TaskDataError(f"{path}: video {vid!r} has one annotator; rank correlation needs several")
        out.append((vid, np.stack(users)))
    return out


def attach_annotations(episodes: dict[str, Episode], annotations: list[tuple[str, np.ndarray]],
                       path: Path) -> dict[str, str]:
    """Give the h5's ``video_N`` the N-th video of the TSV. Frame counts that differ by at most
    ``FRAME_SLACK`` are aligned to the h5's (annotations cut, or their last frame repeated); returns what
    was aligned, per video, for the record. A larger difference means the two files disagree: refused."""
    if len(annotations) != len(episodes):
        raise TaskDataError(f"{path}: {len(annotations)} videos but the h5 has {len(episodes)}")
    aligned = {}
    for (key, ep), (vid, scores) in zip(episodes.items(), annotations):
        n, have = ep.meta["n_frames"], scores.shape[1]
        if abs(have - n) > FRAME_SLACK:
            raise TaskDataError(f"{path}: video {vid!r} has {have} annotated frames but the h5's {key!r} "
                                f"has n_frames={n} (the h5 and the TSV must list videos in the same order)")
        if have > n:
            scores = scores[:, :n]
            aligned[key] = f"{vid}: {have - n} annotated frame(s) past n_frames={n} dropped"
        elif have < n:
            scores = np.concatenate([scores, np.repeat(scores[:, -1:], n - have, axis=1)], axis=1)
            aligned[key] = f"{vid}: last annotated frame repeated {n - have} time(s) to n_frames={n}"
        ep.meta["user_scores"] = scores
        ep.meta["video_id"] = vid
    return aligned


def _natural(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key))


def _read_video(group, key: str, path: Path) -> Episode:
    where = f"{path}: video {key!r}"
    missing = [f for f in FIELDS if f not in group]
    if missing:
        raise TaskDataError(f"{where} is missing field(s) {', '.join(missing)}")
    feats = np.asarray(group["features"], dtype=np.float64)
    gtscore = np.asarray(group["gtscore"], dtype=np.float64)
    picks = np.asarray(group["picks"], dtype=np.int64)
    users = np.asarray(group["user_summary"])
    cps = np.asarray(group["change_points"], dtype=np.int64)
    nfps = np.asarray(group["n_frame_per_seg"], dtype=np.int64).reshape(-1)
    n_frames = int(np.asarray(group["n_frames"]))
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise TaskDataError(f"{where}: 'features' has shape {feats.shape}, expected (n_steps, dim)")
    if len(picks) != feats.shape[0]:
        raise TaskDataError(f"{where}: 'picks' has {len(picks)} entries but 'features' has {feats.shape[0]} steps")
    if gtscore.shape != (feats.shape[0],):
        raise TaskDataError(f"{where}: 'gtscore' has shape {gtscore.shape}, expected ({feats.shape[0]},)")
    for name, arr in (("features", feats), ("gtscore", gtscore)):
        if not np.all(np.isfinite(arr)):
            raise TaskDataError(f"{where}: '{name}' contains NaN or inf")
    if users.ndim != 2 or users.shape[1] != n_frames:
        raise TaskDataError(f"{where}: 'user_summary' has shape {users.shape}, expected (n_users, n_frames={n_frames})")
    if np.any(np.diff(picks) <= 0) or picks[0] < 0 or picks[-1] >= n_frames:
        raise TaskDataError(f"{where}: 'picks' must increase strictly within [0, n_frames={n_frames})")
    if cps.ndim != 2 or cps.shape[1] != 2 or cps[0, 0] != 0 or cps[-1, 1] < n_frames - 2 \
            or np.any(cps[1:, 0] != cps[:-1, 1] + 1) or np.any(cps[:, 1] < cps[:, 0]):
        raise TaskDataError(f"{where}: 'change_points' must be contiguous inclusive [start, end] rows from frame 0 "
                            f"to the last frame ({n_frames - 1})")
    lengths = cps[:, 1] - cps[:, 0] + 1
    if nfps.shape != lengths.shape or np.any(nfps != lengths):
        bad = int(np.argmax(nfps != lengths)) if nfps.shape == lengths.shape else None
        detail = (f"shot {bad} has {nfps[bad]} frames there but spans {lengths[bad]} in 'change_points'"
                  if bad is not None else f"{nfps.size} entries for {len(lengths)} shots")
        raise TaskDataError(f"{where}: 'n_frame_per_seg' disagrees with 'change_points' ({detail}); the "
                            "reference protocol weighs shots by 'n_frame_per_seg', so the file is ambiguous")
    # change points as stored (the last shot may end past the video: pgl-sum's budget is taken from it)
    return Episode(key, {"googlenet": feats.astype(np.float32)}, gtscore[:, None].astype(np.float32), {
        "picks": picks, "n_frames": n_frames, "change_points": cps, "n_frame_per_seg": nfps,
        "user_summaries": users > 0,
    })


def _read_dsnet_yml(path: Path) -> list[tuple[list[str], list[str]]]:
    """DSNet's split yml: a list of {train_keys: [...], test_keys: [...]} with 'dir/file.h5/video_N' keys."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
        return [([k.rsplit("/", 1)[-1] for k in s["train_keys"]], [k.rsplit("/", 1)[-1] for k in s["test_keys"]])
                for s in data]
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise TaskDataError(f"{path}: not a DSNet split file (a list of train_keys/test_keys) ({exc})") from exc


def _read_pgl_json(path: Path) -> list[tuple[list[str], list[str]]]:
    try:
        data = json.loads(path.read_text())
        return [(list(s["train_keys"]), list(s["test_keys"])) for s in data]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TaskDataError(f"{path}: not a PGL-SUM split file (a list of train_keys/test_keys) ({exc})") from exc


class TVSum(Eccv16Task):
    metadata = _metadata("tvsum", "mean")
    reduction = "mean"


class SumMe(Eccv16Task):
    Options = SumMeOptions
    metadata = _metadata("summe", "max")
    reduction = "max"
