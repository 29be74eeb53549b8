"""Reading users' files: fingerprints and HDF5 opening with errors that name the file."""

from __future__ import annotations

from pathlib import Path

from benchmark.episodes import file_sha256  # noqa: F401  (the one fingerprint; re-exported for the adapters)
from benchmark.interfaces import TaskDataError


def open_h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise TaskDataError(f"{path}: not a readable HDF5 file ({exc})") from exc
