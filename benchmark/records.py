"""Result records: one JSON file per (task, model variant, config hash, seed, fold), written atomically.

A crash never leaves half a record (write to a temporary file, fsync, rename), so a resumed sweep can
trust that any record it finds is whole.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 1


class RecordError(ValueError):
    pass


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", part)


def record_path(results: Path, task: str, model: str, variant: str | None, config_hash: str, seed: int, fold: int) -> Path:
    model_dir = _safe(model) + (f"__{_safe(variant)}" if variant else "")
    return Path(results) / _safe(task) / model_dir / config_hash[:12] / f"seed={seed}" / f"fold={fold}.json"


def write_record(path: Path, record: dict[str, Any]) -> None:
    write_json(path, record)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=1, sort_keys=True, allow_nan=False, default=_jsonable)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: not a readable record ({exc})") from exc
    return migrate(record, path)


def migrate(record: dict[str, Any], path: Path | str = "<record>") -> dict[str, Any]:
    """Bring an older record up to ``SCHEMA_VERSION`` (there is only version 1 so far)."""
    version = record.get("schema_version") if isinstance(record, dict) else None
    if version != SCHEMA_VERSION:
        raise RecordError(f"{path}: schema_version {version!r} is not supported (this rlbench reads {SCHEMA_VERSION})")
    return record


def iter_records(results: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable record under ``results``; unreadable files raise ``RecordError`` naming them."""
    for path in sorted(Path(results).rglob("fold=*.json")):
        yield path, load_record(path)
