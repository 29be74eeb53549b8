"""Reading users' files: fingerprints and HDF5 opening with errors that name the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from benchmark.interfaces import TaskDataError


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise TaskDataError(f"{path}: not a readable HDF5 file ({exc})") from exc
