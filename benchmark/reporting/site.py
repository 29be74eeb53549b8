"""The static HTML leaderboard: an index and one page per task, pure functions of the records like the
Markdown tables. Every asset is written beside the pages (one style sheet, one script) or is a relative
link to a figure ``rlbench paper`` drew, so the site opens from disk with no server and no network. Each table sorts by any column on a click
on its header, and a page filters its tables by task version and hides still-improving rows."""

from __future__ import annotations

import html
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

from benchmark.harness.record import Record, write_atomic
from benchmark.reporting.comparison import comparison_cells, comparison_head
from benchmark.reporting.figures import curve_settings
from benchmark.reporting.formatting import format_stat
from benchmark.reporting.leaderboard import STILL_IMPROVING_MARK, Board, Row, task_setting

FIGURE_PREFIXES = ("curves_", "memory_horizon_", "importance_trace_", "prediction_trace_", "memory_trace_")

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1, h2, h3 { font-weight: 600; } a { color: #0645ad; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { cursor: pointer; background: #f4f4f4; user-select: none; }
th[aria-sort=ascending]::after { content: " ▲"; } th[aria-sort=descending]::after { content: " ▼"; }
tr.reference td { color: #666; font-style: italic; }
tr.against td { background: #eef5ff; }
td.command { text-align: left; max-width: 28em; }
td.command code { display: block; font-size: 12px; white-space: normal; user-select: all; }
.notes { font-size: 12px; color: #444; max-width: 1100px; }
.scroll { overflow-x: auto; }
table.index td, table.index th { text-align: left; white-space: normal; } table.index td[data-v] { text-align: right; }
.reported td:last-child { text-align: left; white-space: normal; }
.reported { border-left: 4px solid #c90; padding-left: 1em; margin: 1.5em 0; }
.filters { background: #fafafa; border: 1px solid #ddd; padding: .5em 1em; display: inline-block; }
img { max-width: 100%; border: 1px solid #eee; }
"""

SCRIPT = """
function cellKey(td) {
  const v = td.dataset.v;
  if (v !== undefined && v !== '') return [0, parseFloat(v)];
  if (v === '') return [2, 0];
  return [1, td.textContent.trim().toLowerCase()];
}
function sortTable(table, col, th) {
  const dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
  table.querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', dir);
  const sign = dir === 'ascending' ? 1 : -1;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const ka = cellKey(a.cells[col]), kb = cellKey(b.cells[col]);
    if (ka[0] !== kb[0]) return ka[0] - kb[0];  // numbers, then text, then empty cells, in either direction
    return ka[1] < kb[1] ? -sign : ka[1] > kb[1] ? sign : 0;
  });
  rows.forEach(r => body.appendChild(r));
}
function applyFilters() {
  const version = document.getElementById('version').value;
  const converged = document.getElementById('converged').checked;
  document.querySelectorAll('section.board').forEach(s => {
    s.hidden = version !== 'all' && s.dataset.version !== version;
  });
  document.querySelectorAll('tr[data-improving]').forEach(r => {
    r.hidden = converged && r.dataset.improving === '1';
  });
}
document.querySelectorAll('table.board').forEach(table => {
  table.querySelectorAll('th').forEach((th, col) => th.addEventListener('click', () => sortTable(table, col, th)));
});
document.querySelectorAll('#version, #converged').forEach(e => e.addEventListener('change', applyFilters));
"""


def section_id(board: Board) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f"{board.task}_v{board.version}")


def page_name(task: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in task) + ".html"


def seeds_arg(seeds: Sequence[int]) -> str:
    seeds = sorted(set(seeds))
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}..{seeds[-1]}"
    return ",".join(map(str, seeds))


def reproduce_command(records: Sequence[Record]) -> str:
    """The command that makes a row's cells again (into runs/), from what its records say."""
    first = records[0]
    parts = ["rlbench run", f"--task {first.task.name}"]
    if not first.task.name.startswith("synth-"):
        parts.append("--data-root DIR")
    parts += [f"--set {k}={v}" for k, v in sorted(first.task.overrides.items())]
    parts.append(f"--model {first.model.name}")
    if first.model.tuned:
        parts += ["--tuned", "--presets results"]
    parts += [f"--set {k}={v}" for k, v in sorted(first.model.overrides.items())]
    parts.append(f"--seeds {seeds_arg([r.seed for r in records])}")
    folds = sorted({r.task.fold for r in records})
    if len(folds) < first.task.n_folds:
        parts.append(f"--folds {','.join(map(str, folds))}")
    return " ".join(parts)


def _row_key(record: Record) -> tuple:
    return (*task_setting(record.task), record.label, record.model.reference)


def row_sources(located: Iterable[tuple[Path, Record]]) -> dict[tuple, tuple[list[Path], list[Record]]]:
    """Per (task setting, version, row label, reference): the folders of its records and the records."""
    out: dict[tuple, tuple[list[Path], list[Record]]] = defaultdict(lambda: ([], []))
    for path, rec in located:
        if rec.is_run and rec.completed:
            folders, recs = out[_row_key(rec)]
            folder = path.parent.parent  # MODEL/HASH, above seed=S/fold=F.json
            if folder not in folders:
                folders.append(folder)
            recs.append(rec)
    return out


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _href(target: Path, out: Path) -> str:
    return _e(Path(os.path.relpath(target, out)).as_posix())


def board_table(board: Board, sources: dict, out: Path) -> str:
    """One board as a sortable table: the stats and comparison columns of the Markdown table, each row's
    records and the command that reproduces it."""
    head = ["model", "seeds", "folds/seed", *[f"{m} {'↑' if board.higher_is_better[m] else '↓'}"
                                              for m in board.metrics], *comparison_head(board), "records",
            "reproduce"]
    lines = [f'<table class="board" data-task="{_e(board.task)}">', "<thead><tr>"
             + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for row in board.rows:
        lines.append(_row_html(board, row, sources.get((board.task, board.version, row.model, row.reference),
                                                       ([], [])), out))
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _row_html(board: Board, row: Row, source: tuple[list[Path], list[Record]], out: Path) -> str:
    classes = [c for c, on in (("reference", row.reference), ("against", row.model == board.against)) if on]
    name = row.model + (" (reference)" if row.reference else "") + row.marks
    cells = [f"<td>{_e(name)}</td>", f'<td data-v="{row.n_seeds}">{row.n_seeds}</td>',
             f'<td data-v="{row.n_folds:g}">{row.n_folds:g}</td>']
    cells += [f'<td data-v="{row.stats[m][0]:.6g}">{_e(format_stat(row.stats[m]))}</td>' for m in board.metrics]
    values = _comparison_values(row)
    cells += [f'<td data-v="{v}">{_e(text)}</td>' for v, text in zip(values, comparison_cells(board, row))]
    folders, recs = source
    links = " ".join(f'<a href="{_href(f, out)}">{_e(f.name)}</a>' for f in folders)
    cells.append(f"<td>{links}</td>")
    cells.append(f'<td class="command"><details><summary>command</summary><code>{_e(reproduce_command(recs))}</code>'
                 "</details></td>" if recs else "<td></td>")
    improving = "1" if row.still_improving else "0"
    cls = f' class="{" ".join(classes)}"' if classes else ""
    return f'<tr{cls} data-improving="{improving}">' + "".join(cells) + "</tr>"


def _comparison_values(row: Row) -> list[str]:
    """Sort keys of the Δ, p and rank columns: the number each shows, empty where it shows none."""
    v = row.versus
    delta = "0" if v is None else ("" if v.n == 0 else f"{v.delta:.6g}")
    p = "" if row.p_holm is None else f"{row.p_holm:.6g}"
    rank = "" if row.rank is None else str(row.rank[0])
    return [delta, p, rank]


def _board_section(board: Board, sources: dict, out: Path, curves: dict[tuple[str, str], Path]) -> str:
    parts = [f'<section class="board" id="{_e(section_id(board))}" data-version="{_e(board.version)}">', f"<h2>{_e(board.title)}</h2>",
             '<div class="scroll">', board_table(board, sources, out), '</div>', '<ul class="notes">']
    parts += [f"<li>{_e(n)}</li>" for n in board.notes()]
    parts.append("</ul>")
    figure = curves.get((board.task, board.version))
    if figure is not None:
        parts.append(f'<details><summary>validation curves</summary><img alt="{_e(figure.stem)}" '
                     f'src="{_href(figure, out)}"></details>')
    parts.append("</section>")
    return "\n".join(parts)


def _reported_blocks(task: str, reported: dict[str, Any]) -> str:
    from benchmark.reporting.paper import TABLES

    keys = [k for t in TABLES if task in t.tasks for k in t.reported]
    parts = []
    for key in keys:
        block = reported[key]
        head = "".join(f"<th>{_e(c)}</th>" for c in ["method", *block["columns"], "source"])
        rows = "".join("<tr><td>" + _e(r["name"]) + "†" + (" LEAKY" if r.get("leaky") else "") + "</td>"
                       + "".join(f'<td data-v="{_e(v)}">{_e(v)}</td>' for v in r["values"])
                       + f"<td>{_e(r['source'])} [{_e(r.get('tag', ''))}]</td></tr>" for r in block["rows"])
        parts.append(f'<div class="reported"><h3>Reported in papers, not measured here: {_e(block["setting"])}</h3>'
                     f'<table class="board"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
                     "<p class=notes>† quoted from the source named; P: read in the primary source, S: "
                     "secondary (unverified); LEAKY: checkpoint chosen on the test split. Other data, splits "
                     "and protocol than the rows above: not comparable with them.</p></div>")
    return "\n".join(parts)


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(title)}</title>\n<link rel=\"stylesheet\" href=\"site.css\">\n</head>\n<body>\n{body}\n"
            "<script src=\"site.js\"></script>\n</body>\n</html>\n")


def figure_task(figure: Path, tasks: Sequence[str]) -> str | None:
    """The task a figure of ``rlbench paper`` belongs to, read from its file name."""
    for prefix in FIGURE_PREFIXES:
        if figure.stem.startswith(prefix):
            rest = figure.stem[len(prefix):]
            for task in sorted(tasks, key=len, reverse=True):
                if rest == task or rest.startswith(task + "_"):
                    return task
    return None


def render_task_page(task: str, boards: Sequence[Board], sources: dict, out: Path, figures: Sequence[Path],
                     reported: dict[str, Any], stems: dict[tuple[str, str], str]) -> str:
    """``stems``: the validation-curve figure of each task setting (label, version), as ``figures`` names it."""
    versions = sorted({b.version for b in boards})
    by_stem = {f.stem: f for f in figures}
    curves = {(b.task, b.version): by_stem[stems[b.task, b.version]] for b in boards
              if stems.get((b.task, b.version)) in by_stem}
    options = "".join(f'<option value="{_e(v)}">v{_e(v)}</option>' for v in versions)
    body = [f'<p><a href="index.html">rlbench leaderboard</a> / {_e(task)}</p>', f"<h1>{_e(task)}</h1>",
            '<div class="filters"><label>task version <select id="version"><option value="all">all</option>'
            f'{options}</select></label> <label><input type="checkbox" id="converged"> converged only (hide '
            f'rows with {STILL_IMPROVING_MARK} cells)</label></div>',
            "<p class=notes>Click a column's header to sort by it. Records links open the folders of each "
            "row's records; the command makes its cells again (into runs/).</p>"]
    body += [_board_section(b, sources, out, curves) for b in boards]
    body.append(_reported_blocks(task, reported))
    others = [f for f in figures if f not in curves.values()]
    if others:
        body.append("<h2>Figures</h2>")
        body += [f'<figure><img alt="{_e(f.stem)}" src="{_href(f, out)}"><figcaption>{_e(f.stem)}</figcaption>'
                 "</figure>" for f in others]
    return _page(f"rlbench: {task}", "\n".join(body))


def render_index(by_task: dict[str, list[Board]]) -> str:
    rows = []
    for task, boards in sorted(by_task.items()):
        for b in boards:
            best = next((r.model for r in b.rows if not r.reference), "")
            cells = max((r.versus.n for r in b.rows if r.versus), default=0)
            rows.append(f'<tr><td><a href="{_e(page_name(task))}#{_e(section_id(b))}">{_e(b.title)}</a></td>'
                        f'<td data-v="{len(b.rows)}">{len(b.rows)}</td><td data-v="{cells}">{cells}</td>'
                        f"<td>{_e(best)}</td><td>{_e(b.against or '')}</td></tr>")
    body = ["<h1>rlbench leaderboard</h1>",
            "<p>Every table of the records in this folder's results: mean ± std over seeds, and each row against "
            "the best trained row, paired over their (seed, fold) cells (Δ with its 95 % interval, an exact "
            "test with Holm's correction, the rank with its interval). Made by <code>rlbench paper --html</code>; "
            "nothing here is typed by hand.</p>",
            '<table class="board index"><thead><tr><th>table</th><th>rows</th><th>paired cells</th>'
            "<th>best trained row</th><th>compared with</th></tr></thead><tbody>", *rows, "</tbody></table>"]
    return _page("rlbench leaderboard", "\n".join(body))


def write_site(located: Sequence[tuple[Path, Record]], boards: Sequence[Board], out: Path, figures: Sequence[Path],
               reported: dict[str, Any]) -> list[Path]:
    """Write ``out/index.html``, one page per task and the style and script they share, from the records and
    the boards built from them; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    assets = [out / "site.css", out / "site.js"]
    write_atomic(assets[0], STYLE.lstrip())
    write_atomic(assets[1], SCRIPT.lstrip())
    sources = row_sources(located)
    by_task: dict[str, list[Board]] = defaultdict(list)
    names = {task_setting(r.task)[0]: r.task.name for _, r in located}
    for b in boards:
        by_task[names.get(b.task, b.task.split(" ")[0])].append(b)
    pngs = [f for f in figures if f.suffix == ".png"]
    stems = curve_settings(r for _, r in located)[1]
    written = []
    for task, task_boards in sorted(by_task.items()):
        mine = [f for f in pngs if figure_task(f, list(by_task)) == task]
        path = out / page_name(task)
        write_atomic(path, render_task_page(task, task_boards, sources, out, mine, reported, stems))
        written.append(path)
    index = out / "index.html"
    write_atomic(index, render_index(by_task))
    return [index, *written, *assets]
