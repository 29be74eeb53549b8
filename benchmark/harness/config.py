"""``--set key=value`` overrides: parsing, routing to train/task/model options, and the config hash.

An unprefixed key goes to the one place that defines it: the training budget (``epochs``,
``patience``), the task's options, or the model's options. ``task.``/``model.``/``train.`` prefixes
disambiguate. An unknown key is an error that names the closest known keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Sequence

from benchmark.api import TrainBudget
from benchmark.harness.order import ORDERS

SCOPES = ("train", "task", "model")
# task options the harness gives every task (``harness.order``): the task's own Options never see them
HARNESS_TASK_FIELDS: dict[str, type] = {"order": str}


class ConfigError(ValueError):
    """A bad ``--set`` (unknown key, bad value, ambiguous key)."""


@dataclass(frozen=True)
class Override:
    scope: str | None
    key: str
    raw: str

    def __str__(self) -> str:
        return f"{self.scope + '.' if self.scope else ''}{self.key}={self.raw}"


def parse_overrides(items: Sequence[str]) -> list[Override]:
    out = []
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value")
        scope = None
        head, dot, rest = key.partition(".")
        if dot and head in SCOPES:
            scope, key = head, rest
        out.append(Override(scope, key, raw.strip()))
    return out


def option_fields(options_cls: type) -> dict[str, type]:
    hints = typing.get_type_hints(options_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(options_cls)}


def coerce(raw: str, typ: Any, where: str) -> Any:
    """Turn the text of a ``--set`` value into the option's declared type, or explain why not."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    origin = typing.get_origin(typ)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value is None:
            return None
        typ = args[0]
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
                return value.lower() in ("true", "yes", "1")
            raise ValueError
        if typ is int:
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
                raise ValueError
            return int(value)
        if typ is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            return float(value)
        if typ is str:
            return raw
    except ValueError:
        raise ConfigError(f"{where}: expected {getattr(typ, '__name__', typ)}, got {raw!r}") from None
    return value


@dataclass
class ResolvedConfig:
    task_options: Any
    model_options: Any
    budget: TrainBudget
    applied: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: {} for s in SCOPES})
    order: str = "original"  # the temporal-order control (``harness.order``)

    def overrides_label(self, scopes: Sequence[str]) -> str:
        items = [f"{k}={_fmt(v)}" for s in scopes for k, v in sorted(self.applied[s].items())]
        return ",".join(items)


def _fmt(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


def resolve(
    overrides: Sequence[Override],
    task_options_cls: type,
    model_options_cls: type,
    budget: TrainBudget,
    other_model_keys: set[str] = frozenset(),
    model_name: str = "model",
    task_name: str = "task",
    model_defaults: dict[str, Any] | None = None,
    scopes: Sequence[str] = SCOPES,
) -> ResolvedConfig:
    """Apply overrides for one (task, model) pair. Keys that only another model of the same run knows
    are skipped here (``other_model_keys``); keys nobody knows are errors. ``model_defaults`` (a tuned
    preset) replace the model's defaults: they are not overrides, so ``--set`` still wins over them and
    they stay out of ``applied``. ``scopes`` limits which scopes ``--set`` may reach (``rlbench score``:
    task options only)."""
    fields_by_scope = {
        "train": option_fields(TrainBudget) if "train" in scopes else {},
        "task": {**HARNESS_TASK_FIELDS, **option_fields(task_options_cls)} if "task" in scopes else {},
        "model": option_fields(model_options_cls) if "model" in scopes else {},
    }
    values: dict[str, dict[str, Any]] = {s: {} for s in SCOPES}
    for ov in overrides:
        if ov.scope is not None:
            scope = ov.scope
            if ov.key not in fields_by_scope[scope]:
                if scope == "model" and ov.key in other_model_keys:
                    continue
                raise ConfigError(_unknown(ov, fields_by_scope[scope], f"{scope} option", task_name, model_name))
        else:
            owners = [s for s in SCOPES if ov.key in fields_by_scope[s]]
            if len(owners) > 1:
                raise ConfigError(
                    f"--set {ov}: {ov.key!r} is both a {' and a '.join(owners)} option; "
                    f"write {' or '.join(f'{s}.{ov.key}' for s in owners)}"
                )
            if not owners:
                if ov.key in other_model_keys:
                    continue
                known = {k: t for s in SCOPES for k, t in fields_by_scope[s].items()}
                raise ConfigError(_unknown(ov, known, "option", task_name, model_name))
            scope = owners[0]
        values[scope][ov.key] = coerce(ov.raw, fields_by_scope[scope][ov.key], f"--set {ov}")
    defaults = dict(model_defaults or {})
    unknown = sorted(set(defaults) - set(fields_by_scope["model"]))
    if unknown:
        raise ConfigError(f"tuned preset for model {model_name!r} sets unknown option(s) {', '.join(unknown)}: "
                          "tune it again")
    own = {k: v for k, v in values["task"].items() if k not in HARNESS_TASK_FIELDS}
    order = values["task"].get("order", "original")
    if order not in ORDERS:
        raise ConfigError(f"--set order={order}: expected one of {', '.join(ORDERS)}")
    if order == "original":  # the default, said out loud: the same config, the same label
        values["task"].pop("order", None)
    try:
        task_options = task_options_cls(**own)
        model_options = model_options_cls(**{**defaults, **values["model"]})
        new_budget = dataclasses.replace(budget, **values["train"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--set: {exc}") from exc
    return ResolvedConfig(task_options, model_options, new_budget, values, order)


def _unknown(ov: Override, known: dict[str, Any], what: str, task_name: str, model_name: str) -> str:
    close = difflib.get_close_matches(ov.key, list(known), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"--set {ov}: unknown {what} {ov.key!r} for task {task_name!r} and model {model_name!r}.{hint} "
        f"Known: {', '.join(sorted(known)) or '(none)'}."
    )


def config_dict(task_meta: Any, task_protocol: dict, resolved: ResolvedConfig, model_name: str) -> dict[str, Any]:
    """The fully resolved config a record carries and its hash identifies."""
    return {
        "task": {
            "name": task_meta.name,
            "version": task_meta.version,
            "options": dataclasses.asdict(resolved.task_options),
            "protocol": task_protocol,
            # only where it is not the original order: records made before the control keep their hash
            **({"order": resolved.order} if resolved.order != "original" else {}),
        },
        "model": {"name": model_name, "options": dataclasses.asdict(resolved.model_options)},
        "train": dataclasses.asdict(resolved.budget),
    }


def config_hash(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
