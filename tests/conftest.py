import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # so tests can import helpers.py

# Small, fast versions of the synthetic tasks for tests (the defaults are sized for a real run).
TINY_AFFECT = ["n_sequences=24", "length=60", "lag=8", "epochs=3", "patience=2"]
TINY_SUMMARY = ["n_sequences=20", "length=80", "n_annotators=4", "epochs=3", "patience=2"]


@pytest.fixture
def shared_data() -> Path:
    root = os.environ.get("RLBENCH_SHARED_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("RLBENCH_SHARED_DATA is not set to the shared data folder")
    return Path(root)


@pytest.fixture(autouse=True)
def fresh_registries():
    """--plugin registrations are process-wide; every test starts from the built-ins and entry points."""
    yield
    from benchmark.harness import plan
    from benchmark.harness.executors import _prepared
    from benchmark.harness.registry import _REGISTRIES

    _REGISTRIES.clear()
    _prepared.cache_clear()
    plan._loaded.clear()
