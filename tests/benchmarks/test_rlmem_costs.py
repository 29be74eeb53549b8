"""rlmem's cost claims, measured side by side with the LSTM trained by full BPTT in the same run.

Run with:  python -m pytest tests/benchmarks --benchmark-enable -s
Figures are printed and stored in the benchmark's extra_info; the README quotes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def probe(model: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.memory_probe", model, str(steps)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_training_memory_is_flat_in_sequence_length(benchmark):
    """Peak memory growth of a one-epoch training run from 1,024 to 16,384 steps (8 sequences, each run
    in a fresh process): rlmem must grow by at most a tenth of what the full-BPTT LSTM grows by."""
    figures = {}

    def measure():
        for model in ("lstm", "rlmem"):
            small, large = probe(model, 1024), probe(model, 16384)
            figures[model] = {"growth_1024_mib": small["growth_mib"], "growth_16384_mib": large["growth_mib"],
                              "delta_mib": large["growth_mib"] - small["growth_mib"]}
        return figures

    benchmark.pedantic(measure, rounds=1, iterations=1)
    ratio = figures["rlmem"]["delta_mib"] / figures["lstm"]["delta_mib"]
    benchmark.extra_info.update(figures=figures, ratio=ratio)
    print(f"\nmemory growth 1,024 -> 16,384 steps: {json.dumps(figures, indent=1)}\nrlmem / lstm = {ratio:.3f}")
    assert ratio <= 0.1


def tvsum_shaped(seed: int = 0):
    """50 sequences of 49 to 323 steps with 4,096 features (I3D rgb + flow, PANN audio), as in TVSum."""
    from benchmark.api import Episode, TaskSpec

    rng = np.random.default_rng(seed)
    dims = {"rgb": 1024, "flow": 1024, "audio": 2048}
    lengths = rng.integers(49, 324, size=50)
    lengths[:2] = (49, 323)
    eps = [Episode(f"v{i}", {m: rng.normal(size=(n, d)).astype(np.float32) for m, d in dims.items()},
                   rng.uniform(0, 1, (n, 1)).astype(np.float32)) for i, n in enumerate(lengths)]
    return eps, TaskSpec(tuple(dims.items()), ("importance",), "summarization")


def one_epoch(model_name: str, episodes, spec) -> float:
    from benchmark.api import NullLog, TrainBudget
    from benchmark.harness.registry import model_registry
    from benchmark.api import Selector

    cls = model_registry().get(model_name)
    model = cls(cls.Options(), spec, seed=0)
    selector = Selector(lambda p: {"mse": 0.0}, "mse", False, patience=1)
    start = time.perf_counter()
    model.fit(episodes, episodes[:1], TrainBudget(epochs=1, patience=1), selector, NullLog())
    return time.perf_counter() - start


@pytest.mark.parametrize("model", ["rlmem"])
def test_epoch_time_on_tvsum_shaped_data(benchmark, model):
    """One training epoch (default options, validation on one sequence) against the LSTM with full
    BPTT, alternated over 5 rounds after one warm-up round in this process; the ratio of the medians
    must be at most 1.5."""
    episodes, spec = tvsum_shaped()
    times = {"lstm": [], model: []}
    for name in times:
        one_epoch(name, episodes, spec)  # warm-up: first-call allocations and kernel selection
    for _ in range(5):
        for name in times:
            times[name].append(one_epoch(name, episodes, spec))
    benchmark.pedantic(one_epoch, args=(model, episodes, spec), rounds=1, iterations=1)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    ratio = medians[model] / medians["lstm"]
    benchmark.extra_info.update(seconds=medians, ratio=ratio)
    print(f"\nseconds per epoch (median of 5): {medians}; {model} / lstm = {ratio:.2f}")
    assert ratio <= 1.5
