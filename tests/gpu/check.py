"""GPU check, sized for a short lease (under 4 minutes on one GPU). Prints one JSON line per figure.

    python tests/gpu/check.py                       # on a CUDA machine
    python tests/gpu/check.py --device cpu --lengths 256,512 --quick   # a dry run of the same code on a CPU

1. rlmem's fused step replayed as a CUDA graph against the eager step: the same actions and memories
   (64 steps), and the seconds per step of each at batch 8 and 64.
2. One DDPG update, eager.
3. One training epoch of rlmem (graphed steps) and of the full-BPTT LSTM (chunked: no cuDNN call longer than
   16,384 steps) on 8 sequences of 16,384 and 262,144 steps, 24 features: seconds and peak GPU memory.
4. Same seed, same device, same numbers: two short trainings of each model compared prediction for prediction.
5. The scan models: the chunked scan on the device, both ways within a block, against the CPU's (values and
   gradients, real and complex, with each way's seconds), and a training epoch of each scan model at the lengths of 3.

Each figure is measured on its own: one that fails prints its error and the others still run.

Exits 0 with a "skipped" line where no CUDA device is visible (and --device cpu is not asked for).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def emit(**figure) -> None:
    print(json.dumps(figure), flush=True)


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def episodes(n: int, steps: int, seed: int = 0):
    from benchmark.api import Episode, TaskSpec

    rng = np.random.default_rng(seed)
    dims = {"audio": 8, "face": 8, "scene": 8}  # 24 features
    eps = [Episode(f"s{i}", {m: rng.normal(size=(steps, d)).astype(np.float32) for m, d in dims.items()},
                   rng.uniform(-1, 1, (steps, 2)).astype(np.float32)) for i in range(n)]
    return eps, TaskSpec(tuple(dims.items()), ("valence", "arousal"), "affect_regression")


def step_equivalence(device, quick: bool) -> None:
    import torch

    from rlmem.model import RLMemModel
    from rlmem.options import RLMemOptions

    for batch in (8, 64):
        eps, spec = episodes(1, 8)
        model = RLMemModel(RLMemOptions(device=str(device), cuda_graphs=True), spec, seed=0)
        eager = RLMemModel(RLMemOptions(device=str(device), cuda_graphs=False), spec, seed=0)
        g = torch.Generator().manual_seed(0)
        xs = torch.randn(64, batch, 64, generator=g).to(device)
        noise = (0.05 * torch.randn(64, batch, model.layout.size, generator=g)).to(device)
        results = {}
        with torch.no_grad():
            for name, m in (("graph", model), ("eager", eager)):
                memory = m.initial_memory(batch).detach().clone()
                actions, memories = [], []
                for j in range(64):
                    a, memory = m.explore(xs[j], memory, noise[j])
                    actions.append(a.clone())
                    memory = memory.clone()
                    memories.append(memory)
                results[name] = (torch.stack(actions), torch.stack(memories))
                reps = 50 if quick else 500
                memory = m.initial_memory(batch).detach().clone()
                sync(device)
                start = time.perf_counter()
                for j in range(reps):
                    a, out = m.explore(xs[j % 64], memory, noise[j % 64])
                sync(device)
                emit(figure="step_seconds", mode=name, batch=batch, device=str(device),
                     microseconds=round(1e6 * (time.perf_counter() - start) / reps, 1))
        diff_a = (results["graph"][0] - results["eager"][0]).abs().max().item()
        diff_m = (results["graph"][1] - results["eager"][1]).abs().max().item()
        emit(figure="graph_vs_eager", batch=batch, max_action_diff=diff_a, max_memory_diff=diff_m,
             equal=bool(diff_a < 1e-5 and diff_m < 1e-5))


def ddpg_update(device) -> None:
    import torch

    from rlmem.model import RLMemModel
    from rlmem.options import RLMemOptions
    from rlmem.replay import TrajectoryReplay

    eps, spec = episodes(1, 8)
    model = RLMemModel(RLMemOptions(device=str(device), rl_batch_size=512), spec, seed=0)
    o = model.options
    # the replay training uses, filled with random chunks: the update's cost does not depend on their values
    replay = TrajectoryReplay(4096, o.chunk, model.replay_fields(), torch.Generator().manual_seed(0), device=device)
    g = torch.Generator().manual_seed(1)
    items = {k: torch.randn(replay.capacity, *v.shape[1:], generator=g).to(device)
             for k, v in replay.storage.items() if k != "valid"}
    replay.add(**items, valid=torch.ones(replay.capacity, o.chunk + 1, dtype=torch.bool, device=device))
    for _ in range(3):
        model.ddpg.update(model.sample(replay), model.reward)
    sync(device)
    start = time.perf_counter()
    for _ in range(20):
        model.ddpg.update(model.sample(replay), model.reward)
    sync(device)
    emit(figure="ddpg_update_seconds", device=str(device), batch=512, seconds=round((time.perf_counter() - start) / 20, 5))


def epoch(device, model_name: str, steps: int) -> None:
    import torch

    from benchmark.api import NullLog, TrainBudget
    from benchmark.harness.registry import model_registry
    from benchmark.api import Selector

    train, spec = episodes(8, steps)
    val, _ = episodes(1, 64, seed=1)
    cls = model_registry().get(model_name)
    options = cls.Options(batch_size=8, device=str(device))
    model = cls(options, spec, seed=0)
    selector = Selector(lambda p: {"mse": 0.0}, "mse", False, patience=1)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    try:
        model.fit(train, val, TrainBudget(epochs=1, patience=1), selector, NullLog())
    except Exception as exc:  # noqa: BLE001 - report and go on to the next figure
        emit(figure="epoch", model=model_name, steps=steps, batch=8, device=str(device), error=f"{type(exc).__name__}: {exc}"[:300])
        return
    sync(device)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    emit(figure="epoch", model=model_name, steps=steps, batch=8, device=str(device),
         seconds=round(time.perf_counter() - start, 2), peak_gpu_gib=None if peak is None else round(peak, 3))


def determinism(device) -> None:
    from benchmark.api import NullLog, TrainBudget
    from benchmark.harness.registry import model_registry
    from benchmark.api import Selector

    train, spec = episodes(8, 256)
    val, _ = episodes(2, 256, seed=1)
    for name in ("lstm", "rlmem"):
        cls = model_registry().get(name)
        predictions = []
        for _ in range(2):
            from benchmark.harness.seeding import seed_everything

            seed_everything(0)
            model = cls(cls.Options(batch_size=8, device=str(device)), spec, seed=0)
            model.fit(train, val, TrainBudget(epochs=2, patience=2), Selector(lambda p: {"mse": 0.0}, "mse", False, patience=2), NullLog())
            out = model.predict(val)
            predictions.append(np.concatenate([np.asarray(out[e.id]) for e in val]))
        diff = float(np.abs(predictions[0] - predictions[1]).max())
        emit(figure="same_seed_same_numbers", model=name, device=str(device), max_prediction_diff=diff, identical=diff == 0.0)


def scan_equivalence(device) -> None:
    """Each way of scanning within a block on the device against the CPU's default (values, gradients), and
    its seconds per forward and backward pass, which decide the device's default method."""
    import time

    import torch

    from baselines.ssm.scan import METHODS, linear_scan, selective_scan

    for dtype in (torch.float32, torch.complex64):
        g = torch.Generator().manual_seed(0)
        a = (torch.rand(4, 4096, 32, generator=g) * 0.98 + 0.01).to(dtype)
        b = torch.randn(4, 4096, 32, generator=g).to(dtype)

        def run(aa, bb, method=None):
            h = linear_scan(aa, bb, method=method)
            return [h, *torch.autograd.grad(h.real.sum(), (aa, bb))]

        reference = run(a.clone().requires_grad_(), b.clone().requires_grad_())
        aa, bb = a.to(device).requires_grad_(), b.to(device).requires_grad_()  # timed without the transfers
        for method in METHODS:
            got = run(aa, bb, method)
            diff = max(float((x.detach().cpu() - y.detach()).abs().max()) for x, y in zip(got, reference))
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(10):
                run(aa, bb, method)
            if device.type == "cuda":
                torch.cuda.synchronize()
            emit(figure="scan_device_vs_cpu", device=str(device), dtype=str(dtype), method=method, max_diff=diff,
                 close=diff < 1e-3, seconds_fwd_bwd=(time.perf_counter() - start) / 10)

    g = torch.Generator().manual_seed(0)  # Mamba's selective recurrence, fused (sequential) or discretised first
    dt = torch.rand(4, 1024, 64, generator=g) * 0.1
    a = -torch.arange(1, 17, dtype=torch.float32).repeat(64, 1)
    u, b, c = (torch.randn(4, 1024, n, generator=g) for n in (64, 16, 16))
    inputs = (dt, a, u, b, c, torch.zeros(4, 64, 16))

    def selective(xs, method=None):
        xs = [x.clone().requires_grad_() for x in xs]
        y, last = selective_scan(*xs, method=method)
        return [y, *torch.autograd.grad(y.sum() + last.sum(), xs)]

    reference = selective(inputs)
    on_device = [x.to(device) for x in inputs]
    for method in METHODS:
        diff = max(float((x.detach().cpu() - y).abs().max() / (y.abs().max() + 1e-12))
                   for x, y in zip(selective(on_device, method), reference))
        emit(figure="selective_scan_device_vs_cpu", device=str(device), method=method, max_relative_diff=diff,
             close=diff < 1e-3)


def guarded(name, fn, *args) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - a lease is short: report and go on to the next figure
        emit(figure=name, error=f"{type(exc).__name__}: {exc}"[:300])


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--lengths", default="16384,262144")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        emit(skipped="no CUDA device visible")
        return 0
    device = torch.device(args.device)
    if device.type == "cuda":
        emit(figure="device", gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
             cudnn=torch.backends.cudnn.version(), torch=torch.__version__)
    started = time.perf_counter()
    guarded("step", step_equivalence, device, args.quick)
    guarded("ddpg_update_seconds", ddpg_update, device)
    guarded("same_seed_same_numbers", determinism, device)
    guarded("scan_device_vs_cpu", scan_equivalence, device)
    for steps in (int(s) for s in args.lengths.split(",")):
        for name in ("lstm", "rlmem", "s4d", "lru", "mamba", "mingru"):
            guarded("epoch", epoch, device, name, steps)
    emit(figure="check_seconds", seconds=round(time.perf_counter() - started, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
