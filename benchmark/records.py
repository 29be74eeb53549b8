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


def safe_name(part: str) -> str:
    """A file or folder name made of ``part`` (anything outside ``[A-Za-z0-9_.=,+-]`` becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", part)


def record_path(results: Path, task: str, model: str, variant: str | None, config_hash: str, seed: int, fold: int) -> Path:
    model_dir = safe_name(model) + (f"__{safe_name(variant)}" if variant else "")
    return Path(results) / safe_name(task) / model_dir / config_hash[:12] / f"seed={seed}" / f"fold={fold}.json"


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
    missing = [k for k in REQUIRED if not isinstance(record.get(k), REQUIRED[k])]
    if missing:
        raise RecordError(f"{path}: not a whole record (missing or malformed: {', '.join(missing)})")
    return record


REQUIRED = {"status": str, "task": dict, "model": dict, "seed": int}


def iter_records(results: Path, skipped: list[str] | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable record under ``results``. An unreadable one raises ``RecordError`` naming it, or,
    with a ``skipped`` list, is left out and described there (tables go on without it)."""
    for path in sorted(Path(results).rglob("fold=*.json")):
        try:
            record = load_record(path)
        except RecordError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
            continue
        yield path, record
