"""Registries: lazy built-ins, entry-point plugins, broken plugins isolated, did-you-mean errors."""

from importlib.metadata import EntryPoint

import pytest
from typer.testing import CliRunner

import benchmark.harness.registry as registry_mod

from benchmark.cli import app
from benchmark.harness.registry import Registry, RegistryError, import_plugin


@pytest.fixture
def fake_plugins(monkeypatch, tmp_path):
    """Two installed plugins in the rlbench.models group: one good, one whose module is missing."""
    (tmp_path / "good_plugin.py").write_text(
        "from baselines.reference import MeanModel\n"
        "class Median(MeanModel):\n    'median floor from a plugin'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [EntryPoint("median", "good_plugin:Median", "rlbench.models"),
           EntryPoint("broken", "no_such_module_xyz:Thing", "rlbench.models"),
           EntryPoint("lstm", "good_plugin:Median", "rlbench.models")]
    monkeypatch.setattr(registry_mod, "entry_points", lambda group: [e for e in eps if e.group == group])
    monkeypatch.setattr(registry_mod, "_REGISTRIES", {})
    yield
    registry_mod._REGISTRIES.clear()


def test_lookup_is_lazy_and_unknown_names_suggest():
    reg = Registry("model", "rlbench.none", {"lstm": ("baselines.lstm:LSTMModel", "x"), "mlp": ("baselines.mlp:MLPModel", "y")})
    assert [e.name for e in reg.entries()] == ["lstm", "mlp"]
    assert reg.entry("lstm")._loaded is None  # not imported by listing
    with pytest.raises(RegistryError, match="unknown model 'lsmt'. Did you mean 'lstm'"):
        reg.get("lsmt")
    assert reg.get("lstm").__name__ == "LSTMModel"


def test_entry_point_plugins_are_registered_and_broken_ones_reported(fake_plugins):
    reg = registry_mod.model_registry()
    assert reg.get("median").__name__ == "Median"
    assert reg.entry("median").source == "plugin"
    with pytest.raises(RegistryError, match="'broken' .*no_such_module_xyz.* failed to import"):
        reg.get("broken")
    assert reg.get("lstm").__name__ == "LSTMModel"  # a plugin cannot shadow a built-in
    assert any("already provided by built-in" in w for w in reg.warnings)


def test_models_listing_survives_a_broken_plugin(fake_plugins):
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 0
    assert "median" in r.output and "broken" in r.output and "failed to import" in r.output
    assert "lstm" in r.output


def test_run_with_a_broken_plugin_installed_still_runs_others(fake_plugins, tmp_path):
    r = CliRunner().invoke(app, ["run", "--task", "synth-affect", "--model", "median", "--results", str(tmp_path),
                                 "--set", "n_sequences=10", "--set", "length=30", "--set", "lag=5"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["run", "--task", "synth-affect", "--model", "broken", "--results", str(tmp_path)])
    assert r.exit_code == 2 and "'broken'" in r.output and "failed to import" in r.output


def test_plugin_file_import_errors_are_named(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise ImportError('needs foo')\n")
    with pytest.raises(RegistryError, match="--plugin .*bad.py failed to import: ImportError: needs foo"):
        import_plugin(str(bad))


def test_a_plugin_that_overrides_evaluate_is_refused_by_name(tmp_path):
    """Validation, test and the test-set resamples are all scored through scorer; an evaluate override
    would be silently bypassed, so it is an import error that says what to override instead."""
    plugin = tmp_path / "own_scores.py"
    plugin.write_text("from baselines.reference import MeanModel\n"
                      "class OwnScores(MeanModel):\n"
                      "    def evaluate(self, task, episodes):\n"
                      "        return {'mae': 0.0}\n"
                      "RLBENCH_MODELS = {'own-scores': OwnScores}\n")
    with pytest.raises(RegistryError, match=r"own_scores.py failed to import: TypeError: .*OwnScores overrides "
                                            r"Model.evaluate.*override scorer\(task, episodes\)"):
        import_plugin(str(plugin))
