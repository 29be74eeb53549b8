"""rlmem at the lengths it exists for, on the CPU, each run in a fresh process (8 sequences, 24 features,
one training epoch); figures printed and kept in the benchmark's extra_info, quoted in the README.

    python -m pytest tests/benchmarks/test_scale_costs.py --benchmark-enable -s
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def probe(model: str, steps: int, cap_gib: float = 0.0) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.memory_probe", model, str(steps), str(cap_gib), "24"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_rlmem_epoch_time_against_the_lstm_at_16384_steps(benchmark):
    """rlmem's epoch within 2x the full-BPTT LSTM's, measured one after the other in this run."""
    figures = {}
    benchmark.pedantic(lambda: figures.update(lstm=probe("lstm", 16384), rlmem=probe("rlmem", 16384)),
                       rounds=1, iterations=1)
    ratio = figures["rlmem"]["epoch_s"] / figures["lstm"]["epoch_s"]
    benchmark.extra_info.update(figures=figures, ratio=ratio)
    print(f"\n16,384 steps: lstm {figures['lstm']['epoch_s']:.1f} s, rlmem {figures['rlmem']['epoch_s']:.1f} s, "
          f"ratio {ratio:.2f}")
    assert ratio <= 2.0


def test_rlmem_at_65536_steps(benchmark):
    """One epoch on 8 x 65,536 steps within 3 minutes on a 2-core machine."""
    figure = {}
    benchmark.pedantic(lambda: figure.update(probe("rlmem", 65536)), rounds=1, iterations=1)
    benchmark.extra_info.update(figure=figure)
    print(f"\n65,536 steps: rlmem {figure['epoch_s']:.1f} s, peak {figure['peak_mib']:.0f} MiB")
    assert figure["epoch_s"] < 180


def test_a_million_steps(benchmark):
    """rlmem: one epoch on 8 x 1,000,000 steps under 3 GB of peak memory (the time stated); the LSTM at
    that length, capped at 12 GiB of address space: out of memory, or its figure."""
    figures = {}
    benchmark.pedantic(lambda: figures.update(rlmem=probe("rlmem", 1_000_000), lstm=probe("lstm", 1_000_000, 12)),
                       rounds=1, iterations=1)
    benchmark.extra_info.update(figures=figures)
    print(f"\n1,000,000 steps: {json.dumps(figures, indent=1)}")
    assert figures["rlmem"]["peak_mib"] < 3 * 1024
