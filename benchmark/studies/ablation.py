"""Ablations: run the variants of one question as one sweep and describe the result in a manifest, from which
``benchmark.reporting.ablation_report`` draws the report against the reference variant.

- ``memory-size``: rlmem (or ``--model``) with N in 1, 5, 10, 20, 50 slots; reference 10.
- ``update-rule``: the same memory trained by RL (rlmem), by BPTT (memnet-bptt), and an LSTM trained by
  truncated BPTT (lstm-tbptt); reference rlmem.
- ``modality``: each single modality of the task against all of them fused; reference all.
- ``rl-design``: the choices the paper leaves open in how rlmem learns its writes (how retain enters
  the write, what the critic values, how it sees the slots, discount, TD3's fixes), the fixes for an
  ill-posed critic and a drifting actor (replay re-encoded by the current encoder, the steps to go in the
  critic's input, a critic warm-up, a trust region; n-step returns; an actor differentiated through K
  known writes, with the critic after them or without it), two controls (the actor frozen at its
  initialisation; the same memory trained by BPTT), and a probe: BPTT for the first two thirds of the
  budget, then RL with the encoder held where BPTT left it; does RL keep, improve or lose the policy it
  is handed? Reference: rlmem as published.

The variants of each question are data (``benchmark.studies.catalogue``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from benchmark.harness.config import ConfigError
from benchmark.harness.execution import CellOutcome, Reporter, execute, plan
from benchmark.harness.executors import Execution
from benchmark.harness.plan import RunError, RunRequest, prepare
from benchmark.harness.record import Record, RecordError
from benchmark.harness.store import safe_name
from benchmark.reporting.ablation_report import MANIFEST_SCHEMA
from benchmark.studies.catalogue import (ABLATIONS, MEMORY_SIZE_REFERENCE, MEMORY_SIZES, RL_DESIGN, RL_DESIGN_PROBES,
                                         UPDATE_RULES)


@dataclass(frozen=True)
class Variant:
    label: str
    model: str
    overrides: tuple[str, ...]
    reference: bool = False  # the variant the others are compared with


def variants(kind: str, request: RunRequest, model: str | None, values: Sequence[str]) -> list[Variant]:
    if kind == "memory-size":
        m = model or "rlmem"
        return [Variant(f"{m} N={v}", m, (f"model.slots={v}",), reference=v == MEMORY_SIZE_REFERENCE)
                for v in (values or MEMORY_SIZES)]
    if kind == "update-rule":
        names = list(values) or list(UPDATE_RULES)
        return [Variant(name, name, (), reference=i == 0) for i, name in enumerate(names)]
    if kind == "modality":
        m = model or "rlmem"
        (pair,) = prepare(replace(request, models=[m]))
        modalities = list(values) or [name for name, _ in pair.data.spec.modalities]
        return [Variant(f"{m} all", m, ("model.modalities=all",), reference=True)] + [
            Variant(f"{m} {name} only", m, (f"model.modalities={name}",)) for name in modalities]
    if kind == "rl-design":
        chosen = [*RL_DESIGN, *RL_DESIGN_PROBES]
        if values:
            chosen = chosen[:1] + [c for c in chosen[1:] if any(v in c[0] for v in values)]
        return [Variant(label, m, overrides, reference=i == 0) for i, (label, m, overrides) in enumerate(chosen)]
    raise ConfigError(f"unknown ablation {kind!r}; choose one of {', '.join(ABLATIONS)}")


@dataclass(frozen=True)
class Ablation:
    """One ablation as asked for: the question, the request its variants share (``--set``, seeds, folds,
    data), the model whose setting varies, the variants chosen, and the presets folder with ``--tuned``."""

    kind: str
    request: RunRequest
    model: str | None = None
    values: tuple[str, ...] = ()
    presets: Path | None = None

    def __post_init__(self) -> None:
        if len(self.request.tasks) != 1:
            raise ConfigError(f"an ablation runs on one --task, got {', '.join(self.request.tasks) or 'none'}")
        if self.kind not in ABLATIONS:
            raise ConfigError(f"unknown ablation {self.kind!r}; choose one of {', '.join(ABLATIONS)}")

    @property
    def name(self) -> str:
        """``<task>-<kind>[-<model>]``, then what else sets the ablation apart (its overrides, values, seeds,
        folds), so that two different ablations never write over each other's report."""
        request = self.request
        base = f"{request.tasks[0]}-{self.kind}" + (f"-{self.model}" if self.model else "")
        parts = [*sorted(request.overrides), *(["values=" + "+".join(self.values)] if self.values else []),
                 *(["tuned"] if self.presets is not None else [])]
        if list(request.seeds) != [0]:
            parts.append("seeds=" + "+".join(map(str, request.seeds)))
        if request.folds is not None:
            parts.append("folds=" + "+".join(map(str, request.folds)))
        if not parts:
            return base
        label = safe_name(",".join(parts))
        if len(label) > 80:
            label = hashlib.sha256(",".join(parts).encode()).hexdigest()[:12]
        return f"{base}__{label}"

    @property
    def settings(self) -> str:
        """The options the ablation ran under, as the report states them."""
        request = self.request
        folds = "all" if request.folds is None else ",".join(map(str, request.folds))
        return " ".join([*(f"--set {o}" for o in request.overrides),
                         *([f"--values {','.join(self.values)}"] if self.values else []),
                         f"--seeds {','.join(map(str, request.seeds))}", f"--folds {folds}",
                         *(["--tuned"] if self.presets is not None else [])])

    @property
    def title(self) -> str:
        return f"{self.request.tasks[0]}: ablation {self.kind}" + (f" ({self.model})" if self.model else "")

    def variants(self) -> list[Variant]:
        return variants(self.kind, self.request, self.model, self.values)

    def requests(self, chosen: Sequence[Variant]) -> tuple[list[RunRequest], list[dict[str, str]]]:
        """One request per set of variant overrides (variants that share overrides run together, so each
        may know keys the others lack), and per request, model -> variant label."""
        request = self.request
        if self.presets is not None:  # every variant from its model's preset, its own setting over it
            from benchmark.studies.tuning import load_presets

            models = list(dict.fromkeys(v.model for v in chosen))
            request = replace(request, tuned=load_presets(self.presets, request.tasks, models))
        groups: dict[tuple[str, ...], list[Variant]] = {}
        for v in chosen:
            groups.setdefault(v.overrides, []).append(v)
        subs = [replace(request, models=[v.model for v in group], overrides=(*request.overrides, *overrides))
                for overrides, group in groups.items()]
        return subs, [{v.model: v.label for v in group} for group in groups.values()]

    def manifest(self, chosen: Sequence[Variant], cells: Sequence[tuple[str, Path]]) -> dict[str, Any]:
        """What the report is drawn from: (variant label, record path) per cell, paths relative to the
        results folder, in the order the cells were planned."""
        root = Path(self.request.results)
        records = {v.label: [] for v in chosen}
        for label, path in cells:
            records[label].append(Path(path).relative_to(root).as_posix())
        return {"schema": MANIFEST_SCHEMA, "name": self.name, "kind": self.kind, "task": self.request.tasks[0],
                "model": self.model, "settings": self.settings, "title": self.title,
                "reference": next((v.label for v in chosen if v.reference), None),
                "variants": [{"label": v.label, "model": v.model, "records": records[v.label]} for v in chosen]}


def run_ablation(ablation: Ablation, execution: Execution = Execution("local"),
                 reporter: Reporter | None = None) -> tuple[dict[str, Any], list[CellOutcome]]:
    """Run every variant (resuming finished cells) in one pool; return the report's manifest and the
    outcomes."""
    chosen = ablation.variants()
    subs, labels = ablation.requests(chosen)
    outcomes = execute(subs, execution, reporter)
    planned = [(labels[o.request][o.model], o.path) for o in sorted(outcomes, key=lambda o: o.cell)]
    return ablation.manifest(chosen, planned), outcomes


def manifest_from_records(ablation: Ablation) -> dict[str, Any]:
    """The manifest of an ablation whose cells all have records, without running anything: each cell takes
    the newest completed record in its variant's folder with the same task setting, seed and fold, whatever
    its config hash (a record made before the model gained an option). A cell without one is an error that
    names it."""
    chosen = ablation.variants()
    subs, labels = ablation.requests(chosen)
    cells, missing = [], []
    for spec, path, pair, _ in plan(subs, Execution()):
        found = []
        for candidate in path.parents[2].glob(f"*/{path.parent.name}/{path.name}"):
            try:
                record = Record.load(candidate)
            except RecordError:
                continue
            if (record.completed and record.is_run and record.model.name == pair.model_name
                    and (record.task.name, record.task.version, record.task.overrides)
                    == (pair.task_name, pair.task.metadata.version, pair.resolved.applied["task"])):
                found.append((record.provenance.started_at, candidate))
        if found:
            cells.append((labels[spec.request][spec.model], max(found)[1]))
        else:
            missing.append(str(path.parents[2] / "*" / path.parent.name / path.name))
    if missing:
        raise RunError(f"--from-records: no finished record for {len(missing)} cell(s), first {missing[0]}; "
                       "run the ablation without --from-records to make them")
    return ablation.manifest(chosen, cells)
