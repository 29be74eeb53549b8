"""The scan models against sequence length beside the LSTM, in the same run: peak process memory and
seconds of one training epoch on 8 sequences of 24 features at 1,024, 16,384 and 262,144 steps, and at
1,000,000 for the scan models; each (model, length) in a fresh process capped at 12 GiB of address space.
Figures printed and kept in extra_info; docs/models.md and results/findings/cost.md quote them.

    python -m pytest tests/benchmarks/test_scan_costs.py --benchmark-enable -s
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCAN = ("s4d", "s4d:kernel=scan", "lru", "mamba", "mingru")  # s4d by FFT (its default) and on the scan
OTHERS = ("lstm",) + (("xlstm",) if importlib.util.find_spec("xlstm") else ())
LENGTHS = (1024, 16384, 262144)
MILLION = 1_000_000


def probe(model: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.memory_probe", model, str(steps), "12", "24"],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # killed or crashed by the cap: out of memory
        return {"model": model, "steps": steps, "out_of_memory": True, "stderr": out.stderr[-300:]}
    return json.loads(out.stdout)


def cell(c: dict) -> str:
    return "out of memory" if c.get("out_of_memory") else f"{c['peak_mib']:.0f} MiB, {c['epoch_s']:.1f} s"


def test_scan_models_against_length(benchmark):
    rows: dict[str, list[dict]] = {}

    def measure():
        for model in OTHERS + SCAN:
            rows[model] = [probe(model, n) for n in LENGTHS] + ([probe(model, MILLION)] if model in SCAN else [])

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["rows"] = rows
    print("\n| model | " + " | ".join(f"{n:,} steps" for n in LENGTHS + (MILLION,)) + " |")
    for model, cells in rows.items():
        print(f"| {model} | " + " | ".join(cell(c) for c in cells) + " |")
    assert rows["s4d"][-1]["peak_mib"] < 3 * 1024  # a million steps of s4d in under 3 GB
