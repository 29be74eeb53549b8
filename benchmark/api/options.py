"""Checks a model's or task's options make when they are built, and the device option's helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

@dataclass
class NoOptions:
    pass


DEVICE_PATTERN = r"auto|cpu|cuda(:[0-9]+)?"


def check_device(device: str) -> None:
    """``auto`` (CUDA when a GPU is visible), ``cpu``, ``cuda`` or ``cuda:N``; the harness resolves ``auto``."""
    import re

    if not re.fullmatch(DEVICE_PATTERN, device):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")


def torch_device(name: str) -> Any:
    """The ``torch.device`` a model runs on; ``auto`` (left when a model is built outside the harness)
    picks CUDA when a GPU is visible. (torch is imported here, only by the models that call this.)"""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def check_options(options: Any, *, at_least_1: Sequence[str] = (), positive: Sequence[str] = (),
                  non_negative: Sequence[str] = (), choices: Mapping[str, Sequence[Any]] | None = None,
                  unit_interval: Sequence[str] = ()) -> None:
    """Check an options dataclass when it is built (so a bad ``--set`` stops before anything trains);
    the error names the option and the value it got."""
    for name in at_least_1:
        if getattr(options, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(options, name)!r}")
    for name in positive:
        if not getattr(options, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(options, name)!r}")
    for name in non_negative:
        if not getattr(options, name) >= 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(options, name)!r}")
    for name in unit_interval:
        if not 0 <= getattr(options, name) <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(options, name)!r}")
    for name, allowed in (choices or {}).items():
        if getattr(options, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {getattr(options, name)!r}")
