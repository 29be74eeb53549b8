"""tvsum/summe from the eccv16 h5: fixtures in the exact layout, protocol variants, splits, bad input."""

import shutil

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.api import TaskDataError
from tasks import vsumm
from tasks.eccv16 import Eccv16Options, SumMe, TVSum
from tasks.eccv16_protocols import machine_summary, variant_fscore


def variant_summary(frames, cps, n_frames, budget, variant):
    """One step per frame, so that step scores are frame scores."""
    return machine_summary(frames, np.arange(n_frames), n_frames, cps, cps[:, 1] - cps[:, 0] + 1, budget, variant)


def _greedy_user(frame_scores, cps, n_frames):
    """A user summary made without the code under test: best shots first while 15 % of the frames last."""
    chosen, used = np.zeros(n_frames, dtype=bool), 0
    for k in np.argsort([-frame_scores[s] for s, _ in cps], kind="stable"):
        s, e = cps[k]
        if used + e - s + 1 <= 0.15 * n_frames:
            chosen[s:e + 1], used = True, used + e - s + 1
    return chosen


def write_eccv16(path, n_videos=12, n_users=5, seed=0, mutate=None, anno=True):
    """An eccv16 h5 and, with ``anno``, a ``ydata-tvsum50-anno.tsv`` beside it (1-5 frame scores per user)."""
    rng = np.random.default_rng(seed)
    lines = []
    with h5py.File(path, "w") as h5:
        for i in range(1, n_videos + 1):
            g = h5.create_group(f"video_{i}")
            n_frames = int(rng.integers(300, 600))
            picks = np.arange(0, n_frames, 15)
            bounds = [0]
            while bounds[-1] < n_frames:
                bounds.append(min(n_frames, bounds[-1] + int(rng.integers(20, 60))))
            cps = np.array([[s, e - 1] for s, e in zip(bounds[:-1], bounds[1:])])
            lengths = cps[:, 1] - cps[:, 0] + 1
            importance = rng.uniform(size=len(cps))
            user_frames = [np.repeat(importance + rng.normal(0, 0.3, len(cps)), lengths) for _ in range(n_users)]
            users = np.stack([_greedy_user(u, cps, n_frames) for u in user_frames]).astype(np.float32)
            frame_imp = np.repeat(importance, lengths)
            g["features"] = rng.normal(size=(len(picks), 1024)).astype(np.float32) + frame_imp[picks, None]
            g["gtscore"] = frame_imp[picks].astype(np.float32)
            g["user_summary"] = users
            g["change_points"] = cps
            g["n_frame_per_seg"] = lengths
            g["n_frames"] = n_frames
            g["picks"] = picks
            g["n_steps"] = len(picks)
            g["video_name"] = f"video {i}"
            for u in user_frames:
                levels = np.clip(np.round(1 + 4 * (u - u.min()) / np.ptp(u)), 1, 5).astype(int)
                lines.append(f"vid{i:02d}\tVT\t{','.join(map(str, levels))}")
        if mutate is not None:
            mutate(h5)
    if anno:
        (path.parent / "ydata-tvsum50-anno.tsv").write_text("\n".join(lines) + "\n")
    return path


def load(cls, root, **opts):
    return cls(cls.Options(**opts), root).load()


def test_fixture_loads_and_the_oracle_scores_well(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    task = TVSum(Eccv16Options(), tmp_path)
    data = task.load()
    assert len(data.episodes) == 12 and len(data.folds) == 5
    assert list(data.episodes)[:3] == ["video_1", "video_2", "video_3"]  # natural order
    eps = list(data.episodes.values())
    good = task.evaluate({e.id: e.targets for e in eps}, eps)["fscore"]
    rng = np.random.default_rng(0)
    rand = task.evaluate({e.id: rng.uniform(size=e.length) for e in eps}, eps)["fscore"]
    assert good > rand + 0.04


def test_summe_reduces_by_max_tvsum_by_mean(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_summe_google_pool5.h5")
    shutil.copy(tmp_path / "eccv16_dataset_summe_google_pool5.h5", tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    s_task, t_task = SumMe(SumMe.Options(), tmp_path), TVSum(TVSum.Options(rank="none"), tmp_path)
    eps = list(s_task.load().episodes.values())
    preds = {e.id: e.targets for e in eps}
    assert s_task.evaluate(preds, eps)["fscore"] > t_task.evaluate(preds, eps)["fscore"]
    assert s_task.protocol()["fscore_reduction"] == "max" and t_task.protocol()["fscore_reduction"] == "mean"


def test_protocol_variants_differ_where_they_should():
    # last shot ends one frame early: PGL-SUM's budget is int(99 * 0.15) = 14, the reference's floor(15) = 15
    cps = np.array([[0, 13], [14, 28], [29, 98]])
    frames = np.concatenate([np.full(14, 0.5), np.full(15, 0.9), np.full(70, 0.1), [0.0]])
    ref = variant_summary(frames, cps, 100, 0.15, "reference")
    pgl = variant_summary(frames, cps, 100, 0.15, "pgl-sum")
    assert ref[14:29].all() and ref.sum() == 15
    assert pgl[:14].all() and pgl.sum() == 14
    # shot scores 0.5001 and 0.5009 both quantise to 500 under DSNet's int(1000 * mean): the tie keeps
    # the first shot, while the reference picks the better one
    cps = np.array([[0, 9], [10, 19], [20, 99]])
    frames = np.concatenate([np.full(10, 0.5001), np.full(10, 0.5009), np.zeros(80)])
    assert variant_summary(frames, cps, 100, 0.10, "reference")[10:20].all()
    assert variant_summary(frames, cps, 100, 0.10, "dsnet")[:10].all()


def test_pgl_sum_budget_comes_from_the_last_shot_as_stored_and_an_empty_summary_scores_zero():
    # the stored last shot ends past the video (frame 100 of 100): PGL-SUM's budget is int(101 * 0.15) = 15
    cps = np.array([[0, 14], [15, 29], [30, 100]])
    frames = np.concatenate([np.full(15, 0.9), np.full(15, 0.5), np.full(70, 0.1)])
    pgl = variant_summary(frames, cps, 100, 0.15, "pgl-sum")
    assert len(pgl) == 101 and pgl[:15].all() and pgl.sum() == 15
    # clipped to the video first, the budget would be int(100 * 0.15) = 15 as well; one frame less tips it
    cps = np.array([[0, 14], [15, 29], [30, 99]])
    assert variant_summary(frames, cps, 100, 0.14, "pgl-sum").sum() == 0  # int(100 * 0.14) = 14 < 15
    user = np.zeros(100, dtype=bool)
    user[:15] = True
    for variant in ("reference", "dsnet", "pgl-sum"):
        assert variant_fscore(np.zeros(100, dtype=bool), user, variant) == 0.0  # empty summary: F = 0


def test_n_frame_per_seg_must_agree_with_change_points(tmp_path):
    def mutate(h5):
        nfps = h5["video_3/n_frame_per_seg"][()]
        nfps[1] += 1
        _replace("video_3/n_frame_per_seg", nfps)(h5)

    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5", mutate=mutate)
    with pytest.raises(TaskDataError, match="video 'video_3': 'n_frame_per_seg' disagrees with 'change_points' "
                                            "\\(shot 1 has"):
        load(TVSum, tmp_path)


@pytest.mark.parametrize("delta, ok", [(1, True), (-2, True), (3, False)])
def test_tsv_frame_counts_within_two_frames_are_aligned_and_noted(tmp_path, delta, ok):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    tsv = tmp_path / "ydata-tvsum50-anno.tsv"
    lines = tsv.read_text().splitlines()
    fixed = []
    for line in lines:
        vid, cat, scores = line.split("\t")
        values = scores.split(",")
        if vid == "vid02":
            values = values[:delta] if delta < 0 else values + values[-1:] * delta
        fixed.append("\t".join([vid, cat, ",".join(values)]))
    tsv.write_text("\n".join(fixed) + "\n")
    if not ok:
        with pytest.raises(TaskDataError, match="video 'vid02' has .* annotated frames but the h5's 'video_2'"):
            load(TVSum, tmp_path)
        return
    data = load(TVSum, tmp_path)
    ep = data.episodes["video_2"]
    assert ep.meta["user_scores"].shape[1] == ep.meta["n_frames"]
    assert "video_2" in data.info["annotation_frames_aligned"]
    assert set(data.info["annotation_frames_aligned"]) == {"video_2"}


def test_published_splits_get_validation_carved_from_training(tmp_path, shared_data):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5", n_videos=50, n_users=2)
    for name in ("tvsum.yml", "tvsum_splits.json"):
        shutil.copy(shared_data / "tvsum" / name, tmp_path / name)
    for split in ("dsnet", "pgl-sum"):
        data = load(TVSum, tmp_path, split=split)
        assert len(data.folds) == 5
        for f in data.folds:
            assert len(f.test) == 10 and len(f.train) + len(f.val) == 40 and len(f.val) == 8
        tested = {v for f in data.folds for v in f.test}
        assert len(tested) < 50  # the legacy random splits never test some videos
    assert load(TVSum, tmp_path, split="dsnet").folds[0].test[0] == "video_1"


def test_missing_split_file_is_named(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    with pytest.raises(TaskDataError, match="tvsum.yml: split=dsnet needs this published split file"):
        load(TVSum, tmp_path, split="dsnet")


def _replace(key, value):
    def mutate(h5):
        del h5[key]
        h5[key] = value
    return mutate


def _nan_features(h5):
    x = h5["video_2/features"][()]
    x[0, 0] = np.nan
    _replace("video_2/features", x)(h5)


@pytest.mark.parametrize("mutate, message", [
    (lambda h5: h5["video_3"].__delitem__("gtscore"), "video 'video_3' is missing field\\(s\\) gtscore"),
    (lambda h5: _replace("video_4/picks", h5["video_4/picks"][()][:-1])(h5), "'picks' has .* entries but 'features' has"),
    (lambda h5: _replace("video_5/user_summary", h5["video_5/user_summary"][()][:, :-3])(h5), "'user_summary' has shape"),
    (lambda h5: _replace("video_6/change_points", h5["video_6/change_points"][()][:-1])(h5), "'change_points' must be contiguous"),
    (_nan_features, "video 'video_2': 'features' contains NaN"),
])
def test_bad_h5_is_named(tmp_path, mutate, message):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5", mutate=mutate)
    with pytest.raises(TaskDataError, match=message):
        load(TVSum, tmp_path)


def test_cli_run_on_fixture_records_the_variant(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_summe_google_pool5.h5")
    r = CliRunner().invoke(app, ["run", "--task", "summe", "--data-root", str(tmp_path), "--model", "mlp,random",
                                 "--folds", "0", "--set", "epochs=2", "--set", "protocol=dsnet",
                                 "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    t = CliRunner().invoke(app, ["table", "--results", str(tmp_path / "res")])
    assert "### summe [protocol=dsnet] (v1.0, test)" in t.output
    r = CliRunner().invoke(app, ["run", "--task", "summe", "--data-root", str(tmp_path), "--model", "mlp",
                                 "--set", "protocol=vasnet", "--results", str(tmp_path / "res")])
    assert r.exit_code == 2 and "protocol must be one of" in r.output


def _otani_by_hand(task, episodes, preds):
    """Otani et al. written out with SciPy: frame-held scores against each annotator, mean, mean."""
    from scipy import stats

    taus = []
    for e in episodes:
        frames = vsumm.frame_scores(preds[e.id][:, 0], e.meta["picks"], e.meta["n_frames"])
        taus.append(np.mean([stats.kendalltau(frames, u).statistic for u in e.meta["user_scores"]]))
    return float(np.mean(taus))


def test_tvsum_rank_correlation_follows_otani_on_frames(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    task = TVSum(TVSum.Options(), tmp_path)
    eps = list(task.load().episodes.values())
    assert eps[0].meta["video_id"] == "vid01" and eps[0].meta["user_scores"].shape == (5, eps[0].meta["n_frames"])
    oracle = {e.id: e.targets for e in eps}
    scores = task.evaluate(oracle, eps)
    assert scores["kendall"] == pytest.approx(_otani_by_hand(task, eps, oracle))
    assert scores["kendall"] > 0.4 and scores["spearman"] > scores["kendall"]
    rng = np.random.default_rng(1)
    rand = task.evaluate({e.id: rng.uniform(size=(e.length, 1)) for e in eps}, eps)
    assert abs(rand["kendall"]) < 0.05
    # the CA-SUM variant correlates at the sampled steps: close to, but not the same number as, Otani's
    ca = TVSum(TVSum.Options(rank="ca-sum"), tmp_path)
    ca_scores = ca.evaluate(oracle, list(ca.load().episodes.values()))
    assert ca_scores["kendall"] > 0.4 and ca_scores["kendall"] != pytest.approx(scores["kendall"], abs=1e-6)
    human = task.evaluate_humans(eps)
    assert set(human) == {"fscore", "kendall", "spearman"} and 0 < human["kendall"] < 1


def test_summe_rank_correlation_only_under_the_named_csta_convention(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_summe_google_pool5.h5", anno=False)
    plain = SumMe(SumMe.Options(), tmp_path)
    eps = list(plain.load().episodes.values())
    oracle = {e.id: e.targets for e in eps}
    assert set(plain.evaluate(oracle, eps)) == {"fscore"}
    csta = SumMe(SumMe.Options(rank="csta"), tmp_path)
    scores = csta.evaluate(oracle, eps)
    assert scores["kendall"] > 0.3 and scores["fscore"] == plain.evaluate(oracle, eps)["fscore"]
    with pytest.raises(ValueError, match="rank must be one of \\('csta', 'none'\\) for summe"):
        SumMe(SumMe.Options(rank="otani"), tmp_path).load()


def _rewrite_tsv(tmp_path, edit):
    path = tmp_path / "ydata-tvsum50-anno.tsv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


@pytest.mark.parametrize("edit, message", [
    (None, "ydata-tvsum50-anno.tsv: missing; rank=otani needs"),
    (lambda ls: ls[:-5], "11 videos but the h5 has 12"),
    (lambda ls: [ls[0].replace(",", ",x,", 1), *ls[1:]], "line 1 \\(video 'vid01'\\): scores are not numbers"),
    (lambda ls: [ls[0] + ",3", *ls[1:]], "video 'vid01': annotators give different numbers of frames"),
    (lambda ls: [ls[0].replace("\t", " ", 1), *ls[1:]], "line 1 has 2 tab-separated fields"),
    (lambda ls: [ls[0].replace(",", ",nan,", 1), *ls[1:]], "scores contain NaN"),
    (lambda ls: [*(l.rsplit(",", 5)[0] for l in ls[:5]), *ls[5:]], "video 'vid01' has .* annotated frames but"),
])
def test_bad_tvsum_annotations_are_named(tmp_path, edit, message):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    if edit is None:
        (tmp_path / "ydata-tvsum50-anno.tsv").unlink()
    else:
        _rewrite_tsv(tmp_path, edit)
    with pytest.raises(TaskDataError, match=message):
        load(TVSum, tmp_path)


def test_cli_tvsum_table_shows_fscore_tau_rho_beside_random_and_human(tmp_path):
    write_eccv16(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5")
    r = CliRunner().invoke(app, ["run", "--task", "tvsum", "--data-root", str(tmp_path), "--model", "mlp,random,human",
                                 "--folds", "0", "--set", "epochs=2", "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    t = CliRunner().invoke(app, ["table", "--results", str(tmp_path / "res")])
    assert "| model | seeds | folds/seed | fscore ↑ | kendall ↑ | spearman ↑ |" in t.output
    assert "human *(reference)*" in t.output and "random *(reference)*" in t.output


def test_score_needs_no_folds(tmp_path):
    """Six videos make no 5-fold split; scoring them needs none."""
    import json

    write_eccv16(tmp_path / "eccv16_dataset_summe_google_pool5.h5", n_videos=6)
    with h5py.File(tmp_path / "eccv16_dataset_summe_google_pool5.h5") as h5:
        preds = {k: h5[k]["gtscore"][()].tolist() for k in h5}
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    r = CliRunner().invoke(app, ["score", "--task", "summe", "--data-root", str(tmp_path), "--predictions",
                                 str(tmp_path / "preds.json"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["n_sequences"] == 6
