"""Run in a fresh process: one short training run (one epoch) of a model on B sequences of T steps, and
print the process's resident memory before training, its peak during training (MiB) and the epoch's
seconds, as JSON. With a third argument (GiB), the address space is capped and running out of memory is
reported instead of swapping the machine; a fourth sets the number of features (56 by default: the five
synth-affect modalities; 24 = three modalities of 8).

    python -m tests.benchmarks.memory_probe MODEL T [CAP_GIB] [FEATURES]

MODEL may carry options after a colon, e.g. ``s4d:kernel=scan`` (typed as ``--set`` types them).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main(model_name: str, steps: int, batch: int = 8, features: int = 56) -> dict:
    import torch

    from benchmark.api import Episode, TaskSpec
    from benchmark.api import NullLog, TrainBudget
    from benchmark.harness.config import coerce, option_fields, parse_overrides
    from benchmark.harness.registry import model_registry
    from benchmark.api import Selector

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    dims = {"audio": 16, "music": 8, "scene": 16, "pose": 8, "face": 8} if features == 56 else {
        f"m{i}": 8 for i in range(features // 8)}
    train = [Episode(f"s{i}", {m: rng.normal(size=(steps, d)).astype(np.float32) for m, d in dims.items()},
                     rng.uniform(-1, 1, (steps, 2)).astype(np.float32)) for i in range(batch)]
    val = [Episode("v", {m: rng.normal(size=(16, d)).astype(np.float32) for m, d in dims.items()},
                   rng.uniform(-1, 1, (16, 2)).astype(np.float32))]
    spec = TaskSpec(tuple(dims.items()), ("valence", "arousal"), "affect_regression")
    name, _, settings = model_name.partition(":")
    cls = model_registry().get(name)
    fields = option_fields(cls.Options)  # the same typing as --set
    options = cls.Options(batch_size=batch, **{o.key: coerce(o.raw, fields[o.key], model_name)
                                               for o in parse_overrides([kv for kv in settings.split(",") if kv])})
    if hasattr(options, "buffer_size"):
        options.buffer_size = 20_000
        options.warmup = 256
    model = cls(options, spec, seed=0)
    selector = Selector(lambda p: {"mse": 0.0}, "mse", False, patience=1)
    before = rss_mib()
    start = time.perf_counter()
    try:
        model.fit(train, val, TrainBudget(epochs=1, patience=1), selector, NullLog())
    except (MemoryError, RuntimeError) as exc:  # torch reports a failed allocation as RuntimeError
        if "memory" not in str(exc).lower() and not isinstance(exc, MemoryError):
            raise
        return {"model": model_name, "steps": steps, "batch": batch, "out_of_memory": True}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": model_name, "steps": steps, "batch": batch, "features": sum(dims.values()),
            "rss_before_mib": before, "peak_mib": peak, "growth_mib": peak - before, "epoch_s": seconds}


if __name__ == "__main__":
    if len(sys.argv) > 3 and float(sys.argv[3]) > 0:
        cap = int(float(sys.argv[3]) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    features = int(sys.argv[4]) if len(sys.argv) > 4 else 56
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), features=features)))
