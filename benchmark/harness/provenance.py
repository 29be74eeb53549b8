"""Where a record came from: package versions, git state, machine and CPU, command line, start time."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import benchmark

PACKAGE_ROOT = Path(benchmark.__file__).resolve().parent.parent


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@lru_cache(maxsize=1)
def static_provenance() -> dict:
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "rlbench_version": benchmark.__version__,
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "scikit_learn": _version("scikit-learn"),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


@lru_cache(maxsize=1)
def code_state() -> dict:
    """What identifies the code that runs now: version, commit, and for a dirty tree a hash of its diff
    (a checkpoint is resumed only by the same code). Once per process, not per cell: the code a process
    runs is what it imported."""
    import hashlib

    state = {key: static_provenance()[key] for key in ("rlbench_version", "git_commit", "git_dirty")}
    if state["git_dirty"]:
        diff = _git("diff", "HEAD") or ""
        state["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return state


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


@lru_cache(maxsize=1)
def cpu_provenance() -> dict:
    """The CPU as far as it decides the numbers: torch picks its vectorised kernels by the instruction set
    (``cpu_capability``), so the same seed and commit on another CPU can end in other digits."""
    import torch

    return {"cpu": _cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_count": os.cpu_count()}


def device_provenance(device: str) -> dict:
    """The device a cell ran on, as the machine names it (GPU model, CUDA and cuDNN versions)."""
    if not device.startswith("cuda"):
        return {"device": "cpu"}
    import torch

    index = torch.device(device).index or 0
    return {"device": device, "gpu": torch.cuda.get_device_name(index), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version()}


def provenance(device: str = "cpu") -> dict:
    import torch

    return {
        **static_provenance(),
        **cpu_provenance(),
        "torch_threads": torch.get_num_threads(),
        **device_provenance(device),
        "command": shlex.join(["rlbench", *sys.argv[1:]]) if sys.argv else None,
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
