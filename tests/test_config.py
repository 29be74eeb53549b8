import pytest

from baselines.lstm import LSTMOptions
from baselines.sequence_regressor import SequenceRegressorOptions
from benchmark.harness.config import ConfigError, config_hash, parse_overrides, resolve
from benchmark.api import NoOptions, TrainBudget
from tasks.synthetic import SynthAffectOptions


def res(*items, model=LSTMOptions, other=frozenset()):
    return resolve(parse_overrides(items), SynthAffectOptions, model, TrainBudget(max_updates=100, patience=3), other_model_keys=set(other))


def test_keys_route_to_train_task_and_model():
    r = res("epochs=4", "lag=17", "hidden=8", "noise=0.5", "model.layers=2")
    assert r.budget.epochs == 4 and r.budget.patience == 3
    assert r.task_options.lag == 17 and r.task_options.noise == 0.5
    assert r.model_options.hidden == 8 and r.model_options.layers == 2
    assert r.applied["task"] == {"lag": 17, "noise": 0.5}


def test_epochs_reaches_models_without_options():
    assert res("epochs=2", model=NoOptions).budget.epochs == 2


def test_unknown_key_suggests_close_names():
    with pytest.raises(ConfigError, match="unknown option 'hiden'.*Did you mean hidden"):
        res("hiden=3")
    with pytest.raises(ConfigError, match="unknown task option 'lagg'.*Did you mean lag"):
        res("task.lagg=3")


def test_key_of_another_model_in_the_run_is_skipped_not_an_error():
    r = res("layers=2", model=SequenceRegressorOptions, other={"layers"})
    assert r.applied["model"] == {}


@pytest.mark.parametrize("item, message", [
    ("lag=abc", "expected int, got 'abc'"),
    ("lag=1.5", "expected int"),
    ("noise=fast", "expected float"),
    ("max_updates=0", "max_updates must be >= 1"),
    ("epochs=-1", "epochs must be >= 0"),
    ("lag", "expected key=value"),
])
def test_bad_values(item, message):
    with pytest.raises(ConfigError, match=message):
        res(item)


def test_config_hash_is_order_independent_and_value_sensitive():
    assert config_hash({"a": 1, "b": {"c": 2}}) == config_hash({"b": {"c": 2}, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
