"""``rlbench paper``: the paper-style tables, as pure functions of the records plus the published numbers
in ``benchmark/data/reported.json`` (``reported``). Reported rows are always a separate block, marked with their source;
a table with no records on this machine says so and gives the command that would fill it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from benchmark.harness.record import Record, write_atomic
from benchmark.reporting.comparison import COMPARISON_FIELDS, comparison_cells, comparison_fields, comparison_head
from benchmark.reporting.formatting import format_stat, latex_escape
from benchmark.reporting.leaderboard import Board, build_boards, latex_marks
from benchmark.reporting.order_control import order_rows, render_order_md
from benchmark.reporting.selection_inflation import inflation_rows, render_inflation_md
from benchmark.reporting.reported import reported_numbers


@dataclass(frozen=True)
class PaperTable:
    key: str
    title: str
    tasks: tuple[str, ...]
    metrics: tuple[str, ...]
    reported: tuple[str, ...]
    fill: str


TABLES = (
    PaperTable("affect", "Valence and arousal (LIRIS-ACCEDE)", ("mediaeval18", "liris-accede"),
               ("mse/valence", "pearson/valence", "mse/arousal", "pearson/arousal"), ("affect",),
               "rlbench sweep --task mediaeval18 --data-root DIR --model rlmem,memnet-bptt,lstm,lstm-tbptt,transformer,mlp,mean --seeds 0..2"),
    PaperTable("music", "Music emotion (PMEmo)", ("pmemo",),
               ("rmse/valence", "rmse_per_song/valence", "rmse/arousal", "rmse_per_song/arousal", "pearson/valence",
                "pearson/arousal"), ("music",),
               "rlbench sweep --task pmemo --data-root DIR --set split=official --model rlmem,memnet-bptt,lstm,lstm-tbptt,transformer,mlp,mean --seeds 0..2"),
    PaperTable("summarization", "Video summarization (TVSum, SumMe)", ("tvsum", "summe", "tvsum-clips"),
               ("fscore", "kendall", "spearman", "fscore/random"), ("summarization_fscore", "summarization_rank"),
               "rlbench sweep --task tvsum-clips --data-root DIR --model rlmem,memnet-bptt,lstm,lstm-tbptt,transformer,mlp,random,human --seeds 0..2"),
    PaperTable("synthetic", "Long-range dependencies (synth-affect)", ("synth-affect",),
               ("mse", "mse/valence", "mse/arousal"), (),
               "rlbench sweep --task synth-affect --model rlmem,memnet-bptt,lstm,lstm-tbptt,transformer,mlp,mean,oracle --seeds 0..2"),
)


def _measured(records: Sequence[Record], table: PaperTable, converged_only: bool = False,
              against: str | None = None) -> list[Board]:
    boards = build_boards(records, "test", table.tasks, converged_only, against)
    return [b for b in boards if any(m in b.metrics for m in table.metrics)]


def render_table_md(table: PaperTable, boards: Sequence[Board], reported: dict[str, Any]) -> str:
    out = [f"## {table.title}", ""]
    if not boards:
        out += [f"No records for {', '.join(table.tasks)} on this machine. Fill this table with:", "",
                f"    {table.fill}", ""]
    for b in boards:
        metrics = [m for m in table.metrics if m in b.metrics]
        out.append(f"**Measured here: {b.title}** (mean ± std over seeds)")
        out.append("")
        head = [f"{m} {'↑' if b.higher_is_better[m] else '↓'}" for m in metrics] + comparison_head(b)
        out.append("| model | seeds | " + " | ".join(head) + " |")
        out.append("|---|---:|" + "---:|" * len(head))
        for r in b.rows:
            name = (f"{r.model} *(reference)*" if r.reference else r.model) + r.marks
            cells = [format_stat(r.stats[m]) for m in metrics] + comparison_cells(b, r)
            out.append(f"| {name} | {r.n_seeds} | " + " | ".join(cells) + " |")
        out.append("")
        if b.notes():
            out += [f"- {note}" for note in b.notes()] + [""]
    for key in table.reported:
        block = reported[key]
        if not block["rows"]:
            out += [f"**Reported elsewhere:** {block.get('note', 'none found')}.", ""]
            continue
        out.append(f"**Reported elsewhere, not measured here** ({block['setting']}); not comparable row by row "
                   "with the measured block: other splits, features and selection rules.")
        out.append("")
        out.append("| method | " + " | ".join(block["columns"]) + " | source |")
        out.append("|---|" + "---:|" * len(block["columns"]) + "---|")
        sources: list[str] = []
        for row in block["rows"]:
            if row["source"] not in sources:
                sources.append(row["source"])
            flags = f"reported, {row['tag']}" + (", ⚠ LEAKY: epoch chosen on test" if row.get("leaky") else "")
            values = " | ".join(row["values"])  # as published, precision included
            out.append(f"| {row['name']} *({flags})* | {values} | [{sources.index(row['source']) + 1}] |")
        out.append("")
        out += [f"[{i + 1}] {s}" for i, s in enumerate(sources)] + [""]
    return "\n".join(out)


def render_table_csv(table: PaperTable, boards: Sequence[Board], reported: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "kind", "task", "method", "metric", "mean", "std", "n_seeds", "still_improving_cells",
                "dirty_cells", "partial", "source", *COMPARISON_FIELDS])
    for b in boards:
        shown = [m for m in table.metrics if m in b.metrics]
        for r in b.rows:
            for m in shown:  # the comparison (on the main score) goes with a row's first line
                mean, std = r.stats[m]
                w.writerow([table.key, "measured", b.task, r.model, m, f"{mean:.6g}", "" if std is None else f"{std:.6g}",
                            r.n_seeds, r.still_improving, r.dirty, r.partial, "this repository's records",
                            *(comparison_fields(b, r) if m == shown[0] else [""] * len(COMPARISON_FIELDS))])
    for key in table.reported:
        for row in reported[key]["rows"]:
            for m, v in zip(reported[key]["columns"], row["values"]):
                w.writerow([table.key, "reported", reported[key]["setting"], row["name"], m, v, "", "", "", "", "",
                            row["source"], *[""] * len(COMPARISON_FIELDS)])
    return buf.getvalue()


def render_table_tex(table: PaperTable, boards: Sequence[Board], reported: dict[str, Any]) -> str:
    out = [f"% {table.title}: measured rows from this repository's records; reported rows quoted with sources"]
    for b in boards:
        metrics = [m for m in table.metrics if m in b.metrics]
        extra = [latex_escape(h).replace("Δ", r"$\Delta$") for h in comparison_head(b)]
        out += [r"\begin{tabular}{l" + "r" * (len(metrics) + 1 + len(extra)) + "}", r"\toprule",
                "Model & $n$ & " + " & ".join([latex_escape(m) for m in metrics] + extra) + r" \\", r"\midrule",
                r"\multicolumn{" + str(len(metrics) + 2 + len(extra)) + "}{l}{\\emph{Measured: " + latex_escape(b.title)
                + r"}} \\"]
        out += [f"{latex_escape(r.model)}{latex_marks(r)} & {r.n_seeds} & "
                + " & ".join([format_stat(r.stats[m], r"$\pm$") for m in metrics]
                             + [latex_escape(c).replace("<", "$<$") for c in comparison_cells(b, r, tex=True)])
                + r" \\" for r in b.rows]
        out += [r"\bottomrule", r"\end{tabular}", *[f"% {latex_escape(n)}" for n in b.notes()], ""]
    for key in table.reported:
        block = reported[key]
        if not block["rows"]:
            continue
        cols = block["columns"]
        out += [r"\begin{tabular}{l" + "r" * len(cols) + "}", r"\toprule",
                "Method (reported) & " + " & ".join(latex_escape(c) for c in cols) + r" \\", r"\midrule"]
        out += [f"{latex_escape(row['name'])}$^\\dagger$ & " + " & ".join(row["values"]) + r" \\"
                for row in block["rows"]]
        out += [r"\bottomrule", r"\end{tabular}", f"% $^\\dagger$ reported: {latex_escape(block['setting'])}", ""]
    return "\n".join(out)


def _write(path: Path, text: str) -> Path:
    """One table file, ending in a newline whatever its renderer ended with."""
    return write_atomic(path, text if text.endswith("\n") else text + "\n")


def write_paper(records: Iterable[Record], out: Path, ablations: Path | None = None,
                converged_only: bool = False, against: str | None = None) -> list[Path]:
    records = list(records)
    reported = reported_numbers()
    out.mkdir(parents=True, exist_ok=True)
    written, sections = [], ["# rlbench: paper tables", "",
                             "Measured rows come from the run records; reported rows are quoted from their "
                             "sources and never mixed with them.", ""]
    for table in TABLES:
        boards = _measured(records, table, converged_only, against)
        md = render_table_md(table, boards, reported)
        sections.append(md)
        for suffix, text in (("md", md), ("csv", render_table_csv(table, boards, reported)),
                             ("tex", render_table_tex(table, boards, reported))):
            written.append(_write(out / f"{table.key}.{suffix}", text))
    for name, md in (("order_control", render_order_md(order_rows(records))),
                     ("selection_inflation", render_inflation_md(inflation_rows(records)))):
        sections.append(md)
        written.append(_write(out / f"{name}.md", md))
    sections.append("## Ablations\n")
    reports = sorted(ablations.glob("*.md")) if ablations is not None and ablations.is_dir() else []
    if reports:
        sections += [p.read_text() for p in reports]
    else:
        sections += ["No ablation reports yet. Fill with, e.g.:", "",
                     "    rlbench ablate memory-size --task synth-affect --seeds 0..2", ""]
    from benchmark.reporting.figures import all_figures

    figures = all_figures(records, out / "figures")
    sections.append("## Figures\n")
    if figures:
        sections += [f"![{p.stem}](figures/{p.name})" for p in figures if p.suffix == ".png"]
    else:
        sections += ["No figure data yet. The memory-horizon curve needs runs at several lags, the memory "
                     "trace a run with record_memory=true, e.g.:", "",
                     "    rlbench sweep --task synth-affect --model rlmem,lstm,mlp --grid lag=10,50,200 --seeds 0..2",
                     "    rlbench run --task synth-affect --model rlmem --set record_memory=true", ""]
    paper = out / "paper.md"
    write_atomic(paper, "\n".join(sections))
    return [paper, *written, *figures]
