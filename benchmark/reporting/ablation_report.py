"""Ablation reports as pure functions of records: each report's manifest (``<name>.json`` beside it, written by
``rlbench ablate``) names its variants in order, the reference and the records of every variant, so the
report (Markdown, CSV, LaTeX) and its validation curves (PNG, PDF) can be drawn again from the records
alone, as ``rlbench paper`` does.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmark.harness.record import Record, RecordError, write_atomic
from benchmark.reporting.figures import training_curves
from benchmark.reporting.formatting import format_number
from benchmark.reporting.leaderboard import Board, build_boards, mean_std, render_csv, render_latex, render_markdown

MANIFEST_SCHEMA = 1


class ReportError(ValueError):
    """A manifest that cannot be drawn: unreadable, or naming records that are not there."""


def variant_records(manifest: Mapping[str, Any], results: Path) -> list[Record]:
    """The manifest's records, each named by its variant (the row it stands in), in the variants' order."""
    records = []
    for variant in manifest["variants"]:
        for rel in variant["records"]:
            try:
                record = Record.load(Path(results) / rel)
            except RecordError as exc:
                raise ReportError(f"ablation {manifest['name']!r}: {exc}") from None
            records.append(dataclasses.replace(
                record, model=dataclasses.replace(record.model, name=variant["label"], overrides={})))
    return records


def ablation_board(manifest: Mapping[str, Any], records: Sequence[Record]) -> tuple[Board, str | None]:
    """The variants' table, rows in the manifest's order, and the name of the reference row (tables name a
    tuned variant's row with " (tuned)")."""
    shown = {rec.model.name: rec.label for rec in records}
    reference = shown.get(manifest.get("reference"), manifest.get("reference"))
    boards = build_boards(records, against=reference)  # paired with the reference variant, not the best row
    if len(boards) != 1:
        raise ReportError(f"ablation {manifest['name']!r}: its records make {len(boards)} task tables, not one")
    board = boards[0]
    order = {shown.get(v["label"], v["label"]): i for i, v in enumerate(manifest["variants"])}
    board.rows.sort(key=lambda r: order.get(r.model, len(order)))
    return board, reference


def learning_summary(records: Sequence[Record], main: str, higher_is_better: bool) -> str:
    """How each variant trained, means over its seeds: the validation main score at the selected checkpoint,
    at the hand-over of a probe's BPTT warm-up and at the last evaluation (a probe asks whether RL keeps
    what it was handed, which the selected checkpoint hides: it may lie in the warm-up), the updates run,
    and rlmem's critic diagnostic at the last evaluation with its ceiling."""
    by_label: dict[str, list[Record]] = {}
    for rec in records:
        by_label.setdefault(rec.model.name, []).append(rec)

    def mean(values, digits: int = 4) -> str:
        values = [v for v in values if v is not None]
        return format_number(mean_std(values)[0], digits) if values else "–"

    key, pick = f"val_{main}", (max if higher_is_better else min)
    lines = [f"| variant | seeds | val {main}, selected | val {main}, at the hand-over | val {main}, last evaluation | "
             "updates run | critic cos, all / top / later | ceiling, all / top | V-return corr |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, recs in by_label.items():
        curves = [[h for h in rec.history if key in h] for rec in recs]
        lasts = [c[-1] if c else {} for c in curves]
        cos = [mean(h.get(k) for h in lasts) for k in ("critic_cos", "critic_cos_top", "critic_cos_later")]
        # what any function of the critic's inputs could reach, for the policy at the last evaluation
        ceiling = [mean(r.diagnostics.get(k) for r in recs) for k in ("ceiling_cos", "ceiling_cos_top")]
        # a probe's last evaluation of its BPTT warm-up: what RL was handed
        warm = [rec.diagnostics.get("bptt_warmup_updates") or 0 for rec in recs]
        handed = [next((h[key] for h in reversed(c) if h["update"] <= w), None) if w else None
                  for c, w in zip(curves, warm)]
        updates = mean((None if r.selection is None else r.selection.updates_run for r in recs), 0)
        lines.append(f"| {label} | {len(recs)} | {mean(pick((h[key] for h in c), default=None) for c in curves)} | "
                     f"{mean(handed)} | {mean(h.get(key) for h in lasts)} | {updates} | "
                     f"{'–' if set(cos) == {'–'} else ' / '.join(cos)} | "
                     f"{'–' if set(ceiling) == {'–'} else ' / '.join(ceiling)} | {mean(h.get('value_return_corr') for h in lasts)} |")
    return "\n".join(lines) + "\n"


def render_report(board: Board, kind: str, reference: str | None, settings: str = "",
                  records: Sequence[Record] = ()) -> dict[str, str]:
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
                  "evaluation, the test score above is taken there):", "",
                  learning_summary(records, main, board.higher_is_better[main]).rstrip()]
    md = f"## Ablation: {kind}\n\n" + (f"Settings: `{settings}`\n\n" if settings else "") + "\n".join(lines) + "\n"
    return {"md": md, "csv": render_csv([board]), "tex": render_latex([board])}


def write_ablation(manifest: Mapping[str, Any], results: Path, out: Path) -> tuple[str, list[Path]]:
    """The report of ``manifest`` drawn from the records under ``results`` into ``out``: its Markdown text
    and the files written (the report in three formats, its curves, its manifest)."""
    records = variant_records(manifest, results)
    board, reference = ablation_board(manifest, records)
    files = render_report(board, manifest["kind"], reference, manifest["settings"], records)
    name = manifest["name"]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in files.items():
        path = out / f"{name}.{suffix}"
        written.append(write_atomic(path, text))
    written += training_curves([(r.model.name, r) for r in records], out, f"{name}-curves", manifest["title"])
    path = out / f"{name}.json"
    write_atomic(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return files["md"], [*written, path]


def read_manifests(folder: Path) -> list[dict[str, Any]]:
    """Every ablation manifest in ``folder``, by name."""
    manifests = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ReportError(f"{path}: not a readable ablation manifest ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
            raise ReportError(f"{path}: not an ablation manifest of schema {MANIFEST_SCHEMA}")
        manifests.append(manifest)
    return manifests
