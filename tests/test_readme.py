"""The README's code is run as written: the GRU plugin of "Adding a model" and the HDF5 example."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.harness.registry import _REGISTRIES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def python_block(marker: str) -> str:
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        if marker in block:
            return block
    raise AssertionError(f"no python block with {marker!r} in README.md")


def test_readme_gru_plugin_runs_as_written(tmp_path):
    plugin = tmp_path / "my_gru.py"
    plugin.write_text(python_block("# my_gru.py"))
    try:
        r = CliRunner().invoke(app, ["run", "--plugin", str(plugin), "--task", "synth-affect", "--model", "gru",
                                     "--results", str(tmp_path / "res"), "--set", "n_sequences=12",
                                     "--set", "length=40", "--set", "lag=5", "--set", "epochs=2"])
        assert r.exit_code == 0, r.output
        assert "completed" in r.output
    finally:
        _REGISTRIES.clear()  # the plugin registered "gru" for this process only


def test_readme_hdf5_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(python_block('h5py.File("my.h5", "w")'), {})
    r = CliRunner().invoke(app, ["run", "--task", "generic", "--data-root", "my.h5", "--model", "mean",
                                 "--results", "res"])
    assert r.exit_code == 0, r.output
    assert r.output.count(": completed") == 5  # 5 default folds, one plain line each (no terminal here)


@pytest.mark.slow
def test_readme_gru_plugin_as_installed_entry_point(tmp_path):
    """An installed distribution (a dist-info with entry_points.txt on sys.path, exactly what pip
    leaves behind) is discovered through the rlbench.models group without --plugin."""
    import os
    import subprocess
    import sys

    (tmp_path / "my_gru.py").write_text(python_block("# my_gru.py"))
    dist = tmp_path / "my_gru-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-gru\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text('[rlbench.models]\ngru = my_gru:GRUModel\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listing = subprocess.run([sys.executable, "-m", "benchmark.cli", "models"], env=env, capture_output=True,
                             text=True, check=True)
    assert "gru" in listing.stdout and "plugin my-gru" in listing.stdout
    run = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--task", "synth-affect", "--model", "gru",
                          "--results", str(tmp_path / "res"), "--set", "n_sequences=12", "--set", "length=40",
                          "--set", "lag=5", "--set", "epochs=2"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "completed" in run.stdout
