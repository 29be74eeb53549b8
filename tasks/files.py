"""Reading users' files: HDF5 opening with errors that name the file (fingerprints: benchmark.api.file_sha256)."""

from __future__ import annotations

from pathlib import Path

from benchmark.api import TaskDataError


def open_h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise TaskDataError(f"{path}: not a readable HDF5 file ({exc})") from exc
