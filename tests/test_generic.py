"""The generic HDF5 layout: a valid file runs end to end; each malformed variant is named clearly."""

import json

import numpy as np
import pytest
from helpers import write_generic
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.api import TaskDataError
from tasks.generic import GenericOptions, GenericTask


def load(path, **opts):
    return GenericTask(GenericOptions(**opts), path).load()


def test_valid_file_loads_with_default_folds(tmp_path):
    data = load(write_generic(tmp_path / "my.h5"))
    assert len(data.episodes) == 12 and len(data.folds) == 5
    assert data.spec.modalities == (("audio", 3), ("face", 2)) and data.spec.target_names == ("y0", "y1")
    assert "my.h5" in data.data_sha256


def test_splits_attribute_is_used(tmp_path):
    splits = {"folds": [{"train": [f"s{i:02d}" for i in range(8)], "val": ["s08", "s09"], "test": ["s10", "s11"]}]}
    data = load(write_generic(tmp_path / "my.h5", splits=splits))
    assert len(data.folds) == 1 and data.folds[0].test == ("s10", "s11")


def _del(key):
    def mutate(h5):
        del h5[key]
    return mutate


def _set(key, value):
    def mutate(h5):
        del h5[key]
        h5[key] = value
    return mutate


def _attr(name, value):
    def mutate(h5):
        if value is None:
            del h5.attrs[name]
        else:
            h5.attrs[name] = value
    return mutate


def _ragged(h5):
    del h5["s03/features/face"]
    h5["s03/features/face"] = np.zeros((h5["s03/targets"].shape[0] + 1, 2))


def _nan(h5):
    x = h5["s05/features/audio"][()]
    x[2, 1] = np.nan
    del h5["s05/features/audio"]
    h5["s05/features/audio"] = x


def _empty(h5):
    for name in ("audio", "face"):
        del h5[f"s02/features/{name}"]
        h5[f"s02/features/{name}"] = np.zeros((0, 3 if name == "audio" else 2))
    del h5["s02/targets"]
    h5["s02/targets"] = np.zeros((0, 2))


def _extra_modality(h5):
    n = h5["s07/targets"].shape[0]
    h5["s07/features/pose"] = np.zeros((n, 4))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_del("s01/features"), "sequence 's01' has no group 'features'"),
        (_del("s01/targets"), "sequence 's01' has no dataset 'targets'"),
        (_ragged, "sequence 's03': features/face has .* steps but 'targets' has .* \\(ragged T\\)"),
        (_nan, "sequence 's05': features/audio contains NaN or inf"),
        (_set("s04/targets", np.zeros(9)), "sequence 's04': 'targets' has rank 1"),
        (_set("s04/features/audio", np.zeros((9, 2, 2))), "sequence 's04': features/audio has rank 3"),
        (_set("s06/targets", np.zeros((9, 3))), "'targets' has 3 columns but 'target_names' names 2"),
        (_empty, "sequence 's02' is empty"),
        (_attr("target_names", None), "missing root attribute 'target_names'"),
        (_attr("splits", "{not json"), "attribute 'splits' is not valid JSON"),
        (_attr("splits", json.dumps({"folds": [{"train": ["s00"], "val": ["s01"], "test": ["zz"]}]})),
         "unknown sequence"),
        (_attr("splits", json.dumps({"folds": [{"train": ["s00", "s01"], "val": ["s02"], "test": ["s01"]}]})),
         "train and test overlap"),
        (_extra_modality, "sequence 's07' has modalities"),
    ],
)
def test_malformed_files_are_rejected_by_name(tmp_path, mutate, message):
    path = write_generic(tmp_path / "bad.h5", mutate=mutate)
    with pytest.raises(TaskDataError, match=message) as info:
        load(path)
    assert "bad.h5" in str(info.value)


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(TaskDataError, match="no such file"):
        load(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("hello")
    with pytest.raises(TaskDataError, match="not a readable HDF5 file"):
        load(junk)


def test_cli_runs_generic_and_rejects_bad_file_cleanly(tmp_path):
    good = write_generic(tmp_path / "my.h5")
    runner = CliRunner()
    res = runner.invoke(app, ["run", "--task", "generic", "--data-root", str(good), "--model", "lstm,mean",
                              "--folds", "0", "--set", "epochs=2", "--results", str(tmp_path / "res")])
    assert res.exit_code == 0, res.output
    table = runner.invoke(app, ["table", "--results", str(tmp_path / "res")])
    assert "generic" in table.output and "lstm" in table.output and "mean" in table.output

    bad = write_generic(tmp_path / "bad.h5", mutate=_nan)
    res = runner.invoke(app, ["run", "--task", "generic", "--data-root", str(bad), "--model", "lstm",
                              "--results", str(tmp_path / "res2")])
    assert res.exit_code == 2
    assert "sequence 's05': features/audio contains NaN or inf" in res.output
    assert "Traceback" not in res.output
