"""Training memory and time per epoch of every model against sequence length (1,024 to 16,384 steps),
each (model, length) in a fresh process capped at 12 GiB of address space. The figures are printed and
kept in extra_info; the README quotes them. Flat in memory: lstm-tbptt and rlmem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
MODELS = ("lstm", "lstm-tbptt", "transformer", "mlp", "rlmem", "memnet-bptt")
LENGTHS = (1024, 4096, 16384)


def probe(model: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.memory_probe", model, str(steps), "12"],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # killed or crashed by the cap: out of memory
        return {"model": model, "steps": steps, "out_of_memory": True, "stderr": out.stderr[-300:]}
    return json.loads(out.stdout)


def test_memory_and_time_against_length(benchmark):
    rows = {}

    def measure():
        for model in MODELS:
            rows[model] = [probe(model, n) for n in LENGTHS]

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["rows"] = rows
    print("\nmodel        " + "".join(f"{n:>22}" for n in LENGTHS))
    for model, cells in rows.items():
        text = [("out of memory" if c.get("out_of_memory") else f"{c['growth_mib']:.0f} MiB {c['epoch_s']:.1f} s")
                for c in cells]
        print(f"{model:<13}" + "".join(f"{t:>22}" for t in text))
    for flat in ("lstm-tbptt", "rlmem"):
        small, large = rows[flat][0], rows[flat][-1]
        full = rows["lstm"][-1]["growth_mib"] - rows["lstm"][0]["growth_mib"]
        assert large["growth_mib"] - small["growth_mib"] <= 0.1 * full, flat
