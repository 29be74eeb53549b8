"""pmemo: fixtures in PMEmo2019's official CSV layout."""

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.api import TaskDataError
from benchmark.api import Episode
from tasks.pmemo import PMEmo, PMEmoOptions


def write_fixture(root, n_songs=9, n_features=4, seed=0, song_ids=None):
    rng = np.random.default_rng(seed)
    (root / "annotations").mkdir(parents=True)
    (root / "features").mkdir()
    ann = ["musicId,frameTime,Arousal(mean),Valence(mean)"]
    feat = ["musicId,frameTime," + ",".join(f"F{i}_sma_amean" for i in range(n_features))]
    for song in song_ids or range(1, n_songs + 1):
        T = int(rng.integers(20, 40))
        va = 0.5 + 0.4 * np.tanh(np.cumsum(rng.normal(0, 0.2, (T, 2)), axis=0) / 3)
        for i in range(T):
            t = 15.5 + 0.5 * i
            ann.append(f"{song},{t},{va[i, 1]:.4f},{va[i, 0]:.4f}")
            if not (song == 2 and i == T - 1):  # one annotated frame without features
                x = np.concatenate([va[i], rng.normal(size=n_features - 2)])
                feat.append(f"{song},{t}," + ",".join(f"{v:.5f}" for v in x))
    (root / "annotations" / "dynamic_annotations.csv").write_text("\n".join(ann) + "\n")
    (root / "features" / "dynamic_features.csv").write_text("\n".join(feat) + "\n")
    return root


def test_fixture_loads_song_level(tmp_path):
    write_fixture(tmp_path / "pmemo")
    data = PMEmo(PMEmoOptions(), tmp_path).load()
    assert sorted(data.episodes, key=int) == [str(i) for i in range(1, 10)]
    assert data.spec.modalities == (("audio", 4),) and data.spec.target_names == ("valence", "arousal")
    assert data.info["annotated_frames_without_features"] == {"2": 1}
    ep = data.episodes["1"]
    assert ep.meta["frame_time"][0] == 15.5 and np.all(np.diff(ep.meta["frame_time"]) == 0.5)
    for f in data.folds:
        assert not set(f.train) & set(f.test)


def test_rmse_across_segments_and_across_songs():
    def ep(eid, y):
        y = np.asarray(y, np.float32)
        return Episode(eid, {"audio": np.zeros((len(y), 1), np.float32)}, y)

    eps = [ep("a", [[0.0, 0.0], [0.0, 0.0]]), ep("b", [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])]
    preds = {"a": np.full((2, 2), 1.0), "b": np.zeros((4, 2))}
    s = PMEmo(PMEmoOptions()).evaluate(preds, eps)
    assert s["rmse"] == pytest.approx(np.sqrt(2 / 6))  # pooled over 6 frames, 2 of them off by 1
    assert s["rmse_per_song"] == pytest.approx(0.5)  # songs: 1 and 0


@pytest.mark.parametrize("breakage, message", [
    (lambda r: (r / "features" / "dynamic_features.csv").unlink(), "dynamic_features.csv: missing"),
    (lambda r: (r / "annotations" / "dynamic_annotations.csv").write_text("musicId,frameTime,Valence(mean)\n1,15.5,0.5\n"),
     "missing column\\(s\\) Arousal\\(mean\\)"),
    (lambda r: (r / "features" / "dynamic_features.csv").write_text(
        (r / "features" / "dynamic_features.csv").read_text().replace("\n3,", "\n3x,", 1)), "musicId and frameTime must be numbers"),
    (lambda r: (r / "features" / "dynamic_features.csv").write_text(
        "\n".join(ln for ln in (r / "features" / "dynamic_features.csv").read_text().splitlines() if not ln.startswith("5,")) + "\n"),
     "no features for song 5"),
    (lambda r: (r / "features" / "dynamic_features.csv").write_text(
        (r / "features" / "dynamic_features.csv").read_text().replace("\n4,15.5,", "\n4,15.5,nan,", 1)),
     "fields, the header has"),
])
def test_malformed_csvs_are_named(tmp_path, breakage, message):
    write_fixture(tmp_path)
    breakage(tmp_path)
    with pytest.raises(TaskDataError, match=message):
        PMEmo(PMEmoOptions(), tmp_path).load()


def test_cli_run_and_table(tmp_path):
    write_fixture(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["run", "--task", "pmemo", "--data-root", str(tmp_path), "--model", "lstm,mean",
                            "--folds", "0", "--set", "epochs=2", "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    t = runner.invoke(app, ["table", "--results", str(tmp_path / "res")])
    assert "rmse ↓ | rmse_per_song ↓ | rmse/valence ↓ | rmse_per_song/valence ↓ | rmse/arousal ↓" in t.output


def test_official_split_holds_out_the_datasets_own_test_songs(tmp_path):
    from tasks.pmemo import OFFICIAL_TEST_SONGS, PMEmo, PMEmoOptions

    assert len(OFFICIAL_TEST_SONGS) == 77 == len(set(OFFICIAL_TEST_SONGS))  # 10 % of 767 songs, rounded
    write_fixture(tmp_path, song_ids=[1, 2, 14, 3, 34, 4, 5, 51, 6, 7, 8, 9])  # 14, 34, 51 are official test songs
    task = PMEmo(PMEmoOptions(split="official"), tmp_path)
    data = task.load()
    (fold,) = data.folds
    assert sorted(fold.test, key=int) == ["14", "34", "51"]
    assert not set(fold.test) & set(fold.train + fold.val) and len(fold.train) + len(fold.val) == 9
    assert len(data.info["official_test_songs_missing"]) == 74
    assert task.protocol()["split"] == "official"
    with pytest.raises(ValueError, match="split must be one of kfold, official"):
        PMEmo(PMEmoOptions(split="random"), tmp_path).load()


def test_official_split_without_any_official_song_says_so(tmp_path):
    from tasks.pmemo import PMEmo, PMEmoOptions

    write_fixture(tmp_path, song_ids=[1, 2, 3])
    with pytest.raises(TaskDataError, match="none of the 77 official PMEmo test songs"):
        PMEmo(PMEmoOptions(split="official"), tmp_path).load()
