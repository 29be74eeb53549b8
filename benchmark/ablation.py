"""Ablation reports: run the variants of one question as a sweep, then tabulate them against a reference.

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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from benchmark.config import ConfigError
from benchmark.leaderboard import (Board, build_boards, format_number, mean_std, record_label, render_csv,
                                  render_latex, render_markdown)
from benchmark.records import load_record
from benchmark.runner import Reporter, RunRequest, prepare
from benchmark.sweep import sweep

ABLATIONS = ("memory-size", "update-rule", "modality", "rl-design")

RL_DESIGN = (  # (label, model, overrides); the first is the reference
    ("rlmem (paper: DDPG, V(s'), retain scales)", "rlmem", ()),
    ("retain gates the write", "rlmem", ("model.retain=gate",)),
    ("critic values later rewards only", "rlmem", ("model.value=future",)),
    ("critic treats the memory as a set of slots", "rlmem", ("model.critic=slots",)),
    ("discount 0.9", "rlmem", ("model.gamma=0.9",)),
    ("TD3 fixes (twin critics, delay 2, smoothing)", "rlmem", ("model.n_critics=2", "model.policy_delay=2",
                                                              "model.target_noise=0.2")),
    ("replay re-encoded by the current encoder", "rlmem", ("model.reencode=true",)),
    ("critic sees the steps to go", "rlmem", ("model.critic_time=true",)),
    ("actor waits for 1,000 critic updates", "rlmem", ("model.critic_warmup=1000",)),
    ("actor anchored to its target (trust region 1)", "rlmem", ("model.trust_region=1.0",)),
    ("well-posed critic + anchored actor (all four)", "rlmem", ("model.reencode=true", "model.critic_time=true",
                                                               "model.critic_warmup=1000", "model.trust_region=1.0")),
    ("critic on 10-step returns", "rlmem", ("model.n_step=10",)),
    ("actor through 10 known writes, then the critic (SVG(10))", "rlmem", ("model.svg_k=10",)),
    # both SVG(20) variants at the actor rate the critic-free one learnt with in exploratory runs (1e-3), so
    # the two differ only in the critic; with the critic, 1e-4 and 1e-3 scored the same there
    ("actor through 20 known writes, then the critic (SVG(20), actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.actor_lr=0.001")),
    # the same 20 writes with the critic taken out: what the known write and reader teach on their own
    ("actor through 20 known writes, rewards only, no critic (actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.svg_bootstrap=false", "model.actor_lr=0.001")),
    # the same, each window's first 20 steps rewritten by the current actor before the 20 it learns on, so it
    # starts from the memory its own policy writes, not the stored one an older policy wrote (R2D2's burn-in)
    ("actor through 20 known writes after a 20-step burn-in, rewards only, no critic (actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.svg_bootstrap=false", "model.burn_in=20", "model.actor_lr=0.001")),
    # the same, with the encoder learning from those 20 steps too (end-to-end BPTT's other half)
    ("actor through 20 known writes, rewards only, no critic, encoder trained by them too (actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.svg_bootstrap=false", "model.reencode=true", "model.encoder_credit=true",
      "model.actor_lr=0.001")),
    ("all of it: the four, 10-step returns, SVG(10)", "rlmem", ("model.reencode=true", "model.critic_time=true",
                                                              "model.critic_warmup=1000", "model.trust_region=1.0",
                                                              "model.n_step=10", "model.svg_k=10")),
    ("control: actor frozen at init", "rlmem", ("model.actor_lr=0",)),
    ("control: writes by BPTT (memnet-bptt)", "memnet-bptt", ()),
)


@dataclass(frozen=True)
class Variant:
    label: str
    model: str
    overrides: tuple[str, ...]
    reference: bool = False  # the variant the others are compared with


def variants(kind: str, request: RunRequest, model: str | None, values: Sequence[str]) -> list[Variant]:
    if kind == "memory-size":
        m = model or "rlmem"
        return [Variant(f"{m} N={v}", m, (f"model.slots={v}",), reference=v == "10")
                for v in (values or ("1", "5", "10", "20", "50"))]
    if kind == "update-rule":
        names = list(values) or ["rlmem", "memnet-bptt", "lstm-tbptt"]
        return [Variant(name, name, (), reference=i == 0) for i, name in enumerate(names)]
    if kind == "modality":
        m = model or "rlmem"
        (pair,) = prepare(replace(request, models=[m]))
        modalities = list(values) or [name for name, _ in pair.data.spec.modalities]
        return [Variant(f"{m} all", m, ("model.modalities=all",), reference=True)] + [
            Variant(f"{m} {name} only", m, (f"model.modalities={name}",)) for name in modalities]
    if kind == "rl-design":
        # the encoder stops at the hand-over in both, so the two differ only in whether RL moves the actor
        handover = ("model.bptt_warmup=0.667", "model.freeze_encoder=true")
        probes = [("probe: BPTT for 2/3 of the updates, then RL", "rlmem", handover),
                  ("probe: BPTT for 2/3 of the updates, then actor frozen", "rlmem", (*handover, "model.actor_lr=0"))]
        chosen = [*RL_DESIGN, *probes]
        if values:
            chosen = chosen[:1] + [c for c in chosen[1:] if any(v in c[0] for v in values)]
        return [Variant(label, m, overrides, reference=i == 0) for i, (label, m, overrides) in enumerate(chosen)]
    raise ConfigError(f"unknown ablation {kind!r}; choose one of {', '.join(ABLATIONS)}")


def run_ablation(kind: str, request: RunRequest, model: str | None = None, values: Sequence[str] = (),
                 executor: str = "local", workers: int | None = None, address: str | None = None,
                 plugins: Sequence[str] = (), reporter: Reporter | None = None,
                 threads: int | None = 1, presets: Path | None = None) -> tuple[Board, str | None, list, list]:
    """Run every variant (resuming finished cells); return the board, the reference label, the outcomes
    and the records (relabelled with their variant). With ``presets`` (a results folder) every variant
    starts from its model's tuned preset there, its own setting over it."""
    chosen = variants(kind, request, model, values)
    if presets is not None:
        from benchmark.tuning import load_presets

        models = list(dict.fromkeys(v.model for v in chosen))
        request = replace(request, tuned=load_presets(presets, request.tasks, models))
    labelled: list[tuple[str, dict[str, Any]]] = []
    groups: dict[tuple[str, ...], list[Variant]] = {}
    for v in chosen:  # variants that share overrides run as one sweep, so each may know keys the others lack
        groups.setdefault(v.overrides, []).append(v)
    subs = [replace(request, models=[v.model for v in group], overrides=(*request.overrides, *overrides))
            for overrides, group in groups.items()]
    outcomes = sweep(subs, (), executor, workers, address, plugins, reporter, threads)  # one pool for all
    labels = [{v.model: v.label for v in group} for group in groups.values()]
    labelled += [(labels[o.request][o.model], load_record(o.path)) for o in outcomes]
    records = []
    for label, rec in labelled:
        rec = {**rec, "model": {**rec["model"], "name": label, "overrides": {}}}
        records.append(rec)
    boards = build_boards(records)
    if len(boards) != 1:
        raise ConfigError(f"ablation {kind!r} produced {len(boards)} task tables; give one --task")
    board = boards[0]
    # the board's rows are named as tables name records (a tuned variant gains " (tuned)"), the variants not
    shown = {rec["model"]["name"]: record_label(rec) for rec in records}
    order = {v.label: i for i, v in enumerate(chosen)}
    row_order = {shown.get(label, label): i for label, i in order.items()}
    board.rows.sort(key=lambda r: row_order.get(r.model, len(order)))
    records.sort(key=lambda r: order.get(r["model"]["name"], len(order)))
    reference = next((v.label for v in chosen if v.reference), None)
    return board, shown.get(reference, reference), outcomes, records


def learning_summary(records: Sequence[dict[str, Any]], main: str, higher_is_better: bool) -> str:
    """How each variant trained, means over its seeds: the validation main score at the selected checkpoint,
    at the hand-over of a probe's BPTT warm-up and at the last evaluation (a probe asks whether RL keeps
    what it was handed, which the selected checkpoint hides: it may lie in the warm-up), the updates run, and rlmem's critic diagnostic at the last evaluation with its ceiling."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_label.setdefault(rec["model"]["name"], []).append(rec)

    def mean(values, digits: int = 4) -> str:
        values = [v for v in values if v is not None]
        return format_number(mean_std(values)[0], digits) if values else "–"

    key, pick = f"val_{main}", (max if higher_is_better else min)
    lines = [f"| variant | seeds | val {main}, selected | val {main}, at the hand-over | val {main}, last evaluation | "
             "updates run | critic cos, all / top / later | ceiling, all / top | V-return corr |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, recs in by_label.items():
        curves = [[h for h in rec.get("history") or [] if key in h] for rec in recs]
        lasts = [c[-1] if c else {} for c in curves]
        cos = [mean(h.get(k) for h in lasts) for k in ("critic_cos", "critic_cos_top", "critic_cos_later")]
        # what any function of the critic's inputs could reach, for the policy at the last evaluation
        ceiling = [mean((r.get("diagnostics") or {}).get(k) for r in recs) for k in ("ceiling_cos", "ceiling_cos_top")]
        # a probe's last evaluation of its BPTT warm-up: what RL was handed
        warm = [(rec.get("diagnostics") or {}).get("bptt_warmup_updates") or 0 for rec in recs]
        handed = [next((h[key] for h in reversed(c) if h["update"] <= w), None) if w else None
                  for c, w in zip(curves, warm)]
        lines.append(f"| {label} | {len(recs)} | {mean(pick((h[key] for h in c), default=None) for c in curves)} | "
                     f"{mean(handed)} | {mean(h.get(key) for h in lasts)} | "
                     f"{mean(((r.get('selection') or {}).get('updates_run') for r in recs), 0)} | "
                     f"{'–' if set(cos) == {'–'} else ' / '.join(cos)} | "
                     f"{'–' if set(ceiling) == {'–'} else ' / '.join(ceiling)} | {mean(h.get('value_return_corr') for h in lasts)} |")
    return "\n".join(lines) + "\n"


def render_report(board: Board, kind: str, reference: str | None, settings: str = "",
                  records: Sequence[dict[str, Any]] = ()) -> dict[str, str]:
    """Markdown (with the settings it ran under, the change of the main score against the reference
    variant and, for rl-design, how each variant trained), CSV and LaTeX."""
    main = board.metrics[0]
    ref = next((r for r in board.rows if r.model == reference), None)
    lines = [render_markdown([board]).rstrip(), ""]
    if ref is not None:
        sign = "higher" if board.higher_is_better[main] else "lower"
        lines.append(f"Change of {main} against `{ref.model}` ({sign} is better):")
        lines.append("")
        for r in board.rows:
            delta = r.stats[main][0] - ref.stats[main][0]
            lines.append(f"- {r.model}: {delta:+.4f}")
    if kind == "rl-design" and records:
        lines += ["", "How each variant trained (means over seeds; the selected checkpoint is the best validation "
                  "evaluation, the test score above is taken there):", "", learning_summary(records, main, board.higher_is_better[main]).rstrip()]
    md = f"## Ablation: {kind}\n\n" + (f"Settings: `{settings}`\n\n" if settings else "") + "\n".join(lines) + "\n"
    return {"md": md, "csv": render_csv([board]), "tex": render_latex([board])}


def write_report(files: dict[str, str], out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in files.items():
        path = out / f"{name}.{suffix}"
        path.write_text(text)
        written.append(path)
    return written
