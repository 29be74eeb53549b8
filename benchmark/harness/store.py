"""The results folder: where each cell's record goes, written atomically, and the finished records that let a
run resume.

A crash never leaves half a record (write to a temporary file, fsync, rename), so a resumed run can trust
any record it finds; a record that cannot be written goes to the temporary folder and the run stops saying
where, so nothing finished is lost.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

from benchmark.harness.checkpoints import checkpoint_path
from benchmark.harness.record import Record, RecordError, dumps, write_atomic


class StoreError(ValueError):
    """A results folder that cannot take records, or a record that could not be written anywhere."""


def safe_name(part: str) -> str:
    """A file or folder name made of ``part`` (anything outside ``[A-Za-z0-9_.=,+-]`` becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", part)


def record_path(results: Path, task: str, model: str, variant: str | None, config_hash: str, seed: int, fold: int) -> Path:
    model_dir = safe_name(model) + (f"__{safe_name(variant)}" if variant else "")
    return Path(results) / safe_name(task) / model_dir / config_hash[:12] / f"seed={seed}" / f"fold={fold}.json"


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    write_atomic(path, dumps(payload))


def write_record(path: Path, record: Record) -> None:
    write_json(path, record.to_json())


def ensure_writable(results: Path) -> None:
    """Refuse a results folder that cannot take records before anything trains."""
    results = Path(results)
    if results.exists() and not results.is_dir():
        raise StoreError(f"{results}: is a file, not a folder for records; choose another --results")
    try:
        results.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=results, prefix=".rlbench-write-check-"):
            pass
    except OSError as exc:
        raise StoreError(f"{results}: cannot write records there ({exc.strerror or exc}); "
                         "choose another --results") from None


def save_record(path: Path, record: Record) -> None:
    """Write a finished cell's record (a completed one ends its checkpoint). If that fails (a full disk, a
    folder made read-only meanwhile), the record is written to the temporary folder instead and the run
    stops with one line saying where."""
    try:
        write_record(path, record)
        if record.completed:
            checkpoint_path(path).unlink(missing_ok=True)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "rlbench-unsaved" / Path(*Path(path).parts[-6:])
        try:
            write_record(fallback, record)
        except OSError:
            raise StoreError(f"{path}: cannot write the record ({exc.strerror or exc}), nor a copy in "
                             f"{fallback.parent}; the cell must run again") from None
        raise StoreError(f"{path}: cannot write the record ({exc.strerror or exc}); it was saved to {fallback} "
                         "(copy it into place, or free the space and rerun to resume)") from None


@dataclasses.dataclass(frozen=True)
class CellKey:
    """What a finished record must match to stand for a cell: its config and its data."""

    config_hash: str
    data_sha256: Mapping[str, str]
    split_sha256: str


def finished(path: Path, key: CellKey) -> Record | None:
    """The record at ``path`` if it is a completed one with the same config and the same data, else None."""
    if not path.exists():
        return None
    try:
        record = Record.load(path)
    except RecordError:
        return None
    done = (record.completed and record.config_hash == key.config_hash
            and record.task.data_sha256 == key.data_sha256 and record.task.split_sha256 == key.split_sha256)
    return record if done else None


def resumed_record(path: Path, key: CellKey, model: str, relabel: Mapping[str, Any]) -> Record | None:
    """The finished record of this cell, if there is one: at ``path``, or else a record of the same model,
    config hash, seed and fold under another variant's folder (an ablation variant equal to the tuned preset,
    a grid value equal to the default), which is copied to ``path`` with this cell's labels (``relabel``: its
    model's variant, overrides and preset) and the path it came from, so that no identical configuration
    trains twice."""
    record = finished(path, key)
    if record is not None:
        return record
    task_dir, hash_dir = path.parents[3], path.parents[1].name
    for twin in sorted(task_dir.glob(f"*/{hash_dir}/{path.parent.name}/{path.name}")):
        record = None if twin == path else finished(twin, key)
        if record is None or record.model.name != model:
            continue
        # a copy of a copy names the record that was trained
        source = record.provenance.reused_from or twin.relative_to(task_dir.parent).as_posix()
        record = dataclasses.replace(
            record, model=dataclasses.replace(record.model, **relabel, absent=record.model.absent - set(relabel)),
            provenance=dataclasses.replace(record.provenance, reused_from=source,
                                           absent=record.provenance.absent - {"reused_from"}))
        save_record(path, record)
        return record
    return None
