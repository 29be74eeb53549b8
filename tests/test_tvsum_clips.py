"""tvsum-clips: the adapter on fixtures in the exact UMT layout, and the real data when it is here."""

import json

import numpy as np
import pytest
from helpers import has_row
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.api import TaskDataError
from tasks import vsumm
from tasks.tvsum_clips import TVSumClips, TVSumClipsOptions, kts_shots


def write_fixture(root, n_videos=8, extra_audio_row="v1", seed=0):
    """A tiny TVSum release: tvsum_anno.json, video_features/<id>_{rgb,opt}.npy, audio_features/<id>.npy."""
    rng = np.random.default_rng(seed)
    (root / "video_features").mkdir(parents=True)
    (root / "audio_features").mkdir()
    anno = {}
    for i in range(n_videos):
        vid, n = f"v{i}", int(rng.integers(12, 30))
        importance = rng.uniform(1, 5, n)
        ratings = np.clip(np.round(importance[:, None] + rng.normal(0, 0.7, (n, 5))), 1, 5)
        anno[vid] = {"fps": 30.0, "frames": str(n * 60), "domain": "VT", "anno": ratings.tolist()}
        rgb = rng.normal(size=(n, 1024)) + importance[:, None] * 0.3
        np.save(root / "video_features" / f"{vid}_rgb.npy", rgb)
        np.save(root / "video_features" / f"{vid}_opt.npy", rng.normal(size=(n, 1024)))
        rows = n + 1 if vid == extra_audio_row else n
        np.save(root / "audio_features" / f"{vid}.npy", rng.normal(size=(rows, 2048)).astype(np.float32))
    (root / "tvsum_anno.json").write_text(json.dumps(anno))
    return root


def test_fixture_loads_with_the_audio_quirk(tmp_path):
    write_fixture(tmp_path / "tvsum")
    data = TVSumClips(TVSumClipsOptions(), tmp_path).load()  # found under <data-root>/tvsum
    assert len(data.episodes) == 8 and len(data.folds) == 5
    assert data.info["audio_rows_trimmed"] == {"v1": 1}
    ep = data.episodes["v1"]
    assert ep.features["audio"].shape[0] == ep.length and ep.meta["user_scores"].shape == (5, ep.length)
    cps = ep.meta["change_points"]
    assert cps[0, 0] == 0 and cps[-1, 1] == ep.length - 1 and np.all(cps[1:, 0] == cps[:-1, 1] + 1)
    assert np.all(ep.meta["user_summaries"].sum(1) <= int(0.15 * ep.length))
    assert ep.targets.min() >= 0 and ep.targets.max() <= 1
    assert set(data.data_sha256) == {"tvsum_anno.json", "features"}


def test_kts_shots_cover_the_video():
    x = np.concatenate([np.ones((10, 4)), -np.ones((10, 4)), np.ones((10, 4)) * [1, -1, 1, -1]])
    cps = kts_shots(x + 0.01 * np.random.default_rng(0).normal(size=x.shape), mean_length=10)
    assert cps.tolist() == [[0, 9], [10, 19], [20, 29]]
    assert kts_shots(np.ones((2, 3)), 5).tolist() == [[0, 1]]


def _break(root, what):
    if what == "missing_flow":
        (root / "video_features" / "v3_opt.npy").unlink()
    elif what == "short_rgb":
        np.save(root / "video_features" / "v2_rgb.npy", np.zeros((3, 1024)))
    elif what == "nan_audio":
        a = np.load(root / "audio_features" / "v4.npy")
        a[0, 0] = np.nan
        np.save(root / "audio_features" / "v4.npy", a)
    elif what == "bad_json":
        (root / "tvsum_anno.json").write_text("{oops")
    elif what == "no_anno":
        d = json.loads((root / "tvsum_anno.json").read_text())
        del d["v5"]["anno"]
        (root / "tvsum_anno.json").write_text(json.dumps(d))


@pytest.mark.parametrize("what, message", [
    ("missing_flow", "v3_opt.npy: missing \\(flow features of video 'v3'\\)"),
    ("short_rgb", "v2_rgb.npy: 3 rows but video 'v2' has"),
    ("nan_audio", "v4.npy: contains NaN"),
    ("bad_json", "tvsum_anno.json: not valid JSON"),
    ("no_anno", "video 'v5' has no 'anno' ratings"),
])
def test_malformed_release_is_named(tmp_path, what, message):
    root = write_fixture(tmp_path)
    _break(root, what)
    with pytest.raises(TaskDataError, match=message):
        TVSumClips(TVSumClipsOptions(), root).load()


def test_missing_data_root_says_where_to_look(tmp_path):
    with pytest.raises(TaskDataError, match="no tvsum_anno.json"):
        TVSumClips(TVSumClipsOptions(), tmp_path).load()


def test_cli_run_and_table_on_fixture(tmp_path):
    write_fixture(tmp_path / "tvsum")
    runner = CliRunner()
    r = runner.invoke(app, ["run", "--task", "tvsum-clips", "--data-root", str(tmp_path), "--model",
                            "lstm,random,human", "--folds", "0", "--set", "epochs=2", "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    t = runner.invoke(app, ["table", "--results", str(tmp_path / "res")])
    assert "kendall ↑ | spearman ↑ | fscore ↑" in t.output
    assert "human *(reference)*" in t.output and "random *(reference)*" in t.output and has_row(t.output, "lstm [epochs=2]")


@pytest.mark.slow
def test_real_tvsum_reproduces_otani_human_and_random(shared_data):
    task = TVSumClips(TVSumClipsOptions(), shared_data / "tvsum")
    data = task.load()
    eps = list(data.episodes.values())
    assert len(eps) == 50 and sum(e.length for e in eps) == 6266
    assert data.info["audio_rows_trimmed"] == {"kLxoNp-UchI": 1}
    human = task.evaluate_humans(eps)
    # Otani et al. (CVPR 2019) report human tau = 0.177, rho = 0.204 on TVSum
    assert human["kendall"] == pytest.approx(0.177, abs=0.0005)
    assert human["spearman"] == pytest.approx(0.204, abs=0.0005)
    draws = [task.evaluate({e.id: np.random.default_rng(s).uniform(size=e.length) for e in eps}, eps)
             for s in range(5)]
    assert abs(np.mean([d["kendall"] for d in draws])) < 0.01
    assert abs(np.mean([d["spearman"] for d in draws])) < 0.015
    # the annotators' references break ties at random: a constant prediction, whose knapsack keeps the
    # earlier of tied shots, gains nothing over one that keeps the later (with earlier-first references it
    # scored 0.499 against 0.438), and no longer beats the annotators themselves
    ramp = {d: task.evaluate({e.id: (0.5 + d * 1e-9 * np.arange(e.length))[:, None] for e in eps}, eps)["fscore"]
            for d in (-1, 1)}
    constant = task.evaluate({e.id: np.full((e.length, 1), 0.5) for e in eps}, eps)["fscore"]
    assert abs(ramp[1] - ramp[-1]) < 0.02 and constant < human["fscore"]


@pytest.mark.slow
def test_frame_level_rank_correlation_holds_clips_over_their_frames(tmp_path):
    root = write_fixture(tmp_path / "tvsum", n_videos=8)
    anno = json.loads((root / "tvsum_anno.json").read_text())
    rng = np.random.default_rng(1)
    lines = []
    for vid, entry in anno.items():
        n_frames = int(entry["frames"]) + 7  # a tail shorter than a clip, held at the last clip's score
        for _ in range(5):
            lines.append(f"{vid}\tVT\t" + ",".join(str(int(v)) for v in rng.integers(1, 6, n_frames)))
    (root / "ydata-tvsum50-anno.tsv").write_text("\n".join(lines) + "\n")
    task = TVSumClips(TVSumClipsOptions(rank="frames"), tmp_path)
    data = task.load()
    ep = data.episodes["v0"]
    assert ep.meta["frame_clip"][:61].tolist() == [0] * 60 + [1]  # 30 fps: 60 frames per 2-s clip
    assert ep.meta["frame_clip"][-1] == ep.length - 1
    eps = list(data.episodes.values())
    preds = {e.id: e.targets for e in eps}
    scores = task.evaluate(preds, eps)
    clip_level = TVSumClips(TVSumClipsOptions(), tmp_path).evaluate(preds, eps)
    assert scores["kendall/clips"] == clip_level["kendall"] and scores["fscore"] == clip_level["fscore"]
    frames = [vsumm.rank_correlations(e.targets[e.meta["frame_clip"], 0], e.meta["user_frame_scores"]) for e in eps]
    assert scores["kendall"] == pytest.approx(np.mean([f[0] for f in frames]))
    human = task.evaluate_humans(eps)
    assert set(human) == set(scores) and -1 <= human["kendall"] <= 1
    (root / "ydata-tvsum50-anno.tsv").unlink()
    with pytest.raises(TaskDataError, match="ydata-tvsum50-anno.tsv: missing; rank=frames needs"):
        TVSumClips(TVSumClipsOptions(rank="frames"), tmp_path).load()


@pytest.mark.slow
def test_real_tvsum_frame_level_human_row(shared_data):
    task = TVSumClips(TVSumClipsOptions(rank="frames"), shared_data / "tvsum")
    data = task.load()
    assert data.info["frame_count_differences"] == {
        "Se3oxnaPsz0": "4165 annotated frames; tvsum_anno.json says 4166",
        "WG0MBPpPC6I": "9534 annotated frames; tvsum_anno.json says 9535"}
    eps = list(data.episodes.values())
    assert sum(e.meta["user_frame_scores"].shape[1] for e in eps) == 352_353
    assert {e.meta["user_frame_scores"].shape[0] for e in eps} == {20}
    human = task.evaluate_humans(eps[:10])
    assert human["kendall"] == pytest.approx(human["kendall/clips"], abs=0.01)  # frames hold the clips' ratings


def test_score_command(tmp_path):
    write_fixture(tmp_path / "tvsum")
    data = TVSumClips(TVSumClipsOptions(), tmp_path).load()
    preds = {vid: ep.targets[:, 0].tolist() for vid, ep in list(data.episodes.items())[:3]}
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(preds))
    runner = CliRunner()
    r = runner.invoke(app, ["score", "--task", "tvsum-clips", "--data-root", str(tmp_path), "--predictions", str(path)])
    assert r.exit_code == 2 and "predictions for 3 of the task's 8 sequences" in r.output and "--allow-partial" in r.output
    r = runner.invoke(app, ["score", "--task", "tvsum-clips", "--data-root", str(tmp_path), "--predictions", str(path),
                            "--json", "--allow-partial"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["n_sequences"] == 3 and out["n_task_sequences"] == 8
    assert set(out["scores"]) == {"fscore", "kendall", "spearman"}
    assert out["scores"]["kendall"] > 0.3  # the mean rating ranks like the annotators
    for bad, message in [
        ({"v0": [0.1, 0.2]}, "sequence 'v0' has 2 predicted steps, expected"),
        ({"v77": [0.1]}, "unknown sequence id(s) for task 'tvsum-clips', first 'v77' (did you mean 'v7'"),
        ({"v0": [float("nan")] * data.episodes["v0"].length}, "NaN"),
    ]:
        path.write_text(json.dumps(bad).replace("NaN", "NaN"))
        r = runner.invoke(app, ["score", "--task", "tvsum-clips", "--data-root", str(tmp_path), "--predictions", str(path),
                                "--allow-partial"])
        assert r.exit_code == 2 and message in r.output, r.output
    r = runner.invoke(app, ["score", "--task", "tvsum-clips", "--data-root", str(tmp_path), "--predictions", str(path),
                            "--set", "epochs=3"])
    assert r.exit_code == 2 and "unknown option 'epochs'" in r.output and "Known: budget" in r.output
    path.write_text("[1, 2]")
    r = runner.invoke(app, ["score", "--task", "tvsum-clips", "--data-root", str(tmp_path), "--predictions", str(path)])
    assert r.exit_code == 2 and "expected a JSON object" in r.output


def test_data_info_and_verify(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["data", "verify", "tvsum-clips", "--data-root", str(tmp_path)])
    assert r.exit_code == 1 and "status: NOT USABLE" in r.output and "no tvsum_anno.json" in r.output
    r = runner.invoke(app, ["data", "info", "tvsum-clips", "--data-root", str(tmp_path)])
    assert r.exit_code == 0 and "expected layout:" in r.output and "video_features/<ytid>_rgb.npy" in r.output
    write_fixture(tmp_path / "tvsum")
    r = runner.invoke(app, ["data", "verify", "tvsum-clips", "--data-root", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "status: OK" in r.output and "sequences: 8" in r.output and "sha256 tvsum_anno.json:" in r.output
    assert "'audio_rows_trimmed': {'v1': 1}" in r.output
