"""liris-accede: the real annotations (read in place, never copied) and fixtures in the official layout."""

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.api import TaskDataError
from tasks.liris_accede import LirisAccede, LirisOptions, list_movies, read_movie_annotations


def write_annotation(path, values, extra=0):
    rows = ["Time\tMean\tStd"] + [f"{t}\t{v:.6f}\t0.1" for t, v in enumerate(values)]
    rows += [f"{len(values) + i}\t0.0\t0.1" for i in range(extra)]
    path.write_text("\n".join(rows) + "\n")


def write_fixture(root, n_movies=8, segment_modality=True, seed=0):
    rng = np.random.default_rng(seed)
    ann = root / "continuous-annotations"
    ann.mkdir(parents=True)
    for i in range(n_movies):
        movie = f"Movie_{i}"
        T = int(rng.integers(40, 80))
        mood = np.tanh(np.cumsum(rng.normal(0, 0.2, (T, 2)), axis=0) / 3)
        write_annotation(ann / f"{movie}_Valence.txt", mood[:, 0])
        write_annotation(ann / f"{movie}_Arousal.txt", mood[:, 1], extra=2 if i == 1 else 0)  # release quirk
        feats = root / "features" / movie
        feats.mkdir(parents=True)
        np.save(feats / "audio.npy", np.concatenate([mood, rng.normal(size=(T, 4))], axis=1) + 0.1 * rng.normal(size=(T, 6)))
        np.save(feats / "face.npy", rng.normal(size=(T + 3, 3)))  # longer than annotated: fine
        if segment_modality:
            starts = np.arange(0, T, 5)
            np.savez(feats / "scene.npz", features=rng.normal(size=(len(starts), 2)), start=starts)
    return root


def test_fixture_loads_and_aligns(tmp_path):
    write_fixture(tmp_path / "liris_accede")
    data = LirisAccede(LirisOptions(), tmp_path).load()
    assert len(data.episodes) == 8 and len(data.folds) == 5
    assert data.spec.modalities == (("audio", 6), ("face", 3), ("scene", 2))
    assert data.info["seconds_dropped_in_alignment"] == {"Movie_1": 2}
    ep = data.episodes["Movie_1"]
    assert ep.targets.shape == (ep.length, 2) and ep.features["scene"].shape == (ep.length, 2)
    # per-segment features are held over the seconds of their segment
    assert np.array_equal(ep.features["scene"][0], ep.features["scene"][4])
    assert not np.array_equal(ep.features["scene"][4], ep.features["scene"][5])
    for f in data.folds:  # movie-level folds
        assert not set(f.train) & set(f.test) and not set(f.val) & set(f.test)


@pytest.mark.parametrize("breakage, message", [
    (lambda r: (r / "features" / "Movie_2" / "face.npy").unlink(), "movie 'Movie_2' has no features for modality 'face'"),
    (lambda r: np.save(r / "features" / "Movie_3" / "audio.npy", np.zeros((5, 6))), "5 rows do not cover the annotated seconds"),
    (lambda r: np.save(r / "features" / "Movie_4" / "audio.npy", np.full((90, 6), np.nan)), "movie 'Movie_4', modality 'audio'.*NaN"),
    (lambda r: (r / "continuous-annotations" / "Movie_0_Valence.txt").write_text("Time\tMean\tStd\n0\tabc\t1\n"),
     "Movie_0_Valence.txt:2: expected 'Time Mean Std'"),
    (lambda r: (r / "continuous-annotations" / "Movie_5_Arousal.txt").unlink(), "Movie_5_Arousal.txt: missing"),
    (lambda r: np.save(r / "features" / "Movie_1" / "face.npy", np.zeros((90, 7))), "modality 'face' has width 7"),
])
def test_malformed_inputs_are_named(tmp_path, breakage, message):
    root = write_fixture(tmp_path)
    breakage(root)
    with pytest.raises(TaskDataError, match=message):
        LirisAccede(LirisOptions(), root).load()


def test_missing_data_says_where_to_request_it(tmp_path):
    with pytest.raises(TaskDataError, match="signed license agreement.*liris-accede.ec-lyon.fr"):
        LirisAccede(LirisOptions(), tmp_path).load()


def test_cli_run_and_table_show_mse_and_r_for_valence_and_arousal(tmp_path):
    write_fixture(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["run", "--task", "liris-accede", "--data-root", str(tmp_path), "--model", "lstm,mean",
                            "--folds", "0", "--set", "epochs=2", "--set", "modalities=audio,face",
                            "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    t = runner.invoke(app, ["table", "--results", str(tmp_path / "res")])
    assert "mse/valence ↓ | pearson/valence ↑ | mse/arousal ↓ | pearson/arousal ↑" in t.output


def test_real_continuous_annotations(shared_data):
    folder = shared_data / "liris_accede" / "continuous-annotations"
    movies = list_movies(folder)
    assert len(movies) == 30
    total, dropped = 0, {}
    for movie in movies:
        seconds, targets, n = read_movie_annotations(folder, movie)
        assert np.all(np.diff(seconds) == 1) and np.abs(targets).max() <= 1.0
        total += len(seconds)
        if n:
            dropped[movie] = n
    assert len(dropped) == 9 and dropped["The_room_of_franz_kafka"] == 7
    assert 26_500 < total <= 26_574  # valence covers 26,574 s; alignment drops the seconds only one file has


def write_mediaeval18(root, ids=(0, 1, 2, 3, 54, 55), seed=0):
    from tasks.liris_accede import MediaEval18  # noqa: F401  (the layout below is what it reads)

    rng = np.random.default_rng(seed)
    for i in ids:
        part = "TestSet" if i >= 54 else "DevSet-Part1"
        folder = root / f"MEDIAEVAL18-{part}-Valence-Arousal" / "annotation"
        folder.mkdir(parents=True, exist_ok=True)
        T = int(rng.integers(30, 50))
        va = np.tanh(np.cumsum(rng.normal(0, 0.2, (T, 2)), axis=0) / 3)
        rows = ["Time\tMeanValence\tMeanArousal"] + [f"{t}\t{v:.5f}\t{a:.5f}" for t, (v, a) in enumerate(va)]
        (folder / f"MEDIAEVAL18_{i:02d}_Valence-Arousal.txt").write_text("\n".join(rows) + "\n")
        feats = root / "features" / f"MEDIAEVAL18_{i:02d}"
        feats.mkdir(parents=True)
        np.save(feats / "audio.npy", np.concatenate([va, rng.normal(size=(T, 2))], axis=1))
    return root


def test_mediaeval18_official_split(tmp_path):
    from tasks.liris_accede import MediaEval18

    write_mediaeval18(tmp_path)
    data = MediaEval18(LirisOptions(), tmp_path).load()
    (fold,) = data.folds
    assert fold.test == ("MEDIAEVAL18_54", "MEDIAEVAL18_55")
    assert len(fold.val) == 1 and len(fold.train) == 3
    r = CliRunner().invoke(app, ["run", "--task", "mediaeval18", "--data-root", str(tmp_path), "--model", "mean",
                                 "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output


def test_mediaeval18_bad_line_and_missing_test_set(tmp_path):
    from tasks.liris_accede import MediaEval18

    write_mediaeval18(tmp_path, ids=(0, 1, 2))
    with pytest.raises(TaskDataError, match="TestSet movies \\(54-65\\); found 3 and 0"):
        MediaEval18(LirisOptions(), tmp_path).load()
    bad = tmp_path / "MEDIAEVAL18-DevSet-Part1-Valence-Arousal" / "annotation" / "MEDIAEVAL18_01_Valence-Arousal.txt"
    bad.write_text("Time\tMeanValence\tMeanArousal\n0\t0.1\n")
    with pytest.raises(TaskDataError, match="MEDIAEVAL18_01_Valence-Arousal.txt:2: expected 'time valence arousal'"):
        MediaEval18(LirisOptions(), tmp_path).load()
