"""The result record: one JSON file per cell (task, model variant, config hash, seed, fold), typed here.

A record is built from typed parts (``TaskInfo``, ``ModelInfo``, ``Selection``, ``Timing``, ``Provenance``,
``ErrorInfo``) and read through ``Record``'s attributes; ``Record.from_json`` checks what a file holds and
brings an older schema version up to date (``MIGRATIONS``), ``to_json`` gives back the dict that is written.
The JSON on disk is what the parts hold, key for key: a record read and written again is the same file, byte
for byte (tested on every committed record). Keys a part does not know are kept as they came (``unknown``),
and optional keys a file did not have stay out of it again (``absent``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

SCHEMA_VERSION = 1
# version n -> a function taking a version-n record (a dict) to version n + 1; none yet
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

STATUSES = ("completed", "failed")
STILL_IMPROVING = "still-improving"
TUNED_SUFFIX = " (tuned)"
LEAKY_SUFFIX = " ⚠ LEAKY: epoch chosen on test"


class RecordError(ValueError):
    """A file that is not a readable record; the message names it and what is wrong."""


def dumps(payload: Mapping[str, Any]) -> str:
    """The text of a record file (and of every JSON file the harness writes)."""
    return json.dumps(payload, indent=1, sort_keys=True, allow_nan=False, default=_jsonable) + "\n"


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write ``data`` (text, or bytes such as a rendered figure) to a temporary file beside ``path``, fsync,
    rename: a reader (or a rerun after a crash) sees the old file or the new one, never half of one. Records
    and every table and figure drawn from them go this way."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@dataclass(kw_only=True)
class Part:
    """A typed part of a record. A field with a default is optional: older records may lack it. ``absent``
    names the optional fields a record leaves out of its file while they hold their default (by default
    ``OMITTED``: what the writer leaves out when unset); ``unknown`` holds keys this version does not know."""

    OMITTED: ClassVar[frozenset[str]] = frozenset()

    unknown: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    absent: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.absent is None:
            self.absent = self.OMITTED

    @classmethod
    def fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.name not in ("unknown", "absent")]

    @classmethod
    def parse(cls, data: Any, at: str, problems: list[str]) -> "Part | None":
        """The part ``data`` holds, or None with what is wrong with it added to ``problems`` (named by ``at``,
        its place in the record)."""
        if not isinstance(data, dict):
            problems.append(f"{at}: expected an object, got {type(data).__name__}")
            return None
        hints = _hints(cls)
        values, absent, before = {}, set(), len(problems)
        for f in cls.fields():
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    problems.append(f"{at}{f.name} missing")
                else:
                    absent.add(f.name)
                continue
            values[f.name] = _typed(data[f.name], hints[f.name], f"{at}{f.name}", problems)
        if len(problems) > before:
            return None
        known = {f.name for f in cls.fields()}
        return cls(**values, unknown={k: v for k, v in data.items() if k not in known}, absent=frozenset(absent))

    def to_json(self) -> dict[str, Any]:
        out = dict(self.unknown)
        for f in self.fields():
            value = getattr(self, f.name)
            if f.name in self.absent and value == _default(f):
                continue
            out[f.name] = value.to_json() if isinstance(value, Part) else value
        return out


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def _typed(value: Any, hint: Any, at: str, problems: list[str]) -> Any:
    """``value`` checked against a field's annotation (a part is built from its object); what does not fit
    goes to ``problems``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]  # every optional field is "X | None"
        origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Part):
        return hint.parse(value, f"{at}.", problems)
    expected = origin or hint
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = expected is Any or isinstance(value, expected)
    if not ok:
        problems.append(f"{at}: expected {getattr(expected, '__name__', expected)}, got {type(value).__name__}")
    return value


@dataclass(kw_only=True)
class TaskInfo(Part):
    """The task as the cell saw it: metadata, the protocol in effect, the fold and the data's fingerprints."""

    name: str
    version: str
    kind: str
    protocol: dict[str, Any]
    main_score: str
    higher_is_better: dict[str, bool]
    leaderboard_metrics: list[str]
    fold: int
    n_folds: int
    sizes: dict[str, int]
    data_sha256: dict[str, str]
    split_sha256: str
    data_info: dict[str, Any]
    overrides: dict[str, Any]


@dataclass(kw_only=True)
class ModelInfo(Part):
    """The model of the cell: its name, the variant its overrides make, where it came from, its preset."""

    name: str
    variant: str | None
    reference: bool
    source: str
    n_parameters: int | None
    overrides: dict[str, Any]
    tuned: dict[str, Any] | None = None  # the tuned preset it started from (records before tuning lack it)


@dataclass(kw_only=True)
class Selection(Part):
    """Which checkpoint was kept and why, and the convergence verdict (records of the earlier per-epoch
    budget have ``epochs_run`` instead of the update counts)."""

    OMITTED = frozenset({"epochs_run"})

    criterion: str
    leaky: bool
    higher_is_better: bool
    epoch: float | None
    val_score: float | None
    rule: str
    update: int | None = None
    updates_run: int | None = None
    updates_per_epoch: int | None = None
    stopped_by: str | None = None
    convergence: str | None = None
    epochs_run: int | None = None


@dataclass(kw_only=True)
class Timing(Part):
    train_s: float
    eval_s: float
    total_s: float
    peak_rss_mb: float
    peak_rss_scope: str


@dataclass(kw_only=True)
class Provenance(Part):
    """Where a record came from: versions, git state, machine and CPU, device, command line, start time."""

    OMITTED = frozenset({"gpu", "cuda", "cudnn", "resumed_from_update", "reused_from"})

    rlbench_version: str
    git_commit: str | None
    git_dirty: bool | None
    python: str
    torch: str | None
    numpy: str | None
    platform: str
    machine: str
    device: str
    command: str | None
    started_at: str
    # records made before these came in lack them
    scikit_learn: str | None = None
    cpu: str | None = None
    cpu_capability: str | None = None
    cpu_count: int | None = None
    torch_threads: int | None = None
    # only where they apply
    gpu: str | None = None
    cuda: str | None = None
    cudnn: int | None = None
    resumed_from_update: int | None = None  # the update an interrupted cell went on from
    reused_from: str | None = None  # the record this one copies (an equal configuration under another name)


@dataclass(kw_only=True)
class ErrorInfo(Part):
    type: str
    message: str
    traceback: str
    out_of_memory: bool = False


@dataclass(kw_only=True)
class Record(Part):
    """One cell's record. ``main_score`` is the test main score (None for a tuning trial, which is never
    scored on test); ``history`` the validation curve, one row per evaluation."""

    OMITTED = frozenset({"trace", "test_resamples"})

    schema_version: int
    status: str
    error: ErrorInfo | None
    task: TaskInfo
    model: ModelInfo
    seed: int
    config: dict[str, Any]
    config_hash: str
    selection: Selection | None
    scores: dict[str, dict[str, float]] | None
    main_score: float | None
    history: list[dict[str, Any]]
    diagnostics: dict[str, Any]
    timing: Timing
    provenance: Provenance
    purpose: str = "run"  # "run" or "tuning" (records before tuning lack it)
    trace: dict[str, Any] | None = None  # the first test sequence's predictions, with --trace
    # the main score on resamples of the test sequences (``harness.test_resamples``); records before it lack it
    test_resamples: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "<record>") -> "Record":
        """The record a loaded file holds (an older schema version migrated), or a ``RecordError`` naming
        ``where`` and every missing or malformed key."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
            raise RecordError(f"{where}: schema_version {version!r} is not supported "
                              f"(this rlbench reads {SCHEMA_VERSION})")
        while version < SCHEMA_VERSION:
            data = MIGRATIONS[version](data)
            version += 1
        problems: list[str] = []
        record = cls.parse(data, "", problems)
        if record is not None and record.status not in STATUSES:
            problems.append(f"status: {record.status!r} is not one of {', '.join(STATUSES)}")
        if problems:
            more = f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
            raise RecordError(f"{where}: not a whole record (missing or malformed: {'; '.join(problems[:6])}{more})")
        return record

    @classmethod
    def load(cls, path: Path | str) -> "Record":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecordError(f"{path}: not a readable record ({exc})") from exc
        return cls.from_json(data, str(path))

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def is_run(self) -> bool:
        """A run's record (a tuning trial's holds validation scores only and never reaches a table)."""
        return self.purpose == "run"

    @property
    def label(self) -> str:
        """The row a record belongs to: model, its overrides, whether it was tuned, and a leaky selection."""
        label = model_label(self.model.name, self.model.overrides)
        if self.model.tuned:
            label += TUNED_SUFFIX
        if self.selection is not None and self.selection.leaky:
            label += LEAKY_SUFFIX
        return label

    @property
    def still_improving(self) -> bool:
        return self.selection is not None and self.selection.convergence == STILL_IMPROVING

    @property
    def dirty(self) -> bool:
        """Made from uncommitted code: its commit does not identify the code."""
        return bool(self.provenance.git_dirty)

    @property
    def error_message(self) -> str | None:
        return None if self.error is None else self.error.message


def model_label(name: str, overrides: Mapping[str, Any]) -> str:
    if not overrides:
        return name
    return f"{name} [{', '.join(f'{k}={v}' for k, v in sorted(overrides.items()))}]"


def iter_records(results: Path, skipped: list[str] | None = None) -> Iterator[tuple[Path, Record]]:
    """Every readable record under ``results``. An unreadable one raises ``RecordError`` naming it, or,
    with a ``skipped`` list, is left out and described there (tables go on without it)."""
    for path in sorted(Path(results).rglob("fold=*.json")):
        try:
            record = Record.load(path)
        except RecordError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
            continue
        yield path, record
