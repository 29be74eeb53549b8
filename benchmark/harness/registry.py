"""Name -> object registries for models and tasks, lazy and plugin-friendly, and the two of this process.

Entries are "module:attr" strings (built-ins, ``benchmark.harness.builtins``) or entry points (plugins);
nothing is imported until an entry is asked for, so listing and ``--help`` stay instant and never pull in
torch. ``model_class``/``task_class`` check that an entry is a ``Model``/``Task`` subclass.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Sequence

from benchmark.harness.builtins import MODELS, TASKS

BUILTIN = "built-in"


class RegistryError(LookupError):
    """An unknown name, or an entry that cannot be loaded."""


@dataclass
class Entry:
    name: str
    target: str  # "module:attr"
    source: str  # "built-in", "plugin <distribution>", "--plugin <path>"
    summary: str = ""
    _entry_point: EntryPoint | None = field(default=None, repr=False)
    _loaded: Any = field(default=None, repr=False)
    error: str | None = None

    def load(self) -> Any:
        if self._loaded is None:
            try:
                if self._entry_point is not None:
                    self._loaded = self._entry_point.load()
                else:
                    self._loaded = load_target(self.target)
            except Exception as exc:  # a broken plugin must not break the others
                self.error = f"{type(exc).__name__}: {exc}"
                raise RegistryError(
                    f"{self.source} entry {self.name!r} ({self.target}) failed to import: {self.error}"
                ) from exc
        return self._loaded

    def describe(self) -> str:
        """One line for listings; loads plugins (whose summary is not known without importing)."""
        if self.summary:
            return self.summary
        try:
            obj = self.load()
        except RegistryError:
            return f"[failed to import: {self.error}]"
        own = vars(obj).get("description") if isinstance(obj, type) else None
        lines = (obj.__doc__ or "").strip().splitlines()
        return own or (lines[0] if lines else "")


def load_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise RegistryError(f"entry target {target!r} is not of the form 'module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """A named collection of lazy entries for one entry-point group."""

    def __init__(self, kind: str, group: str, builtins: dict[str, tuple[str, str]]):
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry] = {
            name: Entry(name, target, BUILTIN, summary) for name, (target, summary) in builtins.items()
        }
        self._plugins_scanned = False
        self.warnings: list[str] = []

    def _scan_plugins(self) -> None:
        if self._plugins_scanned:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            source = f"plugin {dist.name}" if dist is not None else "plugin"
            if ep.name in self._entries:
                self.warnings.append(
                    f"{source} tries to register {self.kind} {ep.name!r}, already provided by "
                    f"{self._entries[ep.name].source}; ignored"
                )
                continue
            self._entries[ep.name] = Entry(ep.name, ep.value, source, _entry_point=ep)

    def register(self, name: str, obj: Any, source: str) -> None:
        """Register an already-imported object (used by ``--plugin``)."""
        existing = self._entries.get(name)
        if existing is not None and existing.source != source:
            raise RegistryError(f"{source} tries to register {self.kind} {name!r}, already provided by {existing.source}")
        target = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', name)}"
        self._entries[name] = Entry(name, target, source, _loaded=obj)

    def entries(self) -> list[Entry]:
        self._scan_plugins()
        return [self._entries[k] for k in sorted(self._entries)]

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def entry(self, name: str) -> Entry:
        self._scan_plugins()
        if name not in self._entries:
            raise RegistryError(unknown_name_message(self.kind, name, list(self._entries)))
        return self._entries[name]

    def get(self, name: str) -> Any:
        return self.entry(name).load()


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(sorted(known))}."


def import_plugin(spec: str) -> Any:
    """Import a plugin module by dotted name or a .py file by path (without touching sys.path)."""
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if path.is_dir():
            raise RegistryError(f"--plugin {spec}: is a directory; name a .py file or an importable module")
        if not path.is_file():
            raise RegistryError(f"--plugin {spec}: no such file")
        mod_name = f"rlbench_plugin_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        if module_spec is None or module_spec.loader is None:
            raise RegistryError(f"--plugin {spec}: cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[mod_name]
            raise RegistryError(f"--plugin {spec} failed to import: {type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(spec)
    except Exception as exc:
        raise RegistryError(f"--plugin {spec} failed to import: {type(exc).__name__}: {exc}") from exc


_REGISTRIES: dict[str, Registry] = {}


def model_registry() -> Registry:
    if "models" not in _REGISTRIES:
        _REGISTRIES["models"] = Registry("model", "rlbench.models", MODELS)
    return _REGISTRIES["models"]


def task_registry() -> Registry:
    if "tasks" not in _REGISTRIES:
        _REGISTRIES["tasks"] = Registry("task", "rlbench.tasks", TASKS)
    return _REGISTRIES["tasks"]


def model_class(name: str) -> type:
    from benchmark.api import Model

    obj = model_registry().get(name)
    if not (isinstance(obj, type) and issubclass(obj, Model)):
        raise RegistryError(f"model {name!r} resolves to {obj!r}, which is not a benchmark.api.Model subclass")
    return obj


def task_class(name: str) -> type:
    from benchmark.api import Task

    obj = task_registry().get(name)
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise RegistryError(f"task {name!r} resolves to {obj!r}, which is not a benchmark.api.Task subclass")
    return obj


def register_plugin_module(module: Any, source: str) -> list[str]:
    """A ``--plugin`` module registers what it lists in ``RLBENCH_MODELS`` / ``RLBENCH_TASKS``."""
    added = []
    for attr, registry in (("RLBENCH_MODELS", model_registry()), ("RLBENCH_TASKS", task_registry())):
        for name, obj in dict(getattr(module, attr, {})).items():
            registry.register(name, obj, source)
            added.append(name)
    if not added:
        raise RegistryError(f"{source} defines neither RLBENCH_MODELS nor RLBENCH_TASKS (a dict name -> class)")
    return added


def load_plugins(specs: Sequence[str]) -> None:
    """Import each ``--plugin`` (a module or a .py file) and register what it defines."""
    for spec in specs:
        register_plugin_module(import_plugin(spec), f"--plugin {spec}")
