"""rlmem and the baselines at length: the fused step, the replay ratio, streaming, chunked BPTT, devices,
out-of-memory cells and million-step data (the CPU side; tests/gpu/check.py exercises CUDA)."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY_AFFECT
from typer.testing import CliRunner

import rlmem.model as rlmem_model
from baselines.lstm import LSTMNet
from benchmark.cli import app
from benchmark.api import NullLog, TrainBudget
from benchmark.api import Selector
from rlmem.memory import ActionLayout
from rlmem.model import MemNetBPTTModel, RLMemModel
from rlmem.options import MemoryNetOptions, RLMemOptions
from rlmem.networks import Actor
from rlmem.step import StepRunner, exploration_step, greedy_step
from tasks.synthetic import SynthAffect, SynthAffectOptions

runner = CliRunner()


def tiny(n=16, length=50, lag=5):
    task = SynthAffect(SynthAffectOptions(n_sequences=n, length=length, lag=lag))
    data = task.load()
    f = data.folds[0]
    return task, data, data.episodes_of(f.train), data.episodes_of(f.val)


def test_the_fused_step_is_the_unfused_one_and_the_runner_runs_it_eagerly_on_cpu():
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor = Actor(5, layout, 8, 3.0)
    x, memory, noise = torch.randn(6, 5), torch.randn(6, 4, 3), 0.3 * torch.randn(6, layout.size)
    action, after = exploration_step(actor, layout, x, memory, noise)
    expected = layout.project(actor(x, memory) + noise)
    assert torch.equal(action, expected) and torch.equal(after, layout.apply(memory, expected))
    (greedy,) = greedy_step(actor, layout, x, memory)
    assert torch.equal(greedy, layout.apply(memory, actor(x, memory)))
    run = StepRunner(lambda x, m, n: exploration_step(actor, layout, x, m, n), capture=True)
    with torch.no_grad():  # on the CPU a runner asked to capture runs eagerly: same numbers
        got = run(x, memory, noise)
    assert not run.graphs and all(torch.equal(a, b) for a, b in zip(got, (action, after)))


def test_a_chunk_of_steps_matches_a_step_by_step_rollout():
    """The training loop's chunk (noise drawn for the chunk at once, the step fused) writes exactly what
    the step-by-step composition of actor, noise, projection and write gives."""
    task, data, train, val = tiny()
    model = RLMemModel(RLMemOptions(chunk=8, warmup=10**9), data.spec, seed=0)  # no DDPG: the actor stays put
    model.scaler.fit(train)
    seen = {}
    original = model._store_chunk

    def spy(replay, chunk, following):
        seen.setdefault("chunk", (chunk["x"].clone(), chunk["memory"].clone(), chunk["action"].clone()))
        return original(replay, chunk, following)

    model._store_chunk = spy
    batch = train[:4]
    noise = rlmem_model.make_noise("gaussian", 0.05, torch.Generator().manual_seed(1))
    replay = rlmem_model.TrajectoryReplay(1000, 8, model.replay_fields(), torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(model.net["encoder"].parameters(), lr=0.0)  # nothing moves
    updates = model._batch_updates(batch, noise, replay, optimizer, list(model.net["encoder"].parameters()))
    next(updates)
    next(updates)  # the first chunk is stored once the second has begun
    xd, before, actions = seen["chunk"]
    eps = rlmem_model.make_noise("gaussian", 0.05, torch.Generator().manual_seed(1)).sample(8, (4, model.layout.size))
    memory = model.initial_memory(4).detach()
    with torch.no_grad():
        for j in range(8):
            assert torch.allclose(before[:, j], memory, atol=1e-6)
            action = model.layout.project(model.net["actor"](xd[:, j], memory) + eps[j])
            assert torch.allclose(actions[:, j], action, atol=1e-6)
            memory = model.layout.apply(memory, action)


def _fit(model, task, train, val, **budget):
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, 100)
    return model.fit(train, val, TrainBudget(**budget), sel, NullLog())


@pytest.mark.slow
@pytest.mark.parametrize("ratio", [1.0, 4.0])
def test_ddpg_updates_follow_the_replay_ratio_whatever_the_batch(ratio):
    task, data, train, val = tiny()
    calls = []
    model = RLMemModel(RLMemOptions(chunk=16, warmup=0, rl_batch_size=32, replay_ratio=ratio, batch_size=4),
                       data.spec, seed=0)
    original = model.ddpg.update
    model.ddpg.update = lambda *a: calls.append(1) or original(*a)
    info = _fit(model, task, train, val, epochs=1)
    stored = info.diagnostics["transitions_stored"]
    assert stored == sum(e.length for e in train)  # every step of every sequence, once
    # the first chunk of 4 x 16 = 64 >= 32 transitions already makes the replay eligible
    assert len(calls) == info.diagnostics["ddpg_updates"] == int(stored * ratio // 32)


@pytest.mark.slow
def test_a_chunk_is_stored_in_one_call():
    task, data, train, val = tiny()
    model = RLMemModel(RLMemOptions(chunk=10, warmup=10**9, batch_size=4), data.spec, seed=0)
    adds = []
    original = rlmem_model.TrajectoryReplay.add

    def spy(self, **batch):
        adds.append(len(batch["x"]))
        return original(self, **batch)

    rlmem_model.TrajectoryReplay.add = spy
    try:
        _fit(model, task, train, val, epochs=1)
    finally:
        rlmem_model.TrajectoryReplay.add = original
    batches, chunks = -(-len(train) // 4), -(-50 // 10)
    assert len(adds) == batches * chunks  # one call per chunk


def test_predictions_stream_through_windows_with_the_memory_carried(monkeypatch):
    task, data, train, val = tiny(n=12, length=60)
    for cls, options in ((RLMemModel, RLMemOptions()), (MemNetBPTTModel, MemoryNetOptions(segment_length=2))):
        model = cls(options, data.spec, seed=0)
        model.scaler.fit(train)
        whole = model.predict(val)
        monkeypatch.setattr(rlmem_model, "EVAL_WINDOW", 7)  # 60 steps in windows of 7 segments
        streamed = model.predict(val)
        monkeypatch.setattr(rlmem_model, "EVAL_WINDOW", 2048)
        for k in whole:
            np.testing.assert_allclose(streamed[k], whole[k], atol=1e-6)


def test_chunked_lstm_gives_the_one_call_gradient():
    torch.manual_seed(0)
    x = torch.randn(3, 50, 4)
    grads = []
    for chunk in (50, 7):
        torch.manual_seed(1)
        net = LSTMNet(4, 8, 2, 2, chunk_steps=chunk)
        net(x).pow(2).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_device_is_resolved_recorded_and_cuda_without_a_gpu_is_refused(tmp_path):
    sets = [a for s in TINY_AFFECT for a in ("--set", s)]
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "mlp,mean", "--device", "auto",
                            "--results", str(tmp_path), *sets])
    assert r.exit_code == 0, r.output
    recs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text()) for p in tmp_path.rglob("fold=*.json")}
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert recs["mlp"]["config"]["model"]["options"]["device"] == expected
    assert recs["mlp"]["provenance"]["device"] == expected and recs["mean"]["provenance"]["device"] == "cpu"
    if not torch.cuda.is_available():
        r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "rlmem", "--device", "cuda",
                                "--results", str(tmp_path / "x"), *sets])
        assert r.exit_code == 2 and "--device cuda: no CUDA device is visible here" in r.output
        assert not (tmp_path / "x").exists() or not list((tmp_path / "x").rglob("fold=*.json"))
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lstm", "--set", "device=tpu",
                            "--results", str(tmp_path), *sets])
    assert r.exit_code == 2 and "device must be auto, cpu, cuda or cuda:N" in r.output


OOM_PLUGIN = """
import torch
from benchmark.api import Model

class Hungry(Model):
    def fit(self, train, val, budget, selector, log):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40.00 GiB")
    def predict(self, episodes):
        return {}

RLBENCH_MODELS = {"hungry": Hungry}
"""


def test_a_model_out_of_memory_is_a_failed_cell_that_says_so_and_the_sweep_goes_on(tmp_path):
    plugin = tmp_path / "hungry.py"
    plugin.write_text(OOM_PLUGIN)
    sets = [a for s in TINY_AFFECT for a in ("--set", s)]
    r = runner.invoke(app, ["sweep", "--plugin", str(plugin), "--task", "synth-affect", "--model", "hungry,mean",
                            "--workers", "1", "--results", str(tmp_path / "res"), *sets])
    assert r.exit_code == 1
    recs = {json.loads(p.read_text())["model"]["name"]: json.loads(p.read_text())
            for p in (tmp_path / "res").rglob("fold=*.json")}
    assert recs["mean"]["status"] == "completed"
    error = recs["hungry"]["error"]
    assert error["out_of_memory"] and error["message"].startswith("out of memory at 60 steps")


@pytest.mark.slow
def test_million_step_sequences_are_generated_and_read_without_per_step_python_work(tmp_path):
    task = SynthAffect(SynthAffectOptions(n_sequences=3, length=1_000_000, lag=1000, n_folds=1))
    data = task.load()
    ep = next(iter(data.episodes.values()))
    assert ep.length == 1_000_000 and all(f.dtype == np.float32 for f in ep.features.values())
    assert ep.meta["state"].dtype == np.int16
    import h5py

    from tasks.generic import GenericOptions, GenericTask

    with h5py.File(tmp_path / "long.h5", "w") as h5:
        h5.attrs["target_names"] = ["y"]
        for i in range(3):
            h5[f"s{i}/features/a"] = np.zeros((1_000_000, 4), dtype=np.float32)
            h5[f"s{i}/targets"] = np.zeros((1_000_000, 1), dtype=np.float32)
    long = GenericTask(GenericOptions(n_folds=1), tmp_path / "long.h5").load()
    assert {e.length for e in long.episodes.values()} == {1_000_000}


@pytest.mark.slow
def test_the_gpu_check_skips_without_cuda_and_runs_its_code_on_a_cpu():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent / "gpu" / "check.py"
    if not torch.cuda.is_available():
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
        assert json.loads(out.stdout) == {"skipped": "no CUDA device visible"}
    out = subprocess.run([sys.executable, str(script), "--device", "cpu", "--lengths", "64", "--quick"],
                         capture_output=True, text=True, check=True, timeout=300)
    figures = [json.loads(line) for line in out.stdout.splitlines()]
    assert [f["equal"] for f in figures if f.get("figure") == "graph_vs_eager"] == [True, True]
    assert {(f["model"], f["steps"]) for f in figures if f.get("figure") == "epoch" and "seconds" in f} == {
        (m, 64) for m in ("lstm", "rlmem", "s4d", "lru", "mamba", "mingru")}
    assert [(f["method"], f["close"]) for f in figures if f.get("figure") == "scan_device_vs_cpu"] == [
        ("sequential", True), ("doubling", True)] * 2  # float32, complex64
    assert [(f["method"], f["close"]) for f in figures if f.get("figure") == "selective_scan_device_vs_cpu"] == [
        ("sequential", True), ("doubling", True)]
    assert not [f for f in figures if "error" in f]  # each figure is guarded: a failure would print, not raise
    assert [(f["model"], f["identical"]) for f in figures if f.get("figure") == "same_seed_same_numbers"] == [
        ("lstm", True), ("rlmem", True)]
